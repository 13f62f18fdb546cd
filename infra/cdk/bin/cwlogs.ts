#!/usr/bin/env node
// The cwlogs CDK app: one stack with a CwlogsPipeline, configured by context, e.g.
//   npx cdk deploy -c topology=direct -c logGroupNames=/aws/lambda/app,/ecs/web -c enableAlerts=false
//   npx cdk deploy -c topology=fan-out -c indexEndpoint=https://... -c indexDomainArn=arn:aws:es:...
//   npx cdk deploy -c topology=central -c centralOrganizationId=o-... (then, in member accounts:)
//   npx cdk synth -c stack=member -c destinationArn=arn:aws:logs:...:destination:cwlogs-cwlogs
// Keys: lib/context.ts. `-c skipBundling=true` synthesizes without building the functions
// (for checks; such an assembly cannot be deployed).

import { App, DefaultStackSynthesizer, Stack } from 'aws-cdk-lib';
import { CwlogsMember, CwlogsPipeline, memberPropsFromContext, propsFromContext } from '../lib';

const app = new App();
if (String(app.node.tryGetContext('skipBundling')) === 'true') {
  // The CLI asks every stack to be bundled; an empty list means none is.
  app.node.setContext('aws:cdk:bundling-stacks', []);
}
const get = (key: string) => app.node.tryGetContext(key);
const which = String(get('stack') ?? 'pipeline');
if (which === 'member') {
  // The member-account stack of topology central: no asset and no bootstrap version rule, so
  // that its template (cdk.out/CwlogsMember.template.json) deploys with StackSets as it is.
  const stack = new Stack(app, 'CwlogsMember', {
    stackName: String(get('stackName') ?? 'cwlogs-member'),
    description: 'cwlogs member account: its log groups to the destination of a central cwlogs stack',
    synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
    analyticsReporting: false,
  });
  new CwlogsMember(stack, 'Member', memberPropsFromContext(get));
} else if (which === 'pipeline') {
  // Environment-agnostic: account and region are those of the credentials `cdk deploy` runs with.
  const stack = new Stack(app, 'Cwlogs', {
    stackName: String(get('stackName') ?? 'cwlogs'),
    description: 'cwlogs: CloudWatch Logs subscription data to S3, OpenSearch and SNS alerts (Rust Lambda functions)',
  });
  new CwlogsPipeline(stack, 'Pipeline', propsFromContext(get));
} else {
  throw new Error(`context stack: expected pipeline or member, not ${JSON.stringify(which)}`);
}
