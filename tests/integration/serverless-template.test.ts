import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * Packages the service with the open-source framework (offline, no AWS credentials) and checks
 * the CloudFormation it would deploy. Intrinsic functions are evaluated for a given set of
 * parameters so the assertions see the policies AWS would see — in the AWS China partition, so
 * an ARN written for the commercial partition alone shows up.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Template {
  Parameters: Record<string, { Default?: string; Type: string; AllowedPattern?: string }>;
  Conditions: Record<string, Json>;
  Resources: Record<string, { Type: string; Properties: Record<string, Json>; Condition?: string }>;
}
interface Statement {
  Effect: string;
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string[]>>;
}

const NO_VALUE = Symbol('NoValue');
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws-cn',
  'AWS::Region': 'cn-north-1',
  'AWS::AccountId': '111122223333',
};
const root = new URL('../..', import.meta.url).pathname;

/** The stage parameters of the template under test; the ones the stack requires among them. */
const PARAMS = {
  allowedDomains: 'Example.COM.,*.example.net,example.com',
  route53ZoneIds: 'Z1AAA,/hostedzone/Z2BBB',
  route53Zones: 'sub.example.com=Z3CCC,shop.example.com=Z1AAA',
  certificates: 'www.example.com,api.example.net',
  renewBeforeDays: '21',
};

let outDir: string;
let template: Template;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: root, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
      },
    );
  });
}

/** The failure message of a child process: osls prints its errors on stdout, the rest on stderr. */
function failure(what: string, result: Run): Error {
  return new Error(
    `${what} exited with ${result.code}\n--- stdout\n${result.stdout.trim()}\n--- stderr\n${result.stderr.trim()}`,
  );
}

/** `osls package` into `dir` for stage ci with these stage parameters, without AWS credentials. */
function packageService(dir: string, params: Record<string, string>): Promise<Run> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  };
  for (const name of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_ENDPOINT_URL',
  ]) {
    delete env[name];
  }
  return run(
    [
      'node_modules/osls/bin/serverless.js',
      'package',
      '--stage',
      'ci',
      '--region',
      'eu-west-1',
      '--package',
      dir,
      ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`),
    ],
    env,
  );
}

/** The packaging errors for these parameters (the run must fail). */
async function packagingErrors(params: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tencent-ssl-sync-package-'));
  try {
    const result = await packageService(dir, params);
    if (result.code === 0) throw new Error(`packaging succeeded with ${JSON.stringify(params)}`);
    return result.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function evaluate(node: Json, params: Record<string, string>): unknown {
  if (Array.isArray(node)) return node.map((n) => evaluate(n, params)).filter((n) => n !== NO_VALUE);
  if (node === null || typeof node !== 'object') return node;
  const [key] = Object.keys(node);
  const arg = (node as Record<string, Json>)[key as string] as Json;
  switch (key) {
    case 'Ref': {
      const name = arg as string;
      if (name === 'AWS::NoValue') return NO_VALUE;
      if (name in PSEUDO) return PSEUDO[name];
      const parameter = template.Parameters[name];
      if (parameter) {
        const value = params[name] ?? parameter.Default ?? '';
        return parameter.Type === 'CommaDelimitedList' ? value.split(',') : value;
      }
      return `ref:${name}`;
    }
    case 'Fn::GetAtt':
      return `getatt:${(arg as string[]).join('.')}`;
    case 'Fn::Join': {
      const [sep, items] = arg as [string, Json];
      return (evaluate(items, params) as string[]).join(sep);
    }
    case 'Fn::Split': {
      const [sep, text] = arg as [string, Json];
      return String(evaluate(text, params)).split(sep);
    }
    case 'Fn::Sub': {
      // `${Name}` is a parameter, a pseudo parameter or a resource; `${Name.Attr}` an attribute.
      const text = typeof arg === 'string' ? arg : String((arg as Json[])[0]);
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
        name.includes('.') && !name.includes('::')
          ? `getatt:${name}`
          : String(evaluate({ Ref: name }, params)),
      );
    }
    case 'Fn::If': {
      const [condition, yes, no] = arg as [string, Json, Json];
      return evaluate(condition ? (holds(condition, params) ? yes : no) : no, params);
    }
    default:
      return Object.fromEntries(
        Object.entries(node)
          .map(([k, v]) => [k, evaluate(v, params)])
          .filter(([, v]) => v !== NO_VALUE),
      );
  }
}

function holds(condition: string, params: Record<string, string>): boolean {
  const check = (node: Json): boolean => {
    const [key] = Object.keys(node as object);
    const arg = (node as Record<string, Json[]>)[key as string] as Json[];
    if (key === 'Fn::Not') return !check(arg[0] as Json);
    if (key === 'Fn::Equals') return evaluate(arg[0] as Json, params) === evaluate(arg[1] as Json, params);
    throw new Error(`condition function ${key}`);
  };
  return check(template.Conditions[condition] as Json);
}

function statements(role: string, params: Record<string, string> = {}): Statement[] {
  const properties = evaluate(template.Resources[role]?.Properties as Json, params) as {
    Policies: Array<{ PolicyDocument: { Statement: Statement[] } }>;
  };
  return properties.Policies.flatMap((p) => p.PolicyDocument.Statement);
}

const allows = (list: Statement[], action: string) => list.filter((s) => s.Action.includes(action));

/** The CNAME label shape in the IAM condition: `_` and 32 single-character wildcards. */
const HEX_SHAPE = `_${'?'.repeat(32)}`;
const HEX = '875bed25cf9e03596931d91cb0a52bd9';

/** IAM StringLike: `*` any run of characters, `?` exactly one, everything else literal and case-sensitive. */
function stringLike(pattern: string): RegExp {
  const body = [...pattern]
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 's');
}

/** Whether the sync role's write condition admits a change at `name`, for this AllowedDomains value. */
function writableNames(allowedDomains: string): (name: string) => boolean {
  const [write] = allows(
    statements('SyncRole', { AllowedDomains: allowedDomains }),
    'route53:ChangeResourceRecordSets',
  );
  const patterns = write?.Condition?.['ForAllValues:StringLike']?.[
    'route53:ChangeResourceRecordSetsNormalizedRecordNames'
  ] as string[];
  return (name) => patterns.some((pattern) => stringLike(pattern).test(name));
}
const ROLES = ['SyncRole', 'ExportRole', 'WebhookRole'];
const FUNCTIONS = ['SyncLambdaFunction', 'ExportLambdaFunction', 'WebhookLambdaFunction'];

beforeAll(async () => {
  // The functions' bundles are what osls zips: build them from the sources under test, so a
  // fresh clone needs no `npm run build` first and a stale dist/ is never packaged.
  const build = await run(['--import', 'tsx', 'infra/build.ts']);
  if (build.code !== 0) throw failure('npm run build (infra/build.ts)', build);

  outDir = mkdtempSync(join(tmpdir(), 'tencent-ssl-sync-package-'));
  const packaged = await packageService(outDir, PARAMS);
  if (packaged.code !== 0) throw failure('osls package', packaged);
  template = JSON.parse(
    readFileSync(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;
}, 150_000);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('the packaged CloudFormation template', () => {
  it('runs the sync on an EventBridge schedule of five minutes, one run at a time', () => {
    const rule = template.Resources.SyncEventsRuleSchedule1;
    expect(rule?.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    const sync = template.Resources.SyncLambdaFunction?.Properties;
    expect(sync).toMatchObject({ ReservedConcurrentExecutions: 1, Architectures: ['arm64'] });
  });

  it('runs every function on nodejs24.x', () => {
    const runtimes = FUNCTIONS.map((fn) => template.Resources[fn]?.Properties.Runtime);

    expect(runtimes).toEqual(['nodejs24.x', 'nodejs24.x', 'nodejs24.x']);
  });

  it('routes POST /sync of an HTTP API to the webhook, throttled, with detailed metrics kept', () => {
    expect(template.Resources.HttpApiRoutePostSync?.Properties.RouteKey).toBe('POST /sync');
    expect(template.Resources.HttpApiStage?.Properties.DefaultRouteSettings).toEqual({
      DetailedMetricsEnabled: true,
      ThrottlingRateLimit: 5,
      ThrottlingBurstLimit: 10,
    });
  });

  it('bounds the webhook calls running at once with reserved concurrency', () => {
    const webhook = template.Resources.WebhookLambdaFunction?.Properties;

    expect(webhook?.ReservedConcurrentExecutions).toBe(5);
  });

  it('writes HTTP API access logs, without headers or bodies, to a log group with a retention', () => {
    const stage = template.Resources.HttpApiStage?.Properties;
    const settings = stage?.AccessLogSettings as { DestinationArn: Json; Format: string };
    const fields = JSON.parse(settings.Format) as Record<string, string>;

    expect(settings.DestinationArn).toEqual({ 'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'] });
    expect(template.Resources.HttpApiLogGroup?.Properties.RetentionInDays).toBe(90);
    expect(fields).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
    expect(Object.values(fields).join(' ')).not.toMatch(/header|body/i);
  });

  it('sends the asynchronous sync runs that fail for good to a queue, and alarms on it', () => {
    const config = template.Resources.SyncLambdaEvConf?.Properties;
    const alarm = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::CloudWatch::Alarm' &&
        JSON.stringify(r.Properties.Dimensions).includes('SyncFailureQueue'),
    );

    expect(config).toMatchObject({
      FunctionName: { Ref: 'SyncLambdaFunction' },
      Qualifier: '$LATEST',
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['SyncFailureQueue', 'Arn'] } } },
    });
    expect(template.Resources.SyncFailureQueue?.Type).toBe('AWS::SQS::Queue');
    expect(alarm?.Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
    // Lambda delivers the failure record with the failing function's own role.
    expect(allows(statements('SyncRole'), 'sqs:SendMessage').map((s) => s.Resource)).toContain(
      'getatt:SyncFailureQueue.Arn',
    );
  });

  it('feeds the export function from the queue with partial batch responses, and a dead-letter queue behind it', () => {
    const mapping = template.Resources.ExportEventSourceMappingSQSExportQueue?.Properties;
    expect(mapping).toMatchObject({ FunctionResponseTypes: ['ReportBatchItemFailures'], BatchSize: 10 });
    expect(mapping?.EventSourceArn).toEqual({ 'Fn::GetAtt': ['ExportQueue', 'Arn'] });
    expect(template.Resources.ExportQueue?.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': ['ExportDeadLetterQueue', 'Arn'] },
      maxReceiveCount: 5,
    });
  });

  it('gives each function its own role and sets log retention', () => {
    const roleOf = (fn: string) => template.Resources[fn]?.Properties.Role;
    expect(roleOf('SyncLambdaFunction')).toEqual({ 'Fn::GetAtt': ['SyncRole', 'Arn'] });
    expect(roleOf('ExportLambdaFunction')).toEqual({ 'Fn::GetAtt': ['ExportRole', 'Arn'] });
    expect(roleOf('WebhookLambdaFunction')).toEqual({ 'Fn::GetAtt': ['WebhookRole', 'Arn'] });
    expect(template.Resources.SyncLogGroup?.Properties.RetentionInDays).toBe(90);
  });

  it('alarms on sync errors, failed sync runs, a non-empty dead-letter queue, webhook 5xx and the run metrics, to one SNS topic', () => {
    const alarms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual([
      '5xx',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateNumberOfMessagesVisible',
      'BlockedForMoreThanAnHour',
      'DaysUntilSoonestExpiry',
      'Errors',
      'RenewalFailures',
    ]);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('writes no ARN for the commercial partition alone', () => {
    const text = JSON.stringify(template);

    expect(text).not.toContain('arn:aws:');
  });

  it('builds every ARN of every policy in the partition the stack is deployed to', () => {
    const arns = ROLES.flatMap((role) =>
      statements(role, {
        Route53RoleArn: 'arn:aws-cn:iam::444455556666:role/dns',
        SecretKmsKeyArn: 'arn:aws-cn:kms:cn-north-1:111122223333:key/k',
        AcmImport: 'true',
        EventBusName: 'certificates',
      }).flatMap((statement) => [statement.Resource].flat()),
    ).filter((resource) => resource.startsWith('arn:'));

    expect(arns.length).toBeGreaterThan(10);
    for (const arn of arns) expect(arn).toMatch(/^arn:aws-cn:/);
  });

  it('never grants an action wildcard, and uses Resource "*" only where AWS allows nothing narrower', () => {
    for (const role of ROLES) {
      for (const statement of statements(role, { Route53RoleArn: 'arn:aws-cn:iam::1:role/dns' })) {
        for (const action of statement.Action) expect(action).not.toMatch(/\*/);
        if (statement.Resource === '*') {
          expect(statement.Action).toEqual(
            expect.arrayContaining([
              expect.stringMatching(/^(route53:ListHostedZones|secretsmanager:ListSecrets)$/),
            ]),
          );
          expect(statement.Action).toHaveLength(1);
        }
      }
    }
  });

  it('lets the functions read and write only the hosted zones listed, each once', () => {
    const zones = [
      'arn:aws-cn:route53:::hostedzone/Z1AAA',
      'arn:aws-cn:route53:::hostedzone/Z2BBB',
      'arn:aws-cn:route53:::hostedzone/Z3CCC',
    ];
    for (const role of ['SyncRole', 'WebhookRole']) {
      const list = statements(role);

      expect(allows(list, 'route53:ListResourceRecordSets').map((s) => s.Resource)).toEqual([zones]);
      expect(allows(list, 'route53:ChangeResourceRecordSets').map((s) => s.Resource)).toEqual([zones]);
    }
  });

  it('limits Route53 writes to CNAME and TXT sets at the validation name shapes of the allowed domains', () => {
    const [write] = allows(statements('SyncRole'), 'route53:ChangeResourceRecordSets');
    expect(write).toEqual({
      Effect: 'Allow',
      Action: ['route53:ChangeResourceRecordSets'],
      Resource: expect.any(Array),
      Condition: {
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE', 'UPSERT'],
          'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME', 'TXT'],
        },
        'ForAllValues:StringLike': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
            '_dnsauth.example.com',
            '_dnsauth.example.net',
            '_dnsauth.*.example.com',
            '_dnsauth.*.example.net',
            `${HEX_SHAPE}.example.com`,
            `${HEX_SHAPE}.example.net`,
            `${HEX_SHAPE}.*.example.com`,
            `${HEX_SHAPE}.*.example.net`,
          ],
        },
      },
    });
    expect(allows(statements('ExportRole'), 'route53:ChangeResourceRecordSets')).toEqual([]);
  });

  it('gives the webhook the same write condition, built from the AllowedDomains parameter', () => {
    const [write] = allows(
      statements('WebhookRole', { AllowedDomains: 'example.com' }),
      'route53:ChangeResourceRecordSets',
    );

    expect(write?.Condition?.['ForAllValues:StringLike']).toEqual({
      'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
        '_dnsauth.example.com',
        '_dnsauth.*.example.com',
        `${HEX_SHAPE}.example.com`,
        `${HEX_SHAPE}.*.example.com`,
      ],
    });
  });

  it('lets IAM accept the validation names of the allowed domains and their subdomains', () => {
    const names = writableNames('example.com');

    for (const name of [
      '_dnsauth.example.com',
      '_dnsauth.www.example.com',
      `_${HEX}.example.com`,
      `_${HEX}.api.shop.example.com`,
    ]) {
      expect(names(name), name).toBe(true);
    }
  });

  it('lets IAM refuse service-critical underscore names and names of other domains', () => {
    const names = writableNames('example.com');

    for (const name of [
      '_acme-challenge.example.com',
      '_dmarc.example.com',
      'sel._domainkey.example.com',
      '_mta-sts.example.com',
      '_sip._tcp.example.com',
      `_${HEX.slice(1)}.example.com`,
      `_${HEX}0.example.com`,
      'www.example.com',
      '_dnsauth.example.com.evil.test',
      '_dnsauth.notexample.com',
      '_dnsauth.example.org',
    ]) {
      expect(names(name), name).toBe(false);
    }
  });

  it('cannot tell hex digits from other characters in IAM: the planner refuses what slips through', () => {
    const names = writableNames('example.com');

    // `_` and 32 characters of which some are dots: an _acme-challenge name one level down.
    expect(names('_acme-challenge.abcdefghijklmnopq.example.com')).toBe(true);
  });

  it('lets every validation name through with the * allow-list, and none with an empty one', () => {
    expect(writableNames('*')('_dnsauth.example.org')).toBe(true);
    expect(writableNames('*')(`_${HEX}.www.example.org`)).toBe(true);
    expect(writableNames('*')('_acme-challenge.example.org')).toBe(false);
    expect(writableNames('')('_dnsauth.example.com')).toBe(false);
    expect(writableNames('')(`_${HEX}.example.com`)).toBe(false);
  });

  it('normalises allowedDomains when packaging, and gives the functions the list the IAM condition uses', () => {
    const parameter = template.Parameters.AllowedDomains;

    expect(parameter?.Default).toBe('example.com,example.net');
    for (const fn of FUNCTIONS) {
      const environment = template.Resources[fn]?.Properties.Environment as {
        Variables: Record<string, Json>;
      };
      expect(environment.Variables.ALLOWED_DOMAINS).toEqual({ Ref: 'AllowedDomains' });
    }
  });

  it('holds a direct change of the AllowedDomains parameter to the normalised form', () => {
    const pattern = new RegExp(template.Parameters.AllowedDomains?.AllowedPattern ?? '');

    for (const value of ['', '*', 'example.com', 'example.com,shop.example.net', 'a-b.example.co.uk']) {
      expect(value).toMatch(pattern);
    }
    for (const value of ['Example.com', 'example.com.', '*.example.com', 'example.com, example.net', 'com']) {
      expect(value).not.toMatch(pattern);
    }
  });

  it('refuses to package a public suffix or a malformed name in allowedDomains, naming each', async () => {
    const errors = await packagingErrors({ ...PARAMS, allowedDomains: 'example.com,co.uk,exa mple.com' });

    expect(errors).toMatch(/allowedDomains: "co\.uk" is a public suffix/);
    expect(errors).toMatch(/allowedDomains: "exa mple\.com" is not a domain name/);
  });

  it('refuses to package without hosted zone ids, so no zone (a private one included) is writable by default', async () => {
    const errors = await packagingErrors({ allowedDomains: 'example.com' });

    expect(errors).toMatch(/route53ZoneIds is required/);
  });

  it('refuses to package * as the hosted zone ids', async () => {
    const errors = await packagingErrors({ allowedDomains: 'example.com', route53ZoneIds: '*' });

    expect(errors).toMatch(/route53ZoneIds: \* would let the functions write into every hosted zone/);
  });

  it('refuses to package a public suffix as a route53Zones domain', async () => {
    const errors = await packagingErrors({ allowedDomains: 'example.com', route53Zones: 'co.uk=Z1' });

    expect(errors).toMatch(/route53Zones: co\.uk is a public suffix/);
  });

  it('packages with the zones of route53Zones alone when no ids are listed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tencent-ssl-sync-package-'));
    try {
      const packaged = await packageService(dir, { route53Zones: 'example.com=Z9ZONE' });
      if (packaged.code !== 0) throw failure('osls package', packaged);
      const other = JSON.parse(
        readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
      ) as Template;

      const read = other.Resources.SyncRole?.Properties.Policies as Json;

      expect(JSON.stringify(read)).toContain(':route53:::hostedzone/","Z9ZONE"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('scopes Secrets Manager writes to the secret name prefix, and to the export function alone', () => {
    const writes = [
      'secretsmanager:CreateSecret',
      'secretsmanager:PutSecretValue',
      'secretsmanager:TagResource',
    ];
    const [write] = allows(statements('ExportRole'), 'secretsmanager:PutSecretValue');
    expect(write?.Action).toEqual(writes);
    expect(write?.Resource).toBe('arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:tencent-ssl/*');
    for (const role of ['SyncRole', 'WebhookRole']) {
      for (const action of writes) expect(allows(statements(role), action)).toEqual([]);
    }
  });

  it('grants ACM nothing unless acmImport is true', () => {
    expect(template.Parameters.AcmImport).toMatchObject({
      Default: 'false',
      AllowedValues: ['true', 'false'],
    });
    for (const role of ROLES) {
      expect(statements(role).filter((s) => s.Action.some((a) => a.startsWith('acm:')))).toEqual([]);
    }
  });

  it('lets export import into ACM only certificates tagged managed-by, in acmRegion, and sync only read ACM', () => {
    const acm = (role: string, params: Record<string, string>) =>
      statements(role, params).filter((s) => s.Action.some((a) => a.startsWith('acm:')));
    const certificates = 'arn:aws-cn:acm:us-east-1:111122223333:certificate/*';
    const reads = [
      { Effect: 'Allow', Action: ['acm:ListCertificates'], Resource: '*' },
      { Effect: 'Allow', Action: ['acm:ListTagsForCertificate'], Resource: certificates },
    ];
    const on = { AcmImport: 'true', AcmRegion: 'us-east-1' };

    expect(acm('ExportRole', on)).toEqual([
      ...reads,
      {
        Effect: 'Allow',
        Action: ['acm:ImportCertificate', 'acm:AddTagsToCertificate'],
        Resource: certificates,
        Condition: { StringEquals: { 'aws:RequestTag/managed-by': 'tencent-ssl-sync' } },
      },
      {
        Effect: 'Allow',
        Action: ['acm:ImportCertificate', 'acm:AddTagsToCertificate'],
        Resource: certificates,
        Condition: { StringEquals: { 'aws:ResourceTag/managed-by': 'tencent-ssl-sync' } },
      },
    ]);
    expect(acm('SyncRole', on)).toEqual(reads);
    expect(acm('WebhookRole', on)).toEqual([]);
    expect(acm('ExportRole', { AcmImport: 'true' })[1]?.Resource).toBe(
      'arn:aws-cn:acm:cn-north-1:111122223333:certificate/*',
    );
  });

  it('names ACM_IMPORT and ACM_REGION to the export and sync functions, from the stack parameters', () => {
    for (const fn of ['ExportLambdaFunction', 'SyncLambdaFunction']) {
      const environment = template.Resources[fn]?.Properties.Environment as {
        Variables: Record<string, Json>;
      };
      expect(environment.Variables).toMatchObject({
        ACM_IMPORT: { Ref: 'AcmImport' },
        ACM_REGION: { Ref: 'AcmRegion' },
      });
    }
  });

  it('gives the scheduled sync CERTIFICATES to apply for and renew, and every function RENEW_BEFORE_DAYS', () => {
    const variables = (fn: string) =>
      (template.Resources[fn]?.Properties.Environment as { Variables: Record<string, Json> } | undefined)
        ?.Variables;

    expect(variables('SyncLambdaFunction')).toMatchObject({
      CERTIFICATES: PARAMS.certificates,
      RENEW_BEFORE_DAYS: '21',
    });
    expect(variables('WebhookLambdaFunction')).not.toHaveProperty('CERTIFICATES');
    expect(variables('ExportLambdaFunction')).toMatchObject({ RENEW_BEFORE_DAYS: '21' });
  });

  it('lets each function read only the secrets it needs', () => {
    const reads = (role: string) =>
      allows(statements(role), 'secretsmanager:GetSecretValue').map((s) => s.Resource);
    const credentials =
      'arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:tencent-ssl-sync/ci/tencent-credentials-??????';
    expect(reads('SyncRole')).toEqual([credentials]);
    expect(reads('ExportRole')).toEqual([credentials]);
    expect(reads('WebhookRole').sort()).toEqual(
      [
        credentials,
        'arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:tencent-ssl-sync/ci/webhook-key-??????',
      ].sort(),
    );
  });

  it('allows sending to the export queue (and the sync failure queue), and invoking only the sync function', () => {
    expect(allows(statements('SyncRole'), 'sqs:SendMessage').map((s) => s.Resource)).toEqual([
      'getatt:ExportQueue.Arn',
      'getatt:SyncFailureQueue.Arn',
    ]);
    expect(allows(statements('WebhookRole'), 'sqs:SendMessage').map((s) => s.Resource)).toEqual([
      'getatt:ExportQueue.Arn',
    ]);
    expect(allows(statements('WebhookRole'), 'lambda:InvokeFunction').map((s) => s.Resource)).toEqual([
      'getatt:SyncLambdaFunction.Arn',
    ]);
    expect(allows(statements('SyncRole'), 'lambda:InvokeFunction')).toEqual([]);
  });

  it('grants AssumeRole and KMS only when a role or key is configured', () => {
    expect(allows(statements('SyncRole'), 'sts:AssumeRole')).toEqual([]);
    expect(
      allows(
        statements('SyncRole', { Route53RoleArn: 'arn:aws-cn:iam::444455556666:role/dns' }),
        'sts:AssumeRole',
      )[0]?.Resource,
    ).toBe('arn:aws-cn:iam::444455556666:role/dns');
    expect(allows(statements('ExportRole'), 'kms:GenerateDataKey')).toEqual([]);
    expect(
      allows(
        statements('ExportRole', { SecretKmsKeyArn: 'arn:aws-cn:kms:cn-north-1:111122223333:key/k' }),
        'kms:GenerateDataKey',
      ),
    ).toHaveLength(1);
  });

  it('takes the Tencent credentials from Secrets Manager, never from a plain variable', () => {
    for (const fn of FUNCTIONS) {
      const environment = template.Resources[fn]?.Properties.Environment as {
        Variables: Record<string, Json>;
      };
      const variables = environment.Variables;
      expect(variables.TENCENTCLOUD_CREDENTIALS_SECRET).toBe('tencent-ssl-sync/ci/tencent-credentials');
      expect(variables).not.toHaveProperty('TENCENTCLOUD_SECRET_KEY');
      expect(variables).not.toHaveProperty('TENCENTCLOUD_SECRET_ID');
      expect(variables).not.toHaveProperty('WEBHOOK_SECRET');
    }
  });

  it('keeps the state table on demand, with point-in-time recovery, TTL on expiresAt and encryption', () => {
    const table = template.Resources.StateTable;

    expect(table?.Type).toBe('AWS::DynamoDB::Table');
    expect(table?.Properties).toMatchObject({
      TableName: 'tencent-ssl-sync-ci-state',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    expect(table?.Properties).not.toHaveProperty('ProvisionedThroughput');
  });

  it('names the state table to every function', () => {
    for (const fn of FUNCTIONS) {
      const environment = template.Resources[fn]?.Properties.Environment as {
        Variables: Record<string, Json>;
      };
      expect(environment.Variables.STATE_TABLE).toEqual({ Ref: 'StateTable' });
    }
  });

  it('lets each function read and write items of the state table alone, never scan or administer it', () => {
    const itemActions = [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
    ];
    for (const role of ROLES) {
      const dynamo = statements(role).filter((s) => s.Action.some((a) => a.startsWith('dynamodb:')));

      expect(dynamo).toEqual([{ Effect: 'Allow', Action: itemActions, Resource: 'getatt:StateTable.Arn' }]);
    }
  });

  it('never lets the deployed functions speak plain http to Tencent', () => {
    for (const fn of FUNCTIONS) {
      const environment = template.Resources[fn]?.Properties.Environment as {
        Variables: Record<string, Json>;
      };
      expect(environment.Variables).not.toHaveProperty('TENCENTCLOUD_SSL_ALLOW_HTTP');
    }
  });

  it('alarms when a certificate is blocked over an hour, the soonest expiry is under 14 days, or a renewal failed', () => {
    const alarm = (name: string) => template.Resources[name]?.Properties;
    const metric = {
      Namespace: 'TencentSslSync',
      Dimensions: [{ Name: 'service', Value: 'tencent-ssl-sync-ci' }],
    };
    const notify = { AlarmActions: [{ Ref: 'AlarmTopic' }], OKActions: [{ Ref: 'AlarmTopic' }] };

    expect(alarm('CertificateBlockedAlarm')).toMatchObject({
      ...metric,
      ...notify,
      AlarmName: 'tencent-ssl-sync-ci-certificate-blocked',
      MetricName: 'BlockedForMoreThanAnHour',
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      // A sync that stops reporting does not clear it.
      TreatMissingData: 'ignore',
    });
    expect(alarm('CertificateExpiringAlarm')).toMatchObject({
      ...metric,
      ...notify,
      MetricName: 'DaysUntilSoonestExpiry',
      Statistic: 'Minimum',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 14,
      TreatMissingData: 'ignore',
    });
    expect(alarm('RenewalFailuresAlarm')).toMatchObject({
      ...metric,
      ...notify,
      MetricName: 'RenewalFailures',
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      // Every run reports its renewal failures, 0 included: no data is no run, not a failure.
      TreatMissingData: 'notBreaching',
    });
  });

  it('gives every function the service name the metric alarms watch', () => {
    for (const fn of FUNCTIONS) {
      const environment = template.Resources[fn]?.Properties.Environment as {
        Variables: Record<string, Json>;
      };
      expect(environment.Variables.POWERTOOLS_SERVICE_NAME).toBe('tencent-ssl-sync-ci');
    }
  });

  it('shows the run metrics over time beside every alarm, and the state of each, on a dashboard', () => {
    const dashboard = template.Resources.Dashboard;
    const properties = evaluate(dashboard?.Properties as Json, {}) as {
      DashboardName: string;
      DashboardBody: string;
    };
    const body = JSON.parse(properties.DashboardBody) as {
      widgets: Array<{ type: string; properties: Record<string, unknown> }>;
    };
    const alarmArns = Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
      .map(([name]) => `getatt:${name}.Arn`)
      .sort();
    const statusWidget = body.widgets.find((w) => w.type === 'alarm');
    const besideAlarms = body.widgets.flatMap(
      (w) => (w.properties.annotations as { alarms?: string[] } | undefined)?.alarms ?? [],
    );
    const graphed = body.widgets.flatMap((w) => (w.properties.metrics as Json[][] | undefined) ?? []);

    expect(dashboard?.Type).toBe('AWS::CloudWatch::Dashboard');
    expect(properties.DashboardName).toBe('tencent-ssl-sync-ci');
    expect(alarmArns).toHaveLength(7);
    expect([...((statusWidget?.properties.alarms as string[] | undefined) ?? [])].sort()).toEqual(alarmArns);
    expect([...besideAlarms].sort()).toEqual(alarmArns);
    expect(graphed[0]).toEqual([
      'TencentSslSync',
      'CertificatesValidating',
      'service',
      'tencent-ssl-sync-ci',
    ]);
    expect(graphed.map((m) => m[1])).toEqual(
      expect.arrayContaining([
        'CertificatesBlocked',
        'CertificatesIssued',
        'RecordsWritten',
        'ExportsWritten',
      ]),
    );
    for (const widget of body.widgets.filter((w) => w.type === 'metric'))
      expect(widget.properties.region).toBe('cn-north-1');
  });

  it('passes the eventBusName parameter to every function as EVENT_BUS_NAME, empty by default', () => {
    expect(template.Parameters.EventBusName?.Default).toBe('');
    for (const fn of FUNCTIONS) {
      const environment = template.Resources[fn]?.Properties.Environment as {
        Variables: Record<string, Json>;
      };
      expect(environment.Variables.EVENT_BUS_NAME).toEqual({ Ref: 'EventBusName' });
    }
  });

  it('lets every function put events on the named bus alone, and on none when no bus is named', () => {
    for (const role of ROLES) {
      expect(allows(statements(role, { EventBusName: 'certificates' }), 'events:PutEvents')).toEqual([
        {
          Effect: 'Allow',
          Action: ['events:PutEvents'],
          Resource: 'arn:aws-cn:events:cn-north-1:111122223333:event-bus/certificates',
        },
      ]);
      expect(allows(statements(role), 'events:PutEvents')).toEqual([]);
    }
  });

  it('holds a direct change of the EventBusName parameter to a bus name', () => {
    const pattern = new RegExp(template.Parameters.EventBusName?.AllowedPattern ?? '');

    for (const value of ['', 'default', 'certificates', 'org/team.certs_1']) expect(value).toMatch(pattern);
    for (const value of ['my bus', 'arn:aws:events:us-east-1:111122223333:event-bus/x']) {
      expect(value).not.toMatch(pattern);
    }
  });
});
