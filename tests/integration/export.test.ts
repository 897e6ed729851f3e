import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import {
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { createTestPki } from '../../infra/local/pki.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { main } from '../../lib/cli.js';
import { loadConfig } from '../../lib/config.js';
import { exportSqsBatch } from '../../lib/export-batch.js';
import { createRuntime } from '../../lib/runtime.js';
import type { SyncReport } from '../../lib/sync-types.js';
import { TencentClient } from '../../lib/tencent/client.js';
import { TencentSslApi } from '../../lib/tencent/ssl-api.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';

const CREDENTIALS = {
  secretId: 'AKIDexport0000000000000000000000',
  secretKey: 'export-test-secret-key-000000000',
};

let moto: MotoServer;
let tencent: LocalTencentServer;
let secrets: SecretsManagerClient;
let env: Record<string, string>;
const store = new CertificateStore({ seed: 11 });

async function sync(extraEnv: Record<string, string> = {}): Promise<{ code: number; report: SyncReport }> {
  let stdout = '';
  const code = await main(['sync', '--json'], {
    stdout: (t) => (stdout += t),
    stderr: () => {},
    env: { ...env, ...extraEnv },
  });
  return { code, report: JSON.parse(stdout) as SyncReport };
}

async function secretJson(name: string): Promise<Record<string, unknown>> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: name }));
  return JSON.parse(String(out.SecretString)) as Record<string, unknown>;
}

async function secretNames(): Promise<string[]> {
  const out = await secrets.send(new ListSecretsCommand({ MaxResults: 100 }));
  return (out.SecretList ?? []).map((s) => String(s.Name)).sort();
}

async function versionCount(name: string): Promise<number> {
  const out = await secrets.send(
    new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }),
  );
  return out.Versions?.length ?? 0;
}

function pemBlocks(text: string): string[] {
  return [
    ...text
      .replaceAll('\r\n', '\n')
      .matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g),
  ].map((m) => (m[0].endsWith('\n') ? m[0] : `${m[0]}\n`));
}

beforeAll(async () => {
  moto = await startMoto();
  const aws = motoEnv(moto.endpoint);
  Object.assign(process.env, aws);
  secrets = new SecretsManagerClient({});
  const route53 = new Route53Client({});
  await route53.send(new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: 'export-test' }));
  route53.destroy();
  tencent = await startTencentServer({ credentials: [CREDENTIALS], store });
  env = {
    ...aws,
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    ALLOWED_DOMAINS: 'example.com',
    LOG_LEVEL: 'warn',
  };
}, 60_000);

afterAll(async () => {
  await tencent?.close();
  await moto?.stop();
  secrets?.destroy();
});

describe('from pending to a secret, inline export', () => {
  let id: string;

  it('validates a pending certificate, then exports it once the CA issues it', async () => {
    id = String(store.addPending({ domain: 'www.example.com', altNames: ['api.example.com'] }).CertificateId);
    const validating = await sync();
    expect(validating.report.certificates[0]).toMatchObject({ certificateId: id, outcome: 'validating' });

    const issued = await store.issue(id);
    const exported = await sync();
    expect(exported.code).toBe(0);
    expect(exported.report.certificates[0]).toMatchObject({
      certificateId: id,
      outcome: 'issued',
      export: { result: 'created', secretName: 'tencent-ssl/www.example.com' },
    });

    const value = await secretJson('tencent-ssl/www.example.com');
    const [leaf, ...chain] = pemBlocks(String(issued.CertificatePublicKey));
    expect(value).toMatchObject({
      certificate: leaf,
      chain: chain.join(''),
      fullchain: `${leaf}${chain.join('')}`,
      certificateId: id,
      domain: 'www.example.com',
      subjectAltNames: ['www.example.com', 'api.example.com'],
    });
    expect(String(value.privateKey).trim()).toBe(
      String(issued.CertificatePrivateKey).replaceAll('\r\n', '\n').trim(),
    );
    expect(await versionCount('tencent-ssl/www.example.com')).toBe(1);
  });

  it('writes nothing on the next run', async () => {
    const again = await sync();
    expect(again.report.certificates.find((c) => c.certificateId === id)?.export).toMatchObject({
      result: 'unchanged',
    });
    expect(await versionCount('tencent-ssl/www.example.com')).toBe(1);
  });

  it('rolls a renewal in as exactly one new version', async () => {
    const renewal = await store.addIssued({
      domain: 'www.example.com',
      altNames: ['api.example.com'],
      validDays: 120,
    });
    const first = await sync();
    const renewed = first.report.certificates.find((c) => c.certificateId === renewal.CertificateId);
    expect(renewed?.export).toMatchObject({ result: 'updated' });
    expect(first.report.certificates.find((c) => c.certificateId === id)?.export).toMatchObject({
      result: 'superseded',
    });

    await sync();
    expect(await versionCount('tencent-ssl/www.example.com')).toBe(2);
    expect((await secretJson('tencent-ssl/www.example.com')).certificateId).toBe(renewal.CertificateId);
  });

  it('shows the export state in status', async () => {
    let stdout = '';
    const code = await main(['status'], { stdout: (t) => (stdout += t), stderr: () => {}, env });
    expect(code).toBe(0);
    expect(stdout).toMatch(/export: exported \(secret tencent-ssl\/www\.example\.com, version /);
    expect(stdout).toMatch(/export: superseded/);
  });
});

describe('export through the queue', () => {
  it('queues only what changed, and the export function writes it from the SQS batch', async () => {
    const sqs = new SQSClient({});
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'tencent-ssl-sync-export' }));
    const queueUrl = String(queue.QueueUrl);
    const issued = await store.addIssued({ domain: 'shop.example.com' });

    const run = await sync({ EXPORT_QUEUE_URL: queueUrl });
    const byId = Object.fromEntries(run.report.certificates.map((c) => [c.certificateId, c.export?.result]));
    expect(byId[String(issued.CertificateId)]).toBe('queued');
    expect(Object.values(byId).filter((r) => r === 'queued')).toHaveLength(1);

    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    const records = (received.Messages ?? []).map((m) => ({
      messageId: String(m.MessageId),
      body: String(m.Body),
      eventSource: 'aws:sqs' as const,
    }));
    expect(records.map((r) => JSON.parse(r.body))).toEqual([{ certificateId: issued.CertificateId }]);

    const runtime = createRuntime(loadConfig({ ...env, EXPORT_QUEUE_URL: queueUrl }), { write: () => {} });
    const { response, report } = await exportSqsBatch(runtime.exportDeps(), records);
    await runtime.close();
    sqs.destroy();
    expect(response.batchItemFailures).toEqual([]);
    expect(report.certificates).toEqual([
      expect.objectContaining({ result: 'created', secretName: 'tencent-ssl/shop.example.com' }),
    ]);
    expect((await secretJson('tencent-ssl/shop.example.com')).certificateId).toBe(issued.CertificateId);

    const quiet = await sync({ EXPORT_QUEUE_URL: queueUrl });
    expect(quiet.report.certificates.filter((c) => c.export?.result === 'queued')).toEqual([]);
  });
});

describe('export Lambda handler', () => {
  it('answers an SQS batch with partial failures and a direct invoke with the report', async () => {
    for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const { handler } = await import('../../functions/export.js');
    const issued = await store.addIssued({ domain: 'pay.example.com' });
    const context = { getRemainingTimeInMillis: () => 60_000 };

    const batch = await handler(
      {
        Records: [
          {
            messageId: 'ok',
            body: JSON.stringify({ certificateId: issued.CertificateId }),
            eventSource: 'aws:sqs',
          },
          { messageId: 'garbled', body: '{"certificateId": 42}', eventSource: 'aws:sqs' },
        ],
      },
      context,
    );
    const direct = await handler({ certificateIds: [issued.CertificateId] }, context);
    vi.restoreAllMocks();
    vi.unstubAllEnvs();

    expect(batch).toEqual({ batchItemFailures: [{ itemIdentifier: 'garbled' }] });
    expect(direct).toMatchObject({
      certificates: [{ certificateId: issued.CertificateId, result: 'unchanged' }],
    });
    await expect(handler({ unexpected: true }, context)).rejects.toThrow(/unsupported export event/);
  });
});

describe('trust', () => {
  it('completes a leaf-only certificate from DownloadCertificate', async () => {
    const issued = await store.addIssued({
      domain: 'leaf.example.com',
      chain: 'leaf-only',
      archive: { layout: 'domain-folders' },
    });
    const pki = await createTestPki();
    tencent.stats.reset();

    const run = await sync();

    expect(
      run.report.certificates.find((c) => c.certificateId === issued.CertificateId)?.export,
    ).toMatchObject({
      result: 'created',
    });
    expect(tencent.stats.count('DownloadCertificate')).toBe(1);
    const value = await secretJson('tencent-ssl/leaf.example.com');
    expect(pemBlocks(String(issued.CertificatePublicKey))).toHaveLength(1);
    expect(value.chain).toBe(pki.intermediatePem);
    expect(value.fullchain).toBe(
      `${pemBlocks(String(issued.CertificatePublicKey))[0]}${pki.intermediatePem}`,
    );
  });

  it('refuses an untrusted certificate that expires later and keeps the trusted one in the secret', async () => {
    const genuine = await store.addIssued({ domain: 'pin.example.com', validDays: 60 });
    expect((await sync()).code).toBe(0);
    const untrustedCa = await createTestPki({ fresh: true });
    const forged = await store.addIssued({ domain: 'pin.example.com', validDays: 200 });
    const forgedLeaf = await untrustedCa.issueLeaf({
      commonName: 'pin.example.com',
      privateKeyPem: String(forged.CertificatePrivateKey),
      notAfter: new Date(Date.now() + 200 * 86_400_000),
    });
    store.update(String(forged.CertificateId), { CertificatePublicKey: forgedLeaf.fullchainPem });

    const run = await sync();
    const again = await sync();

    const byId = (report: SyncReport, id: unknown) => report.certificates.find((c) => c.certificateId === id);
    expect(run.code).toBe(1);
    expect(byId(run.report, forged.CertificateId)).toMatchObject({
      outcome: 'failed',
      export: { result: 'refused', refusal: 'untrusted-chain' },
    });
    expect(byId(run.report, genuine.CertificateId)?.export?.result).toBe('unchanged');
    expect(byId(again.report, genuine.CertificateId)?.export?.result).toBe('unchanged');
    expect((await secretJson('tencent-ssl/pin.example.com')).certificateId).toBe(genuine.CertificateId);
    expect(await versionCount('tencent-ssl/pin.example.com')).toBe(1);
  });

  it('refuses a certificate that names a domain outside ALLOWED_DOMAINS', async () => {
    const wide = await store.addIssued({ domain: 'wide.example.com', altNames: ['wide.example.org'] });

    const run = await sync();

    expect(run.report.certificates.find((c) => c.certificateId === wide.CertificateId)?.export).toMatchObject(
      {
        result: 'refused',
        refusal: 'name-outside-allow-list',
        reason: expect.stringContaining('wide.example.org'),
      },
    );
    expect(await secretNames()).not.toContain('tencent-ssl/wide.example.com');
  });

  it('gives two certificates of one domain with different names a secret each, stable across runs', async () => {
    const narrow = await store.addIssued({ domain: 'two.example.com' });
    await sync();
    const broad = await store.addIssued({ domain: 'two.example.com', altNames: ['api.two.example.com'] });

    await sync();
    const rerun = await sync();

    const names = (await secretNames()).filter((name) => name.startsWith('tencent-ssl/two.example.com'));
    expect(names).toEqual([
      'tencent-ssl/two.example.com',
      expect.stringMatching(/^tencent-ssl\/two\.example\.com\+[0-9a-f]{8}$/),
    ]);
    expect((await secretJson('tencent-ssl/two.example.com')).certificateId).toBe(broad.CertificateId);
    expect((await secretJson(names[1] as string)).certificateId).toBe(narrow.CertificateId);
    for (const id of [narrow.CertificateId, broad.CertificateId]) {
      expect(rerun.report.certificates.find((c) => c.certificateId === id)?.export?.result).toBe('unchanged');
    }
  });
});

describe('DownloadCertificate on the local server', () => {
  it('answers a ZIP of server folders holding the chain and the key, and refuses a pending certificate', async () => {
    const client = new TencentClient({ endpoint: tencent.url, credentials: CREDENTIALS });
    const api = new TencentSslApi(client);
    const issued = await store.addIssued({ domain: 'zip.example.com', chain: 'leaf-only' });
    const pending = store.addPending({ domain: 'later.example.com' });

    const answer = await api.downloadCertificate(String(issued.CertificateId));
    const refused = await api
      .downloadCertificate(String(pending.CertificateId))
      .catch((error: unknown) => error);
    await client.close();

    expect(answer.ContentType).toBe('application/zip');
    const files = unzipSync(new Uint8Array(Buffer.from(String(answer.Content), 'base64')));
    expect(Object.keys(files).sort()).toEqual([
      'Apache/1_root_bundle.crt',
      'Apache/2_zip.example.com.crt',
      'Apache/3_zip.example.com.key',
      'IIS/keystorePass.txt',
      'IIS/zip.example.com.pfx',
      'Nginx/1_zip.example.com_bundle.crt',
      'Nginx/2_zip.example.com.key',
      'Tomcat/keystorePass.txt',
      'Tomcat/zip.example.com.jks',
    ]);
    expect(
      pemBlocks(Buffer.from(files['Nginx/1_zip.example.com_bundle.crt'] as Uint8Array).toString()),
    ).toHaveLength(2);
    expect(refused).toMatchObject({ code: 'FailedOperation.InvalidCertificateStatusCode' });
  });
});
