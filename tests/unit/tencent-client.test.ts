import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TencentClient, type TencentClientOptions } from '../../lib/tencent/client.js';
import { TencentApiError, TencentResponseError } from '../../lib/tencent/errors.js';
import { parseTc3Authorization, signTc3 } from '../../lib/tencent/signer.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { loadDocumented } from '../helpers/fixtures.js';

const ENDPOINT = 'https://ssl.tencentcloudapi.com';
const CREDENTIALS = { secretId: 'AKIDtest', secretKey: 'test-secret-key-0123' };
const Schema = z.object({ CertificateId: z.string().nullish() });

type Headers = Record<string, string>;
interface Seen {
  headers: Headers;
  body: string;
}

let agent: MockAgent;
let clock: FakeClock;
let seen: Seen[];

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  clock = new FakeClock();
  seen = [];
});
afterEach(async () => {
  await agent.close();
});

function reply(
  ...responses: Array<{ status?: number; json?: unknown; raw?: string; headers?: Headers } | Error>
) {
  const pool = agent.get(ENDPOINT);
  for (const response of responses) {
    const interceptor = pool.intercept({ path: '/', method: 'POST' });
    if (response instanceof Error) {
      interceptor.replyWithError(response);
      continue;
    }
    interceptor.reply((options) => {
      seen.push({ headers: options.headers as Headers, body: String(options.body) });
      return {
        statusCode: response.status ?? 200,
        data: response.raw ?? JSON.stringify(response.json),
        responseOptions: { headers: response.headers ?? {} },
      };
    });
  }
}

const ok = (fields: Record<string, unknown> = {}) => ({
  json: { Response: { ...fields, RequestId: 'req-ok' } },
});
const apiError = (code: string, requestId = `req-${code}`) => ({
  json: { Response: { Error: { Code: code, Message: `message for ${code}` }, RequestId: requestId } },
});

function client(options: Partial<TencentClientOptions> = {}): TencentClient {
  return new TencentClient({
    endpoint: ENDPOINT,
    credentials: CREDENTIALS,
    dispatcher: agent,
    clock,
    random: () => 0.5,
    ...options,
  });
}

describe('TencentClient request', () => {
  it('sends a TC3-signed POST with the action, version and timestamp headers', async () => {
    reply(ok({ CertificateId: 'abc' }));
    const result = await client().call('DescribeCertificate', { CertificateId: 'abc' }, Schema);

    expect(result).toEqual({ data: { CertificateId: 'abc' }, requestId: 'req-ok' });
    const [request] = seen;
    const timestamp = Math.floor(clock.time / 1000);
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      'x-tc-action': 'DescribeCertificate',
      'x-tc-version': '2019-12-05',
      'x-tc-timestamp': String(timestamp),
    });
    expect(request?.headers['x-tc-token']).toBeUndefined();
    const expected = signTc3({
      ...CREDENTIALS,
      host: 'ssl.tencentcloudapi.com',
      service: 'ssl',
      contentType: 'application/json',
      body: '{"CertificateId":"abc"}',
      timestamp,
    });
    expect(request?.headers.authorization).toBe(expected.authorization);
  });

  it('signs for the ssl service even on the international host', async () => {
    const intl = 'https://ssl.intl.tencentcloudapi.com';
    agent
      .get(intl)
      .intercept({ path: '/', method: 'POST' })
      .reply((options) => {
        seen.push({ headers: options.headers as Headers, body: String(options.body) });
        return { statusCode: 200, data: JSON.stringify(ok().json) };
      });
    await client({ endpoint: intl }).call('DescribeCertificates', {}, z.object({}));
    expect(parseTc3Authorization(seen[0]?.headers.authorization)?.service).toBe('ssl');
  });

  it('sends X-TC-Token when a session token is configured', async () => {
    reply(ok());
    await client({ credentials: { ...CREDENTIALS, sessionToken: 'session-token-xyz' } }).call(
      'A',
      {},
      Schema,
    );
    expect(seen[0]?.headers['x-tc-token']).toBe('session-token-xyz');
  });
});

describe('TencentClient retries', () => {
  it('retries throttling with backoff and succeeds', async () => {
    reply(
      apiError('RequestLimitExceeded'),
      apiError('LimitExceeded.RateLimitExceeded'),
      ok({ CertificateId: 'x' }),
    );
    const result = await client().call('DescribeCertificate', { CertificateId: 'x' }, Schema);
    expect(result.data.CertificateId).toBe('x');
    expect(seen).toHaveLength(3);
    // full jitter with random()=0.5 over 250 ms, then 500 ms
    expect(clock.sleeps).toEqual([125, 250]);
  });

  it('retries HTTP 5xx and network errors', async () => {
    reply(
      { status: 502, raw: '<html>bad gateway</html>' },
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      ok(),
    );
    await expect(client().call('A', {}, Schema)).resolves.toMatchObject({ requestId: 'req-ok' });
  });

  it('signs every attempt afresh with the current time', async () => {
    reply(apiError('InternalError'), ok());
    await client({ random: () => 1, retry: { baseDelayMs: 2_000 } }).call('A', {}, Schema);
    const [first, second] = seen.map((s) => Number(s.headers['x-tc-timestamp']));
    expect(second).toBeGreaterThan(first as number);
    expect(seen[0]?.headers.authorization).not.toBe(seen[1]?.headers.authorization);
  });

  it('reports exhaustion with the last request id and the number of attempts', async () => {
    reply(...Array.from({ length: 3 }, (_, i) => apiError('InternalError', `req-${i + 1}`)));
    const error = await client({ retry: { maxAttempts: 3 } })
      .call('DescribeCertificates', {}, Schema)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TencentApiError);
    expect(error).toMatchObject({
      code: 'InternalError',
      requestId: 'req-3',
      action: 'DescribeCertificates',
      retryable: true,
      attempts: 3,
    });
    expect((error as Error).message).toContain('RequestId req-3');
  });

  it('stops retrying once the time budget is spent', async () => {
    reply(...Array.from({ length: 6 }, () => apiError('RequestLimitExceeded')));
    const error = await client({ random: () => 1, retry: { maxElapsedMs: 1_000, baseDelayMs: 400 } })
      .call('A', {}, Schema)
      .catch((e: unknown) => e);
    // waits of 400 then 800 would pass 1 s: two attempts only
    expect(error).toMatchObject({ code: 'RequestLimitExceeded', attempts: 2 });
  });

  it('fails fast on an authentication failure with a fixed key pair, which reloading cannot change', async () => {
    reply(apiError('AuthFailure.SignatureFailure'));
    const error = await client()
      .call('A', {}, Schema)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AuthFailure.SignatureFailure', retryable: false, attempts: 1 });
    expect((error as TencentApiError).isAuthFailure).toBe(true);
    expect(seen).toHaveLength(1);
  });

  it('fails fast on HTTP 4xx', async () => {
    reply({ status: 403, raw: 'forbidden' });
    await expect(client().call('A', {}, Schema)).rejects.toMatchObject({
      code: 'HttpError',
      statusCode: 403,
      attempts: 1,
    });
  });

  it('re-signs once on SignatureExpire, correcting for the server clock', async () => {
    const serverNow = new Date(clock.time + 20 * 60_000);
    reply({ ...apiError('AuthFailure.SignatureExpire'), headers: { date: serverNow.toUTCString() } }, ok());
    await client().call('A', {}, Schema);
    expect(seen).toHaveLength(2);
    expect(Number(seen[1]?.headers['x-tc-timestamp'])).toBeGreaterThanOrEqual(
      Math.floor(serverNow.getTime() / 1000),
    );
  });

  it('re-signs only once when the timestamp keeps being rejected', async () => {
    reply(apiError('AuthFailure.SignatureExpire'), apiError('AuthFailure.SignatureExpire'), ok());
    await expect(client().call('A', {}, Schema)).rejects.toMatchObject({
      code: 'AuthFailure.SignatureExpire',
      attempts: 2,
    });
  });

  it('reloads temporary credentials once on TokenFailure', async () => {
    let loads = 0;
    const provider = async () => ({ ...CREDENTIALS, sessionToken: `token-${++loads}` });
    reply(apiError('AuthFailure.TokenFailure'), ok());
    await client({ credentials: provider }).call('A', {}, Schema);
    expect(seen.map((s) => s.headers['x-tc-token'])).toEqual(['token-1', 'token-2']);
  });

  it.each(['ServiceUnavailable', 'FailedOperation.SystemError'])(
    'retries %s with backoff, as documented in the error envelope',
    async (code) => {
      const name = code === 'ServiceUnavailable' ? 'service-unavailable' : 'system-error';
      reply({ json: loadDocumented(`errors/${name}`).response }, ok({ CertificateId: 'x' }));

      const result = await client().call('DescribeCertificate', { CertificateId: 'x' }, Schema);

      expect(result.data.CertificateId).toBe('x');
      expect(seen).toHaveLength(2);
      expect(clock.sleeps).toEqual([125]);
    },
  );

  it('takes FailedOperation.CAMAuthorizedFail for a credential failure, not worth retrying', async () => {
    const documented = loadDocumented('errors/cam-authorized-fail').response;
    reply({ json: documented });

    const error = await client()
      .call('DescribeCertificates', {}, Schema)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TencentApiError);
    expect(error).toMatchObject({
      code: 'FailedOperation.CAMAuthorizedFail',
      requestId: documented.Response.RequestId,
      retryable: false,
      attempts: 1,
    });
    expect((error as TencentApiError).isAuthFailure).toBe(true);
    expect(seen).toHaveLength(1);
  });

  it('picks up a key rotated in the secret: reloads once on a refused key and signs with the new one', async () => {
    const keys = [CREDENTIALS, { secretId: 'AKIDrotated', secretKey: 'rotated-secret-key-4567' }];
    let loads = 0;
    const provider = async () => keys[Math.min(loads++, 1)] as typeof CREDENTIALS;
    reply(apiError('AuthFailure.SecretIdNotFound'), ok({ CertificateId: 'x' }));

    const result = await client({ credentials: provider }).call('A', {}, Schema);

    expect(result.data.CertificateId).toBe('x');
    expect(loads).toBe(2);
    expect(seen.map((s) => parseTc3Authorization(s.headers.authorization)?.secretId)).toEqual([
      'AKIDtest',
      'AKIDrotated',
    ]);
  });

  it.each(['FailedOperation.CAMAuthorizedFail', 'UnauthorizedOperation', 'AuthFailure.SignatureFailure'])(
    'reloads the credentials once on %s, then gives up as a credential failure',
    async (code) => {
      let loads = 0;
      const provider = async () => ({ ...CREDENTIALS, secretId: `AKIDkey${++loads}` });
      reply(apiError(code), apiError(code), ok());

      const error = await client({ credentials: provider })
        .call('A', {}, Schema)
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ code, retryable: false, attempts: 2 });
      expect((error as TencentApiError).isAuthFailure).toBe(true);
      expect(loads).toBe(2);
      expect(seen).toHaveLength(2);
    },
  );

  it('loads the credentials once for calls refused at the same time, and keeps the new ones', async () => {
    let loads = 0;
    const provider = async () => ({ ...CREDENTIALS, secretId: `AKIDkey${++loads}` });
    reply(
      ...Array.from({ length: 3 }, () => apiError('AuthFailure.SecretIdNotFound')),
      ...Array.from({ length: 4 }, () => ok()),
    );
    const c = client({ credentials: provider, rateLimit: 1000 });

    await Promise.all([c.call('A', {}, Schema), c.call('A', {}, Schema), c.call('A', {}, Schema)]);
    await c.call('A', {}, Schema);

    expect(loads).toBe(2);
    expect(seen.map((s) => parseTc3Authorization(s.headers.authorization)?.secretId)).toEqual([
      'AKIDkey1',
      'AKIDkey1',
      'AKIDkey1',
      'AKIDkey2',
      'AKIDkey2',
      'AKIDkey2',
      'AKIDkey2',
    ]);
  });

  it('reloads credentials that come from a provider even when they come back the same', async () => {
    reply(apiError('AuthFailure.SecretIdNotFound'), apiError('AuthFailure.SecretIdNotFound'), ok());

    const error = await client({ credentials: async () => CREDENTIALS })
      .call('A', {}, Schema)
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'AuthFailure.SecretIdNotFound', retryable: false, attempts: 2 });
  });

  it('gives up with the credential failure when reloading the credentials fails', async () => {
    let loads = 0;
    const provider = async () => {
      if (++loads > 1) throw new Error('Secrets Manager is unreachable');
      return CREDENTIALS;
    };
    reply(apiError('AuthFailure.SecretIdNotFound'));

    await expect(client({ credentials: provider }).call('A', {}, Schema)).rejects.toMatchObject({
      code: 'AuthFailure.SecretIdNotFound',
      retryable: false,
    });
    expect(seen).toHaveLength(1);
  });

  it('does not retry an unknown error code', async () => {
    reply(apiError('FailedOperation.CertificateNotFound'));
    await expect(client().call('A', {}, Schema)).rejects.toMatchObject({
      code: 'FailedOperation.CertificateNotFound',
      retryable: false,
    });
    expect(seen).toHaveLength(1);
  });
});

describe('TencentClient calls that change something (idempotent: false)', () => {
  const once = { idempotent: false } as const;

  it.each([
    ['a reset connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['a gateway 5xx', { status: 502, raw: '<html>bad gateway</html>' }],
    ['an InternalError', apiError('InternalError')],
    ['a body cut short', { raw: '{"Response": {' }],
  ] as const)('sends it once only after %s, which may come after Tencent acted', async (_, failure) => {
    reply(failure, ok({ CertificateId: 'second' }));

    await expect(client().call('ApplyCertificate', {}, Schema, once)).rejects.toBeDefined();

    expect(clock.sleeps).toEqual([]);
    expect(agent.pendingInterceptors()).toHaveLength(1);
  });

  it('sends it again after throttling, which refuses a request before it is handled', async () => {
    reply(apiError('RequestLimitExceeded'), ok({ CertificateId: 'x' }));

    const result = await client().call('ApplyCertificate', {}, Schema, once);

    expect(result.data.CertificateId).toBe('x');
    expect(seen).toHaveLength(2);
  });

  it('sends it again after a refused connection, which carried nothing', async () => {
    reply(
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      ok({ CertificateId: 'x' }),
    );

    await expect(client().call('ApplyCertificate', {}, Schema, once)).resolves.toMatchObject({
      data: { CertificateId: 'x' },
    });
  });
});

describe('TencentClient responses', () => {
  it('rejects a response that breaks the schema, naming the field path', async () => {
    reply({ json: { Response: { CertificateId: 42, RequestId: 'req-bad' } } });
    const error = await client()
      .call('DescribeCertificate', {}, Schema)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TencentResponseError);
    expect(error).toMatchObject({ path: 'Response.CertificateId', requestId: 'req-bad', retryable: false });
    expect((error as Error).message).toMatch(
      /DescribeCertificate: malformed response at Response\.CertificateId/,
    );
  });

  it('rejects a body without the Response envelope', async () => {
    reply({ json: { Data: {} } });
    await expect(client().call('A', {}, Schema)).rejects.toMatchObject({ path: 'Response' });
  });

  it('retries a body that is not JSON, then reports it', async () => {
    reply({ raw: '{"Response": {' }, { raw: 'not json' }, { raw: '' });
    await expect(client({ retry: { maxAttempts: 3 } }).call('A', {}, Schema)).rejects.toBeInstanceOf(
      TencentResponseError,
    );
    expect(seen).toHaveLength(3);
  });

  it('keeps the secret key and session token out of error messages', async () => {
    reply(apiError('AuthFailure.SignatureFailure'));
    const error = (await client({ credentials: { ...CREDENTIALS, sessionToken: 'tok-secret-999' } })
      .call('A', {}, Schema)
      .catch((e: unknown) => e)) as Error;
    const text = `${error.message} ${JSON.stringify(error)} ${String(error.stack)}`;
    expect(text).not.toContain(CREDENTIALS.secretKey);
    expect(text).not.toContain('tok-secret-999');
  });
});

describe('TencentClient with an abort signal', () => {
  it('sends nothing once the signal is aborted', async () => {
    reply(ok());
    const controller = new AbortController();
    controller.abort(new Error('no longer wanted'));
    await expect(
      client().call('CompleteCertificate', {}, Schema, { signal: controller.signal }),
    ).rejects.toThrow('no longer wanted');
    expect(seen).toHaveLength(0);
  });
});

describe('TencentClient pacing', () => {
  it('spaces calls to one action evenly at the configured rate', async () => {
    reply(...Array.from({ length: 5 }, () => ok()));
    const c = client({ rateLimit: 10 });
    const start = clock.time;
    await Promise.all(Array.from({ length: 5 }, () => c.call('DescribeCertificate', {}, Schema)));
    expect(seen).toHaveLength(5);
    // four gaps of at least 100 ms each, plus the few percent of margin
    expect(clock.time - start).toBeGreaterThanOrEqual(400);
    expect(clock.time - start).toBeLessThan(450);
  });

  it('gives each action its own budget', async () => {
    reply(...Array.from({ length: 4 }, () => ok()));
    const c = client({ rateLimit: 10 });
    const start = clock.time;
    await Promise.all([
      c.call('DescribeCertificate', {}, Schema),
      c.call('DescribeCertificateDetail', {}, Schema),
      c.call('CompleteCertificate', {}, Schema),
      c.call('DescribeCertificates', {}, Schema),
    ]);
    expect(clock.time - start).toBe(0);
  });
});
