// The app's settings, from CDK context (`-c key=value` or cdk.json), as CwlogsPipeline props.

import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { CwlogsPipelineProps, Topology } from './pipeline';

/** The context keys the app reads; anything else set with `-c` is ignored. */
export const CONTEXT_KEYS = [
  'topology',
  'logGroupNames',
  'excludedLogGroupNames',
  'subscriptionFilterPattern',
  'archiveBucketName',
  'archivePrefix',
  'archiveKmsKeyArn',
  'indexEndpoint',
  'indexDomainArn',
  'indexCollectionArn',
  'enableAlerts',
  'alertTopicArn',
  'architecture',
  'memorySize',
  'timeoutSeconds',
  'streamMode',
  'streamShardCount',
  'configFile',
  'lambdaDir',
] as const;

type Lookup = (key: string) => unknown;

/** A comma-separated string (from `-c`) or a list (from cdk.json); empty items dropped. */
function list(v: unknown): string[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const items = Array.isArray(v) ? v.map(String) : String(v).split(',');
  const names = items.map((s) => s.trim()).filter((s) => s.length > 0);
  return names.length > 0 ? names : undefined;
}

function str(v: unknown): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

function num(key: string, v: unknown): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n)) throw new Error(`context ${key}: ${JSON.stringify(s)} is not a number`);
  return n;
}

function bool(key: string, v: unknown): boolean | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw new Error(`context ${key}: expected true or false, not ${JSON.stringify(s)}`);
}

/** CwlogsPipeline props from the app's context (the keys of CONTEXT_KEYS). */
export function propsFromContext(get: Lookup): CwlogsPipelineProps {
  const architecture = str(get('architecture')) ?? 'arm64';
  if (architecture !== 'arm64' && architecture !== 'x86_64') {
    throw new Error(`context architecture: expected arm64 or x86_64, not ${JSON.stringify(architecture)}`);
  }
  const streamMode = str(get('streamMode'));
  if (streamMode !== undefined && streamMode !== 'ON_DEMAND' && streamMode !== 'PROVISIONED') {
    throw new Error(`context streamMode: expected ON_DEMAND or PROVISIONED, not ${JSON.stringify(streamMode)}`);
  }
  const indexEndpoint = str(get('indexEndpoint'));
  const timeout = num('timeoutSeconds', get('timeoutSeconds'));
  const shardCount = num('streamShardCount', get('streamShardCount'));
  return {
    topology: (str(get('topology')) ?? 'direct') as Topology,
    logGroupNames: list(get('logGroupNames')),
    excludedLogGroupNames: list(get('excludedLogGroupNames')),
    subscriptionFilterPattern: str(get('subscriptionFilterPattern')),
    archive: {
      bucketName: str(get('archiveBucketName')),
      prefix: str(get('archivePrefix')),
      kmsKeyArn: str(get('archiveKmsKeyArn')),
    },
    index: indexEndpoint
      ? {
          endpoint: indexEndpoint,
          domainArn: str(get('indexDomainArn')),
          collectionArn: str(get('indexCollectionArn')),
        }
      : undefined,
    alerts: {
      enabled: bool('enableAlerts', get('enableAlerts')) ?? true,
      topicArn: str(get('alertTopicArn')),
    },
    functions: {
      architecture: architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      memorySize: num('memorySize', get('memorySize')),
      timeout: timeout === undefined ? undefined : Duration.seconds(timeout),
    },
    stream:
      streamMode !== undefined || shardCount !== undefined
        ? {
            mode: streamMode === 'PROVISIONED' ? kinesis.StreamMode.PROVISIONED : kinesis.StreamMode.ON_DEMAND,
            shardCount,
          }
        : undefined,
    configFile: str(get('configFile')),
    lambdaDir: str(get('lambdaDir')),
  };
}
