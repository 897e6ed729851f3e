import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { TencentClient, type TencentClientOptions } from '../../lib/tencent/client.js';
import { TencentApiError, TencentResponseError } from '../../lib/tencent/errors.js';
import { TencentSslApi } from '../../lib/tencent/ssl-api.js';

const CREDENTIALS = {
  secretId: 'AKIDintegration000000000000000000',
  secretKey: 'integration-secret-key-000000000',
};

let server: LocalTencentServer;
let store: CertificateStore;
const clients: TencentClient[] = [];

beforeAll(async () => {
  store = new CertificateStore({ seed: 7 });
  server = await startTencentServer({ credentials: [CREDENTIALS], store, rateLimit: 10 });
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  server.faults.clear();
  server.stats.reset();
  server.resetRateWindows();
  server.setClockOffset(0);
  store.clear();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function api(options: Partial<TencentClientOptions> = {}): TencentSslApi {
  const client = new TencentClient({
    endpoint: server.url,
    credentials: CREDENTIALS,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  clients.push(client);
  return new TencentSslApi(client);
}

describe('Tencent client against the local server', () => {
  it('reads a pending certificate with its validation records', async () => {
    const pending = store.addPending({ domain: 'www.example.com' });
    const detail = await api().describeCertificate(String(pending.CertificateId));
    expect(detail.Domain).toBe('www.example.com');
    expect(detail.DvAuthDetail?.DvAuths[0]?.DvAuthVerifyType).toBe('CNAME');
    expect(detail.CertificatePrivateKey).toBeNull();
  });

  it('follows DescribeCertificates pages to the end', async () => {
    for (let i = 0; i < 25; i++) store.addPending({ domain: `host${i}.example.com` });
    const pages: number[] = [];
    const items = await api({ rateLimit: 100 }).listCertificates({
      statuses: [0, 4],
      pageSize: 10,
      onPage: (page) => pages.push(page.received),
    });
    expect(items).toHaveLength(25);
    expect(new Set(items.map((item) => item.CertificateId)).size).toBe(25);
    expect(pages).toEqual([10, 10, 5]);
  });

  it('recovers from throttling and HTTP 5xx', async () => {
    const pending = store.addPending({ domain: 'a.example.com' });
    server.faults.inject({
      action: 'DescribeCertificate',
      times: 2,
      fault: { kind: 'error', code: 'RequestLimitExceeded' },
    });
    server.faults.inject({ action: 'DescribeCertificate', times: 1, fault: { kind: 'http', status: 502 } });
    const detail = await api().describeCertificate(String(pending.CertificateId));
    expect(detail.CertificateId).toBe(pending.CertificateId);
    expect(server.stats.count('DescribeCertificate')).toBe(4);
  });

  it('recovers from a dropped connection', async () => {
    const pending = store.addPending({ domain: 'b.example.com' });
    server.faults.inject({ action: 'DescribeCertificate', times: 1, fault: { kind: 'drop' } });
    await expect(api().describeCertificate(String(pending.CertificateId))).resolves.toMatchObject({
      Domain: 'b.example.com',
    });
  });

  it('reports retry exhaustion with the last request id', async () => {
    server.faults.inject({ action: 'DescribeCertificates', fault: { kind: 'error', code: 'InternalError' } });
    const error = await api({ retry: { maxAttempts: 3, baseDelayMs: 10 } })
      .listCertificates()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TencentApiError);
    const last = server.stats.requests.at(-1);
    expect(error).toMatchObject({
      code: 'InternalError',
      attempts: 3,
      retryable: true,
      requestId: last?.requestId,
    });
    expect((error as Error).message).toContain(`RequestId ${last?.requestId}`);
  });

  it('fails fast when the secret key is wrong', async () => {
    const error = await api({ credentials: { ...CREDENTIALS, secretKey: 'wrong-key-wrong-key' } })
      .listCertificates()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AuthFailure.SignatureFailure', attempts: 1, retryable: false });
    expect(server.stats.count()).toBe(1);
    expect((error as Error).message).not.toContain('wrong-key-wrong-key');
  });

  it('re-signs once when the server clock is ahead by more than five minutes', async () => {
    server.setClockOffset(600);
    const items = await api().listCertificates();
    expect(items).toEqual([]);
    expect(server.stats.requests.map((r) => r.outcome)).toEqual(['auth-failure', 'success']);
  });

  it('rejects a response whose fields have the wrong type, naming the path', async () => {
    const pending = store.addPending({ domain: 'c.example.com' });
    server.faults.inject({
      action: 'DescribeCertificate',
      fault: {
        kind: 'schema',
        mutate: (body) => {
          (body as { Response: { Status: unknown } }).Response.Status = 'four';
        },
      },
    });
    const error = await api()
      .describeCertificate(String(pending.CertificateId))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TencentResponseError);
    expect(error).toMatchObject({ action: 'DescribeCertificate', path: 'Response.Status' });
  });

  it('rejects a body that stays malformed after retries', async () => {
    server.faults.inject({ action: 'DescribeCertificates', fault: { kind: 'malformed' } });
    await expect(api({ retry: { maxAttempts: 2, baseDelayMs: 5 } }).listCertificates()).rejects.toThrow(
      /DescribeCertificates: malformed response: body is not JSON/,
    );
  });

  it('holds the pace: N calls to one action take at least (N-1)/rate seconds with no rejection', async () => {
    const ids = Array.from({ length: 15 }, (_, i) =>
      String(store.addPending({ domain: `p${i}.example.com` }).CertificateId),
    );
    const client = api({ rateLimit: 10 });
    const started = performance.now();
    await Promise.all(ids.map((id) => client.describeCertificate(id)));
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(((ids.length - 1) / 10) * 1000);
    expect(server.stats.rateLimited).toBe(0);
    expect(server.stats.count('DescribeCertificate')).toBe(ids.length);
  });

  it('shares one budget between concurrent callers of one action', async () => {
    const ids = Array.from({ length: 12 }, (_, i) =>
      String(store.addPending({ domain: `q${i}.example.com` }).CertificateId),
    );
    const client = api({ rateLimit: 10 });
    await Promise.all([
      Promise.all(ids.slice(0, 6).map((id) => client.describeCertificate(id))),
      Promise.all(ids.slice(6).map((id) => client.describeCertificate(id))),
    ]);
    expect(server.stats.rateLimited).toBe(0);
  });

  it('keeps each action on its own budget', async () => {
    const ids = Array.from({ length: 8 }, (_, i) =>
      String(store.addPending({ domain: `r${i}.example.com` }).CertificateId),
    );
    const client = api({ rateLimit: 10 });
    const started = performance.now();
    await Promise.all([
      ...ids.map((id) => client.describeCertificate(id)),
      ...ids.map((id) => client.describeCertificateDetail(id)),
    ]);
    // 16 calls over two actions take as long as 8 over one.
    expect(performance.now() - started).toBeLessThan(1_400);
    expect(server.stats.rateLimited).toBe(0);
  });

  it('sends the session token of temporary credentials', async () => {
    const temporary = {
      secretId: 'AKIDtemporary00000000000000000000',
      secretKey: 'temporary-secret-key-0000000000',
      token: 'tok-123456789',
    };
    server.setCredentials([CREDENTIALS, temporary]);
    const items = await api({
      credentials: {
        secretId: temporary.secretId,
        secretKey: temporary.secretKey,
        sessionToken: temporary.token,
      },
    }).listCertificates();
    expect(items).toEqual([]);
    server.setCredentials([CREDENTIALS]);
  });
});
