// The app's settings, from CDK context (`-c key=value` or cdk.json), as CwlogsPipeline props.

import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { CwlogsMemberProps } from './member';
import { CwlogsPipelineProps, Topology } from './pipeline';

/** The context keys the app reads; anything else set with `-c` is ignored. */
export const CONTEXT_KEYS = [
  'stack',
  'stackName',
  'topology',
  'logGroupNames',
  'excludedLogGroupNames',
  'subscriptionFilterPattern',
  'centralOrganizationId',
  'centralAccountIds',
  'destinationArn',
  'archiveBucketName',
  'archivePrefix',
  'archiveKmsKeyArn',
  'indexEndpoint',
  'indexDomainArn',
  'indexCollectionArn',
  'indexAuth',
  'indexSecretArn',
  'indexSecretKmsKeyArn',
  'indexSubnetIds',
  'indexSecurityGroupIds',
  'indexVpcId',
  'indexRouteTableIds',
  's3SourceBucketName',
  's3SourcePrefixes',
  's3SourceNotification',
  's3SourceKmsKeyArn',
  'enableBatchOperations',
  'redriveScheduleExpression',
  'redriveMaxAttempts',
  'enableAlerts',
  'alertTopicArn',
  'architecture',
  'memorySize',
  'timeoutSeconds',
  'reservedConcurrency',
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
  const indexAuth = str(get('indexAuth'));
  if (indexAuth !== undefined && indexAuth !== 'basic' && indexAuth !== 'api-key') {
    throw new Error(`context indexAuth: expected basic or api-key, not ${JSON.stringify(indexAuth)}`);
  }
  const subnetIds = list(get('indexSubnetIds'));
  const securityGroupIds = list(get('indexSecurityGroupIds'));
  const organizationId = str(get('centralOrganizationId'));
  const accountIds = list(get('centralAccountIds'));
  const timeout = num('timeoutSeconds', get('timeoutSeconds'));
  const shardCount = num('streamShardCount', get('streamShardCount'));
  const sourceBucket = str(get('s3SourceBucketName'));
  const sourceNotification = str(get('s3SourceNotification'));
  if (sourceNotification !== undefined && sourceNotification !== 'eventbridge' && sourceNotification !== 's3') {
    throw new Error(`context s3SourceNotification: expected eventbridge or s3, not ${JSON.stringify(sourceNotification)}`);
  }
  // An empty schedule turns the re-drive off, as in the SAM template.
  const redriveSchedule = get('redriveScheduleExpression');
  return {
    topology: (str(get('topology')) ?? 'direct') as Topology,
    logGroupNames: list(get('logGroupNames')),
    excludedLogGroupNames: list(get('excludedLogGroupNames')),
    subscriptionFilterPattern: str(get('subscriptionFilterPattern')),
    central: organizationId !== undefined || accountIds !== undefined ? { organizationId, accountIds } : undefined,
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
          auth: indexAuth as 'basic' | 'api-key' | undefined,
          secretArn: str(get('indexSecretArn')),
          secretKmsKeyArn: str(get('indexSecretKmsKeyArn')),
          vpc:
            subnetIds !== undefined || securityGroupIds !== undefined
              ? {
                  subnetIds: subnetIds ?? [],
                  securityGroupIds: securityGroupIds ?? [],
                  vpcId: str(get('indexVpcId')),
                  routeTableIds: list(get('indexRouteTableIds')),
                }
              : undefined,
          s3Source: sourceBucket
            ? {
                bucketName: sourceBucket,
                prefixes: list(get('s3SourcePrefixes')),
                notification: sourceNotification as 'eventbridge' | 's3' | undefined,
                kmsKeyArn: str(get('s3SourceKmsKeyArn')),
              }
            : undefined,
          batchOperationsRole: bool('enableBatchOperations', get('enableBatchOperations')),
          redrive:
            redriveSchedule !== undefined || get('redriveMaxAttempts') !== undefined
              ? {
                  enabled: redriveSchedule !== '',
                  schedule: str(redriveSchedule) === undefined ? undefined : events.Schedule.expression(String(redriveSchedule)),
                  maxAttempts: num('redriveMaxAttempts', get('redriveMaxAttempts')),
                }
              : undefined,
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
      reservedConcurrency: num('reservedConcurrency', get('reservedConcurrency')),
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

/**
 * CwlogsMember props from the app's context (`-c stack=member`): `destinationArn`, and
 * `logGroupNames` (listed log groups) or `excludedLogGroupNames` (account scope), and
 * `subscriptionFilterPattern`.
 */
export function memberPropsFromContext(get: Lookup): CwlogsMemberProps {
  const destinationArn = str(get('destinationArn'));
  if (destinationArn === undefined) {
    throw new Error('context destinationArn: the central stack\'s DestinationArn output is required with stack=member');
  }
  return {
    destinationArn,
    logGroupNames: list(get('logGroupNames')),
    excludedLogGroupNames: list(get('excludedLogGroupNames')),
    filterPattern: str(get('subscriptionFilterPattern')),
  };
}
