import { execFile } from 'node:child_process';
import {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli.js';
import type { StateTableSetup } from '../../lib/state/setup.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';

/*
 * `setup` against moto's DynamoDB, called as the CLI function (and once as a real process, for
 * credentials the AWS SDK finds in the process environment).
 */

let moto: MotoServer;
let dynamo: DynamoDBClient;
let aws: Record<string, string>;

beforeAll(async () => {
  moto = await startMoto();
  aws = motoEnv(moto.endpoint);
  // The AWS SDK reads its standard variables from the process environment.
  Object.assign(process.env, aws);
  dynamo = new DynamoDBClient({});
}, 60_000);

afterAll(async () => {
  dynamo?.destroy();
  await moto?.stop();
});

async function cli(args: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
  return { code, stdout, stderr };
}

function cliProcess(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'lib/cli.ts', ...args], { env }, (error, stdout) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? -1) : 0, stdout });
    });
  });
}

describe('setup', () => {
  it('creates the state table on demand, with pk/sk keys, TTL on expiresAt and point-in-time recovery', async () => {
    const run = await cli(['setup', '--json'], { STATE_TABLE: 'tss-state' });

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout) as StateTableSetup).toEqual({
      table: 'tss-state',
      created: true,
      status: 'ACTIVE',
      billingMode: 'PAY_PER_REQUEST',
      timeToLive: { status: 'ENABLED', changed: true },
      pointInTimeRecovery: { status: 'ENABLED', changed: true },
      ready: true,
    });
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: 'tss-state' }));
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const ttl = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: 'tss-state' }));
    expect(ttl.TimeToLiveDescription).toEqual({ AttributeName: 'expiresAt', TimeToLiveStatus: 'ENABLED' });
    const backups = await dynamo.send(new DescribeContinuousBackupsCommand({ TableName: 'tss-state' }));
    expect(
      backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus,
    ).toBe('ENABLED');
  });

  it('changes nothing and exits 0 when the table is ready', async () => {
    await cli(['setup'], { STATE_TABLE: 'tss-ready' });

    const run = await cli(['setup'], { STATE_TABLE: 'tss-ready' });

    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        'state table tss-ready: exists, ACTIVE, on-demand',
        '  TTL on expiresAt: enabled',
        '  point-in-time recovery: enabled',
        '',
      ].join('\n'),
    );
  });

  it('exits 2 with a configuration failure when STATE_TABLE is unset', async () => {
    const run = await cli(['setup', '--json'], {});

    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      ok: false,
      command: 'setup',
      exitCode: 2,
      error: {
        kind: 'configuration',
        message: 'STATE_TABLE is not set: name the DynamoDB table to create',
        problems: ['STATE_TABLE is not set: name the DynamoDB table to create'],
      },
    });
    expect(run.stderr).toMatch(/^error: setup could not run: STATE_TABLE is not set/);
  });

  it('exits 2 for a STATE_TABLE DynamoDB would refuse, without calling it', async () => {
    const run = await cli(['setup'], { STATE_TABLE: 'state/table' });

    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/STATE_TABLE must be a DynamoDB table name/);
  });

  it('needs no Tencent credentials', async () => {
    const run = await cli(['setup'], { STATE_TABLE: 'tss-no-tencent', ALLOWED_DOMAINS: 'example.com' });

    expect(run.code).toBe(0);
  });

  it('exits 2 and leaves alone a table of the same name with other keys', async () => {
    await dynamo.send(
      new CreateTableCommand({
        TableName: 'someone-elses',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );

    const run = await cli(['setup', '--json'], { STATE_TABLE: 'someone-elses' });

    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error).toMatchObject({
      kind: 'configuration',
      message: expect.stringMatching(/table someone-elses exists with keys id \(S, HASH\)/),
    });
    const ttl = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: 'someone-elses' }));
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('DISABLED');
  });

  it('exits 1 and says why when TTL is on another attribute', async () => {
    await dynamo.send(
      new CreateTableCommand({
        TableName: 'tss-other-ttl',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    await dynamo.send(
      new UpdateTimeToLiveCommand({
        TableName: 'tss-other-ttl',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      }),
    );

    const run = await cli(['setup'], { STATE_TABLE: 'tss-other-ttl' });

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('TTL on expiresAt: not on: OtherTtlAttribute: TTL is on attribute ttl');
    expect(run.stdout).toContain('point-in-time recovery: enabled (turned on now)');
  });

  it('exits 2 when the AWS credentials are missing, with one JSON document', async () => {
    const env = Object.fromEntries(
      Object.entries({ ...process.env, ...aws, STATE_TABLE: 'tss-no-credentials' }).filter(
        ([key]) =>
          !['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'].includes(key),
      ),
    );

    const run = await cliProcess(['setup', '--json'], {
      ...env,
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_EC2_METADATA_DISABLED: 'true',
    });

    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: false,
      command: 'setup',
      error: { kind: 'credentials', message: expect.stringMatching(/Could not load credentials/) },
    });
  });

  it('exits 2 when no AWS region is configured', async () => {
    const env = Object.fromEntries(
      Object.entries({ ...process.env, ...aws, STATE_TABLE: 'tss-no-region' }).filter(
        ([key]) => key !== 'AWS_REGION' && key !== 'AWS_DEFAULT_REGION' && key !== 'AWS_PROFILE',
      ),
    );

    const run = await cliProcess(['setup', '--json'], { ...env, AWS_CONFIG_FILE: '/nonexistent/config' });

    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error).toMatchObject({
      kind: 'configuration',
      message: expect.stringMatching(/no AWS region/),
    });
  });

  it('prints its usage with --help', async () => {
    const run = await cli(['setup', '--help'], {});

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: tencent-ssl-sync setup \[--json\]/);
  });
});
