import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { archiveSettings, memberPropsFromContext, propsFromContext } from '../lib';

const lookup = (values: Record<string, unknown>) => (key: string) => values[key];

describe('app context', () => {
  test('defaults: direct, arm64, alerts on, no index', () => {
    const p = propsFromContext(lookup({}));
    expect(p.topology).toBe('direct');
    expect(p.logGroupNames).toBeUndefined();
    expect(p.functions?.architecture).toBe(lambda.Architecture.ARM_64);
    expect(p.alerts?.enabled).toBe(true);
    expect(p.index).toBeUndefined();
    expect(p.stream).toBeUndefined();
  });

  test('comma-separated lists from -c, lists from cdk.json', () => {
    expect(propsFromContext(lookup({ logGroupNames: '/a, /b,,' })).logGroupNames).toEqual(['/a', '/b']);
    expect(propsFromContext(lookup({ logGroupNames: ['/a', '/b'] })).logGroupNames).toEqual(['/a', '/b']);
    expect(propsFromContext(lookup({ logGroupNames: '' })).logGroupNames).toBeUndefined();
  });

  test('index, alerts, stream and function settings', () => {
    const p = propsFromContext(
      lookup({
        topology: 'fan-out',
        indexEndpoint: 'https://x.es.amazonaws.com',
        indexDomainArn: 'arn:aws:es:eu-west-1:123456789012:domain/logs',
        enableAlerts: 'false',
        architecture: 'x86_64',
        memorySize: '1024',
        timeoutSeconds: '120',
        streamMode: 'PROVISIONED',
        streamShardCount: '4',
      }),
    );
    expect(p.topology).toBe('fan-out');
    expect(p.index).toEqual({
      endpoint: 'https://x.es.amazonaws.com',
      domainArn: 'arn:aws:es:eu-west-1:123456789012:domain/logs',
      collectionArn: undefined,
    });
    expect(p.alerts?.enabled).toBe(false);
    expect(p.functions?.architecture).toBe(lambda.Architecture.X86_64);
    expect(p.functions?.memorySize).toBe(1024);
    expect(p.functions?.timeout?.toSeconds()).toBe(120);
    expect(p.stream).toEqual({ mode: kinesis.StreamMode.PROVISIONED, shardCount: 4 });
  });

  test('central, the index secret and VPC, reserved concurrency', () => {
    const p = propsFromContext(
      lookup({
        topology: 'central',
        centralAccountIds: '111122223333,444455556666',
        indexEndpoint: 'https://logs.es.example.com',
        indexAuth: 'api-key',
        indexSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:es-AbCdEf',
        indexSubnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
        indexSecurityGroupIds: 'sg-0123456789abcdef0',
        indexVpcId: 'vpc-0123456789abcdef0',
        indexRouteTableIds: 'rtb-0123456789abcdef0',
        reservedConcurrency: '50',
      }),
    );
    expect(p.topology).toBe('central');
    expect(p.central).toEqual({ accountIds: ['111122223333', '444455556666'] });
    expect(p.index?.auth).toBe('api-key');
    expect(p.index?.secretArn).toBe('arn:aws:secretsmanager:eu-west-1:123456789012:secret:es-AbCdEf');
    expect(p.index?.vpc).toEqual({
      subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
      securityGroupIds: ['sg-0123456789abcdef0'],
      vpcId: 'vpc-0123456789abcdef0',
      routeTableIds: ['rtb-0123456789abcdef0'],
    });
    expect(p.functions?.reservedConcurrency).toBe(50);
    expect(() => propsFromContext(lookup({ indexEndpoint: 'https://x', indexAuth: 'sigv4' }))).toThrow(/context indexAuth/);
  });

  test('the S3 source, Batch Operations and the re-drive', () => {
    const p = propsFromContext(
      lookup({
        topology: 'fan-out',
        indexEndpoint: 'https://x.es.amazonaws.com',
        s3SourceBucketName: 'trail-logs',
        s3SourcePrefixes: 'AWSLogs/1/CloudTrail/,AWSLogs/1/vpcflowlogs/',
        s3SourceNotification: 's3',
        enableBatchOperations: 'true',
        redriveMaxAttempts: '3',
      }),
    );
    expect(p.index?.s3Source).toEqual({
      bucketName: 'trail-logs',
      prefixes: ['AWSLogs/1/CloudTrail/', 'AWSLogs/1/vpcflowlogs/'],
      notification: 's3',
      kmsKeyArn: undefined,
    });
    expect(p.index?.batchOperationsRole).toBe(true);
    expect(p.index?.redrive).toMatchObject({ enabled: true, maxAttempts: 3 });
    const off = propsFromContext(lookup({ indexEndpoint: 'https://x.es.amazonaws.com', redriveScheduleExpression: '' }));
    expect(off.index?.redrive?.enabled).toBe(false);
    expect(off.index?.s3Source).toBeUndefined();
    expect(() => propsFromContext(lookup({ indexEndpoint: 'https://x', s3SourceNotification: 'sqs' }))).toThrow(
      /context s3SourceNotification/,
    );
  });

  test('the member stack', () => {
    const m = memberPropsFromContext(
      lookup({ destinationArn: 'arn:aws:logs:eu-west-1:123456789012:destination:cwlogs-central', logGroupNames: '/a,/b' }),
    );
    expect(m).toEqual({ destinationArn: 'arn:aws:logs:eu-west-1:123456789012:destination:cwlogs-central', logGroupNames: ['/a', '/b'] });
    expect(() => memberPropsFromContext(lookup({}))).toThrow(/context destinationArn/);
  });

  test('bad values are named', () => {
    expect(() => propsFromContext(lookup({ architecture: 'arm' }))).toThrow(/context architecture: expected arm64 or x86_64/);
    expect(() => propsFromContext(lookup({ enableAlerts: 'yes' }))).toThrow(/context enableAlerts: expected true or false/);
    expect(() => propsFromContext(lookup({ memorySize: 'lots' }))).toThrow(/context memorySize: "lots" is not a number/);
    expect(() => propsFromContext(lookup({ streamMode: 'FAST' }))).toThrow(/context streamMode/);
  });
});

describe('archiveSettings (what the IAM policies depend on in cwlogs.toml)', () => {
  test('reads [archive] keys only', () => {
    expect(
      archiveSettings('[index]\nprefix = "no"\n[archive]\nprefix = "/logs/cwl/"  # comment\ndead_letter_prefix = \'dl\'\n[[rule]]\nprefix = "x"\n'),
    ).toEqual({ enabled: true, prefix: 'logs/cwl', deadLetterPrefix: 'dl' });
  });

  test('absent or disabled [archive]', () => {
    // An absent [archive] means its defaults: on (as the functions read it).
    expect(archiveSettings('[index]\n').enabled).toBe(true);
    expect(archiveSettings('[archive]\nenabled = false\n').enabled).toBe(false);
    expect(archiveSettings('[archive]\n')).toEqual({ enabled: true, prefix: undefined, deadLetterPrefix: undefined });
  });
});
