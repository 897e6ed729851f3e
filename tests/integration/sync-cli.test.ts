import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import {
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore, type DvAuth } from '../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { main } from '../../lib/cli.js';
import type { SyncReport } from '../../lib/sync-types.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';

const CREDENTIALS = {
  secretId: 'AKIDclitest000000000000000000000',
  secretKey: 'cli-test-secret-key-00000000000',
};

let moto: MotoServer;
let tencent: LocalTencentServer;
let route53: Route53Client;
let env: Record<string, string>;
const zoneIds: Record<string, string> = {};
const store = new CertificateStore({ seed: 42 });

async function createZone(name: string): Promise<void> {
  const created = await route53.send(
    new CreateHostedZoneCommand({ Name: name, CallerReference: `${name}-${Date.now()}` }),
  );
  zoneIds[name] = String(created.HostedZone?.Id).replace('/hostedzone/', '');
}

async function recordsOf(zone: string): Promise<ResourceRecordSet[]> {
  const out = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneIds[zone] }));
  return (out.ResourceRecordSets ?? []).filter((set) => set.Type === 'CNAME' || set.Type === 'TXT');
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
  return { code, stdout, stderr };
}

/** The command as a real process: the AWS SDK reads its credentials from the process environment. */
async function cliProcess(
  args: string[],
  processEnv: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'lib/cli.ts', ...args],
      { env: processEnv },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: unknown }).code ?? -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** This suite's environment with no AWS credentials anywhere the SDK looks for them. */
function withoutAwsCredentials(): NodeJS.ProcessEnv {
  const rest = Object.fromEntries(
    Object.entries({ ...process.env, ...env }).filter(
      ([key]) =>
        key !== 'AWS_ACCESS_KEY_ID' &&
        key !== 'AWS_SECRET_ACCESS_KEY' &&
        key !== 'AWS_SESSION_TOKEN' &&
        key !== 'AWS_PROFILE',
    ),
  );
  return {
    ...rest,
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

function dvAuthsOf(id: string): DvAuth[] {
  const cert = store.get(id) as { DvAuthDetail: { DvAuths: DvAuth[] } };
  return cert.DvAuthDetail.DvAuths;
}

let ids: Record<string, string>;

beforeAll(async () => {
  moto = await startMoto();
  const aws = motoEnv(moto.endpoint);
  // The AWS SDK reads its standard variables from the process environment.
  Object.assign(process.env, aws);
  route53 = new Route53Client({});
  await createZone('example.com');
  await createZone('sub.example.com');
  await createZone('example.net');

  ids = {
    cname: String(store.addPending({ domain: 'www.example.com' }).CertificateId),
    wildcard: String(
      store.addPending({ domain: 'example.com', altNames: ['*.example.com'], verifyType: 'TXT' })
        .CertificateId,
    ),
    subZone: String(
      store.addPending({ domain: 'api.sub.example.com', altNames: ['example.net'], verifyType: 'mixed' })
        .CertificateId,
    ),
    outside: String(store.addPending({ domain: 'www.example.org' }).CertificateId),
    issued: String((await store.addIssued({ domain: 'mail.example.com' })).CertificateId),
  };
  tencent = await startTencentServer({ credentials: [CREDENTIALS], store });
  env = {
    ...aws,
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    ALLOWED_DOMAINS: 'example.com,example.net',
    LOG_LEVEL: 'warn',
  };
}, 60_000);

afterAll(async () => {
  await tencent?.close();
  await moto?.stop();
  route53?.destroy();
});

describe('sync from the command line against local servers', () => {
  let first: SyncReport;

  it('writes every allowed validation record into the right zone', async () => {
    const run = await cli(['sync', '--json']);
    first = JSON.parse(run.stdout) as SyncReport;
    if (process.env.SHOW_CLI_OUTPUT) {
      const { formatSyncReport } = await import('../../lib/report-format.js');
      process.stderr.write(formatSyncReport(first));
    }

    // The certificate outside the allow-list is left alone by design: no failure.
    expect(run.code).toBe(0);
    const www = dvAuthsOf(ids.cname as string)[0] as DvAuth;
    const apexAndWildcard = dvAuthsOf(ids.wildcard as string);
    expect(await recordsOf('example.com')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Name: `${String(www.DvAuthKey)}.`,
          Type: 'CNAME',
          TTL: 60,
          ResourceRecords: [{ Value: String(www.DvAuthValue) }],
        }),
        expect.objectContaining({
          Name: '_dnsauth.example.com.',
          Type: 'TXT',
          ResourceRecords: expect.arrayContaining(
            apexAndWildcard.map((a) => ({ Value: `"${a.DvAuthValue}"` })),
          ),
        }),
      ]),
    );
    const sub = await recordsOf('sub.example.com');
    const net = await recordsOf('example.net');
    expect(sub).toHaveLength(1);
    expect(net).toHaveLength(1);
    expect(sub[0]?.Name).toMatch(/\.api\.sub\.example\.com\.$/);
    expect(net[0]?.Name).toMatch(/\.example\.net\.$/);
  });

  it('reports each certificate with what happened to it', () => {
    const byId = Object.fromEntries(first.certificates.map((c) => [c.certificateId, c]));
    expect(byId[ids.cname as string]).toMatchObject({ outcome: 'validating', insync: true, nudged: true });
    expect(byId[ids.wildcard as string]?.records.map((r) => r.action)).toEqual(['created', 'created']);
    expect(byId[ids.wildcard as string]?.domains).toEqual(['example.com', '*.example.com']);
    expect(byId[ids.outside as string]).toMatchObject({ outcome: 'outside-allow-list' });
    expect(byId[ids.outside as string]?.records[0]?.action).toBe('refused');
    expect(byId[ids.issued as string]).toMatchObject({ outcome: 'issued', export: { result: 'created' } });
    expect(first.totals.route53ChangeBatches).toBe(3);
  });

  it('writes nothing on a second run', async () => {
    const before = await Promise.all(['example.com', 'sub.example.com', 'example.net'].map(recordsOf));
    const run = await cli(['sync', '--json']);
    const second = JSON.parse(run.stdout) as SyncReport;
    expect(second.totals.route53ChangeBatches).toBe(0);
    const actions = second.certificates.flatMap((c) => c.records.map((r) => r.action));
    expect(actions.filter((a) => a === 'created' || a === 'updated')).toEqual([]);
    expect(await Promise.all(['example.com', 'sub.example.com', 'example.net'].map(recordsOf))).toEqual(
      before,
    );
  });

  it('shows in status which records are in place and which are refused', async () => {
    const run = await cli(['status']);
    if (process.env.SHOW_CLI_OUTPUT) process.stderr.write(run.stdout);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('in place');
    expect(run.stdout).toContain('refused');
    expect(run.stdout).toContain(ids.outside);
    expect(run.stdout).toMatch(/validation deadline/);
  });

  it('exits 1 from status for an id Tencent does not know, with the report saying so', async () => {
    const run = await cli(['status', '--json', '--certificate-id', 'unknown01']);
    const report = JSON.parse(run.stdout) as SyncReport;
    expect(run.code).toBe(1);
    expect(report.certificates).toEqual([
      expect.objectContaining({
        certificateId: 'unknown01',
        outcome: 'not-found',
        error: 'Tencent does not know this certificate id',
      }),
    ]);
  });

  it('exits 2 from status when the AWS credentials are missing, and says so', async () => {
    const run = await cliProcess(['status', '--json'], withoutAwsCredentials());
    const report = JSON.parse(run.stdout) as SyncReport;
    expect(run.code).toBe(2);
    expect(report.fatal).toEqual({
      reason: expect.stringMatching(/Could not load credentials/),
      credentials: true,
    });

    const text = await cliProcess(['status'], withoutAwsCredentials());
    expect(text.code).toBe(2);
    expect(text.stdout.split('\n')[0]).toMatch(/^The run could not complete: .*Could not load credentials/);
  });

  it('plans a new certificate in a dry run without writing it', async () => {
    const fresh = String(store.addPending({ domain: 'new.example.com' }).CertificateId);
    const run = await cli(['sync', '--dry-run', '--json', '--certificate-id', fresh]);
    const report = JSON.parse(run.stdout) as SyncReport;
    expect(run.code).toBe(0);
    expect(report.certificates[0]?.records[0]?.action).toBe('created');
    const names = (await recordsOf('example.com')).map((r) => r.Name);
    expect(names.some((n) => n?.endsWith('.new.example.com.'))).toBe(false);
  });

  it('exits 2 with every configuration problem listed', async () => {
    let stderr = '';
    const code = await main(['sync'], {
      stdout: () => {},
      stderr: (t) => (stderr += t),
      env: { RECORD_TTL: 'x' },
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/Tencent credentials are missing/);
    expect(stderr).toMatch(/RECORD_TTL/);
  });

  it('exits 2 when Tencent rejects the credentials, without printing the key', async () => {
    let stderr = '';
    const run = await main(['sync'], {
      stdout: () => {},
      stderr: (t) => (stderr += t),
      env: { ...env, TENCENTCLOUD_SECRET_KEY: 'a-wrong-secret-key-value' },
    });
    expect(run).toBe(2);
    expect(stderr).toMatch(/AuthFailure\.SignatureFailure/);
    expect(stderr).not.toContain('a-wrong-secret-key-value');
    expect(stderr.trimEnd().split('\n').at(-1)).toMatch(
      /^error: sync could not run: credentials missing or rejected: .*AuthFailure\.SignatureFailure/,
    );
  });

  it('prints one JSON document with the reason when Tencent rejects the credentials', async () => {
    let stdout = '';
    const code = await main(['status', '--json'], {
      stdout: (t) => (stdout += t),
      stderr: () => {},
      env: { ...env, TENCENTCLOUD_SECRET_KEY: 'a-wrong-secret-key-value' },
    });

    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toEqual({
      ok: false,
      command: 'status',
      exitCode: 2,
      error: { kind: 'credentials', message: expect.stringMatching(/AuthFailure\.SignatureFailure/) },
    });
    expect(stdout).not.toContain('a-wrong-secret-key-value');
  });

  it('prints one JSON document and exits 1 when Tencent answers what the tool cannot read', async () => {
    const server = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end('{"Response":{"RequestId":"r-1","TotalCount":"many"}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let stdout = '';
    const code = await main(['sync', '--json'], {
      stdout: (t) => (stdout += t),
      stderr: () => {},
      env: { ...env, TENCENTCLOUD_SSL_ENDPOINT: `http://127.0.0.1:${port}` },
    }).finally(() => server.close());

    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual({
      ok: false,
      command: 'sync',
      exitCode: 1,
      error: { kind: 'run', message: expect.stringMatching(/DescribeCertificates: malformed response/) },
    });
  });

  it('runs as a real process with the documented exit code and JSON on stdout', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'lib/cli.ts', 'sync', '--json', '--certificate-id', ids.cname as string],
      { env: { ...process.env, ...env } },
    );
    const report = JSON.parse(stdout) as SyncReport;
    expect(report.certificates[0]).toMatchObject({ certificateId: ids.cname, outcome: 'validating' });
    expect(report.totals.route53ChangeBatches).toBe(0);
  });
});
