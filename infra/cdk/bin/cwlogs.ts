#!/usr/bin/env node
// The cwlogs CDK app: one stack with a CwlogsPipeline, configured by context, e.g.
//   npx cdk deploy -c topology=direct -c logGroupNames=/aws/lambda/app,/ecs/web -c enableAlerts=false
//   npx cdk deploy -c topology=fan-out -c indexEndpoint=https://... -c indexDomainArn=arn:aws:es:...
// Keys: lib/context.ts. `-c skipBundling=true` synthesizes without building the functions
// (for checks; such an assembly cannot be deployed).

import { App, Stack } from 'aws-cdk-lib';
import { CwlogsPipeline, propsFromContext } from '../lib';

const app = new App();
if (String(app.node.tryGetContext('skipBundling')) === 'true') {
  // The CLI asks every stack to be bundled; an empty list means none is.
  app.node.setContext('aws:cdk:bundling-stacks', []);
}
const stackName = String(app.node.tryGetContext('stackName') ?? 'cwlogs');
// Environment-agnostic: account and region are those of the credentials `cdk deploy` runs with.
const stack = new Stack(app, 'Cwlogs', {
  stackName,
  description: 'cwlogs: CloudWatch Logs subscription data to S3, OpenSearch and SNS alerts (Rust Lambda functions)',
});
new CwlogsPipeline(stack, 'Pipeline', propsFromContext((key) => app.node.tryGetContext(key)));
