// CwlogsMember: what a member account deploys to send its logs to a `central` cwlogs stack, the
// same as infra/sam/member.yaml. No function and no asset: its synthesized template can be
// deployed to every account of an Organization with StackSets.

import { Stack, Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DESTINATION_ARN, LOG_GROUP_NAME, Problems } from './validate';

export interface CwlogsMemberProps {
  /** The central stack's DestinationArn output. */
  readonly destinationArn: string;
  /**
   * Subscribe these log groups (a subscription filter each; CloudWatch Logs allows 2 per log
   * group, this one included). @default - every log group of the account and Region (an
   * account-level subscription filter policy)
   */
  readonly logGroupNames?: string[];
  /** Account scope only: log groups the policy leaves out (at most 50). */
  readonly excludedLogGroupNames?: string[];
  /** What is sent at all. @default "" (every event) */
  readonly filterPattern?: string;
}

/**
 * Subscribes this account to a cwlogs destination: an account-level subscription filter policy
 * (every log group of the account and Region but the excluded ones), or a subscription filter
 * on each listed log group. A destination in another account takes no role: its policy says
 * who may subscribe.
 */
export class CwlogsMember extends Construct {
  public readonly accountPolicy?: logs.CfnAccountPolicy;
  public readonly subscriptions: logs.CfnSubscriptionFilter[] = [];

  constructor(scope: Construct, id: string, props: CwlogsMemberProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const p = new Problems();
    p.pattern('destinationArn', props.destinationArn, DESTINATION_ARN, 'a CloudWatch Logs destination ARN (arn:aws:logs:REGION:ACCOUNT:destination:NAME)');
    const groups = props.logGroupNames ?? [];
    const excluded = props.excludedLogGroupNames ?? [];
    for (const g of [...groups, ...excluded]) {
      p.pattern('log group name', g, LOG_GROUP_NAME, 'a log group name ([.-_/#A-Za-z0-9], 1 to 512 characters)');
    }
    if (new Set(groups).size !== groups.length) p.add('logGroupNames lists a log group twice');
    if (groups.length > 0 && excluded.length > 0) {
      p.add('excludedLogGroupNames is for the account scope (no logGroupNames): listed log groups are the ones subscribed');
    }
    if (excluded.length > 50) p.add(`excludedLogGroupNames has ${excluded.length} names; the account policy takes at most 50`);
    const pattern = props.filterPattern ?? '';
    if (!Token.isUnresolved(pattern) && pattern.length > 1024) {
      p.add(`filterPattern is ${pattern.length} characters; CloudWatch Logs takes at most 1024`);
    }
    p.throwIfAny(this.node.path, 'CwlogsMember');

    const filterName = `cwlogs-member-${stack.stackName}`;
    if (groups.length === 0) {
      this.accountPolicy = new logs.CfnAccountPolicy(this, 'AccountSubscriptionPolicy', {
        policyName: filterName,
        policyType: 'SUBSCRIPTION_FILTER_POLICY',
        scope: 'ALL',
        policyDocument: stack.toJsonString({
          DestinationArn: props.destinationArn,
          FilterPattern: pattern,
          Distribution: 'Random',
        }),
        selectionCriteria:
          excluded.length > 0 ? `LogGroupName NOT IN [${excluded.map((g) => `"${g}"`).join(', ')}]` : undefined,
      });
    } else {
      groups.forEach((group, i) => {
        this.subscriptions.push(
          new logs.CfnSubscriptionFilter(this, `LogGroupSubscription${i}`, {
            logGroupName: group,
            filterName,
            filterPattern: pattern,
            destinationArn: props.destinationArn,
          }),
        );
      });
    }
  }
}
