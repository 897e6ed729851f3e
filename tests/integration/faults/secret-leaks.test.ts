/**
 * Secrets never leave through what the tool prints. Every log line (at debug level), every report
 * (JSON and text) and every webhook answer of a busy run is captured — a run with temporary
 * Tencent credentials, inline export, a refreshed session token, dropped connections, a garbled
 * answer, Secrets Manager throttling, certificates whose keys are wrong or corrupt, and webhook
 * calls good and bad — and searched for the Tencent secret key, the session token, the webhook key
 * and a slice of every private key.
 */
import { Route53Client } from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../../infra/local/certificate-store.js';
import { generateLeafKeyPem } from '../../../infra/local/pki.js';
import { type LocalTencentServer, startTencentServer } from '../../../infra/local/tencent-server.js';
import { main } from '../../../lib/cli.js';
import { loadConfig } from '../../../lib/config.js';
import { createBaseDeps } from '../../../lib/deps/base.js';
import { createWebhookDeps } from '../../../lib/deps/webhook.js';
import type { SyncReport } from '../../../lib/sync-types.js';
import { handleWebhook, type WebhookRequest, webhookSignature } from '../../../lib/webhook.js';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.js';
import { type MotoServer, motoEnv, startMoto } from '../../helpers/moto.js';
import { createZones } from '../../helpers/sync-harness.js';

// Temporary credentials: the token travels in X-TC-Token on every request.
const CREDENTIALS = {
  secretId: 'AKIDleaktest0000000000000000000000',
  secretKey: 'leak-test-secret-key-7Qw3Zr9Lp2Xv',
  token: 'leak-test-session-token-Hn4Ks8Mt1Bv6Yc0Ud5Rf',
};
const WEBHOOK_KEY = 'whk_leak_test_2b7e151628aed2a6abf7158809cf4f3c';
const WRONG_TOKEN = 'leak-test-wrong-token-Jd9Pq2Wx5Zs8Lk3Nm7Bc';

let moto: MotoServer;
let proxy: FaultProxy;
let tencent: LocalTencentServer;
let secrets: SecretsManagerClient;
const store = new CertificateStore({ seed: 5150 });
/** Everything the tool printed or answered, by where it came from. */
const transcript: Array<{ source: string; text: string }> = [];
/** A 40-character slice of each private key's base64, by certificate id. */
const keySlices = new Map<string, string>();
let exportedIds: string[];
let syncReport: SyncReport;

/** Forty characters from the middle of the key's second base64 line: unmistakable, never across a line break. */
function keySlice(pem: string): string {
  const lines = pem.split(/\r?\n/).filter((line) => line.length > 0 && !line.startsWith('-----'));
  const line = lines[1] ?? lines[0] ?? '';
  if (line.length < 50) throw new Error('the key is too short to slice');
  return line.slice(10, 50);
}

async function cli(source: string, args: string[], env: Record<string, string>): Promise<number> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
  transcript.push({ source: `${source} stdout`, text: stdout }, { source: `${source} stderr`, text: stderr });
  if (source === 'sync --json') syncReport = JSON.parse(stdout) as SyncReport;
  return code;
}

function signed(body: string, key = WEBHOOK_KEY): WebhookRequest {
  const timestamp = String(Math.floor(Date.now() / 1000));
  return {
    method: 'POST',
    headers: {
      'x-timestamp': timestamp,
      'x-signature-256': `sha256=${webhookSignature(key, timestamp, body)}`,
    },
    body,
    isBase64Encoded: false,
  };
}

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint, seed: 3 });
  Object.assign(process.env, motoEnv(proxy.endpoint));
  const route53 = new Route53Client({ endpoint: moto.endpoint });
  await createZones(route53, ['example.com']);
  route53.destroy();
  secrets = new SecretsManagerClient({ endpoint: moto.endpoint });

  const pending = [
    store.addPending({ domain: 'www.example.com', altNames: ['api.example.com'], verifyType: 'mixed' }),
    store.addPending({ domain: 'shop.example.com' }),
  ];
  const issued = [
    await store.addIssued({ domain: 'mail.example.com' }),
    await store.addIssued({ domain: 'vpn.example.com', keyAlgorithm: 'rsa-2048' }),
  ];
  exportedIds = issued.map((c) => String(c.CertificateId));
  // A key that belongs to another certificate, and one whose base64 is damaged: both end in a
  // refusal whose reason is printed, and neither key may appear in it.
  const mismatched = await store.addIssued({ domain: 'old.example.com' });
  store.update(String(mismatched.CertificateId), { CertificatePrivateKey: generateLeafKeyPem() });
  const corrupt = await store.addIssued({ domain: 'bad.example.com' });
  const damaged = String(corrupt.CertificatePrivateKey).replace(
    /(\n[A-Za-z0-9+/]{20})[A-Za-z0-9+/]{8}/,
    '$1!!!!!!!!',
  );
  store.update(String(corrupt.CertificateId), { CertificatePrivateKey: damaged });
  for (const certificate of [...pending, ...issued, mismatched, corrupt]) {
    const id = String(certificate.CertificateId);
    keySlices.set(id, keySlice(String(store.get(id)?.CertificatePrivateKey)));
  }

  tencent = await startTencentServer({ credentials: [CREDENTIALS], store, seed: 8 });
  // The error paths are where secrets tend to slip out: a rejected token, cut connections and a
  // garbled answer on the first run.
  tencent.faults.inject({ times: 1, fault: { kind: 'error', code: 'AuthFailure.TokenFailure' } });
  tencent.faults.inject({ probability: 0.2, fault: { kind: 'drop' } });
  tencent.faults.inject({
    action: 'DescribeCertificateDetail',
    times: 1,
    fault: {
      kind: 'schema',
      mutate: (body) => ({ Response: { ...(body.Response as object), CertificatePublicKey: 42 } }),
    },
  });
  proxy.inject({ operation: 'CreateSecret', times: 1, fault: { kind: 'throttling' } });

  const env = {
    ...motoEnv(proxy.endpoint),
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    TENCENTCLOUD_SESSION_TOKEN: CREDENTIALS.token,
    ALLOWED_DOMAINS: 'example.com',
    WEBHOOK_SECRET: WEBHOOK_KEY,
    WAIT_FOR_INSYNC: 'false',
    LOG_LEVEL: 'debug',
  };
  await cli('sync --json', ['sync', '--json'], env);
  await cli('sync', ['sync'], env);
  await cli('export --json', ['export', '--json'], env);
  await cli('status --json', ['status', '--json'], env);
  await cli('status', ['status'], env);
  await cli('sync with a rejected token', ['sync'], { ...env, TENCENTCLOUD_SESSION_TOKEN: WRONG_TOKEN });

  const webhookLogs: string[] = [];
  const base = createBaseDeps(loadConfig(env), { write: (line) => webhookLogs.push(line) });
  const deps = createWebhookDeps(base);
  const body = JSON.stringify({ certificateIds: [String(pending[1]?.CertificateId), exportedIds[0]] });
  const call = signed(body);
  for (const [source, request] of [
    ['webhook answer', call],
    ['webhook answer to a replay', call],
    ['webhook answer to another key', signed(body, `${WEBHOOK_KEY}-not`)],
  ] as const) {
    transcript.push({ source, text: JSON.stringify(await handleWebhook(deps, request)) });
  }
  await base.close();
  transcript.push({ source: 'webhook logs', text: webhookLogs.join('\n') });
}, 60_000);

afterAll(async () => {
  secrets?.destroy();
  await tencent?.close();
  await proxy?.close();
  await moto?.stop();
});

/** The sources whose text contains `secret`. */
const leaksOf = (secret: string): string[] =>
  transcript.filter(({ text }) => text.includes(secret)).map(({ source }) => source);

describe('what the tool prints and answers', () => {
  it('covers a full run: debug logs, reports, exports, refusals and the webhook', () => {
    const all = transcript.map(({ text }) => text).join('\n');
    expect(all).toContain('"level":"debug"');
    expect(all).toContain('certificate exported');
    expect(all).toContain('Tencent refused the credentials; reloaded them');
    expect(all).toContain('AuthFailure.TokenFailure');
    expect(all).toContain('does not belong to the certificate');
    expect(all).toContain('cannot be read as a PKCS#8');
    expect(all).toContain('DescribeCertificateDetail: malformed response');
    expect(proxy.faulted({ operation: 'CreateSecret' })).toHaveLength(1);
    expect(all).toContain('"statusCode":200');
    expect(all).toContain('"statusCode":401');
    expect(syncReport.certificates.map((c) => c.export?.result).filter(Boolean)).toContain('created');
  });

  it('the private keys it protects did reach Secrets Manager', async () => {
    for (const id of exportedIds) {
      const domain = String(store.get(id)?.Domain);
      const out = await secrets.send(new GetSecretValueCommand({ SecretId: `tencent-ssl/${domain}` }));
      expect(String(out.SecretString).replaceAll('\\n', '\n')).toContain(keySlices.get(id));
    }
  });

  it('never contains the Tencent secret key', () => {
    expect(leaksOf(CREDENTIALS.secretKey)).toEqual([]);
  });

  it('never contains the session token', () => {
    expect(leaksOf(CREDENTIALS.token)).toEqual([]);
  });

  it('never contains a session token Tencent rejected', () => {
    expect(leaksOf(WRONG_TOKEN)).toEqual([]);
  });

  it('never contains the webhook key', () => {
    expect(leaksOf(WEBHOOK_KEY)).toEqual([]);
  });

  it('never contains any part of a private key', () => {
    const leaks = [...keySlices].flatMap(([id, slice]) =>
      leaksOf(slice).map((source) => `${id} in ${source}`),
    );
    expect(leaks).toEqual([]);
  });
});
