import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { loadConfig } from '../../lib/config.js';
import { createBaseDeps } from '../../lib/deps/base.js';
import { createWebhookDeps } from '../../lib/deps/webhook.js';
import { handleWebhook, webhookSignature } from '../../lib/webhook.js';
import { loadFixture } from '../helpers/fixtures.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';

const CREDENTIALS = {
  secretId: 'AKIDwebhook000000000000000000000',
  secretKey: 'webhook-test-tencent-key-0000000',
};
const WEBHOOK_KEY = 'whk_4c1d7e0b9a2f46a8b3e5d6c7f8a9b0c1';

interface HttpApiEvent {
  headers: Record<string, string>;
  body?: string;
  isBase64Encoded: boolean;
  requestContext: { http: { method: string } };
}

let moto: MotoServer;
let tencent: LocalTencentServer;
let route53: Route53Client;
let zoneId: string;
let env: Record<string, string>;
let handler: (
  event: unknown,
  context?: { getRemainingTimeInMillis(): number },
) => Promise<{ statusCode: number; body: string }>;
const lambda = mockClient(LambdaClient);
const store = new CertificateStore({ seed: 5 });

function event(body: string, options: { timestamp?: number; key?: string } = {}): HttpApiEvent {
  const fixture = loadFixture<HttpApiEvent>('apigw/post-sync.json');
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  fixture.headers['x-timestamp'] = timestamp;
  fixture.headers['x-signature-256'] =
    `sha256=${webhookSignature(options.key ?? WEBHOOK_KEY, timestamp, body)}`;
  fixture.headers['content-length'] = String(Buffer.byteLength(body));
  fixture.body = body;
  return fixture;
}

async function validationRecords(): Promise<string[]> {
  const out = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  return (out.ResourceRecordSets ?? [])
    .filter((s) => s.Type === 'CNAME' || s.Type === 'TXT')
    .map((s) => String(s.Name));
}

beforeAll(async () => {
  moto = await startMoto();
  tencent = await startTencentServer({ credentials: [CREDENTIALS], store });
  env = {
    ...motoEnv(moto.endpoint),
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    ALLOWED_DOMAINS: 'example.com',
    WEBHOOK_SECRET: WEBHOOK_KEY,
    SYNC_FUNCTION_NAME: 'tencent-ssl-sync-prod-sync',
  };
  for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
  route53 = new Route53Client({});
  const zone = await route53.send(
    new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: 'webhook' }),
  );
  zoneId = String(zone.HostedZone?.Id);
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  ({ handler } = await import('../../functions/webhook.js'));
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  lambda.restore();
  route53?.destroy();
  await tencent?.close();
  await moto?.stop();
});

beforeEach(() => {
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  tencent.stats.reset();
  tencent.faults.clear();
});

describe('webhook Lambda handler with API Gateway v2 events', () => {
  it('syncs the certificates named and answers 200 with their report', async () => {
    const cert = store.addPending({ domain: 'www.example.com' });
    const response = await handler(event(JSON.stringify({ certificateIds: [cert.CertificateId] })));

    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body);
    expect(body.certificates[0]).toMatchObject({ certificateId: cert.CertificateId, outcome: 'validating' });
    expect(await validationRecords()).toEqual([expect.stringMatching(/\.www\.example\.com\.$/)]);
  });

  it('starts a full run asynchronously for an empty object and answers 202', async () => {
    const response = await handler(event('{}'));
    expect(response.statusCode).toBe(202);
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      FunctionName: 'tencent-ssl-sync-prod-sync',
      InvocationType: 'Event',
    });
    expect(new TextDecoder().decode(calls[0]?.args[0].input.Payload as Uint8Array)).toBe('{}');
    expect(tencent.stats.count()).toBe(0);
  });

  it.each([
    ['a bad signature', () => event('{}', { key: 'not-the-key' }), 401],
    ['a skewed timestamp', () => event('{}', { timestamp: Math.floor(Date.now() / 1000) - 600 }), 401],
    ['an unknown key', () => event('{"certificateIds":["abc"],"all":true}'), 400],
    ['bad JSON', () => event('{"certificateIds":'), 400],
    ['an oversized body', () => event(JSON.stringify({ certificateIds: ['a'.repeat(20_000)] })), 413],
    ['a GET', () => loadFixture('apigw/get-sync.json'), 405],
    ['another path', () => ({ ...event('{}'), rawPath: '/sync/all' }), 404],
    [
      'a form body',
      () => {
        const form = event('{}');
        form.headers['content-type'] = 'application/x-www-form-urlencoded';
        return form;
      },
      415,
    ],
  ])('answers %s with its status and touches nothing', async (_label, make, status) => {
    const before = await validationRecords();
    const response = await handler(make());
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body)).toEqual({ message: expect.any(String) });
    expect(tencent.stats.count()).toBe(0);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(await validationRecords()).toEqual(before);
  });

  it('refuses the same signed request twice, with 409', async () => {
    const cert = store.addPending({ domain: 'api.example.com' });
    const signed = event(JSON.stringify({ certificateIds: [cert.CertificateId] }));
    expect((await handler(signed)).statusCode).toBe(200);
    const requests = tencent.stats.count();
    expect((await handler(signed)).statusCode).toBe(409);
    expect(tencent.stats.count()).toBe(requests);
  });

  it('answers 503 before the Lambda runs out while Tencent does not answer, and sends the cut call once', async () => {
    const cert = store.addPending({ domain: 'slow.example.com' });
    tencent.faults.inject({
      action: 'DescribeCertificates',
      times: 1,
      fault: { kind: 'latency', ms: 20_000 },
    });
    const before = await validationRecords();
    const started = Date.now();

    const response = await handler(event(JSON.stringify({ certificateIds: [cert.CertificateId] })), {
      getRemainingTimeInMillis: () => 4_000 - (Date.now() - started),
    });

    expect(Date.now() - started).toBeLessThan(3_500);
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body)).toMatchObject({ partial: true, certificates: [] });
    expect(await validationRecords()).toEqual(before);
    // Cancelled, not failed: the client neither retries it nor goes on to the next call.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(tencent.stats.count()).toBe(1);
  });
});

describe('the webhook key from Secrets Manager (moto)', () => {
  let secrets: SecretsManagerClient;

  beforeAll(async () => {
    secrets = new SecretsManagerClient({});
    await secrets.send(
      new CreateSecretCommand({ Name: 'webhook-test/short-key', SecretString: 'short-webhook-key-000' }),
    );
    await secrets.send(new CreateSecretCommand({ Name: 'webhook-test/key', SecretString: WEBHOOK_KEY }));
  });

  afterAll(() => secrets?.destroy());

  async function callWith(secretName: string, body = '{}') {
    const lines: string[] = [];
    const { WEBHOOK_SECRET: _, ...rest } = env;
    const base = createBaseDeps(loadConfig({ ...rest, WEBHOOK_SECRET_NAME: secretName }), {
      write: (line) => lines.push(line),
    });
    try {
      const deps = createWebhookDeps(base);
      const { headers, body: raw, isBase64Encoded, requestContext } = event(body);
      const response = await handleWebhook(deps, {
        method: requestContext.http.method,
        path: '/sync',
        headers,
        body: raw,
        isBase64Encoded,
      });
      return { response, logs: lines.join('\n') };
    } finally {
      await base.close();
    }
  }

  it('syncs with a key read from the secret', async () => {
    const cert = store.addPending({ domain: 'keyed.example.com' });
    const { response } = await callWith(
      'webhook-test/key',
      JSON.stringify({ certificateIds: [cert.CertificateId] }),
    );
    expect(response.statusCode).toBe(200);
  });

  it('refuses every call, 401, while the secret holds a key shorter than 32 bytes', async () => {
    const { response, logs } = await callWith('webhook-test/short-key');
    expect(response.statusCode).toBe(401);
    expect(logs).toMatch(/webhook-test\/short-key \(WEBHOOK_SECRET_NAME\).*at least 32 bytes, got 21/);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it('answers 401, not 500, when the secret does not exist', async () => {
    const { response, logs } = await callWith('webhook-test/missing');
    expect(response.statusCode).toBe(401);
    expect(logs).toContain('ResourceNotFoundException');
    expect(tencent.stats.count()).toBe(0);
  });
});
