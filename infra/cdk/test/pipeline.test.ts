import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { CwlogsMember, CwlogsMemberProps, CwlogsPipeline, CwlogsPipelineProps, findWorkspaceRoot } from '../lib';

const ROOT = findWorkspaceRoot(__dirname);
const DOMAIN_ARN = 'arn:aws:es:eu-west-1:123456789012:domain/logs';
const COLLECTION_ARN = 'arn:aws:aoss:eu-west-1:123456789012:collection/abcdefghij0123456789';
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:security';
const ENDPOINT = 'https://search-logs-abc.eu-west-1.es.amazonaws.com';

/** A stack with the pipeline, synthesized without building the functions. */
function synth(props: CwlogsPipelineProps): { template: Template; pipeline: CwlogsPipeline; stack: Stack } {
  const app = new App({
    context: {
      // No stack is bundled: the functions are not compiled, their assets point at the sources.
      'aws:cdk:bundling-stacks': [],
      'aws:cdk:enable-asset-metadata': true,
    },
  });
  const stack = new Stack(app, 'Test', { stackName: 'cwl-test' });
  const pipeline = new CwlogsPipeline(stack, 'Pipeline', props);
  return { template: Template.fromStack(stack), pipeline, stack };
}

const direct: CwlogsPipelineProps = { topology: 'direct', logGroupNames: ['/aws/lambda/app', '/ecs/web'] };
const fanOut: CwlogsPipelineProps = {
  topology: 'fan-out',
  index: { endpoint: ENDPOINT, domainArn: DOMAIN_ARN },
  alerts: { topicArn: TOPIC_ARN },
};

/** The statements of the inline policy of the role behind function `name`. */
function roleStatements(template: Template, name: string): any[] {
  const roles = template.findResources('AWS::IAM::Role', {
    Properties: { Description: `cwlogs ${name} function` },
  });
  const ids = Object.keys(roles);
  expect(ids).toHaveLength(1);
  return roles[ids[0]].Properties.Policies[0].PolicyDocument.Statement;
}

function statement(statements: any[], sid: string): any {
  const s = statements.find((x) => x.Sid === sid);
  expect(s).toBeDefined();
  return s;
}

function asList<T>(x: T | T[]): T[] {
  return Array.isArray(x) ? x : [x];
}

describe('direct topology', () => {
  const { template } = synth(direct);

  test('archive and alert functions, Rust on provided.al2023, arm64, the config layer', () => {
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 60,
      Layers: [{ Ref: Match.stringLikeRegexp('ConfigLayer') }],
      Environment: {
        Variables: Match.objectLike({
          CWLOGS_CONFIG: '/opt/cwlogs.toml',
          CWLOGS_ARCHIVE_BUCKET: Match.anyValue(),
          CWLOGS_SELF_METRICS: 'log_group',
          CWLOGS_FUNCTION_TIMEOUT: '60',
        }),
      },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON', LogGroup: Match.anyValue() }),
    });
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
  });

  test('the functions are built from functions/<name>/Cargo.toml (RustFunction)', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    const paths = Object.values(fns).map((f: any) => f.Metadata['aws:asset:path']).sort();
    expect(paths).toEqual([path.join(ROOT, 'functions', 'alert'), path.join(ROOT, 'functions', 'archive')]);
  });

  test('one subscription filter per log group and function, after the permission', () => {
    template.resourceCountIs('AWS::Logs::SubscriptionFilter', 4);
    for (const group of ['/aws/lambda/app', '/ecs/web']) {
      for (const name of ['archive', 'alert']) {
        template.hasResource('AWS::Logs::SubscriptionFilter', {
          Properties: {
            LogGroupName: group,
            FilterPattern: '',
            FilterName: `cwlogs-cwl-test-${name}`,
            DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp(`${name[0].toUpperCase()}${name.slice(1)}Function`), 'Arn'] },
          },
          DependsOn: [Match.stringLikeRegexp('LogsPermission')],
        });
      }
    }
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Permission',
      {
        Principal: 'logs.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
        SourceArn: Match.anyValue(),
      },
      2,
    );
  });

  test('no stream, account policy or event source mapping', () => {
    template.resourceCountIs('AWS::Kinesis::Stream', 0);
    template.resourceCountIs('AWS::Logs::AccountPolicy', 0);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
  });

  test('failed asynchronous invocations go to the failure queue', () => {
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 2);
    template.allResourcesProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('FailureQueue'), 'Arn'] } } },
    });
  });

  test('own log groups with retention, named for the stack', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/cwlogs/cwl-test/archive', RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/cwlogs/cwl-test/alert', RetentionInDays: 30 });
  });

  test('a private, TLS-only bucket is created and kept', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      }),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('alert state table, topic and schedule', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: 'alias/aws/sns' });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AlertFunction'), 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          CWLOGS_ALERT_TOPIC: { Ref: Match.stringLikeRegexp('AlertTopic') },
          CWLOGS_ALERT_TABLE: { Ref: Match.stringLikeRegexp('AlertTable') },
        }),
      },
    });
  });

  test('alarms on errors and dead letters, no iterator age', () => {
    for (const name of ['archive', 'alert']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp(`${name[0].toUpperCase()}${name.slice(1)}Function`) } }],
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'cwlogs',
        MetricName: 'DeadLetters',
        Threshold: 0,
        Dimensions: [{ Name: 'Function', Value: { Ref: Match.stringLikeRegexp(`${name[0].toUpperCase()}${name.slice(1)}Function`) } }],
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'cwlogs', MetricName: 'AlertsFailed' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
    });
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge' }, 0);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
  });

  test('a dashboard of the cwlogs self-metrics', () => {
    const dashboards = template.findResources('AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(Object.values(dashboards)[0].Properties.DashboardBody);
    for (const m of ['EventsIn', 'EventsDelivered', 'EventsFiltered', 'DeadLetters', 'RecordsPending', 'AlertsPublished', 'AlertsFailed']) {
      expect(body).toContain(`\\"${m}\\"`);
    }
    expect(body).toContain('\\"cwlogs\\"');
    expect(body).toContain('\\"Function\\"');
    // The rule packs' metrics.
    for (const m of ['CISBenchmark', 'UnauthorizedAPICalls', 'RootAccountUsage', 'cwlogs/Ops', 'LambdaTimeouts']) {
      expect(body).toContain(`\\"${m}\\"`);
    }
    expect(body).toContain('SEARCH(');
    // The delivery lag per sink, and per log group.
    expect(body).toContain('\\"DeliveryLag\\"');
    expect(body).toContain('\\"Sink\\"');
    expect(body).toContain('{cwlogs,Function,LogGroup,Sink}');
  });

  test('outputs name what was created', () => {
    const outputs = Object.keys(template.findOutputs('*'));
    for (const o of ['Topology', 'ArchiveFunctionName', 'AlertFunctionName', 'ArchiveBucketName', 'AlertTopicArn', 'AlertTableName', 'FailureQueueUrl', 'DashboardUrl']) {
      expect(outputs.some((k) => k.includes(o))).toBe(true);
    }
    expect(outputs.some((k) => k.includes('StreamArn'))).toBe(false);
  });
});

describe('fan-out topology', () => {
  const { template } = synth(fanOut);

  test('an encrypted on-demand stream', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: 24,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
  });

  test('an account-level subscription policy that leaves out the functions\' own log groups', () => {
    template.resourceCountIs('AWS::Logs::SubscriptionFilter', 0);
    template.hasResourceProperties('AWS::Logs::AccountPolicy', {
      PolicyName: 'cwlogs-cwl-test',
      PolicyType: 'SUBSCRIPTION_FILTER_POLICY',
      Scope: 'ALL',
      SelectionCriteria:
        'LogGroupName NOT IN ["/cwlogs/cwl-test/archive", "/cwlogs/cwl-test/index", "/cwlogs/cwl-test/alert"]',
    });
    const policies = template.findResources('AWS::Logs::AccountPolicy');
    const doc = JSON.stringify(Object.values(policies)[0].Properties.PolicyDocument);
    expect(doc).toContain('DestinationArn');
    expect(doc).toContain('RoleArn');
    expect(doc).toContain('Distribution');
  });

  test('CloudWatch Logs may only put records into the stream', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'logs.amazonaws.com' } })] } },
    });
    const role = Object.values(roles)[0] as any;
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Condition.StringLike['aws:SourceArn']).toBeDefined();
    const statements = role.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toEqual(['kinesis:PutRecord', 'kinesis:PutRecords']);
    expect(statements[0].Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/LogStream/), 'Arn'] });
  });

  test('one event source mapping per function: batch item failures, bisect, bounded retries, failure queue', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    template.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('LogStream'), 'Arn'] },
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 21600,
      BatchSize: 100,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('FailureQueue'), 'Arn'] } } },
    });
  });

  test('iterator age alarms, one per function', () => {
    template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { Namespace: 'AWS/Lambda', MetricName: 'IteratorAge', Statistic: 'Maximum', Threshold: 600000 },
      3,
    );
  });

  test('no topic is created for a given topic ARN', () => {
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CWLOGS_ALERT_TOPIC: TOPIC_ARN }) },
    });
  });

  test('no permission for CloudWatch Logs to invoke the functions', () => {
    template.resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: 'logs.amazonaws.com' }, 0);
  });
});

describe('least privilege', () => {
  const { template } = synth(fanOut);

  test('no function role has a managed policy or a wildcard resource', () => {
    for (const name of ['archive', 'index', 'alert']) {
      const roles = template.findResources('AWS::IAM::Role', { Properties: { Description: `cwlogs ${name} function` } });
      const role = Object.values(roles)[0] as any;
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      for (const s of roleStatements(template, name)) {
        expect(asList(s.Resource)).not.toContain('*');
      }
    }
    // Statements CDK adds for the destinations (AWS::IAM::Policy) are on the queue only.
    for (const p of Object.values(template.findResources('AWS::IAM::Policy')) as any[]) {
      for (const s of p.Properties.PolicyDocument.Statement) {
        expect(asList(s.Resource)).not.toContain('*');
        for (const a of asList(s.Action)) expect(a).toMatch(/^sqs:/);
      }
    }
  });

  test('archive: PutObject under its prefix and dead-letter/ only', () => {
    const s = statement(roleStatements(template, 'archive'), 'ArchiveAndDeadLetters');
    expect(s.Action).toBe('s3:PutObject');
    const resources = JSON.stringify(s.Resource);
    expect(s.Resource).toHaveLength(2);
    expect(resources).toContain('/cwl/*');
    expect(resources).toContain('/dead-letter/*');
  });

  test('index: POST and PUT on its domain, dead letters, nothing of the archive prefix', () => {
    const statements = roleStatements(template, 'index');
    const d = statement(statements, 'Domain');
    expect(d.Action).toEqual(['es:ESHttpPost', 'es:ESHttpPut']);
    expect(d.Resource).toBe(`${DOMAIN_ARN}/*`);
    const dl = statement(statements, 'DeadLetters');
    expect(dl.Action).toBe('s3:PutObject');
    expect(JSON.stringify(dl.Resource)).toContain('/dead-letter/*');
    expect(JSON.stringify(statements)).not.toContain('/cwl/*');
    expect(JSON.stringify(statements)).not.toContain('aoss:');
  });

  test('alert: Publish to its topic, GetItem and PutItem on its table, dead letters', () => {
    const statements = roleStatements(template, 'alert');
    const p = statement(statements, 'Publish');
    expect(p.Action).toBe('sns:Publish');
    expect(p.Resource).toBe(TOPIC_ARN);
    const t = statement(statements, 'State');
    expect(t.Action).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
    expect(t.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/AlertTable/), 'Arn'] });
    statement(statements, 'DeadLetters');
    expect(JSON.stringify(statements)).not.toContain('es:');
  });

  test('every function writes only to its own log group and reads only the stream', () => {
    for (const name of ['archive', 'index', 'alert']) {
      const statements = roleStatements(template, name);
      const logs = statement(statements, 'OwnLogs');
      expect(logs.Action).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(logs.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(new RegExp(`${name[0].toUpperCase()}${name.slice(1)}LogGroup`)), 'Arn'] });
      const read = statement(statements, 'ReadStream');
      expect(read.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/LogStream/), 'Arn'] });
      expect(asList(read.Action).every((a: string) => a.startsWith('kinesis:'))).toBe(true);
    }
  });

  test('OpenSearch Serverless: aoss:APIAccessAll on the collection', () => {
    const { template: t } = synth({ ...fanOut, index: { endpoint: 'https://abc.eu-west-1.aoss.amazonaws.com', collectionArn: COLLECTION_ARN } });
    const c = statement(roleStatements(t, 'index'), 'Collection');
    expect(c.Action).toBe('aoss:APIAccessAll');
    expect(c.Resource).toBe(COLLECTION_ARN);
  });

  test('a KMS key: GenerateDataKey on that key for every function', () => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { template: t } = synth({ ...fanOut, archive: { kmsKeyArn: key } });
    for (const name of ['archive', 'index', 'alert']) {
      const k = statement(roleStatements(t, name), 'ArchiveKey');
      expect(k.Action).toBe('kms:GenerateDataKey');
      expect(k.Resource).toBe(key);
    }
  });
});

describe('options', () => {
  test('an existing bucket by name: none created, policies name it', () => {
    const { template } = synth({ ...direct, archive: { bucketName: 'my-log-archive', prefix: 'cwl' } });
    template.resourceCountIs('AWS::S3::Bucket', 0);
    const s = statement(roleStatements(template, 'archive'), 'ArchiveAndDeadLetters');
    expect(JSON.stringify(s.Resource)).toContain(':s3:::my-log-archive/cwl/*');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CWLOGS_ARCHIVE_BUCKET: 'my-log-archive' }) },
    });
  });

  test('alerts disabled, index on: direct with archive and index', () => {
    const { template } = synth({ ...direct, index: { endpoint: ENDPOINT, domainArn: DOMAIN_ARN }, alerts: { enabled: false } });
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    // No alert schedule; the index function's dead-letter re-drive schedule only.
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CWLOGS_INDEX_ENDPOINT: ENDPOINT }) },
    });
  });

  test('x86_64, provisioned stream, tuned mappings, alarm actions', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'T');
    const alarmTopic = new sns.Topic(stack, 'Ops');
    new CwlogsPipeline(stack, 'Pipeline', {
      ...fanOut,
      functions: { architecture: lambda.Architecture.X86_64, memorySize: 1024, timeout: Duration.minutes(2) },
      stream: { mode: kinesis.StreamMode.PROVISIONED, shardCount: 4, batchSize: 500, parallelizationFactor: 2, retryAttempts: 3, maxRecordAge: Duration.hours(1) },
      alarms: { topic: alarmTopic, iteratorAgeThreshold: Duration.minutes(2) },
      excludedLogGroupNames: ['/aws/noisy'],
    });
    const template = Template.fromStack(stack);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Architectures: ['x86_64'],
      MemorySize: 1024,
      Timeout: 120,
      Environment: { Variables: Match.objectLike({ CWLOGS_FUNCTION_TIMEOUT: '120' }) },
    });
    template.hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 4, StreamModeDetails: { StreamMode: 'PROVISIONED' } });
    template.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 500,
      ParallelizationFactor: 2,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 3600,
    });
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('Ops') }] });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 120000 });
    template.hasResourceProperties('AWS::Logs::AccountPolicy', {
      SelectionCriteria: Match.stringLikeRegexp('"/aws/noisy"\\]$'),
    });
  });

  test('prebuilt functions from lambdaDir', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cwlogs-lambda-'));
    for (const n of ['archive', 'alert']) {
      fs.mkdirSync(path.join(dir, n));
      fs.writeFileSync(path.join(dir, n, 'bootstrap'), '#!/bin/sh\n');
    }
    const { template } = synth({ ...direct, lambdaDir: dir });
    const paths = Object.values(template.findResources('AWS::Lambda::Function')).map((f: any) => f.Metadata['aws:asset:path']);
    expect(paths.every((p: string) => p.startsWith('asset.'))).toBe(true);
    template.resourceCountIs('AWS::Lambda::Function', 2);
  });
});

function fails(props: CwlogsPipelineProps, message: RegExp): void {
  expect(() => synth(props)).toThrow(message);
}

describe('props are validated at synth', () => {

  test('direct without log groups', () => {
    fails({ topology: 'direct' }, /topology "direct" needs logGroupNames/);
    fails({ topology: 'direct', logGroupNames: [] }, /topology "direct" needs logGroupNames/);
  });

  test('direct with three functions exceeds the 2 filters per log group', () => {
    fails({ ...direct, index: { endpoint: ENDPOINT } }, /2 subscription filters per log group/);
  });

  test('fan-out with logGroupNames', () => {
    fails({ ...fanOut, logGroupNames: ['/a'] }, /logGroupNames is for topology "direct"/);
  });

  test('unknown topology', () => {
    fails({ topology: 'both' as any, logGroupNames: ['/a'] }, /topology must be "direct", "fan-out" or "central"/);
  });

  test('bad names, ARNs and URLs', () => {
    fails({ ...direct, logGroupNames: ['/ok', 'bad name'] }, /logGroupNames item "bad name" is not valid/);
    fails({ ...direct, logGroupNames: ['/a', '/a'] }, /lists \/a twice/);
    fails({ ...direct, archive: { bucketName: 'My_Bucket' } }, /archive.bucketName "My_Bucket" is not valid/);
    fails({ ...direct, archive: { kmsKeyArn: 'alias/mine' } }, /archive.kmsKeyArn "alias\/mine" is not valid/);
    fails({ ...fanOut, alerts: { topicArn: 'arn:aws:sqs:eu-west-1:123456789012:q' } }, /alerts.topicArn .* is not valid: expected an SNS topic ARN/);
    fails({ ...fanOut, index: { endpoint: 'search-logs.es.amazonaws.com' } }, /index.endpoint .* is not valid: expected an http\(s\) URL/);
    fails({ ...fanOut, index: { endpoint: ENDPOINT, domainArn: 'arn:aws:es:eu-west-1:1234:domain/x' } }, /index.domainArn .* is not valid/);
    fails({ ...fanOut, index: { endpoint: ENDPOINT, domainArn: DOMAIN_ARN, collectionArn: COLLECTION_ARN } }, /domainArn or collectionArn, not both/);
  });

  test('out-of-range numbers', () => {
    fails({ ...direct, functions: { memorySize: 64 } }, /functions.memorySize must be an integer from 128 to 10240/);
    fails({ ...direct, functions: { timeout: Duration.minutes(20) } }, /functions.timeout must be from 5 to 900 seconds/);
    fails({ ...fanOut, stream: { batchSize: 0 } }, /stream.batchSize must be an integer from 1 to 10000/);
    fails({ ...fanOut, stream: { parallelizationFactor: 11 } }, /stream.parallelizationFactor/);
    fails({ ...fanOut, stream: { shardCount: 2 } }, /stream.shardCount needs stream.mode PROVISIONED/);
    fails({ ...fanOut, stream: { maxRecordAge: Duration.seconds(10) } }, /stream.maxRecordAge must be from 60 to 604800 seconds/);
    fails({ ...direct, stream: { batchSize: 10 } }, /stream settings are for topology "fan-out"/);
  });

  test('the configuration file must agree with the archive prefix', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cwlogs-config-test-'));
    const file = path.join(dir, 'cwlogs.toml');
    fs.writeFileSync(file, '[archive]\nprefix = "logs"\n');
    fails({ ...direct, configFile: file }, /sets \[archive\] prefix = "logs" but archive.prefix is "cwl"/);
    synth({ ...direct, configFile: file, archive: { prefix: 'logs' } });
    fs.writeFileSync(file, '[archive]\ndead_letter_prefix = "dlq"\n');
    fails({ ...direct, configFile: file }, /dead letters under dead-letter\/ only/);
    // No [archive] section: its defaults (on, prefix cwl), which the stack allows.
    fs.writeFileSync(file, '[index]\nindex = "x"\n');
    synth({ ...direct, configFile: file });
    fs.writeFileSync(file, '[archive]\nenabled = false\n');
    fails({ ...direct, configFile: file }, /turns \[archive\] off/);
    fails({ ...direct, configFile: path.join(dir, 'missing.toml') }, /missing.toml does not exist/);
  });

  test('lambdaDir without the binaries', () => {
    fails({ ...direct, lambdaDir: os.tmpdir() }, /lambdaDir: .*archive\/bootstrap does not exist/);
  });

  test('every problem is reported at once, with the construct path', () => {
    let message = '';
    try {
      synth({ topology: 'direct', archive: { bucketName: 'X' }, alerts: { topicArn: 'nope' } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^CwlogsPipeline Test\/Pipeline: invalid props:/);
    expect(message.split('\n  - ')).toHaveLength(4);
  });
});

describe('security review (checkov findings fixed in the stack)', () => {
  const { template } = synth(fanOut);

  test('the failure queue is encrypted with the SQS KMS key', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: 'alias/aws/sqs' });
  });

  test('the archive bucket is versioned and logs its accesses to the access-log bucket', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    const archive = Object.entries(buckets).find(([id]) => id.includes('ArchiveBucket'))?.[1] as any;
    const logs = Object.entries(buckets).find(([id]) => id.includes('AccessLogBucket'));
    expect(archive.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(archive.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logs![0] },
      LogFilePrefix: 'archive/',
    });
    expect(archive.Properties.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
    );
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' }),
        ]),
      },
    });
  });

  test('reserved concurrency on every function (20 by default)', () => {
    template.allResourcesProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 20 });
    const { template: t } = synth({ ...fanOut, functions: { reservedConcurrency: 50 } });
    t.allResourcesProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 50 });
  });

  test('the choices are skipped in the template with the reason', () => {
    for (const f of Object.values(template.findResources('AWS::Lambda::Function')) as any[]) {
      const ids = f.Metadata.checkov.skip.map((x: any) => x.id);
      expect(ids).toEqual(['CKV_AWS_116', 'CKV_AWS_173', 'CKV_AWS_117']);
      for (const x of f.Metadata.checkov.skip) expect(x.comment.length).toBeGreaterThan(40);
    }
    for (const g of Object.values(template.findResources('AWS::Logs::LogGroup')) as any[]) {
      expect(g.Metadata.checkov.skip[0].id).toBe('CKV_AWS_158');
    }
  });
});

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cwlogs/elastic-AbCdEf';
const SECRET_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('index credentials from Secrets Manager', () => {
  const props: CwlogsPipelineProps = {
    ...fanOut,
    index: { endpoint: 'https://logs.es.example.com:9243', auth: 'basic', secretArn: SECRET_ARN, secretKmsKeyArn: SECRET_KEY },
  };
  const { template } = synth(props);

  test('the index function is told the secret and the auth', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('cwlogs index'),
      Environment: { Variables: Match.objectLike({ CWLOGS_INDEX_SECRET: SECRET_ARN, CWLOGS_INDEX_AUTH: 'basic' }) },
    });
  });

  test('GetSecretValue on that secret only, kms:Decrypt on its key through Secrets Manager', () => {
    const s = statement(roleStatements(template, 'index'), 'IndexSecret');
    expect(s.Action).toBe('secretsmanager:GetSecretValue');
    expect(s.Resource).toBe(SECRET_ARN);
    const k = statement(roleStatements(template, 'index'), 'IndexSecretKey');
    expect(k.Action).toBe('kms:Decrypt');
    expect(k.Resource).toBe(SECRET_KEY);
    expect(Object.keys(k.Condition.StringEquals)).toEqual(['kms:ViaService']);
    for (const name of ['archive', 'alert']) {
      for (const x of roleStatements(template, name)) {
        expect(asList(x.Action).some((a: string) => a.startsWith('secretsmanager:'))).toBe(false);
      }
    }
  });

  test('secret and auth go together', () => {
    fails({ ...fanOut, index: { endpoint: ENDPOINT, secretArn: SECRET_ARN } }, /set index.auth/);
    fails({ ...fanOut, index: { endpoint: ENDPOINT, auth: 'api-key' } }, /needs index.secretArn/);
    fails({ ...fanOut, index: { endpoint: ENDPOINT, auth: 'basic', secretArn: 'cwlogs/elastic' } }, /index.secretArn "cwlogs\/elastic" is not valid/);
    fails({ ...fanOut, index: { endpoint: ENDPOINT, secretKmsKeyArn: SECRET_KEY } }, /key of index.secretArn/);
  });
});

describe('index function in a VPC', () => {
  const vpc = {
    subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    securityGroupIds: ['sg-0123456789abcdef0'],
    vpcId: 'vpc-0123456789abcdef0',
    routeTableIds: ['rtb-0123456789abcdef0'],
  };
  const { template } = synth({ ...fanOut, index: { endpoint: ENDPOINT, domainArn: DOMAIN_ARN, vpc } });

  test('the index function only, in the subnets with the security groups', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('cwlogs index'),
      VpcConfig: { SubnetIds: vpc.subnetIds, SecurityGroupIds: vpc.securityGroupIds },
    });
    const inVpc = Object.values(template.findResources('AWS::Lambda::Function')).filter((f: any) => f.Properties.VpcConfig);
    expect(inVpc).toHaveLength(1);
  });

  test('S3 and DynamoDB gateway endpoints on the route tables', () => {
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
    for (const service of ['s3', 'dynamodb']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        VpcId: vpc.vpcId,
        RouteTableIds: vpc.routeTableIds,
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
      });
    }
  });

  test('the role may attach network interfaces', () => {
    const s = statement(roleStatements(template, 'index'), 'VpcNetworkInterfaces');
    expect(s.Action).toContain('ec2:CreateNetworkInterface');
    expect(statement(roleStatements(template, 'index'), 'VpcDescribe').Resource).toBe('*');
  });

  test('no endpoints without route tables; bad ids refused', () => {
    const { template: t } = synth({
      ...fanOut,
      index: { endpoint: ENDPOINT, vpc: { subnetIds: vpc.subnetIds, securityGroupIds: vpc.securityGroupIds } },
    });
    t.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    fails({ ...fanOut, index: { endpoint: ENDPOINT, vpc: { subnetIds: [], securityGroupIds: [] } } }, /needs subnetIds and securityGroupIds/);
    fails({ ...fanOut, index: { endpoint: ENDPOINT, vpc: { ...vpc, subnetIds: ['sg-0123456789abcdef0'] } } }, /subnetIds item .* is not valid/);
    fails({ ...fanOut, index: { endpoint: ENDPOINT, vpc: { ...vpc, routeTableIds: [] } } }, /vpcId and routeTableIds go together/);
  });
});

describe('central topology', () => {
  const ORG = 'o-a1b2c3d4e5';
  const { template } = synth({ topology: 'central', central: { organizationId: ORG }, alerts: { topicArn: TOPIC_ARN } });

  test('fan-out underneath: the stream, the account policy, the mappings', () => {
    template.resourceCountIs('AWS::Kinesis::Stream', 1);
    template.resourceCountIs('AWS::Logs::AccountPolicy', 1);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
  });

  test('a destination in front of the stream, for the Organization', () => {
    template.resourceCountIs('AWS::Logs::Destination', 1);
    const d = Object.values(template.findResources('AWS::Logs::Destination'))[0] as any;
    expect(d.Properties.DestinationName).toBe('cwlogs-cwl-test');
    expect(d.Properties.TargetArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/LogStream/), 'Arn'] });
    const policy = JSON.stringify(d.Properties.DestinationPolicy);
    expect(policy).toContain('logs:PutSubscriptionFilter');
    expect(policy).toContain('aws:PrincipalOrgID');
    expect(policy).toContain(ORG);
    template.hasOutput('*', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('LogDestination'), 'Arn'] } });
  });

  test('the destination role may only put records into the stream', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { Description: Match.stringLikeRegexp('destination') },
    });
    const role = Object.values(roles)[0] as any;
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'logs.amazonaws.com' });
    const s = role.Properties.Policies[0].PolicyDocument.Statement[0];
    expect(s.Action).toEqual(['kinesis:PutRecord', 'kinesis:PutRecords']);
  });

  test('or listed accounts', () => {
    const { template: t } = synth({ topology: 'central', central: { accountIds: ['111122223333', '444455556666'] } });
    const d = Object.values(t.findResources('AWS::Logs::Destination'))[0] as any;
    const policy = JSON.stringify(d.Properties.DestinationPolicy);
    expect(policy).toContain('111122223333');
    expect(policy).not.toContain('PrincipalOrgID');
  });

  test('central needs its members, and only central has them', () => {
    fails({ topology: 'central' }, /needs central.organizationId .* or central.accountIds/);
    fails({ topology: 'central', central: { organizationId: ORG, accountIds: ['111122223333'] } }, /not both/);
    fails({ topology: 'central', central: { organizationId: 'org-1' } }, /central.organizationId "org-1" is not valid/);
    fails({ ...fanOut, central: { organizationId: ORG } }, /central settings are for topology "central"/);
  });
});

describe('member account stack', () => {
  const DEST = 'arn:aws:logs:eu-west-1:123456789012:destination:cwlogs-central';
  function member(props: CwlogsMemberProps): Template {
    const app = new App();
    const stack = new Stack(app, 'Member', { stackName: 'cwlogs-member' });
    new CwlogsMember(stack, 'Member', props);
    return Template.fromStack(stack);
  }

  test('account scope: one account-level subscription policy to the destination, no role', () => {
    const t = member({ destinationArn: DEST, excludedLogGroupNames: ['/aws/noisy'] });
    t.resourceCountIs('AWS::Logs::AccountPolicy', 1);
    t.resourceCountIs('AWS::Logs::SubscriptionFilter', 0);
    const p = Object.values(t.findResources('AWS::Logs::AccountPolicy'))[0] as any;
    expect(p.Properties.PolicyType).toBe('SUBSCRIPTION_FILTER_POLICY');
    expect(JSON.stringify(p.Properties.PolicyDocument)).toContain(DEST);
    expect(JSON.stringify(p.Properties.PolicyDocument)).not.toContain('RoleArn');
    expect(p.Properties.SelectionCriteria).toBe('LogGroupName NOT IN ["/aws/noisy"]');
    t.resourceCountIs('AWS::Lambda::Function', 0);
  });

  test('listed log groups: a subscription filter each', () => {
    const t = member({ destinationArn: DEST, logGroupNames: ['/aws/lambda/app', '/ecs/web'], filterPattern: 'ERROR' });
    t.resourceCountIs('AWS::Logs::AccountPolicy', 0);
    t.resourceCountIs('AWS::Logs::SubscriptionFilter', 2);
    t.hasResourceProperties('AWS::Logs::SubscriptionFilter', { LogGroupName: '/ecs/web', DestinationArn: DEST, FilterPattern: 'ERROR' });
  });

  test('bad props are named', () => {
    expect(() => member({ destinationArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/x' })).toThrow(/destinationArn .* is not valid/);
    expect(() => member({ destinationArn: DEST, logGroupNames: ['/a'], excludedLogGroupNames: ['/b'] })).toThrow(/for the account scope/);
  });
});

describe('logs AWS delivers to S3, backfills and dead letters that re-drive themselves (issue 20)', () => {
  const PREFIXES = ['AWSLogs/123456789012/CloudTrail/', 'AWSLogs/123456789012/vpcflowlogs/'];
  const withSource: CwlogsPipelineProps = {
    ...fanOut,
    index: {
      endpoint: ENDPOINT,
      domainArn: DOMAIN_ARN,
      s3Source: { bucketName: 'trail-logs', prefixes: PREFIXES },
      batchOperationsRole: true,
    },
  };
  const { template } = synth(withSource);

  test('a queue with a DLQ, fed by an EventBridge rule per bucket and prefixes, read by the index function', () => {
    template.resourceCountIs('AWS::SQS::Queue', 3); // failure queue, source queue, its DLQ
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 5400,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: ['trail-logs'] }, object: { key: PREFIXES.map((prefix) => ({ prefix })) } },
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      EventSourceArn: Match.anyValue(),
    });
  });

  test('least privilege: s3:GetObject under each prefix only, and the dead letters for the re-drive', () => {
    const statements = roleStatements(template, 'index');
    expect(statement(statements, 'S3SourceObjects').Resource).toEqual(
      PREFIXES.map((p) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::trail-logs/${p}*`]] })),
    );
    expect(statement(statements, 'S3SourceObjects').Action).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
    expect(statement(statements, 'DeadLetterRedrive').Action).toEqual(['s3:GetObject', 's3:DeleteObject']);
    expect(statement(statements, 'DeadLetterList').Condition).toEqual({ StringLike: { 's3:prefix': 'dead-letter/*' } });
  });

  test('the Batch Operations role invokes the index function and reads manifests, writes reports', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { Description: Match.stringLikeRegexp('Batch Operations') },
    });
    const role = Object.values(roles)[0] as any;
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
      Service: 'batchoperations.s3.amazonaws.com',
    });
    const s = role.Properties.Policies[0].PolicyDocument.Statement;
    expect(statement(s, 'Invoke').Action).toBe('lambda:InvokeFunction');
    expect(JSON.stringify(statement(s, 'ManifestsAndReports').Resource)).toContain('batch-operations/*');
    template.hasOutput('*', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('BatchOperationsRole'), 'Arn'] } });
  });

  test('the re-drive schedule and the alarm on the oldest dead letter', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Input: JSON.stringify({ cwlogs_redrive: { max_attempts: 5 } }) })],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'cwlogs',
      MetricName: 'DeadLetterOldestAgeSeconds',
      Threshold: 86400,
      Statistic: 'Maximum',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0 });
  });

  test("the bucket's own notifications instead: the queue policy lets S3 send, the command is an output", () => {
    const { template: t } = synth({
      ...fanOut,
      index: { endpoint: ENDPOINT, s3Source: { bucketName: 'trail-logs', notification: 's3' }, redrive: { enabled: false } },
    });
    t.resourceCountIs('AWS::Events::Rule', 1); // the alert schedule only
    const policy = JSON.stringify(Object.values(t.findResources('AWS::SQS::QueuePolicy')));
    expect(policy).toContain('s3.amazonaws.com');
    expect(policy).toContain(':s3:::trail-logs');
    t.hasOutput('*', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
    const statements = roleStatements(t, 'index');
    expect(statements.find((x: any) => x.Sid === 'DeadLetterRedrive')).toBeUndefined();
  });

  test('bad props are named', () => {
    fails(
      { ...fanOut, index: { endpoint: ENDPOINT, s3Source: { bucketName: 'Trail_Logs', prefixes: ['/AWSLogs/'] } } },
      /index.s3Source.bucketName "Trail_Logs" is not valid[\s\S]*index.s3Source.prefixes item "\/AWSLogs\/" is not valid/,
    );
    fails(
      { ...fanOut, index: { endpoint: ENDPOINT, redrive: { maxAttempts: 0, oldestAgeAlarm: Duration.seconds(10) } } },
      /index.redrive.maxAttempts must be an integer from 1 to 100[\s\S]*index.redrive.oldestAgeAlarm/,
    );
  });
});
