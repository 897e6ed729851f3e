import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import {
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { main } from '../../lib/cli.js';
import { loadConfig } from '../../lib/config.js';
import { exportSqsBatch } from '../../lib/export-batch.js';
import { createRuntime } from '../../lib/runtime.js';
import type { SyncReport } from '../../lib/sync-types.js';
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
