import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * Packages the service with the open-source framework (offline, no AWS credentials) and checks
 * the CloudFormation it would deploy. Intrinsic functions are evaluated for a given set of
 * parameters so the assertions see the policies AWS would see.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Template {
  Parameters: Record<string, { Default?: string; Type: string }>;
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
const PSEUDO: Record<string, string> = { 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '111122223333' };

let outDir: string;
let template: Template;

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

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'tencent-ssl-sync-package-'));
  const env = { ...process.env };
  for (const name of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_ENDPOINT_URL',
  ]) {
    delete env[name];
  }
  await promisify(execFile)(
    process.execPath,
    [
      'node_modules/osls/bin/serverless.js',
      'package',
      '--stage',
      'ci',
      '--region',
      'eu-west-1',
      '--package',
      outDir,
    ],
    { env: { ...env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' }, timeout: 120_000 },
  );
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
    expect(sync).toMatchObject({
      ReservedConcurrentExecutions: 1,
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
    });
  });

  it('routes POST /sync of an HTTP API to the webhook, throttled', () => {
    expect(template.Resources.HttpApiRoutePostSync?.Properties.RouteKey).toBe('POST /sync');
    expect(template.Resources.HttpApiStage?.Properties.DefaultRouteSettings).toEqual({
      ThrottlingRateLimit: 5,
      ThrottlingBurstLimit: 10,
    });
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

  it('alarms on sync errors, a non-empty dead-letter queue and webhook 5xx, to one SNS topic', () => {
    const alarms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual([
      '5xx',
      'ApproximateNumberOfMessagesVisible',
      'Errors',
    ]);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('never grants an action wildcard, and uses Resource "*" only where AWS allows nothing narrower', () => {
    for (const role of ['SyncRole', 'ExportRole', 'WebhookRole']) {
      for (const statement of statements(role, {
        Route53ZoneIds: 'Z1',
        Route53RoleArn: 'arn:aws:iam::1:role/dns',
      })) {
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

  it('limits Route53 writes to UPSERTs of CNAME and TXT at underscore names under the allowed domains', () => {
    const [write] = allows(
      statements('SyncRole', { AllowedDomains: 'example.com,example.net', Route53ZoneIds: 'Z1AAA,Z2BBB' }),
      'route53:ChangeResourceRecordSets',
    );
    expect(write).toEqual({
      Effect: 'Allow',
      Action: ['route53:ChangeResourceRecordSets'],
      Resource: ['arn:aws:route53:::hostedzone/Z1AAA', 'arn:aws:route53:::hostedzone/Z2BBB'],
      Condition: {
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME', 'TXT'],
        },
        'ForAllValues:StringLike': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_*.example.com', '_*.example.net'],
        },
      },
    });
    expect(
      allows(
        statements('WebhookRole', { AllowedDomains: 'example.com' }),
        'route53:ChangeResourceRecordSets',
      )[0]?.Condition,
    ).toEqual(
      expect.objectContaining({
        'ForAllValues:StringLike': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_*.example.com'],
        },
      }),
    );
    expect(allows(statements('ExportRole'), 'route53:ChangeResourceRecordSets')).toEqual([]);
  });

  it('scopes Secrets Manager writes to the secret name prefix, and to the export function alone', () => {
    const writes = [
      'secretsmanager:CreateSecret',
      'secretsmanager:PutSecretValue',
      'secretsmanager:TagResource',
    ];
    const [write] = allows(statements('ExportRole'), 'secretsmanager:PutSecretValue');
    expect(write?.Action).toEqual(writes);
    expect(write?.Resource).toBe('arn:aws:secretsmanager:eu-west-1:111122223333:secret:tencent-ssl/*');
    for (const role of ['SyncRole', 'WebhookRole']) {
      for (const action of writes) expect(allows(statements(role), action)).toEqual([]);
    }
  });

  it('lets each function read only the secrets it needs', () => {
    const reads = (role: string) =>
      allows(statements(role), 'secretsmanager:GetSecretValue').map((s) => s.Resource);
    const credentials =
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:tencent-ssl-sync/ci/tencent-credentials-??????';
    expect(reads('SyncRole')).toEqual([credentials]);
    expect(reads('ExportRole')).toEqual([credentials]);
    expect(reads('WebhookRole').sort()).toEqual(
      [
        credentials,
        'arn:aws:secretsmanager:eu-west-1:111122223333:secret:tencent-ssl-sync/ci/webhook-key-??????',
      ].sort(),
    );
  });

  it('allows sending to the export queue only, and invoking only the sync function', () => {
    for (const role of ['SyncRole', 'WebhookRole']) {
      expect(allows(statements(role), 'sqs:SendMessage').map((s) => s.Resource)).toEqual([
        'getatt:ExportQueue.Arn',
      ]);
    }
    expect(allows(statements('WebhookRole'), 'lambda:InvokeFunction').map((s) => s.Resource)).toEqual([
      'getatt:SyncLambdaFunction.Arn',
    ]);
    expect(allows(statements('SyncRole'), 'lambda:InvokeFunction')).toEqual([]);
  });

  it('grants AssumeRole and KMS only when a role or key is configured', () => {
    expect(allows(statements('SyncRole'), 'sts:AssumeRole')).toEqual([]);
    expect(
      allows(
        statements('SyncRole', { Route53RoleArn: 'arn:aws:iam::444455556666:role/dns' }),
        'sts:AssumeRole',
      )[0]?.Resource,
    ).toBe('arn:aws:iam::444455556666:role/dns');
    expect(allows(statements('ExportRole'), 'kms:GenerateDataKey')).toEqual([]);
    expect(
      allows(
        statements('ExportRole', { SecretKmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/k' }),
        'kms:GenerateDataKey',
      ),
    ).toHaveLength(1);
  });

  it('takes the Tencent credentials from Secrets Manager, never from a plain variable', () => {
    for (const fn of ['SyncLambdaFunction', 'ExportLambdaFunction', 'WebhookLambdaFunction']) {
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
});
