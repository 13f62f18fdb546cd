// CwlogsPipeline: the cwlogs functions and what they need, the same stack as
// infra/sam/template.yaml (see there for the reasons behind each resource).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Aws, CfnOutput, CfnResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import {
  ACCOUNT_ID,
  BUCKET_NAME,
  COLLECTION_ARN,
  DOMAIN_ARN,
  ENDPOINT_URL,
  KEY_PREFIX,
  KMS_KEY_ARN,
  LOG_GROUP_NAME,
  ORGANIZATION_ID,
  Problems,
  ROUTE_TABLE_ID,
  SECRET_ARN,
  SECURITY_GROUP_ID,
  SOURCE_PREFIX,
  SUBNET_ID,
  TOPIC_ARN,
  VPC_ID,
  checkConfigFile,
} from './validate';

/**
 * How log events reach the functions.
 *
 * - `direct`: a subscription filter on each of `logGroupNames` to each function (CloudWatch
 *   Logs allows 2 per log group).
 * - `fan-out`: an account-level subscription policy sends every log group of the account and
 *   region (but the functions' own) to one Kinesis stream; each function reads it through an
 *   event source mapping.
 * - `central`: fan-out, plus a CloudWatch Logs destination in front of the stream that the
 *   member accounts of an Organization (or listed accounts) subscribe to (`CwlogsMember`).
 */
export type Topology = 'direct' | 'fan-out' | 'central';

/** The three functions: package `cwlogs-function-<name>`, binary `<name>`. */
export type FunctionName = 'archive' | 'index' | 'alert';

export interface ArchiveProps {
  /** An existing bucket. @default - a bucket is created (kept when the stack is deleted) */
  readonly bucket?: s3.IBucket;
  /** An existing bucket by name (instead of `bucket`). */
  readonly bucketName?: string;
  /**
   * The key prefix of archive objects; must equal `[archive] prefix` of the configuration
   * file (checked at synth), since the archive function may write only there and under
   * `dead-letter/`. @default "cwl"
   */
  readonly prefix?: string;
  /** SSE-KMS with this key ARN (CWLOGS_ARCHIVE_KMS_KEY). @default - SSE-S3 */
  readonly kmsKeyArn?: string;
}

export interface IndexProps {
  /** The OpenSearch / Elasticsearch endpoint URL (CWLOGS_INDEX_ENDPOINT). */
  readonly endpoint: string;
  /** The Amazon OpenSearch Service domain behind it: es:ESHttpPost / es:ESHttpPut on it. */
  readonly domainArn?: string;
  /** The OpenSearch Serverless collection behind it: aoss:APIAccessAll on it. */
  readonly collectionArn?: string;
  /**
   * For a cluster outside AWS IAM (Elastic Cloud, self-managed OpenSearch): basic or api-key,
   * with the credentials in `secretArn` (CWLOGS_INDEX_AUTH). @default - the configuration's
   * `auth`, else SigV4 for AWS endpoints, none otherwise
   */
  readonly auth?: 'basic' | 'api-key';
  /**
   * The Secrets Manager secret (full ARN) holding the credentials as JSON: `{"username",
   * "password"}` for basic, `{"api_key"}` for api-key (CWLOGS_INDEX_SECRET). The index function
   * may read this secret only, at cold start and again after a 401/403 (rotation).
   */
  readonly secretArn?: string;
  /** The customer managed key of `secretArn`: kms:Decrypt on it through Secrets Manager. */
  readonly secretKmsKeyArn?: string;
  /** Put the index function in a VPC (a VPC-only domain). @default - outside any VPC */
  readonly vpc?: IndexVpcProps;
  /**
   * Logs AWS services deliver to S3 (CloudTrail, VPC flow logs, load balancers, WAF), read by
   * the index function from the objects (`[sources.s3]`). @default - none
   */
  readonly s3Source?: S3SourceProps;
  /**
   * The IAM role of S3 Batch Operations backfill jobs (Invoke AWS Lambda function on the index
   * function; manifests and reports under `batch-operations/` in the archive bucket).
   * @default false
   */
  readonly batchOperationsRole?: boolean;
  /** Dead letters that re-drive themselves. @default - every hour, 5 attempts, an alarm at 1 day */
  readonly redrive?: RedriveProps;
}

/** A bucket AWS services deliver logs to, read by the index function. */
export interface S3SourceProps {
  /** The bucket. */
  readonly bucketName: string;
  /** The key prefixes read (s3:GetObject on each). @default ['AWSLogs/'] */
  readonly prefixes?: string[];
  /**
   * How the queue hears of new objects: an EventBridge rule (turn on the bucket's EventBridge
   * notifications once), or the bucket's own event notifications to the queue (the
   * S3SourceNotificationCommand output adds them). @default 'eventbridge'
   */
  readonly notification?: 'eventbridge' | 's3';
  /** The customer managed key of the objects: kms:Decrypt on it through S3. */
  readonly kmsKeyArn?: string;
  /** Notifications per invocation, 1 to 100. @default 10 */
  readonly batchSize?: number;
}

/** The re-drive schedule of the index function's dead letters and its alarm. */
export interface RedriveProps {
  /** @default true */
  readonly enabled?: boolean;
  /** @default rate(1 hour) */
  readonly schedule?: events.Schedule;
  /** Re-drives of one dead letter before it stays with its last error, 1 to 100. @default 5 */
  readonly maxAttempts?: number;
  /** Alarm when the oldest dead letter is older than this (5 min to 30 days). @default 1 day */
  readonly oldestAgeAlarm?: Duration;
}

/**
 * The index function's VPC settings, by id (no lookup at synth). The function then needs S3
 * (dead letters: `vpcId` + `routeTableIds` add the S3 and DynamoDB gateway endpoints) and,
 * with a secret, Secrets Manager (a NAT gateway or an interface endpoint).
 */
export interface IndexVpcProps {
  /** Private subnets with a route to the cluster. */
  readonly subnetIds: string[];
  /** The function's security groups (egress to the cluster on 443 / 9200). */
  readonly securityGroupIds: string[];
  /** The VPC of the subnets, where gateway endpoints are created (with `routeTableIds`). */
  readonly vpcId?: string;
  /** The subnets' route tables: S3 and DynamoDB gateway endpoints are added to them. */
  readonly routeTableIds?: string[];
}

/** `central`: who may subscribe to the destination (one of the two). */
export interface CentralProps {
  /** Every account of this Organization (aws:PrincipalOrgID). */
  readonly organizationId?: string;
  /** These accounts. */
  readonly accountIds?: string[];
}

export interface AlertsProps {
  /** Deploy the alert function. @default true */
  readonly enabled?: boolean;
  /** An existing topic. @default - a topic is created */
  readonly topic?: sns.ITopic;
  /** An existing topic by ARN (instead of `topic`). */
  readonly topicArn?: string;
  /** How often summaries of ended windows are sent. @default rate(1 minute) */
  readonly schedule?: events.Schedule;
}

export interface FunctionsProps {
  /** @default ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** MB, 128 to 10240. @default 512 */
  readonly memorySize?: number;
  /** 5 s to 15 min. @default 60 seconds */
  readonly timeout?: Duration;
  /**
   * Concurrent executions reserved for (and the most taken by) each function, so that a burst
   * of logs cannot starve the account's other functions; 1 to 1000. fan-out needs at least
   * shards x parallelizationFactor. @default 20
   */
  readonly reservedConcurrency?: number;
  /** @default INFO */
  readonly logLevel?: lambda.ApplicationLogLevel;
  /** Retention of the functions' own log groups. @default ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The functions' own EMF metrics (namespace `cwlogs`, CWLOGS_SELF_METRICS): per function,
   * also per sink, or also per sink and log group (events in, delivered, filtered,
   * dead-lettered, pending, delivery lag). Each log group adds custom metrics: with thousands
   * of groups, choose `sink`. @default 'log_group'
   */
  readonly selfMetrics?: 'off' | 'function' | 'sink' | 'log_group';
}

export interface StreamProps {
  /** @default ON_DEMAND */
  readonly mode?: kinesis.StreamMode;
  /** PROVISIONED only, 1 to 500. @default 2 */
  readonly shardCount?: number;
  /** 24 h to 365 days. @default 24 hours */
  readonly retention?: Duration;
  /** Records per invocation, 1 to 10000. @default 100 */
  readonly batchSize?: number;
  /** 0 to 300 s. @default 5 seconds */
  readonly maxBatchingWindow?: Duration;
  /** Concurrent batches per shard, 1 to 10. @default 1 */
  readonly parallelizationFactor?: number;
  /** Retries of a failing batch (halved each time) before the failure queue, 0 to 10000. @default 5 */
  readonly retryAttempts?: number;
  /** Older records go to the failure queue, 60 s to 7 days. @default 6 hours */
  readonly maxRecordAge?: Duration;
}

export interface AlarmsProps {
  /** Where alarms notify. @default - alarms without actions */
  readonly topic?: sns.ITopic;
  /** fan-out: alarm when a function's IteratorAge exceeds this. @default 10 minutes */
  readonly iteratorAgeThreshold?: Duration;
}

export interface CwlogsPipelineProps {
  readonly topology: Topology;
  /** direct (required there): the log groups to subscribe. */
  readonly logGroupNames?: string[];
  /** fan-out: more log groups the account policy leaves out (the functions' own always are). */
  readonly excludedLogGroupNames?: string[];
  /** What CloudWatch Logs sends at all. @default "" (every event) */
  readonly subscriptionFilterPattern?: string;
  /** central (required there): who may subscribe to the destination. */
  readonly central?: CentralProps;
  readonly archive?: ArchiveProps;
  /** @default - no index function */
  readonly index?: IndexProps;
  readonly alerts?: AlertsProps;
  readonly functions?: FunctionsProps;
  /** fan-out: the stream and the event source mappings. */
  readonly stream?: StreamProps;
  readonly alarms?: AlarmsProps;
  /**
   * The cwlogs.toml shipped to every function (a layer: /opt/cwlogs.toml, CWLOGS_CONFIG).
   * @default infra/sam/config/cwlogs.toml of the workspace
   */
  readonly configFile?: string;
  /** The Cargo workspace. @default the first parent directory whose Cargo.toml has [workspace] */
  readonly workspaceRoot?: string;
  /**
   * Use functions already built by `cargo lambda build` (`<lambdaDir>/<binary>/bootstrap`)
   * instead of building them at synth with cargo-lambda-cdk. @default - built by RustFunction
   */
  readonly lambdaDir?: string;
  /** Prefix of the functions' own log group names. @default /cwlogs/<stack name> */
  readonly logGroupPrefix?: string;
}

/**
 * The cwlogs pipeline: the archive function (S3), the index function (OpenSearch, with
 * `index`), the alert function (SNS, DynamoDB state, a schedule; unless `alerts.enabled` is
 * false), wired by `topology`, each with a least-privilege role, its own log group, failure
 * destinations, alarms, and a dashboard of the cwlogs self-metrics.
 */
export class CwlogsPipeline extends Construct {
  public readonly archiveFunction: lambda.Function;
  public readonly indexFunction?: lambda.Function;
  public readonly alertFunction?: lambda.Function;
  public readonly functions: Partial<Record<FunctionName, lambda.Function>> = {};
  public readonly bucketName: string;
  public readonly bucket?: s3.IBucket;
  public readonly failureQueue: sqs.Queue;
  public readonly configLayer: lambda.LayerVersion;
  public readonly stream?: kinesis.Stream;
  public readonly accountPolicy?: logs.CfnAccountPolicy;
  /** central: the destination the member accounts subscribe to. */
  public readonly destination?: logs.CfnDestination;
  public readonly alertTopicArn?: string;
  public readonly alertTable?: dynamodb.Table;
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** index.s3Source: the queue of the source's notifications. */
  public readonly s3SourceQueue?: sqs.Queue;
  /** index.batchOperationsRole: the role of S3 Batch Operations backfill jobs. */
  public readonly batchOperationsRole?: iam.Role;
  public readonly dashboard: cloudwatch.Dashboard;
  /** The functions' own log groups (left out of the account policy). */
  public readonly logGroupNames: Record<FunctionName, string>;

  constructor(scope: Construct, id: string, props: CwlogsPipelineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const workspaceRoot = props.workspaceRoot ?? findWorkspaceRoot(__dirname);
    const configFile = props.configFile ?? path.join(workspaceRoot, 'infra', 'sam', 'config', 'cwlogs.toml');
    const prefix = props.archive?.prefix ?? 'cwl';
    const alertsEnabled = props.alerts?.enabled ?? true;
    // central is fan-out with a destination in front of the stream.
    const fanOut = props.topology === 'fan-out' || props.topology === 'central';
    validate(props, { workspaceRoot, configFile, prefix, alertsEnabled }, this.node.path);

    const logGroupPrefix = props.logGroupPrefix ?? `/cwlogs/${stack.stackName}`;
    this.logGroupNames = {
      archive: `${logGroupPrefix}/archive`,
      index: `${logGroupPrefix}/index`,
      alert: `${logGroupPrefix}/alert`,
    };

    // ------------------------------------------------------------ shared

    this.configLayer = new lambda.LayerVersion(this, 'ConfigLayer', {
      description: 'cwlogs.toml for the cwlogs functions (at /opt/cwlogs.toml)',
      code: lambda.Code.fromAsset(stageConfig(configFile)),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    if (props.archive?.bucket) {
      this.bucket = props.archive.bucket;
      this.bucketName = props.archive.bucket.bucketName;
    } else if (props.archive?.bucketName) {
      this.bucketName = props.archive.bucketName;
    } else {
      // The archive bucket's server access logs, kept a year.
      const accessLogs = new s3.Bucket(this, 'AccessLogBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforceSSL: true,
        versioned: true,
        lifecycleRules: [
          { id: 'expire-access-logs', expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(7) },
        ],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      skipChecks(accessLogs, [
        'CKV_AWS_18',
        "This is the access-log bucket; logging its own accesses would log the log writes without end.",
      ]);
      // Versioned: an object overwritten by a redelivered batch, or deleted by mistake, can be
      // recovered for 30 days.
      this.bucket = new s3.Bucket(this, 'ArchiveBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforceSSL: true,
        versioned: true,
        lifecycleRules: [
          { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
          { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(30) },
        ],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // Server access logging through a bucket policy for the logging service (the buckets
      // enforce bucket ownership, so no ACL), set on the resource itself: `serverAccessLogsBucket`
      // would depend on a feature flag of the app.
      accessLogs.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'S3ServerAccessLogs',
          principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
          actions: ['s3:PutObject'],
          resources: [accessLogs.arnForObjects('archive/*')],
          conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        }),
      );
      (this.bucket.node.defaultChild as s3.CfnBucket).loggingConfiguration = {
        destinationBucketName: accessLogs.bucketName,
        logFilePrefix: 'archive/',
      };
      this.bucketName = this.bucket.bucketName;
    }
    const objects = (keyPrefix: string) => `arn:${Aws.PARTITION}:s3:::${this.bucketName}/${keyPrefix}/*`;

    // It holds log data (the failed events or batches): encrypted with the AWS managed SQS key,
    // whose key policy lets the account's principals that may use SQS use it (no KMS grant).
    this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.KMS_MANAGED,
    });

    if (fanOut) {
      const mode = props.stream?.mode ?? kinesis.StreamMode.ON_DEMAND;
      this.stream = new kinesis.Stream(this, 'LogStream', {
        streamMode: mode,
        shardCount: mode === kinesis.StreamMode.PROVISIONED ? (props.stream?.shardCount ?? 2) : undefined,
        retentionPeriod: props.stream?.retention ?? Duration.hours(24),
        encryption: kinesis.StreamEncryption.MANAGED,
      });
    }

    // ------------------------------------------------------------ functions

    const fn = props.functions ?? {};
    const functionTimeout = fn.timeout ?? Duration.seconds(60);
    const environment: Record<string, string> = {
      CWLOGS_CONFIG: '/opt/cwlogs.toml',
      CWLOGS_ARCHIVE_BUCKET: this.bucketName,
      CWLOGS_ARCHIVE_KMS_KEY: props.archive?.kmsKeyArn ?? '',
      CWLOGS_SELF_METRICS: fn.selfMetrics ?? 'log_group',
      // The function's timeout, for an invocation whose deadline cannot be Lambda's (a local
      // emulator): without it the functions assume 60 s.
      CWLOGS_FUNCTION_TIMEOUT: String(functionTimeout.toSeconds()),
    };

    const makeFunction = (
      name: FunctionName,
      description: string,
      statements: iam.PolicyStatement[],
      extraEnvironment: Record<string, string>,
    ): lambda.Function => {
      const logGroup = new logs.LogGroup(this, `${title(name)}LogGroup`, {
        logGroupName: this.logGroupNames[name],
        retention: fn.logRetention ?? logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      skipChecks(logGroup, [
        'CKV_AWS_158',
        "The functions' own logs (summaries, dead-letter notes, no log data) with CloudWatch Logs' default encryption; a customer key is a per-deployment choice.",
      ]);
      const role = new iam.Role(this, `${title(name)}Role`, {
        description: `cwlogs ${name} function`,
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        inlinePolicies: {
          [name]: new iam.PolicyDocument({
            statements: [
              new iam.PolicyStatement({
                sid: 'OwnLogs',
                actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                resources: [logGroup.logGroupArn],
              }),
              ...statements,
              ...(props.archive?.kmsKeyArn
                ? [
                    new iam.PolicyStatement({
                      sid: 'ArchiveKey',
                      actions: ['kms:GenerateDataKey'],
                      resources: [props.archive.kmsKeyArn],
                    }),
                  ]
                : []),
              ...(this.stream
                ? [
                    new iam.PolicyStatement({
                      sid: 'ReadStream',
                      actions: [
                        'kinesis:DescribeStream',
                        'kinesis:DescribeStreamSummary',
                        'kinesis:GetRecords',
                        'kinesis:GetShardIterator',
                        'kinesis:ListShards',
                        'kinesis:SubscribeToShard',
                      ],
                      resources: [this.stream.streamArn],
                    }),
                  ]
                : []),
            ],
          }),
        },
      });
      const common = {
        description,
        role,
        architecture: fn.architecture ?? lambda.Architecture.ARM_64,
        memorySize: fn.memorySize ?? 512,
        timeout: functionTimeout,
        reservedConcurrentExecutions: fn.reservedConcurrency ?? 20,
        layers: [this.configLayer],
        environment: { ...environment, ...extraEnvironment },
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: fn.logLevel ?? lambda.ApplicationLogLevel.INFO,
        systemLogLevelV2: lambda.SystemLogLevel.WARN,
      };
      const f = props.lambdaDir
        ? new lambda.Function(this, `${title(name)}Function`, {
            ...common,
            runtime: lambda.Runtime.PROVIDED_AL2023,
            handler: 'bootstrap',
            code: lambda.Code.fromAsset(path.join(props.lambdaDir, name)),
          })
        : new RustFunction(this, `${title(name)}Function`, {
            ...common,
            manifestPath: path.join(workspaceRoot, 'functions', name, 'Cargo.toml'),
            binaryName: name,
          });
      skipChecks(
        f,
        [
          'CKV_AWS_116',
          "Failed asynchronous invocations go to the failure queue through an on-failure destination, which keeps the error with the event; Kinesis batches through the event source mapping's on-failure destination. A DLQ would be a second, poorer copy.",
        ],
        [
          'CKV_AWS_173',
          'The environment holds names and ARNs, never a secret (credentials come from Secrets Manager or the role); Lambda encrypts it at rest with its service key.',
        ],
        [
          'CKV_AWS_117',
          name === 'index'
            ? 'In a VPC when index.vpc is set (a VPC-only domain); a cluster with a public endpoint needs none.'
            : 'It talks to AWS APIs only (S3, SNS, DynamoDB, CloudWatch Logs, Kinesis): a VPC would add NAT or endpoints and nothing to protect.',
        ],
      );
      // Failed asynchronous invocations (direct subscriptions, the schedule).
      f.configureAsyncInvoke({
        retryAttempts: 2,
        maxEventAge: name === 'alert' ? Duration.hours(1) : Duration.hours(6),
        onFailure: new destinations.SqsDestination(this.failureQueue),
      });
      this.functions[name] = f;
      return f;
    };

    this.archiveFunction = makeFunction(
      'archive',
      'cwlogs archive - CloudWatch Logs subscription data to S3 (gzip NDJSON)',
      [
        new iam.PolicyStatement({
          sid: 'ArchiveAndDeadLetters',
          actions: ['s3:PutObject'],
          resources: [objects(prefix), objects('dead-letter')],
        }),
      ],
      {},
    );

    const deadLetters = new iam.PolicyStatement({
      sid: 'DeadLetters',
      actions: ['s3:PutObject'],
      resources: [objects('dead-letter')],
    });

    if (props.index) {
      const statements = [deadLetters];
      if (props.index.domainArn) {
        statements.push(
          new iam.PolicyStatement({
            sid: 'Domain',
            // POST _bulk, PUT _index_template/* at cold start.
            actions: ['es:ESHttpPost', 'es:ESHttpPut'],
            resources: [`${props.index.domainArn}/*`],
          }),
        );
      }
      if (props.index.collectionArn) {
        statements.push(
          new iam.PolicyStatement({
            sid: 'Collection',
            actions: ['aoss:APIAccessAll'],
            resources: [props.index.collectionArn],
          }),
        );
      }
      const i = props.index;
      if (i.secretArn) {
        statements.push(
          new iam.PolicyStatement({ sid: 'IndexSecret', actions: ['secretsmanager:GetSecretValue'], resources: [i.secretArn] }),
        );
      }
      if (i.secretKmsKeyArn) {
        statements.push(
          new iam.PolicyStatement({
            sid: 'IndexSecretKey',
            actions: ['kms:Decrypt'],
            resources: [i.secretKmsKeyArn],
            conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` } },
          }),
        );
      }
      if (i.vpc) {
        const arn = (type: string) => `arn:${Aws.PARTITION}:ec2:${Aws.REGION}:${Aws.ACCOUNT_ID}:${type}/*`;
        statements.push(
          // What Lambda needs to attach the function to the subnets (the actions of
          // AWSLambdaVPCAccessExecutionRole), on this account's network interfaces.
          new iam.PolicyStatement({
            sid: 'VpcNetworkInterfaces',
            actions: [
              'ec2:CreateNetworkInterface',
              'ec2:DeleteNetworkInterface',
              'ec2:AssignPrivateIpAddresses',
              'ec2:UnassignPrivateIpAddresses',
            ],
            resources: [arn('network-interface'), arn('subnet'), arn('security-group')],
          }),
          // Describe calls have no resource-level permissions.
          new iam.PolicyStatement({
            sid: 'VpcDescribe',
            actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
            resources: ['*'],
          }),
        );
      }
      const redrive = i.redrive?.enabled ?? true;
      if (redrive) {
        statements.push(
          // Re-drive: read a dead letter, delete it once delivered, update its error file.
          new iam.PolicyStatement({
            sid: 'DeadLetterRedrive',
            actions: ['s3:GetObject', 's3:DeleteObject'],
            resources: [objects('dead-letter')],
          }),
          new iam.PolicyStatement({
            sid: 'DeadLetterList',
            actions: ['s3:ListBucket'],
            resources: [`arn:${Aws.PARTITION}:s3:::${this.bucketName}`],
            conditions: { StringLike: { 's3:prefix': 'dead-letter/*' } },
          }),
        );
      }
      const source = i.s3Source;
      const sourcePrefixes = source?.prefixes ?? ['AWSLogs/'];
      if (source) {
        statements.push(
          // Least privilege on the source: its objects under each prefix, and the version a
          // notification names.
          new iam.PolicyStatement({
            sid: 'S3SourceObjects',
            actions: ['s3:GetObject', 's3:GetObjectVersion'],
            resources: sourcePrefixes.map((p) => `arn:${Aws.PARTITION}:s3:::${source.bucketName}/${p}*`),
          }),
        );
        if (source.kmsKeyArn) {
          statements.push(
            new iam.PolicyStatement({
              sid: 'S3SourceKey',
              actions: ['kms:Decrypt'],
              resources: [source.kmsKeyArn],
              conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } },
            }),
          );
        }
      }
      this.indexFunction = makeFunction(
        'index',
        'cwlogs index - CloudWatch Logs subscription data to OpenSearch / Elasticsearch',
        statements,
        {
          CWLOGS_INDEX_ENDPOINT: i.endpoint,
          ...(i.auth ? { CWLOGS_INDEX_AUTH: i.auth } : {}),
          ...(i.secretArn ? { CWLOGS_INDEX_SECRET: i.secretArn } : {}),
        },
      );
      if (i.vpc) {
        // By id, without a lookup at synth (an ec2.IVpc would need one, or the zones).
        (this.indexFunction.node.defaultChild as lambda.CfnFunction).vpcConfig = {
          subnetIds: i.vpc.subnetIds,
          securityGroupIds: i.vpc.securityGroupIds,
        };
        if (i.vpc.vpcId && i.vpc.routeTableIds && i.vpc.routeTableIds.length > 0) {
          // Gateway endpoints (free): S3 for the dead letters, DynamoDB for the VPC's own use.
          for (const [id, service] of [['S3GatewayEndpoint', 's3'], ['DynamoDbGatewayEndpoint', 'dynamodb']]) {
            new ec2.CfnVPCEndpoint(this, id, {
              vpcEndpointType: 'Gateway',
              serviceName: `com.amazonaws.${Aws.REGION}.${service}`,
              vpcId: i.vpc.vpcId,
              routeTableIds: i.vpc.routeTableIds,
            });
          }
        }
      }
    }

    if (this.indexFunction && props.index) {
      const i = props.index;
      const f = this.indexFunction;
      const source = i.s3Source;
      if (source) {
        // Notifications of objects created under the prefixes; what keeps failing after 5
        // receives waits in the DLQ. SSE-SQS: S3 and EventBridge can send to it without a KMS
        // grant (not the AWS managed key, whose policy grants them nothing).
        const dlq = new sqs.Queue(this, 'S3SourceDeadLetterQueue', {
          retentionPeriod: Duration.days(14),
          encryption: sqs.QueueEncryption.SQS_MANAGED,
          enforceSSL: true,
        });
        const queue = new sqs.Queue(this, 'S3SourceQueue', {
          // Above six times the longest function timeout (900 s), as Lambda asks for SQS triggers.
          visibilityTimeout: Duration.seconds(5400),
          retentionPeriod: Duration.days(14),
          encryption: sqs.QueueEncryption.SQS_MANAGED,
          enforceSSL: true,
          deadLetterQueue: { queue: dlq, maxReceiveCount: 5 },
        });
        for (const q of [queue, dlq]) {
          skipChecks(q, [
            'CKV_AWS_27',
            'Encrypted with SSE-SQS (SqsManagedSseEnabled), which this check does not read: S3 and EventBridge cannot send to a queue under the AWS managed key alias/aws/sqs.',
          ]);
        }
        this.s3SourceQueue = queue;
        const prefixes = source.prefixes ?? ['AWSLogs/'];
        if ((source.notification ?? 'eventbridge') === 'eventbridge') {
          new events.Rule(this, 'S3SourceRule', {
            description: `cwlogs objects created in s3://${source.bucketName}`,
            eventPattern: {
              source: ['aws.s3'],
              detailType: ['Object Created'],
              detail: { bucket: { name: [source.bucketName] }, object: { key: prefixes.map((p) => ({ prefix: p })) } },
            },
            targets: [new targets.SqsQueue(queue)],
          });
        } else {
          queue.addToResourcePolicy(
            new iam.PolicyStatement({
              sid: 'BucketNotifications',
              principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
              actions: ['sqs:SendMessage'],
              resources: [queue.queueArn],
              conditions: { ArnEquals: { 'aws:SourceArn': `arn:${Aws.PARTITION}:s3:::${source.bucketName}` } },
            }),
          );
          new CfnOutput(this, 'S3SourceNotificationCommand', {
            description: "Adds the bucket's notifications to the queue (it replaces the bucket's notification configuration; merge by hand when it has others)",
            value: `aws s3api put-bucket-notification-configuration --bucket ${source.bucketName} --notification-configuration '{"QueueConfigurations": [{"QueueArn": "${queue.queueArn}", "Events": ["s3:ObjectCreated:*"]}]}'`,
          });
        }
        // The messages whose objects are not finished come back alone.
        f.addEventSource(
          new sources.SqsEventSource(queue, { batchSize: source.batchSize ?? 10, reportBatchItemFailures: true }),
        );
        new CfnOutput(this, 'S3SourceQueueUrl', { value: queue.queueUrl });
      }
      if (i.batchOperationsRole) {
        // For an S3 Batch Operations job (Invoke AWS Lambda function, schema 2.0): it invokes the
        // index function, reads the manifest and writes the report under batch-operations/.
        const role = new iam.Role(this, 'BatchOperationsRole', {
          description: 'cwlogs backfill with S3 Batch Operations through the index function',
          assumedBy: new iam.ServicePrincipal('batchoperations.s3.amazonaws.com', {
            conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
          }),
          inlinePolicies: {
            'batch-operations': new iam.PolicyDocument({
              statements: [
                new iam.PolicyStatement({
                  sid: 'Invoke',
                  actions: ['lambda:InvokeFunction'],
                  resources: [f.functionArn, `${f.functionArn}:*`],
                }),
                new iam.PolicyStatement({
                  sid: 'ManifestsAndReports',
                  actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'],
                  resources: [objects('batch-operations')],
                }),
                ...(props.archive?.kmsKeyArn
                  ? [new iam.PolicyStatement({ sid: 'ReportKey', actions: ['kms:GenerateDataKey'], resources: [props.archive.kmsKeyArn] })]
                  : []),
              ],
            }),
          },
        });
        this.batchOperationsRole = role;
        new CfnOutput(this, 'BatchOperationsRoleArn', { value: role.roleArn });
        new CfnOutput(this, 'IndexFunctionArn', { value: f.functionArn });
      }
      if (i.redrive?.enabled ?? true) {
        // Dead letters whose cause can pass are re-driven on a schedule; the run reports the
        // age of the oldest dead letter, which an alarm below watches.
        new events.Rule(this, 'RedriveSchedule', {
          description: 'cwlogs dead letters re-driven',
          schedule: i.redrive?.schedule ?? events.Schedule.rate(Duration.hours(1)),
          targets: [
            new targets.LambdaFunction(f, {
              event: events.RuleTargetInput.fromObject({ cwlogs_redrive: { max_attempts: i.redrive?.maxAttempts ?? 5 } }),
            }),
          ],
        });
      }
    }

    if (alertsEnabled) {
      let topicArn: string;
      if (props.alerts?.topic) {
        topicArn = props.alerts.topic.topicArn;
      } else if (props.alerts?.topicArn) {
        topicArn = props.alerts.topicArn;
      } else {
        const topic = new sns.Topic(this, 'AlertTopic', { displayName: 'cwlogs alerts' });
        // SSE with the AWS managed key: publishers of the account need no KMS permission.
        (topic.node.defaultChild as sns.CfnTopic).kmsMasterKeyId = 'alias/aws/sns';
        topicArn = topic.topicArn;
      }
      this.alertTopicArn = topicArn;
      // Alert state; items expire by themselves (TTL on expires_at).
      this.alertTable = new dynamodb.Table(this, 'AlertTable', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        timeToLiveAttribute: 'expires_at',
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      skipChecks(
        this.alertTable,
        [
          'CKV_AWS_28',
          'Alert windows and counts that expire by TTL within a day; a point-in-time restore would bring back nothing worth having.',
        ],
        [
          'CKV_AWS_119',
          'Encrypted at rest with the AWS managed key; the items are counts and alert bookkeeping, and a customer key is a per-deployment choice.',
        ],
      );
      this.alertFunction = makeFunction(
        'alert',
        'cwlogs alert - [[rule]] metrics (EMF) and alerts to SNS',
        [
          new iam.PolicyStatement({ sid: 'Publish', actions: ['sns:Publish'], resources: [topicArn] }),
          new iam.PolicyStatement({
            sid: 'State',
            actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
            resources: [this.alertTable.tableArn],
          }),
          deadLetters,
        ],
        { CWLOGS_ALERT_TOPIC: topicArn, CWLOGS_ALERT_TABLE: this.alertTable.tableName },
      );
      // Sends the summaries of windows that ended even when no more events arrive.
      new events.Rule(this, 'FlushSummaries', {
        description: 'cwlogs alert summaries of ended windows',
        schedule: props.alerts?.schedule ?? events.Schedule.rate(Duration.minutes(1)),
        targets: [new targets.LambdaFunction(this.alertFunction)],
      });
    }

    // ------------------------------------------------------------ topology

    const pattern = props.subscriptionFilterPattern ?? '';
    if (!fanOut) {
      const groups = props.logGroupNames ?? [];
      for (const [name, f] of Object.entries(this.functions) as [FunctionName, lambda.Function][]) {
        // One permission per function for the log groups of this account and region (one per
        // log group would outgrow the 20 KB resource policy); the filters say which.
        const permission = new lambda.CfnPermission(this, `${title(name)}LogsPermission`, {
          action: 'lambda:InvokeFunction',
          functionName: f.functionArn,
          principal: 'logs.amazonaws.com',
          sourceAccount: Aws.ACCOUNT_ID,
          sourceArn: `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`,
        });
        groups.forEach((group, i) => {
          const filter = new logs.CfnSubscriptionFilter(this, `${title(name)}Subscription${i}`, {
            logGroupName: group,
            filterName: `cwlogs-${stack.stackName}-${name}`,
            filterPattern: pattern,
            destinationArn: f.functionArn,
          });
          filter.node.addDependency(permission);
        });
      }
    } else {
      const stream = this.stream!;
      const role = new iam.Role(this, 'LogsToStreamRole', {
        description: 'CloudWatch Logs to the cwlogs stream',
        assumedBy: new iam.ServicePrincipal('logs.amazonaws.com', {
          conditions: {
            StringLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` },
          },
        }),
        inlinePolicies: {
          'put-records': new iam.PolicyDocument({
            statements: [
              new iam.PolicyStatement({
                actions: ['kinesis:PutRecord', 'kinesis:PutRecords'],
                resources: [stream.streamArn],
              }),
            ],
          }),
        },
      });
      const excluded = [
        this.logGroupNames.archive,
        this.logGroupNames.index,
        this.logGroupNames.alert,
        ...(props.excludedLogGroupNames ?? []),
      ];
      this.accountPolicy = new logs.CfnAccountPolicy(this, 'AccountSubscriptionPolicy', {
        policyName: `cwlogs-${stack.stackName}`,
        policyType: 'SUBSCRIPTION_FILTER_POLICY',
        scope: 'ALL',
        policyDocument: stack.toJsonString({
          DestinationArn: stream.streamArn,
          RoleArn: role.roleArn,
          FilterPattern: pattern,
          Distribution: 'Random',
        }),
        selectionCriteria: `LogGroupName NOT IN [${excluded.map((g) => `"${g}"`).join(', ')}]`,
      });

      if (props.topology === 'central') {
        // CloudWatch Logs writes the member accounts' subscriptions to the stream with this
        // role; who may subscribe is the destination policy's to say.
        const destinationRole = new iam.Role(this, 'DestinationRole', {
          description: 'CloudWatch Logs destination to the cwlogs stream (member accounts)',
          assumedBy: new iam.ServicePrincipal('logs.amazonaws.com', {
            conditions: { StringLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:*:*` } },
          }),
          inlinePolicies: {
            'put-records': new iam.PolicyDocument({
              statements: [
                new iam.PolicyStatement({
                  actions: ['kinesis:PutRecord', 'kinesis:PutRecords'],
                  resources: [stream.streamArn],
                }),
              ],
            }),
          },
        });
        const destinationName = `cwlogs-${stack.stackName}`;
        const c = props.central ?? {};
        const subscribe = {
          Effect: 'Allow',
          Action: 'logs:PutSubscriptionFilter',
          Resource: `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:destination:${destinationName}`,
        };
        const statement = c.organizationId
          ? {
              Sid: 'OrganizationSubscribes',
              ...subscribe,
              Principal: '*',
              Condition: { StringEquals: { 'aws:PrincipalOrgID': [c.organizationId] } },
            }
          : { Sid: 'AccountsSubscribe', ...subscribe, Principal: { AWS: c.accountIds ?? [] } };
        this.destination = new logs.CfnDestination(this, 'LogDestination', {
          destinationName,
          targetArn: stream.streamArn,
          roleArn: destinationRole.roleArn,
          destinationPolicy: stack.toJsonString({ Version: '2012-10-17', Statement: [statement] }),
        });
        // The role's policy must be in place before CloudWatch Logs checks it can write.
        this.destination.node.addDependency(destinationRole);
      }

      const s = props.stream ?? {};
      for (const [name, f] of Object.entries(this.functions) as [FunctionName, lambda.Function][]) {
        new lambda.EventSourceMapping(this, `${title(name)}StreamMapping`, {
          target: f,
          eventSourceArn: stream.streamArn,
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize: s.batchSize ?? 100,
          maxBatchingWindow: s.maxBatchingWindow ?? Duration.seconds(5),
          parallelizationFactor: s.parallelizationFactor ?? 1,
          reportBatchItemFailures: true,
          bisectBatchOnError: true,
          retryAttempts: s.retryAttempts ?? 5,
          maxRecordAge: s.maxRecordAge ?? Duration.hours(6),
          onFailure: new sources.SqsDlq(this.failureQueue),
        });
      }
    }

    // ------------------------------------------------------------ alarms and dashboard

    const alarmActions = props.alarms?.topic ? [props.alarms.topic] : [];
    const alarm = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number, periods = 1) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods > 1 ? 3 : undefined,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      for (const topic of alarmActions) {
        a.addAlarmAction({ bind: () => ({ alarmActionArn: topic.topicArn }) });
      }
      this.alarms.push(a);
      return a;
    };
    const selfMetric = (f: lambda.IFunction, metricName: string, period = Duration.minutes(5)) =>
      new cloudwatch.Metric({
        namespace: 'cwlogs',
        metricName,
        dimensionsMap: { Function: f.functionName },
        statistic: 'Sum',
        period,
      });
    for (const [name, f] of Object.entries(this.functions) as [FunctionName, lambda.Function][]) {
      alarm(
        `${title(name)}ErrorsAlarm`,
        `The cwlogs ${name} function failed (retryable failures left, or a crash).`,
        f.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        0,
      );
      alarm(
        `${title(name)}DeadLettersAlarm`,
        `The cwlogs ${name} function wrote dead letters (dead-letter/ in the bucket; \`cwlogs replay\` feeds them back).`,
        selfMetric(f, 'DeadLetters'),
        0,
      );
      if (fanOut) {
        alarm(
          `${title(name)}IteratorAgeAlarm`,
          `The cwlogs ${name} function falls behind the stream.`,
          f.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1) }),
          (props.alarms?.iteratorAgeThreshold ?? Duration.minutes(10)).toMilliseconds(),
          5,
        );
      }
    }
    if (this.alertFunction) {
      alarm(
        'AlertsFailedAlarm',
        'SNS refused or kept failing alerts of the cwlogs alert function.',
        selfMetric(this.alertFunction, 'AlertsFailed'),
        0,
      );
    }
    alarm(
      'FailureQueueAlarm',
      'Invocations or Kinesis batches the cwlogs functions gave up on wait in the failure queue.',
      this.failureQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(5) }),
      0,
    );
    if (this.indexFunction && (props.index?.redrive?.enabled ?? true)) {
      alarm(
        'DeadLetterAgeAlarm',
        'The oldest cwlogs dead letter (dead-letter/ in the bucket) is older than redrive.oldestAgeAlarm: its cause has not passed, or re-driving it gave up.',
        new cloudwatch.Metric({
          namespace: 'cwlogs',
          metricName: 'DeadLetterOldestAgeSeconds',
          dimensionsMap: { Function: this.indexFunction.functionName },
          statistic: 'Maximum',
          period: Duration.hours(1),
        }),
        (props.index?.redrive?.oldestAgeAlarm ?? Duration.days(1)).toSeconds(),
      );
    }
    if (this.s3SourceQueue?.deadLetterQueue) {
      alarm(
        'S3SourceDeadLetterQueueAlarm',
        "Notifications of S3 objects the index function kept failing on wait in the S3 source's DLQ.",
        this.s3SourceQueue.deadLetterQueue.queue.metricApproximateNumberOfMessagesVisible({
          statistic: 'Maximum',
          period: Duration.minutes(5),
        }),
        0,
      );
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `cwlogs-${stack.stackName}`,
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        width: 24,
        height: 2,
        markdown: `## cwlogs (${props.topology})\nEvents in = delivered + filtered + dead letters; pending records go back to the trigger. Dead letters: \`s3://${this.bucketName}/dead-letter/\`.`,
      }),
    );
    const eventMetrics = ['EventsIn', 'EventsDelivered', 'EventsFiltered', 'DeadLetters', 'RecordsPending'];
    this.dashboard.addWidgets(
      ...(Object.entries(this.functions) as [FunctionName, lambda.Function][]).map(
        ([name, f]) =>
          new cloudwatch.GraphWidget({
            title: name === 'alert' ? 'alert: events and alerts' : `${name}: events`,
            width: 8,
            left: [
              ...eventMetrics,
              ...(name === 'alert' ? ['AlertsPublished', 'AlertsFailed'] : []),
            ].map((m) => selfMetric(f, m)),
          }),
      ),
    );
    const all = Object.values(this.functions) as lambda.Function[];
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'invocations and errors',
        width: 8,
        left: all.flatMap((f) => [f.metricInvocations(), f.metricErrors(), f.metricThrottles()]),
      }),
      new cloudwatch.GraphWidget({
        title: 'duration p99 (ms)',
        width: 8,
        left: all.map((f) => f.metricDuration({ statistic: 'p99' })),
      }),
      new cloudwatch.GraphWidget({
        title: 'iterator age (ms, fan-out) and failure queue',
        width: 8,
        left: all.map((f) => f.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1) })),
        right: [this.failureQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' })],
      }),
    );
    // How far behind the sinks are: now less the oldest event of each invocation, per sink,
    // and per log group (a search over the LogGroup dimension, when selfMetrics is log_group).
    const sinkOf: Record<FunctionName, string> = { archive: 'archive', index: 'index', alert: 'rules' };
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'delivery lag per sink (ms, oldest event of an invocation)',
        width: 12,
        left: (Object.entries(this.functions) as [FunctionName, lambda.Function][]).map(
          ([name, f]) =>
            new cloudwatch.Metric({
              namespace: 'cwlogs',
              metricName: 'DeliveryLag',
              dimensionsMap: { Function: f.functionName, Sink: sinkOf[name] },
              statistic: 'Maximum',
              period: Duration.minutes(5),
            }),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'delivery lag per log group and sink (ms, selfMetrics = log_group)',
        width: 12,
        left: [
          new cloudwatch.MathExpression({
            expression: `SEARCH('{cwlogs,Function,LogGroup,Sink} MetricName="DeliveryLag"', 'Maximum', 300)`,
            label: '',
            usingMetrics: {},
            period: Duration.minutes(5),
          }),
        ],
      }),
    );
    // The metrics of the rule packs the alert function publishes (packs = [...] in the config).
    const packMetric = (namespace: string, metricName: string) =>
      new cloudwatch.Metric({ namespace, metricName, statistic: 'Sum', period: Duration.minutes(5) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'rule pack cis-aws-foundations (CISBenchmark)',
        width: 12,
        left: [
          'UnauthorizedAPICalls', 'ConsoleSigninWithoutMFA', 'RootAccountUsage', 'IAMPolicyChanges',
          'CloudTrailChanges', 'ConsoleAuthenticationFailures', 'DisableOrDeleteCMK', 'S3BucketPolicyChanges',
          'AWSConfigChanges', 'SecurityGroupChanges', 'NACLChanges', 'NetworkGatewayChanges',
          'RouteTableChanges', 'VPCChanges', 'OrganizationsChanges',
        ].map((m) => packMetric('CISBenchmark', m)),
      }),
      new cloudwatch.GraphWidget({
        title: 'rule pack lambda-ecs-ops (cwlogs/Ops)',
        width: 12,
        left: [
          ...['ErrorLines', 'LambdaTimeouts', 'LambdaOutOfMemory', 'LambdaInitFailures'].map((m) => packMetric('cwlogs/Ops', m)),
          new cloudwatch.MathExpression({
            expression: `SEARCH('{cwlogs/Ops,Cluster} MetricName="EcsTasksStopped"', 'Sum', 300)`,
            label: 'EcsTasksStopped',
            usingMetrics: {},
            period: Duration.minutes(5),
          }),
        ],
      }),
    );

    // ------------------------------------------------------------ outputs

    new CfnOutput(this, 'Topology', { value: props.topology });
    for (const [name, f] of Object.entries(this.functions) as [FunctionName, lambda.Function][]) {
      new CfnOutput(this, `${title(name)}FunctionName`, { value: f.functionName });
    }
    new CfnOutput(this, 'ArchiveBucketName', {
      description: 'Archive objects under the prefix, dead letters under dead-letter/',
      value: this.bucketName,
    });
    if (this.alertTopicArn) new CfnOutput(this, 'AlertTopicArn', { value: this.alertTopicArn });
    if (this.alertTable) new CfnOutput(this, 'AlertTableName', { value: this.alertTable.tableName });
    if (this.stream) new CfnOutput(this, 'StreamArn', { value: this.stream.streamArn });
    if (this.accountPolicy) new CfnOutput(this, 'AccountPolicyName', { value: this.accountPolicy.policyName });
    if (this.destination) {
      new CfnOutput(this, 'DestinationArn', {
        description: "What member accounts subscribe to (CwlogsMember's destinationArn, member.yaml's DestinationArn)",
        value: this.destination.attrArn,
      });
    }
    new CfnOutput(this, 'FailureQueueUrl', {
      description: 'Failed asynchronous invocations and Kinesis batches past their retries',
      value: this.failureQueue.queueUrl,
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${this.dashboard.dashboardName}`,
    });
  }
}

/**
 * checkov findings this stack decides against, recorded in the template with the reason
 * (`Metadata.checkov.skip`), as the SAM template does.
 */
function skipChecks(construct: Construct, ...checks: [string, string][]): void {
  const resource = (construct.node.defaultChild ?? construct) as CfnResource;
  resource.addMetadata('checkov', { skip: checks.map(([id, comment]) => ({ id, comment })) });
}

function title(name: string): string {
  return name[0].toUpperCase() + name.slice(1);
}

/** The nearest directory at or above `from` whose Cargo.toml declares a [workspace]. */
export function findWorkspaceRoot(from: string): string {
  let dir = path.resolve(from);
  for (;;) {
    const manifest = path.join(dir, 'Cargo.toml');
    if (fs.existsSync(manifest) && /^\[workspace\]/m.test(fs.readFileSync(manifest, 'utf-8'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`CwlogsPipeline: no Cargo workspace above ${from}; set workspaceRoot`);
    }
    dir = parent;
  }
}

/** A directory holding only `cwlogs.toml` (a copy of `file`), the layer's content. */
function stageConfig(file: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cwlogs-config-'));
  fs.copyFileSync(file, path.join(dir, 'cwlogs.toml'));
  return dir;
}

interface Resolved {
  readonly workspaceRoot: string;
  readonly configFile: string;
  readonly prefix: string;
  readonly alertsEnabled: boolean;
}

function validate(props: CwlogsPipelineProps, r: Resolved, where: string): void {
  const p = new Problems();
  if (props.topology !== 'direct' && props.topology !== 'fan-out' && props.topology !== 'central') {
    p.add(`topology must be "direct", "fan-out" or "central", not ${JSON.stringify(props.topology)}`);
  }
  const c = props.central;
  if (props.topology === 'central') {
    const accounts = c?.accountIds ?? [];
    if (!c?.organizationId && accounts.length === 0) {
      p.add('topology "central" needs central.organizationId (every account of the Organization may subscribe) or central.accountIds');
    }
    if (c?.organizationId && accounts.length > 0) p.add('central: give organizationId or accountIds, not both');
    p.pattern('central.organizationId', c?.organizationId, ORGANIZATION_ID, 'an AWS Organizations id (o-xxxxxxxxxx)');
    for (const a of accounts) p.pattern('central.accountIds item', a, ACCOUNT_ID, 'a 12-digit account id');
  } else if (c) {
    p.add('central settings are for topology "central"');
  }
  const groups = props.logGroupNames ?? [];
  if (props.topology === 'direct') {
    if (groups.length === 0) {
      p.add('topology "direct" needs logGroupNames: the log groups to subscribe (or choose topology "fan-out")');
    }
    if (props.index && r.alertsEnabled) {
      p.add(
        'CloudWatch Logs allows 2 subscription filters per log group, and "direct" would put 3 on each (archive, index, alert): choose topology "fan-out", or leave out index or alerts (alerts.enabled = false)',
      );
    }
  }
  if (props.topology !== 'direct' && groups.length > 0) {
    p.add(
      `logGroupNames is for topology "direct"; "${props.topology}" takes every log group of the account: leave some out with excludedLogGroupNames`,
    );
  }
  const seen = new Set<string>();
  for (const g of groups) {
    p.pattern('logGroupNames item', g, LOG_GROUP_NAME, 'a log group name ([.-_/#A-Za-z0-9], 1 to 512 characters)');
    if (seen.has(g)) p.add(`logGroupNames lists ${g} twice`);
    seen.add(g);
  }
  const excluded = props.excludedLogGroupNames ?? [];
  for (const g of excluded) {
    p.pattern('excludedLogGroupNames item', g, LOG_GROUP_NAME, 'a log group name ([.-_/#A-Za-z0-9], 1 to 512 characters)');
  }
  if (excluded.length > 47) {
    p.add(`excludedLogGroupNames has ${excluded.length} names; the account policy takes at most 50, 3 of them the functions' own`);
  }
  const pattern = props.subscriptionFilterPattern ?? '';
  if (!Token.isUnresolved(pattern) && pattern.length > 1024) {
    p.add(`subscriptionFilterPattern is ${pattern.length} characters; CloudWatch Logs takes at most 1024`);
  }

  const a = props.archive ?? {};
  if (a.bucket && a.bucketName) p.add('archive: give bucket or bucketName, not both');
  p.pattern('archive.bucketName', a.bucketName, BUCKET_NAME, 'an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)');
  p.pattern('archive.prefix', a.prefix, KEY_PREFIX, 'an S3 key prefix without leading or trailing / (e.g. cwl or logs/cwl)');
  p.pattern('archive.kmsKeyArn', a.kmsKeyArn, KMS_KEY_ARN, 'a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)');

  if (props.index) {
    const i = props.index;
    if (!i.endpoint) p.add('index.endpoint is required with index');
    p.pattern('index.endpoint', i.endpoint || undefined, ENDPOINT_URL, 'an http(s) URL without query, e.g. https://search-logs-abc.eu-west-1.es.amazonaws.com');
    p.pattern('index.domainArn', i.domainArn, DOMAIN_ARN, 'an OpenSearch domain ARN (arn:aws:es:REGION:ACCOUNT:domain/NAME)');
    p.pattern('index.collectionArn', i.collectionArn, COLLECTION_ARN, 'an OpenSearch Serverless collection ARN (arn:aws:aoss:REGION:ACCOUNT:collection/ID)');
    if (i.domainArn && i.collectionArn) p.add('index: give domainArn or collectionArn, not both');
    if (i.auth !== undefined && i.auth !== 'basic' && i.auth !== 'api-key') {
      p.add(`index.auth must be "basic" or "api-key", not ${JSON.stringify(i.auth)}`);
    }
    p.pattern('index.secretArn', i.secretArn, SECRET_ARN, 'a Secrets Manager secret ARN (the full ARN, with its 6-character suffix)');
    p.pattern('index.secretKmsKeyArn', i.secretKmsKeyArn, KMS_KEY_ARN, 'a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)');
    if (i.secretArn && !i.auth) p.add('index.secretArn holds basic or API-key credentials: set index.auth to "basic" or "api-key"');
    if (i.auth && !i.secretArn) p.add(`index.auth "${i.auth}" needs index.secretArn, the secret holding the credentials`);
    if (i.secretKmsKeyArn && !i.secretArn) p.add('index.secretKmsKeyArn is the key of index.secretArn: set the secret too');
    if (i.vpc) {
      const v = i.vpc;
      if (v.subnetIds.length === 0 || v.securityGroupIds.length === 0) {
        p.add('index.vpc needs subnetIds and securityGroupIds (both non-empty)');
      }
      for (const x of v.subnetIds) p.pattern('index.vpc.subnetIds item', x, SUBNET_ID, 'a subnet id (subnet-...)');
      for (const x of v.securityGroupIds) p.pattern('index.vpc.securityGroupIds item', x, SECURITY_GROUP_ID, 'a security group id (sg-...)');
      p.pattern('index.vpc.vpcId', v.vpcId, VPC_ID, 'a VPC id (vpc-...)');
      for (const x of v.routeTableIds ?? []) p.pattern('index.vpc.routeTableIds item', x, ROUTE_TABLE_ID, 'a route table id (rtb-...)');
      if (!v.vpcId !== ((v.routeTableIds ?? []).length === 0)) {
        p.add('index.vpc: vpcId and routeTableIds go together (the gateway endpoints need both)');
      }
    }
    if (i.s3Source) {
      const src = i.s3Source;
      p.pattern('index.s3Source.bucketName', src.bucketName, BUCKET_NAME, 'an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)');
      for (const x of src.prefixes ?? []) {
        if (x !== '') p.pattern('index.s3Source.prefixes item', x, SOURCE_PREFIX, 'an S3 key prefix (letters, digits, _ . = - /; no leading /)');
      }
      if (src.notification !== undefined && src.notification !== 'eventbridge' && src.notification !== 's3') {
        p.add(`index.s3Source.notification must be "eventbridge" or "s3", not ${JSON.stringify(src.notification)}`);
      }
      p.pattern('index.s3Source.kmsKeyArn', src.kmsKeyArn, KMS_KEY_ARN, 'a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)');
      p.range('index.s3Source.batchSize', src.batchSize, 1, 100);
    }
    if (i.redrive) {
      p.range('index.redrive.maxAttempts', i.redrive.maxAttempts, 1, 100);
      p.seconds('index.redrive.oldestAgeAlarm', i.redrive.oldestAgeAlarm, 300, 2_592_000);
    }
  }

  const al = props.alerts ?? {};
  if (al.topic && al.topicArn) p.add('alerts: give topic or topicArn, not both');
  p.pattern('alerts.topicArn', al.topicArn, TOPIC_ARN, 'an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)');
  if (!r.alertsEnabled && (al.topic || al.topicArn || al.schedule)) {
    p.add('alerts: topic, topicArn and schedule need alerts.enabled');
  }

  const f = props.functions ?? {};
  p.range('functions.memorySize', f.memorySize, 128, 10240);
  p.range('functions.reservedConcurrency', f.reservedConcurrency, 1, 1000);
  p.seconds('functions.timeout', f.timeout, 5, 900);

  const s = props.stream ?? {};
  if (props.topology === 'direct' && props.stream) p.add('stream settings are for topology "fan-out" or "central"');
  p.range('stream.shardCount', s.shardCount, 1, 500);
  if (s.shardCount !== undefined && s.mode !== kinesis.StreamMode.PROVISIONED) {
    p.add('stream.shardCount needs stream.mode PROVISIONED');
  }
  if (s.retention && !s.retention.isUnresolved()) {
    const h = s.retention.toHours({ integral: false });
    if (!Number.isInteger(h) || h < 24 || h > 8760) p.add(`stream.retention must be whole hours from 24 to 8760, not ${h}`);
  }
  p.range('stream.batchSize', s.batchSize, 1, 10000);
  p.seconds('stream.maxBatchingWindow', s.maxBatchingWindow, 0, 300);
  p.range('stream.parallelizationFactor', s.parallelizationFactor, 1, 10);
  p.range('stream.retryAttempts', s.retryAttempts, 0, 10000);
  p.seconds('stream.maxRecordAge', s.maxRecordAge, 60, 604800);
  if (props.alarms?.iteratorAgeThreshold) {
    p.seconds('alarms.iteratorAgeThreshold', props.alarms.iteratorAgeThreshold, 1, 604800);
  }

  if (props.lambdaDir !== undefined) {
    const names: FunctionName[] = ['archive', ...(props.index ? ['index' as const] : []), ...(r.alertsEnabled ? ['alert' as const] : [])];
    for (const n of names) {
      const bootstrap = path.join(props.lambdaDir, n, 'bootstrap');
      if (!fs.existsSync(bootstrap)) {
        p.add(`lambdaDir: ${bootstrap} does not exist (build with \`cargo lambda build --release\`)`);
      }
    }
  } else {
    for (const n of ['archive', 'index', 'alert']) {
      const manifest = path.join(r.workspaceRoot, 'functions', n, 'Cargo.toml');
      if ((n === 'archive' || (n === 'index' && props.index) || (n === 'alert' && r.alertsEnabled)) && !fs.existsSync(manifest)) {
        p.add(`workspaceRoot: ${manifest} does not exist`);
      }
    }
  }
  checkConfigFile(p, r.configFile, r.prefix);
  p.throwIfAny(where);
}
