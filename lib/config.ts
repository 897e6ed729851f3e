import { z } from 'zod';
import {
  certificateDomainsOutside,
  type Parsed,
  parseAllowedDomains,
  parseCertificateDomains,
  parseRoute53Zones,
} from './domain-list.js';
import type { LogLevel } from './logger.js';
import type { ZoneOverride } from './route53/types.js';
import { DEFAULT_SSL_ENDPOINT } from './tencent/client.js';

/**
 * The shortest HMAC key the webhook accepts, in bytes: SHA-256's output size (RFC 2104 advises
 * no key shorter than the hash's output). Shorter keys are refused wherever they come from.
 */
export const MIN_WEBHOOK_KEY_BYTES = 32;

/** The problem of a webhook key of `bytes` bytes read from `source` (the key itself is never named). */
export function webhookKeyTooShort(source: string, bytes: number): string {
  return `${source} must hold a webhook key of at least ${MIN_WEBHOOK_KEY_BYTES} bytes, got ${bytes} (make one with: openssl rand -hex 32)`;
}

/** Raised by loadConfig with every problem found, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Configuration is not usable:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** `true`/`false` (and 1/0, yes/no, on/off); `fallback` when unset; undefined when unreadable. */
function readBool(value: string | undefined, fallback: boolean): boolean | undefined {
  if (value === undefined || value.trim() === '') return fallback;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return undefined;
}

const bool = (name: string, fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((value, ctx): boolean => {
      const parsed = readBool(value, fallback);
      if (parsed !== undefined) return parsed;
      ctx.addIssue({
        code: 'custom',
        message: `${name} must be true or false, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    });

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));

const positiveNumber = (name: string, fallback: number, max: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx): number => {
      if (value === undefined || value.trim() === '') return fallback;
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0 || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be a number above 0 and at most ${max}, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return n;
    });

/** Adapts a parser that collects problems to a zod transform that reports each as an issue. */
const collecting =
  <T>(parse: (value: string | undefined) => Parsed<T>) =>
  (value: string | undefined, ctx: z.RefinementCtx): T => {
    const parsed = parse(value);
    for (const message of parsed.problems) ctx.addIssue({ code: 'custom', message });
    return parsed.value;
  };

/** An AWS region name: `us-east-1`, `eu-central-2`, `cn-north-1`, `us-gov-west-1`. */
const AWS_REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;
/** Days before a certificate's expiry at which it is renewed, unless RENEW_BEFORE_DAYS says otherwise. */
export const DEFAULT_RENEW_BEFORE_DAYS = 30;
/** Free certificates last 90 days: a window beyond 80 would renew a certificate days after its issue. */
const MAX_RENEW_BEFORE_DAYS = 80;

/** DynamoDB's rule for table names. */
const STATE_TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/** EventBridge's rule for event bus names (PutEvents also takes the bus's ARN). */
const EVENT_BUS_NAME =
  /^([/.\-_A-Za-z0-9]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[/.\-_A-Za-z0-9]{1,256})$/;

const EnvSchema = z.object({
  TENCENTCLOUD_SECRET_ID: optionalText,
  TENCENTCLOUD_SECRET_KEY: optionalText,
  TENCENTCLOUD_SESSION_TOKEN: optionalText,
  TENCENTCLOUD_CREDENTIALS_SECRET: optionalText,
  TENCENTCLOUD_SSL_ENDPOINT: optionalText.transform((value, ctx) => {
    const endpoint = value ?? DEFAULT_SSL_ENDPOINT;
    try {
      const url = new URL(endpoint);
      // http: passes here and is refused below unless TENCENTCLOUD_SSL_ALLOW_HTTP is set.
      if (url.protocol === 'https:' || url.protocol === 'http:') return url.origin;
    } catch {
      // reported below
    }
    ctx.addIssue({
      code: 'custom',
      message: `TENCENTCLOUD_SSL_ENDPOINT must be an https URL, got ${JSON.stringify(endpoint)}`,
    });
    return z.NEVER;
  }),
  TENCENTCLOUD_SSL_ALLOW_HTTP: bool('TENCENTCLOUD_SSL_ALLOW_HTTP', false),
  TENCENTCLOUD_RATE_LIMIT: positiveNumber('TENCENTCLOUD_RATE_LIMIT', 10, 1000),
  ALLOWED_DOMAINS: z
    .string()
    .optional()
    .transform(collecting((value) => parseAllowedDomains(value))),
  ROUTE53_ZONES: z
    .string()
    .optional()
    .transform(collecting((value) => parseRoute53Zones(value))),
  ROUTE53_ROLE_ARN: optionalText.refine(
    (v) => v === undefined || /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(v),
    {
      message: 'ROUTE53_ROLE_ARN must be an IAM role ARN (arn:aws:iam::123456789012:role/name)',
    },
  ),
  ROUTE53_EXTERNAL_ID: optionalText,
  RECORD_TTL: positiveNumber('RECORD_TTL', 60, 172_800).refine(Number.isInteger, {
    message: 'RECORD_TTL must be a whole number of seconds',
  }),
  WAIT_FOR_INSYNC: bool('WAIT_FOR_INSYNC', true),
  SECRET_NAME_TEMPLATE: optionalText.transform((value, ctx) => {
    const template = value ?? 'tencent-ssl/{domain}';
    if (!template.includes('{domain}') && !template.includes('{certificateId}')) {
      ctx.addIssue({
        code: 'custom',
        message:
          'SECRET_NAME_TEMPLATE must contain {domain} or {certificateId}, or every certificate would share one secret',
      });
    }
    return template;
  }),
  SECRET_KMS_KEY_ID: optionalText,
  EXPORT_QUEUE_URL: optionalText.refine((v) => v === undefined || /^https?:\/\//.test(v), {
    message: 'EXPORT_QUEUE_URL must be an SQS queue URL',
  }),
  WEBHOOK_SECRET: optionalText.superRefine((value, ctx) => {
    const bytes = value === undefined ? MIN_WEBHOOK_KEY_BYTES : Buffer.byteLength(value, 'utf8');
    if (bytes >= MIN_WEBHOOK_KEY_BYTES) return;
    ctx.addIssue({ code: 'custom', message: webhookKeyTooShort('WEBHOOK_SECRET', bytes) });
  }),
  WEBHOOK_SECRET_NAME: optionalText,
  SYNC_FUNCTION_NAME: optionalText,
  STATE_TABLE: optionalText.superRefine((value, ctx) => {
    if (value === undefined || STATE_TABLE_NAME.test(value)) return;
    ctx.addIssue({
      code: 'custom',
      message: `STATE_TABLE must be a DynamoDB table name (3 to 255 letters, digits, _, . or -), got ${JSON.stringify(value)}`,
    });
  }),
  ACM_IMPORT: bool('ACM_IMPORT', false),
  ACM_REGION: optionalText.superRefine((value, ctx) => {
    if (value === undefined || AWS_REGION_NAME.test(value)) return;
    ctx.addIssue({
      code: 'custom',
      message: `ACM_REGION must be an AWS region name such as us-east-1, got ${JSON.stringify(value)}`,
    });
  }),
  EVENT_BUS_NAME: optionalText.superRefine((value, ctx) => {
    if (value === undefined || EVENT_BUS_NAME.test(value)) return;
    ctx.addIssue({
      code: 'custom',
      message: `EVENT_BUS_NAME must be an EventBridge event bus name or ARN, got ${JSON.stringify(value)}`,
    });
  }),
  CERTIFICATES: z
    .string()
    .optional()
    .transform(collecting((value) => parseCertificateDomains(value))),
  RENEW_BEFORE_DAYS: z
    .string()
    .optional()
    .transform((value, ctx): number => {
      if (value === undefined || value.trim() === '') return DEFAULT_RENEW_BEFORE_DAYS;
      const days = Number(value);
      if (Number.isInteger(days) && days >= 1 && days <= MAX_RENEW_BEFORE_DAYS) return days;
      ctx.addIssue({
        code: 'custom',
        message: `RENEW_BEFORE_DAYS must be a whole number of days from 1 to ${MAX_RENEW_BEFORE_DAYS}, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }),
  DRY_RUN: bool('DRY_RUN', false),
  LOG_LEVEL: z
    .string()
    .optional()
    .transform((v) => (v?.trim() ? v.trim().toLowerCase() : 'info'))
    .pipe(
      z.enum(['debug', 'info', 'warn', 'error'], { message: 'LOG_LEVEL must be debug, info, warn or error' }),
    ),
});

/** Rules across variables; checked on the raw environment so they are reported beside every other problem. */
function crossFieldProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  const set = (name: string) => Boolean(env[name]?.trim());
  const problems: string[] = [];
  const hasId = set('TENCENTCLOUD_SECRET_ID');
  const hasKey = set('TENCENTCLOUD_SECRET_KEY');
  if (hasId !== hasKey) {
    problems.push(
      `${hasId ? 'TENCENTCLOUD_SECRET_KEY' : 'TENCENTCLOUD_SECRET_ID'} is missing: set both TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY`,
    );
  } else if (!hasId && !set('TENCENTCLOUD_CREDENTIALS_SECRET')) {
    problems.push(
      'Tencent credentials are missing: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, or TENCENTCLOUD_CREDENTIALS_SECRET (a Secrets Manager secret {"SecretId","SecretKey"})',
    );
  }
  // Private keys travel over this connection (DescribeCertificateDetail): plain http is for the
  // local Tencent server only, and only when asked for by name.
  if (isHttpUrl(env.TENCENTCLOUD_SSL_ENDPOINT) && readBool(env.TENCENTCLOUD_SSL_ALLOW_HTTP, false) !== true) {
    problems.push(
      'TENCENTCLOUD_SSL_ENDPOINT must be an https URL: private keys travel over this connection (set TENCENTCLOUD_SSL_ALLOW_HTTP=true to use http with a local server)',
    );
  }
  if (set('ROUTE53_EXTERNAL_ID') && !set('ROUTE53_ROLE_ARN')) {
    problems.push('ROUTE53_EXTERNAL_ID is set without ROUTE53_ROLE_ARN');
  }
  // Entries that are no host name at all are reported by the schema; here, where the rest must be.
  const certificates = parseCertificateDomains(env.CERTIFICATES).value;
  const allowed = parseAllowedDomains(env.ALLOWED_DOMAINS).value;
  if (certificates.length > 0 && allowed === undefined) {
    problems.push(
      'CERTIFICATES is set but ALLOWED_DOMAINS is not: list the domains the tool may validate in ALLOWED_DOMAINS, or no certificate can be validated',
    );
  } else {
    for (const domain of certificateDomainsOutside(certificates, allowed)) {
      problems.push(
        `CERTIFICATES: ${domain} lies outside ALLOWED_DOMAINS (${Array.isArray(allowed) ? allowed.join(', ') : ''}), so its validation record could never be written: add its domain to ALLOWED_DOMAINS or drop it`,
      );
    }
  }
  return problems;
}

function isHttpUrl(value: string | undefined): boolean {
  if (!value?.trim()) return false;
  try {
    return new URL(value.trim()).protocol === 'http:';
  } catch {
    return false;
  }
}

export interface Config {
  tencent: {
    /** Literal credentials; absent when they come from `credentialsSecret`. */
    credentials?: { secretId: string; secretKey: string; sessionToken?: string | undefined };
    credentialsSecret?: string;
    endpoint: string;
    rateLimit: number;
  };
  /** Domains the tool may write under; `*` for every zone; undefined when unset (nothing is written). */
  allowedDomains: string[] | '*' | undefined;
  route53: { zones: ZoneOverride[]; roleArn?: string; externalId?: string };
  recordTtl: number;
  waitForInsync: boolean;
  secrets: { nameTemplate: string; kmsKeyId?: string };
  exportQueueUrl?: string;
  webhook: { secret?: string; secretName?: string; syncFunctionName?: string };
  /** The DynamoDB state table; undefined when the tool runs without state. */
  stateTable?: string;
  /**
   * ACM_IMPORT: every exported certificate is imported into ACM too, in `region` (ACM_REGION;
   * undefined: the AWS SDK's region).
   */
  acm: { import: boolean; region?: string };
  /** EventBridge bus for lifecycle events; undefined when no events are sent. */
  eventBusName?: string;
  /** Days before CertEndTime from which an issued certificate is expiring. */
  renewBeforeDays: number;
  /**
   * CERTIFICATES and RENEW_BEFORE_DAYS: the names that must always have a valid certificate, for
   * which the tool applies (and re-applies before expiry). Absent when CERTIFICATES is unset.
   */
  renewal?: { certificates: string[]; renewBeforeDays: number };
  dryRun: boolean;
  logLevel: LogLevel;
}

/** Parses the environment once; throws ConfigError listing every problem at once. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const result = EnvSchema.safeParse(env);
  const problems = [
    ...(result.success ? [] : result.error.issues.map((issue) => issue.message)),
    ...crossFieldProblems(env),
  ];
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const e = result.data;
  const config: Config = {
    tencent: { endpoint: e.TENCENTCLOUD_SSL_ENDPOINT, rateLimit: e.TENCENTCLOUD_RATE_LIMIT },
    allowedDomains: e.ALLOWED_DOMAINS,
    route53: { zones: e.ROUTE53_ZONES },
    recordTtl: e.RECORD_TTL,
    waitForInsync: e.WAIT_FOR_INSYNC,
    secrets: { nameTemplate: e.SECRET_NAME_TEMPLATE },
    webhook: {},
    acm: { import: e.ACM_IMPORT },
    renewBeforeDays: e.RENEW_BEFORE_DAYS,
    dryRun: e.DRY_RUN,
    logLevel: e.LOG_LEVEL,
  };
  if (e.TENCENTCLOUD_SECRET_ID && e.TENCENTCLOUD_SECRET_KEY) {
    config.tencent.credentials = {
      secretId: e.TENCENTCLOUD_SECRET_ID,
      secretKey: e.TENCENTCLOUD_SECRET_KEY,
      sessionToken: e.TENCENTCLOUD_SESSION_TOKEN,
    };
  } else if (e.TENCENTCLOUD_CREDENTIALS_SECRET) {
    config.tencent.credentialsSecret = e.TENCENTCLOUD_CREDENTIALS_SECRET;
  }
  if (e.ROUTE53_ROLE_ARN) config.route53.roleArn = e.ROUTE53_ROLE_ARN;
  if (e.ROUTE53_EXTERNAL_ID) config.route53.externalId = e.ROUTE53_EXTERNAL_ID;
  if (e.SECRET_KMS_KEY_ID) config.secrets.kmsKeyId = e.SECRET_KMS_KEY_ID;
  if (e.EXPORT_QUEUE_URL) config.exportQueueUrl = e.EXPORT_QUEUE_URL;
  if (e.WEBHOOK_SECRET) config.webhook.secret = e.WEBHOOK_SECRET;
  if (e.WEBHOOK_SECRET_NAME) config.webhook.secretName = e.WEBHOOK_SECRET_NAME;
  if (e.SYNC_FUNCTION_NAME) config.webhook.syncFunctionName = e.SYNC_FUNCTION_NAME;
  if (e.STATE_TABLE) config.stateTable = e.STATE_TABLE;
  if (e.ACM_REGION) config.acm.region = e.ACM_REGION;
  if (e.EVENT_BUS_NAME) config.eventBusName = e.EVENT_BUS_NAME;
  if (e.CERTIFICATES.length > 0) {
    config.renewal = { certificates: e.CERTIFICATES, renewBeforeDays: e.RENEW_BEFORE_DAYS };
  }
  return config;
}

/**
 * STATE_TABLE alone, for `setup`, which needs neither Tencent credentials nor the rest; throws
 * ConfigError when it is set but invalid, returns undefined when unset.
 */
export function loadStateTableName(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const result = EnvSchema.pick({ STATE_TABLE: true }).safeParse(env);
  if (!result.success) throw new ConfigError(result.error.issues.map((issue) => issue.message));
  return result.data.STATE_TABLE;
}
