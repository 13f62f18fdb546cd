// Checks of CwlogsPipeline's props, done once at synth: every problem is collected and thrown
// together, each naming the prop, so a bad value never reaches CloudFormation. The patterns are
// the SAM template's parameter constraints (infra/sam/template.yaml), so both reject the same
// values.

import * as fs from 'node:fs';
import { Duration, Token } from 'aws-cdk-lib';

/** CloudWatch Logs log group names. */
export const LOG_GROUP_NAME = /^[.\-_/#A-Za-z0-9]{1,512}$/;
/** S3 bucket names (the common rules; S3 also rejects IP-address-like names). */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** S3 key prefixes without leading or trailing `/`. */
export const KEY_PREFIX = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;
/** Key prefixes of a bucket AWS services deliver logs to (may end with `/`; may be empty). */
export const SOURCE_PREFIX = /^[A-Za-z0-9_.=-][A-Za-z0-9_.=\/-]*$/;
export const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[a-zA-Z0-9-]{1,64}$/;
export const ENDPOINT_URL = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[^\s?#]*)?$/;
export const DOMAIN_ARN = /^arn:aws[a-z-]*:es:[a-z0-9-]+:[0-9]{12}:domain\/[a-z][a-z0-9-]{2,27}$/;
export const COLLECTION_ARN = /^arn:aws[a-z-]*:aoss:[a-z0-9-]+:[0-9]{12}:collection\/[a-z0-9]{3,40}$/;
export const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
/** Secrets Manager secret ARNs (the full ARN, with its 6-character suffix). */
export const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9\/_+=.@-]+$/;
export const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
export const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
export const VPC_ID = /^vpc-[0-9a-f]{8,17}$/;
export const ROUTE_TABLE_ID = /^rtb-[0-9a-f]{8,17}$/;
/** AWS Organizations ids. */
export const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
export const ACCOUNT_ID = /^[0-9]{12}$/;
/** CloudWatch Logs destination ARNs (what a member account subscribes to). */
export const DESTINATION_ARN = /^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:destination:[^:*]{1,512}$/;

/** The largest configuration file the functions accept (cwlogs_pipeline::config::MAX_CONFIG_BYTES). */
export const MAX_CONFIG_BYTES = 1 << 20;

/** Collects problems; `throwIfAny` throws them as one error. */
export class Problems {
  private readonly list: string[] = [];

  add(message: string): void {
    this.list.push(message);
  }

  /** `what` must match `pattern` (unless it is a token, resolved only at deploy time). */
  pattern(what: string, value: string | undefined, pattern: RegExp, example: string): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!pattern.test(value)) {
      this.add(`${what} ${JSON.stringify(value)} is not valid: expected ${example}`);
    }
  }

  /** `what` must be an integer from `min` to `max`. */
  range(what: string, value: number | undefined, min: number, max: number): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.add(`${what} must be an integer from ${min} to ${max}, not ${value}`);
    }
  }

  /** `what` must be a duration of whole seconds from `min` to `max` seconds. */
  seconds(what: string, value: Duration | undefined, min: number, max: number): void {
    if (value === undefined || value.isUnresolved()) return;
    const s = value.toSeconds({ integral: false });
    if (!Number.isInteger(s) || s < min || s > max) {
      this.add(`${what} must be from ${min} to ${max} seconds (whole seconds), not ${s}`);
    }
  }

  throwIfAny(path: string, construct = 'CwlogsPipeline'): void {
    if (this.list.length > 0) {
      throw new Error(
        `${construct} ${path}: invalid props:\n` + this.list.map((p) => `  - ${p}`).join('\n'),
      );
    }
  }
}

/** What the functions' configuration says about where they write in the bucket. */
export interface ArchiveSettings {
  /** `[archive]` is not turned off (`enabled = false`): an absent section means its defaults, on. */
  readonly enabled: boolean;
  /** `[archive] prefix`, if set. */
  readonly prefix?: string;
  /** `[archive] dead_letter_prefix`, if set. */
  readonly deadLetterPrefix?: string;
}

/**
 * Reads the `[archive]` keys of a cwlogs.toml that the IAM policies depend on. A line scan, not
 * a TOML parser: the functions validate the whole file at cold start, and `cwlogs
 * check-config` does before deploying; this only catches a prefix the roles would not allow.
 */
export function archiveSettings(text: string): ArchiveSettings {
  let section = '';
  let enabled = true;
  let prefix: string | undefined;
  let deadLetterPrefix: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    const header = /^\[\s*([^\]\s]+)\s*\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    if (line.startsWith('[[')) {
      section = line;
      continue;
    }
    if (section !== 'archive') continue;
    const kv = /^([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))/.exec(line);
    if (!kv) continue;
    const value = kv[2] ?? kv[3] ?? kv[4];
    if (kv[1] === 'prefix') prefix = value.replace(/^\/+|\/+$/g, '');
    if (kv[1] === 'dead_letter_prefix') deadLetterPrefix = value.replace(/^\/+|\/+$/g, '');
    if (kv[1] === 'enabled') enabled = value !== 'false';
  }
  return { enabled, prefix, deadLetterPrefix };
}

/** Checks the configuration file the layer ships against the stack's archive settings. */
export function checkConfigFile(problems: Problems, file: string, archivePrefix: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    problems.add(`configFile ${file} does not exist`);
    return;
  }
  if (!stat.isFile()) {
    problems.add(`configFile ${file} is not a file`);
    return;
  }
  if (stat.size > MAX_CONFIG_BYTES) {
    problems.add(`configFile ${file} is ${stat.size} bytes; the functions accept at most ${MAX_CONFIG_BYTES}`);
    return;
  }
  const settings = archiveSettings(fs.readFileSync(file, 'utf-8'));
  if (!settings.enabled) {
    problems.add(
      `configFile ${file} turns [archive] off (enabled = false): the archive function needs it (and the others write dead letters through it)`,
    );
    return;
  }
  if (settings.prefix !== undefined && settings.prefix !== archivePrefix && !Token.isUnresolved(archivePrefix)) {
    problems.add(
      `configFile ${file} sets [archive] prefix = "${settings.prefix}" but archive.prefix is "${archivePrefix}": the archive function may write under archive.prefix only; make them equal`,
    );
  }
  if (settings.prefix === undefined && archivePrefix !== 'cwl' && !Token.isUnresolved(archivePrefix)) {
    problems.add(
      `configFile ${file} leaves [archive] prefix at its default "cwl" but archive.prefix is "${archivePrefix}": make them equal`,
    );
  }
  if (settings.deadLetterPrefix !== undefined && settings.deadLetterPrefix !== 'dead-letter') {
    problems.add(
      `configFile ${file} sets [archive] dead_letter_prefix = "${settings.deadLetterPrefix}": the functions may write dead letters under dead-letter/ only`,
    );
  }
}
