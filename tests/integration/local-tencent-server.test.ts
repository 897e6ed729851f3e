import { createPrivateKey, X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateStore,
  formatTencentTime,
  loadTencentFixture,
  parseTencentTime,
} from '../../infra/local/certificate-store.js';
import {
  LocalTencentApiError,
  type LocalTencentServer,
  type StartTencentServerOptions,
  startTencentServer,
} from '../../infra/local/tencent-server.js';
import { signTc3 } from '../../lib/tencent/signer.js';
import { documentedNames, loadDocumented } from '../helpers/fixtures.js';

const CREDENTIAL = { secretId: 'AKIDlocaltest0001', secretKey: 'local-secret-key-0001' };
const TEMPORARY = {
  secretId: 'AKIDtemporary0001',
  secretKey: 'temporary-secret-key',
  token: 'session-token-1',
};

interface CallOptions {
  secretId?: string;
  secretKey?: string;
  token?: string;
  timestamp?: number;
  service?: string;
  version?: string;
  authorization?: string | null;
  /** Body actually sent, when it should differ from the signed one. */
  sentBody?: string;
}

interface CallResult {
  statusCode: number;
  contentType: string | undefined;
  text: string;
  elapsedMs: number;
}

// One agent per file, so that the keep-alive connections are the test's own.
const agent = new Agent({ keepAliveTimeout: 10_000 });
afterAll(() => agent.close());

async function send(server: LocalTencentServer, action: string, params: unknown, options: CallOptions = {}) {
  const body = JSON.stringify(params);
  const host = new URL(server.url).host;
  const contentType = 'application/json';
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const { authorization } = signTc3({
    secretId: options.secretId ?? CREDENTIAL.secretId,
    secretKey: options.secretKey ?? CREDENTIAL.secretKey,
    host,
    service: options.service ?? 'ssl',
    contentType,
    body,
    timestamp,
  });
  const headers: Record<string, string> = {
    'Content-Type': contentType,
    'X-TC-Action': action,
    'X-TC-Version': options.version ?? '2019-12-05',
    'X-TC-Timestamp': String(timestamp),
  };
  if (options.authorization !== null) headers.Authorization = options.authorization ?? authorization;
  if (options.token !== undefined) headers['X-TC-Token'] = options.token;
  const started = performance.now();
  const response = await request(`${server.url}/`, {
    method: 'POST',
    headers,
    body: options.sentBody ?? body,
    dispatcher: agent,
  });
  const text = await response.body.text();
  const contentTypeHeader = response.headers['content-type'];
  return {
    statusCode: response.statusCode,
    contentType: Array.isArray(contentTypeHeader) ? contentTypeHeader[0] : contentTypeHeader,
    text,
    elapsedMs: performance.now() - started,
  } satisfies CallResult;
}

// biome-ignore lint/suspicious/noExplicitAny: the tests inspect arbitrary response shapes
type AnyResponse = Record<string, any>;

async function call(
  server: LocalTencentServer,
  action: string,
  params: unknown = {},
  options: CallOptions = {},
): Promise<AnyResponse> {
  const result = await send(server, action, params, options);
  expect(result.statusCode).toBe(200);
  return (JSON.parse(result.text) as { Response: AnyResponse }).Response;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const servers: LocalTencentServer[] = [];
async function start(options: Partial<StartTencentServerOptions> = {}): Promise<LocalTencentServer> {
  const server = await startTencentServer({ credentials: [CREDENTIAL, TEMPORARY], ...options });
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('authentication', () => {
  it('answers a correctly signed request with the fields and a RequestId', async () => {
    const server = await start();

    const response = await call(server, 'DescribeCertificates', {});

    expect(response.Error).toBeUndefined();
    expect(response).toMatchObject({ TotalCount: 0, Certificates: [] });
    expect(response.RequestId).toMatch(UUID);
  });

  it('rejects a request whose signature does not match', async () => {
    const server = await start();

    const response = await call(server, 'DescribeCertificates', { Limit: 5 }, { sentBody: '{"Limit":6}' });

    expect(response.Error.Code).toBe('AuthFailure.SignatureFailure');
    expect(response.RequestId).toMatch(UUID);
  });

  it('rejects a request signed with another secret key', async () => {
    const server = await start();

    const response = await call(server, 'DescribeCertificates', {}, { secretKey: 'not-the-key' });

    expect(response.Error.Code).toBe('AuthFailure.SignatureFailure');
  });

  it('rejects a timestamp more than five minutes behind the server clock', async () => {
    const server = await start();

    const response = await call(
      server,
      'DescribeCertificates',
      {},
      { timestamp: Math.floor(Date.now() / 1000) - 301 },
    );

    expect(response.Error.Code).toBe('AuthFailure.SignatureExpire');
  });

  it('judges timestamps against the server clock moved by setClockOffset', async () => {
    const server = await start();
    server.setClockOffset(600);

    const stale = await call(server, 'DescribeCertificates', {});
    const ahead = await call(
      server,
      'DescribeCertificates',
      {},
      { timestamp: Math.floor(Date.now() / 1000) + 590 },
    );

    expect(stale.Error.Code).toBe('AuthFailure.SignatureExpire');
    expect(ahead.Error).toBeUndefined();
  });

  it('rejects an unknown SecretId', async () => {
    const server = await start();

    const response = await call(server, 'DescribeCertificates', {}, { secretId: 'AKIDunknown' });

    expect(response.Error.Code).toBe('AuthFailure.SecretIdNotFound');
  });

  it('rejects a missing Authorization header', async () => {
    const server = await start();

    const response = await call(server, 'DescribeCertificates', {}, { authorization: null });

    expect(response.Error.Code).toBe('AuthFailure.InvalidAuthorization');
  });

  it('rejects a credential scope for another service', async () => {
    const server = await start();

    const response = await call(server, 'DescribeCertificates', {}, { service: 'cvm' });

    expect(response.Error.Code).toBe('AuthFailure.SignatureFailure');
  });

  it('requires the token of temporary credentials in X-TC-Token', async () => {
    const server = await start();
    const temporary = { secretId: TEMPORARY.secretId, secretKey: TEMPORARY.secretKey };

    const missing = await call(server, 'DescribeCertificates', {}, temporary);
    const wrong = await call(server, 'DescribeCertificates', {}, { ...temporary, token: 'session-token-0' });
    const right = await call(server, 'DescribeCertificates', {}, { ...temporary, token: TEMPORARY.token });

    expect(missing.Error.Code).toBe('AuthFailure.TokenFailure');
    expect(wrong.Error.Code).toBe('AuthFailure.TokenFailure');
    expect(right.Error).toBeUndefined();
  });

  it('rejects a token sent with permanent credentials', async () => {
    const server = await start();

    const response = await call(server, 'DescribeCertificates', {}, { token: 'stray-token' });

    expect(response.Error.Code).toBe('AuthFailure.TokenFailure');
  });

  it('rejects an API version other than 2019-12-05', async () => {
    const server = await start();

    const response = await call(server, 'DescribeCertificates', {}, { version: '2018-01-01' });

    expect(response.Error.Code).toBe('NoSuchVersion');
  });

  it('rejects an unknown action', async () => {
    const server = await start();

    const response = await call(server, 'DeleteEverything', {});

    expect(response.Error.Code).toBe('InvalidAction');
  });
});

describe('rate limiting', () => {
  it('rejects the 11th request for an action inside one second', async () => {
    const server = await start();

    const responses: AnyResponse[] = [];
    for (let i = 0; i < 11; i += 1) responses.push(await call(server, 'DescribeCertificates', {}));

    expect(responses.slice(0, 10).every((response) => response.Error === undefined)).toBe(true);
    expect(responses[10]?.Error.Code).toBe('RequestLimitExceeded');
    expect(server.stats.rateLimited).toBe(1);
    expect(server.stats.count('DescribeCertificates', 'rate-limited')).toBe(1);
  });

  it('keeps a separate window per action', async () => {
    const server = await start({ rateLimitPerAction: { DescribeCertificates: 2 } });

    await call(server, 'DescribeCertificates', {});
    await call(server, 'DescribeCertificates', {});
    const limited = await call(server, 'DescribeCertificates', {});
    const other = await call(server, 'DescribeCertificateDetail', { CertificateId: 'missing' });

    expect(limited.Error.Code).toBe('RequestLimitExceeded');
    expect(other.Error.Code).toBe('FailedOperation.CertificateNotFound');
  });

  it('does not count requests that fail authentication', async () => {
    const server = await start({ rateLimit: 2 });

    await call(server, 'DescribeCertificates', {}, { secretKey: 'wrong' });
    await call(server, 'DescribeCertificates', {}, { secretKey: 'wrong' });
    const first = await call(server, 'DescribeCertificates', {});
    const second = await call(server, 'DescribeCertificates', {});

    expect(first.Error).toBeUndefined();
    expect(second.Error).toBeUndefined();
  });

  it('accepts requests spaced evenly at just under the limit', async () => {
    const server = await start();
    const started = performance.now();

    const responses: AnyResponse[] = [];
    for (let i = 0; i < 16; i += 1) {
      const due = started + i * 110;
      await sleep(Math.max(0, due - performance.now()));
      responses.push(await call(server, 'DescribeCertificates', {}));
    }

    expect(responses.filter((response) => response.Error !== undefined)).toEqual([]);
    expect(server.stats.rateLimited).toBe(0);
  });

  it('can be disabled', async () => {
    const server = await start({ rateLimit: 0 });

    const responses = await Promise.all(
      Array.from({ length: 25 }, () => call(server, 'DescribeCertificates', {})),
    );

    expect(responses.every((response) => response.Error === undefined)).toBe(true);
  });
});

describe('DescribeCertificates', () => {
  let server: LocalTencentServer;
  let store: CertificateStore;

  beforeAll(async () => {
    store = new CertificateStore({ seed: 7 });
    store.addPending({ domain: 'a.example.com', id: 'certA001' });
    store.addPending({ domain: 'b.example.com', altNames: ['www.b.example.com'], id: 'certB002', status: 0 });
    await store.addIssued({ domain: 'c.example.org', id: 'certC003' });
    store.addPending({
      domain: '*.d.example.net',
      altNames: ['d.example.net'],
      id: 'certD004',
      verifyType: 'TXT',
    });
    store.setStatus(store.addPending({ domain: 'e.example.com', id: 'certE005' }).CertificateId as string, 2);
  });

  // A server per test (from afterEach), sharing one store.
  const open = () => start({ store, rateLimit: 0 }).then((started) => (server = started));

  it('lists newest first with TotalCount and the default page of 10', async () => {
    await open();

    const response = await call(server, 'DescribeCertificates', {});

    expect(response.TotalCount).toBe(5);
    expect(response.Certificates.map((item: AnyResponse) => item.CertificateId)).toEqual([
      'certE005',
      'certD004',
      'certC003',
      'certB002',
      'certA001',
    ]);
  });

  it('pages with Offset and Limit while TotalCount counts every match', async () => {
    await open();

    const page = await call(server, 'DescribeCertificates', { Offset: 1, Limit: 2 });

    expect(page.TotalCount).toBe(5);
    expect(page.Certificates.map((item: AnyResponse) => item.CertificateId)).toEqual([
      'certD004',
      'certC003',
    ]);
  });

  it('filters by CertificateStatus', async () => {
    await open();

    const response = await call(server, 'DescribeCertificates', { CertificateStatus: [0, 4] });

    expect(response.TotalCount).toBe(3);
    expect(response.Certificates.map((item: AnyResponse) => item.Status).sort()).toEqual([0, 4, 4]);
  });

  it('filters by CertIds and by SearchKey', async () => {
    await open();

    const byIds = await call(server, 'DescribeCertificates', { CertIds: ['certA001', 'certC003', 'nope'] });
    const bySearch = await call(server, 'DescribeCertificates', { SearchKey: 'WWW.B.' });

    expect(byIds.Certificates.map((item: AnyResponse) => item.CertificateId)).toEqual([
      'certC003',
      'certA001',
    ]);
    expect(bySearch.Certificates.map((item: AnyResponse) => item.CertificateId)).toEqual(['certB002']);
  });

  it('shows SubjectAltName with the main domain and no validation records or PEMs', async () => {
    await open();

    const response = await call(server, 'DescribeCertificates', { CertIds: ['certB002', 'certC003'] });
    const [issued, pending] = response.Certificates as AnyResponse[];

    expect(pending?.SubjectAltName).toEqual(['b.example.com', 'www.b.example.com']);
    expect(pending?.IsDNSPODResolve).toBe(false);
    expect(pending?.DVAuthDeadline).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    for (const item of [issued, pending]) {
      expect(item).not.toHaveProperty('DvAuthDetail');
      expect(item).not.toHaveProperty('CertificatePrivateKey');
      expect(item).not.toHaveProperty('CertificatePublicKey');
    }
  });

  it('caps a Limit above 1000 instead of refusing it, as documented', async () => {
    await open();

    const page = await call(server, 'DescribeCertificates', { Limit: 5000 });

    expect(page.Error).toBeUndefined();
    expect(page.Certificates).toHaveLength(5);
  });

  it.each(documentedNames('describe-certificates'))(
    'accepts the documented request of %s, Offset and Limit as strings included',
    async (name) => {
      await open();
      const { request } = loadDocumented(name);

      const page = await call(server, 'DescribeCertificates', { ...request, SearchKey: undefined });

      expect(page.Error).toBeUndefined();
      expect(page.Certificates).toHaveLength(1);
    },
  );

  it('refuses an Offset that is not an integer and a CertificateStatus that is not a list of integers', async () => {
    await open();

    const badOffset = await call(server, 'DescribeCertificates', { Offset: 'first' });
    const badStatus = await call(server, 'DescribeCertificates', { CertificateStatus: '0' });

    expect(badOffset.Error.Code).toBe('InvalidParameter');
    expect(badStatus.Error.Code).toBe('InvalidParameter');
  });
});

/** The JSON kind of a value, to compare shapes field by field. */
const kind = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;

/** Field names and, where both sides have a value, their JSON kinds. */
function shapes(actual: Record<string, unknown>, documented: Record<string, unknown>) {
  const both = Object.keys(documented).filter((key) => actual[key] != null && documented[key] != null);
  return {
    fields: Object.keys(actual).sort(),
    documentedFields: Object.keys(documented).sort(),
    kinds: Object.fromEntries(both.map((key) => [key, kind(actual[key])])),
    documentedKinds: Object.fromEntries(both.map((key) => [key, kind(documented[key])])),
  };
}

describe('answers in the documented shapes', () => {
  const documented = (name: string) => {
    const { RequestId: _id, ...fields } = loadDocumented(name).response.Response;
    return fields;
  };

  it('lists an issued certificate field for field like the documented list item', async () => {
    const server = await start();
    const issued = await server.store.addIssued({
      domain: 'ninghhuang.online',
      altNames: ['www.ninghhuang.online'],
    });

    const page = await call(server, 'DescribeCertificates', { CertIds: [issued.CertificateId] });
    const item = (page.Certificates as AnyResponse[])[0] as AnyResponse;
    const expected = (
      documented('describe-certificates.search-domain').Certificates as AnyResponse[]
    )[0] as AnyResponse;

    const { fields, documentedFields, kinds, documentedKinds } = shapes(item, expected);
    expect(fields).toEqual(documentedFields);
    expect(kinds).toEqual(documentedKinds);
    expect(item).toMatchObject({ ValidationPassedTime: '--', CertRevokedTime: '', ProjectId: '0' });
    expect(item.CertificateExtra.DomainNumber).toBe('2');
  });

  it('answers DescribeCertificate for an issued certificate like the documented one, DvAuths null', async () => {
    const server = await start();
    const issued = await server.store.addIssued({ domain: 'zrhh.online', altNames: ['www.zrhh.online'] });

    const response = await call(server, 'DescribeCertificate', { CertificateId: issued.CertificateId });
    const { RequestId: _id, ...fields } = response;

    const {
      fields: names,
      documentedFields,
      kinds,
      documentedKinds,
    } = shapes(fields, documented('describe-certificate'));
    expect(names).toEqual(documentedFields);
    expect(kinds).toEqual(documentedKinds);
    expect(fields.DvAuthDetail).toEqual(documented('describe-certificate').DvAuthDetail);
  });

  it('answers DescribeCertificateDetail for a pending certificate like the documented one', async () => {
    const server = await start();
    const pending = server.store.addPending({ domain: 'ninghhuang.online' });

    const response = await call(server, 'DescribeCertificateDetail', {
      CertificateId: pending.CertificateId,
    });
    const { RequestId: _id, ...fields } = response;
    const expected = documented('describe-certificate-detail.pending');

    const { fields: names, documentedFields, kinds, documentedKinds } = shapes(fields, expected);
    expect(names).toEqual(documentedFields);
    expect(kinds).toEqual(documentedKinds);
    expect(Object.keys(fields.DvAuthDetail.DvAuths[0]).sort()).toEqual(
      Object.keys((expected.DvAuthDetail as AnyResponse).DvAuths[0]).sort(),
    );
    expect(fields.DvAuthDetail.DvAuths[0].DvAuthPath).toBe('');
  });
});

describe('certificate actions', () => {
  it('DescribeCertificate returns the validation records but hides the keys', async () => {
    const server = await start();
    const pending = server.store.addPending({ domain: 'shop.example.com', altNames: ['*.shop.example.com'] });

    const response = await call(server, 'DescribeCertificate', { CertificateId: pending.CertificateId });

    expect(response.Domain).toBe('shop.example.com');
    expect(response.SubjectAltName).toEqual(['*.shop.example.com']);
    expect(response.DvAuthDetail.DvAuths).toHaveLength(2);
    expect(response).not.toHaveProperty('CertificatePrivateKey');
    expect(response).not.toHaveProperty('CertificatePublicKey');
    expect(response).not.toHaveProperty('DVAuthDeadline');
  });

  it('DescribeCertificateDetail returns a stored fixture exactly, with a fresh RequestId', async () => {
    const server = await start();
    for (const name of [
      'describe-certificate-detail-pending',
      'describe-certificate-detail-approved',
    ] as const) {
      const fixture = loadTencentFixture(name).Response;
      const id = server.store.addFixture(name);

      const response = await call(server, 'DescribeCertificateDetail', { CertificateId: id });

      const { RequestId: requestId, ...fields } = response;
      const { RequestId: _recorded, ...expected } = fixture;
      expect(fields).toEqual(expected);
      expect(requestId).toMatch(UUID);
    }
  });

  it('DescribeCertificateDetail includes the private key while pending and the PEMs once issued', async () => {
    const server = await start();
    const pending = server.store.addPending({ domain: 'api.example.com' });
    const id = pending.CertificateId as string;

    const before = await call(server, 'DescribeCertificateDetail', { CertificateId: id });
    await server.store.issue(id);
    const after = await call(server, 'DescribeCertificateDetail', { CertificateId: id });

    expect(before.CertificatePrivateKey).toContain('-----BEGIN PRIVATE KEY-----');
    expect(before.CertificatePublicKey).toBeNull();
    expect(after.Status).toBe(1);
    expect(after.CertificatePrivateKey).toBe(before.CertificatePrivateKey);
    expect(after.CertificatePublicKey.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    expect(after.DvAuthDetail).toEqual({
      DvAuthKey: null,
      DvAuthValue: null,
      DvAuthDomain: null,
      DvAuthPath: null,
      DvAuthKeySubDomain: '',
      DvAuths: null,
    });
  });

  it('answers FailedOperation.CertificateNotFound, MissingParameter and InvalidParameter for bad ids', async () => {
    const server = await start();

    const unknown = await call(server, 'DescribeCertificateDetail', { CertificateId: 'nope1234' });
    const missing = await call(server, 'DescribeCertificate', {});
    const wrongType = await call(server, 'DescribeCertificateDetail', { CertificateId: 42 });

    expect(unknown.Error.Code).toBe('FailedOperation.CertificateNotFound');
    expect(missing.Error.Code).toBe('MissingParameter');
    expect(wrongType.Error.Code).toBe('InvalidParameter');
  });

  it('CompleteCertificate refuses a DNSPod-brand certificate, which Tencent documents as unsupported', async () => {
    const server = await start();
    const dnspod = server.store.addPending({ domain: 'w.example.com', altNames: ['*.w.example.com'] });

    const refused = await call(server, 'CompleteCertificate', { CertificateId: dnspod.CertificateId });

    expect(dnspod.PackageType).toBe('50');
    expect(refused.Error.Code).toBe('UnsupportedOperation');
  });

  it('CompleteCertificate accepts a pending certificate and refuses an issued one', async () => {
    const server = await start();
    const pending = server.store.addPending({ domain: 'p.example.com' });
    const issued = await server.store.addIssued({ domain: 'i.example.com' });

    const accepted = await call(server, 'CompleteCertificate', { CertificateId: pending.CertificateId });
    const refused = await call(server, 'CompleteCertificate', { CertificateId: issued.CertificateId });

    expect(accepted.CertificateId).toBe(pending.CertificateId);
    expect(refused.Error.Code).toBe('FailedOperation.CertificateNotFoundOrAudited');
  });

  it('CheckCertificateDomainVerification reports records as not found by default', async () => {
    const server = await start();
    const pending = server.store.addPending({
      domain: 'v.example.com',
      altNames: ['t.example.com'],
      verifyType: 'mixed',
    });

    const response = await call(server, 'CheckCertificateDomainVerification', {
      CertificateId: pending.CertificateId,
    });

    expect(response.VerificationResults).toEqual([
      expect.objectContaining({
        Domain: 'v.example.com',
        VerifyType: 'CNAME',
        LocalCheck: -6,
        CaCheck: -1,
        Issued: false,
      }),
      expect.objectContaining({
        Domain: 't.example.com',
        VerifyType: 'TXT',
        LocalCheck: -1,
        CaCheck: -1,
        Issued: false,
      }),
    ]);
  });

  it('CheckCertificateDomainVerification asks the pluggable checker', async () => {
    const server = await start({
      checkDomainVerification: ({ dvAuth }) => ({
        LocalCheck: 1,
        CaCheck: 2,
        CheckValue: [dvAuth?.DvAuthValue ?? ''],
      }),
    });
    const pending = server.store.addPending({ domain: 'ok.example.com' });

    const response = await call(server, 'CheckCertificateDomainVerification', {
      CertificateId: pending.CertificateId,
    });

    const dvAuths = (pending.DvAuthDetail as { DvAuths: Array<{ DvAuthValue: string }> }).DvAuths;
    expect(response.VerificationResults).toEqual([
      expect.objectContaining({
        Domain: 'ok.example.com',
        LocalCheck: 1,
        CaCheck: 2,
        CheckValue: [dvAuths[0]?.DvAuthValue],
      }),
    ]);
  });

  it('lets the onAction hook change the store before the built-in handler answers', async () => {
    const server = await start({
      onAction: async ({ action, params, store }) => {
        if (action === 'DescribeCertificateDetail') await store.issue(params.CertificateId as string);
        return undefined;
      },
    });
    const pending = server.store.addPending({ domain: 'ca.example.com' });

    const detail = await call(server, 'DescribeCertificateDetail', { CertificateId: pending.CertificateId });

    expect(detail.Status).toBe(1);
    expect(detail.CertificatePublicKey).toContain('-----BEGIN CERTIFICATE-----');
  });

  it('answers with the fields an onAction hook returns instead of the built-in handler', async () => {
    const server = await start({
      onAction: ({ action, params }) =>
        action === 'CompleteCertificate' ? { CertificateId: params.CertificateId } : undefined,
    });

    const response = await call(server, 'CompleteCertificate', { CertificateId: 'notStored' });

    expect(response.Error).toBeUndefined();
    expect(response.CertificateId).toBe('notStored');
  });

  it('answers with the error a hook throws', async () => {
    const server = await start({
      onAction: () => {
        throw new LocalTencentApiError('FailedOperation.NetworkError', 'CA busy');
      },
    });

    const response = await call(server, 'DescribeCertificates', {});

    expect(response.Error).toEqual({ Code: 'FailedOperation.NetworkError', Message: 'CA busy' });
  });
});

describe('faults', () => {
  it('answers an injected API error in an HTTP 200 the given number of times', async () => {
    const server = await start();
    server.faults.inject({
      action: 'DescribeCertificates',
      times: 1,
      fault: { kind: 'error', code: 'InternalError' },
    });

    const first = await call(server, 'DescribeCertificates', {});
    const second = await call(server, 'DescribeCertificates', {});

    expect(first.Error.Code).toBe('InternalError');
    expect(first.RequestId).toMatch(UUID);
    expect(second.Error).toBeUndefined();
    expect(server.faults.size).toBe(0);
  });

  it('answers an injected HTTP status with an HTML body', async () => {
    const server = await start();
    server.faults.inject({ fault: { kind: 'http', status: 502 } });

    const result = await send(server, 'DescribeCertificates', {});

    expect(result.statusCode).toBe(502);
    expect(result.contentType).toBe('text/html');
    expect(result.text).toContain('502 Bad Gateway');
  });

  it('delays the answer by an injected latency', async () => {
    const server = await start();
    server.faults.inject({ fault: { kind: 'latency', ms: 150 } });

    const result = await send(server, 'DescribeCertificates', {});

    expect(result.elapsedMs).toBeGreaterThanOrEqual(140);
    expect(JSON.parse(result.text).Response.TotalCount).toBe(0);
  });

  it('answers 200 with a body that is not JSON for a malformed fault', async () => {
    const server = await start();
    server.faults.inject({ fault: { kind: 'malformed' } });

    const result = await send(server, 'DescribeCertificates', {});

    expect(result.statusCode).toBe(200);
    expect(() => JSON.parse(result.text)).toThrow(SyntaxError);
  });

  it('closes the connection without an answer for a drop fault', async () => {
    const server = await start();
    server.faults.inject({ times: 1, fault: { kind: 'drop' } });

    await expect(send(server, 'DescribeCertificates', {})).rejects.toThrow();
    const next = await call(server, 'DescribeCertificates', {});

    expect(next.Error).toBeUndefined();
  });

  it('sends valid JSON changed by a schema fault', async () => {
    const server = await start();
    const pending = server.store.addPending({ domain: 'mutant.example.com' });
    server.faults.inject({
      action: 'DescribeCertificate',
      fault: {
        kind: 'schema',
        mutate: (body) => {
          (body.Response as AnyResponse).Status = 'four';
          return body;
        },
      },
    });

    const response = await call(server, 'DescribeCertificate', { CertificateId: pending.CertificateId });

    expect(response.Status).toBe('four');
    expect(server.store.get(pending.CertificateId as string)?.Status).toBe(4);
  });

  it('applies faults only after authentication, leaving the rule unspent', async () => {
    const server = await start();
    server.faults.inject({ times: 1, fault: { kind: 'error', code: 'InternalError' } });

    const unsigned = await call(server, 'DescribeCertificates', {}, { secretKey: 'wrong' });
    const signed = await call(server, 'DescribeCertificates', {});

    expect(unsigned.Error.Code).toBe('AuthFailure.SignatureFailure');
    expect(signed.Error.Code).toBe('InternalError');
  });

  it('repeats the same probabilistic faults for the same seed', async () => {
    const pattern = async (): Promise<boolean[]> => {
      const server = await start({ seed: 42, rateLimit: 0 });
      server.faults.inject({ probability: 0.5, fault: { kind: 'error', code: 'InternalError' } });
      const hits: boolean[] = [];
      for (let i = 0; i < 20; i += 1)
        hits.push((await call(server, 'DescribeCertificates', {})).Error !== undefined);
      return hits;
    };

    const first = await pattern();
    const second = await pattern();

    expect(first).toEqual(second);
    expect(first.some(Boolean)).toBe(true);
    expect(first.every(Boolean)).toBe(false);
  });

  it('stops applying faults after clear()', async () => {
    const server = await start();
    server.faults.inject({ fault: { kind: 'error', code: 'InternalError' } });
    server.faults.clear();

    const response = await call(server, 'DescribeCertificates', {});

    expect(response.Error).toBeUndefined();
  });
});

describe('stats and lifecycle', () => {
  it('records each request with its action, params and outcome', async () => {
    const server = await start();

    await call(server, 'DescribeCertificates', { Limit: 3 });
    await call(server, 'DescribeCertificateDetail', { CertificateId: 'missing' });
    await call(server, 'DescribeCertificates', {}, { secretId: 'AKIDunknown' });

    expect(
      server.stats.requests.map(({ action, params, outcome, errorCode }) => ({
        action,
        params,
        outcome,
        errorCode,
      })),
    ).toEqual([
      { action: 'DescribeCertificates', params: { Limit: 3 }, outcome: 'success', errorCode: undefined },
      {
        action: 'DescribeCertificateDetail',
        params: { CertificateId: 'missing' },
        outcome: 'error',
        errorCode: 'FailedOperation.CertificateNotFound',
      },
      {
        action: 'DescribeCertificates',
        params: {},
        outcome: 'auth-failure',
        errorCode: 'AuthFailure.SecretIdNotFound',
      },
    ]);
    expect(server.stats.count()).toBe(3);
    expect(server.stats.count('DescribeCertificates')).toBe(2);
    server.stats.reset();
    expect(server.stats.count()).toBe(0);
  });

  it('adds the configured latency to every answer', async () => {
    const server = await start({ latencyMs: { min: 60, max: 80 } });

    const result = await send(server, 'DescribeCertificates', {});

    expect(result.elapsedMs).toBeGreaterThanOrEqual(55);
  });

  it('closes promptly while keep-alive connections are idle', async () => {
    const server = await startTencentServer({ credentials: [CREDENTIAL] });
    await call(server, 'DescribeCertificates', {});

    const started = performance.now();
    await server.close();

    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('CertificateStore', () => {
  it('generates CNAME validation records like Tencent', () => {
    const store = new CertificateStore();

    const pending = store.addPending({ domain: '*.Example.com' });

    const detail = pending.DvAuthDetail as AnyResponse;
    const [dvAuth] = detail.DvAuths as AnyResponse[];
    expect(dvAuth?.DvAuthKey).toMatch(/^_[0-9a-f]{32}\.example\.com$/);
    expect(dvAuth?.DvAuthSubDomain).toBe(dvAuth?.DvAuthKey.split('.')[0]);
    expect(dvAuth?.DvAuthDomain).toBe('example.com');
    expect(dvAuth?.DvAuthValue).toMatch(/^[0-9a-f]{32}\.[0-9a-f]{32}\.[0-9a-z]{14}\.trust-provider\.com$/);
    expect(dvAuth?.DvAuthVerifyType).toBe('CNAME');
    expect(detail.DvAuthKeySubDomain).toBe(dvAuth?.DvAuthSubDomain);
    expect(pending.CertificateId).toMatch(/^[0-9A-Za-z]{8}$/);
  });

  it('generates TXT validation records on _dnsauth of the domain without its wildcard', () => {
    const store = new CertificateStore();

    const pending = store.addPending({
      domain: 'example.org',
      altNames: ['*.example.org'],
      verifyType: { 'example.org': 'TXT', '*.example.org': 'TXT' },
    });

    const dvAuths = (pending.DvAuthDetail as AnyResponse).DvAuths as AnyResponse[];
    expect(dvAuths).toHaveLength(2);
    for (const dvAuth of dvAuths) {
      expect(dvAuth).toMatchObject({
        DvAuthKey: '_dnsauth',
        DvAuthSubDomain: '_dnsauth',
        DvAuthDomain: 'example.org',
        DvAuthVerifyType: 'TXT',
      });
      expect(dvAuth.DvAuthValue).toMatch(/^\d{8}000000[0-9a-z]{50}$/);
    }
    expect(dvAuths[0]?.DvAuthValue).not.toBe(dvAuths[1]?.DvAuthValue);
  });

  it('writes times as Beijing time without an offset', () => {
    const instant = new Date('2024-11-27T12:06:51Z');

    expect(formatTencentTime(instant)).toBe('2024-11-27 20:06:51');
    expect(parseTencentTime('2024-11-27 20:06:51').getTime()).toBe(instant.getTime());
  });

  it('issues PEMs that node:crypto parses, with the domains as SANs and a matching key', async () => {
    const store = new CertificateStore();
    const pending = store.addPending({
      domain: 'example.com',
      altNames: ['*.example.com', 'www.example.com'],
    });

    const issued = await store.issue(pending.CertificateId as string);

    const blocks = (issued.CertificatePublicKey as string).match(
      /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g,
    );
    expect(blocks).toHaveLength(2);
    const leaf = new X509Certificate(blocks?.[0] as string);
    const intermediate = new X509Certificate(blocks?.[1] as string);
    expect(leaf.subjectAltName).toBe('DNS:example.com, DNS:*.example.com, DNS:www.example.com');
    expect(leaf.checkPrivateKey(createPrivateKey(issued.CertificatePrivateKey as string))).toBe(true);
    expect(leaf.verify(intermediate.publicKey)).toBe(true);
    expect(issued.CertFingerprint).toBe(leaf.fingerprint.replaceAll(':', '').toLowerCase());
    expect(parseTencentTime(issued.CertBeginTime as string).getTime()).toBe(
      new Date(leaf.validFrom).getTime(),
    );
    expect(parseTencentTime(issued.CertEndTime as string).getTime()).toBe(new Date(leaf.validTo).getTime());
  });

  it('can issue only the leaf, with CRLF line endings', async () => {
    const store = new CertificateStore();

    const issued = await store.addIssued({
      domain: 'crlf.example.com',
      chain: 'leaf-only',
      lineEnding: '\r\n',
    });

    const pem = issued.CertificatePublicKey as string;
    expect(pem.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(1);
    expect(pem).toContain('\r\n');
    expect(new X509Certificate(pem).subjectAltName).toBe('DNS:crlf.example.com');
  });

  it('stores malformed raw objects as they are', () => {
    const store = new CertificateStore();

    const id = store.add({ CertificateId: 'raw00001', Status: 'issued', SubjectAltName: 'not-a-list' });

    expect(id).toBe('raw00001');
    expect(store.get(id)).toEqual({
      CertificateId: 'raw00001',
      Status: 'issued',
      SubjectAltName: 'not-a-list',
    });
  });
});

describe('ApplyCertificate', () => {
  it('answers the documented request in the documented shape with a new pending order', async () => {
    const server = await start();
    const example = loadDocumented('apply-certificate');

    const response = await call(server, 'ApplyCertificate', example.request);
    const { RequestId: requestId, ...fields } = response;
    const { RequestId: _id, ...documented } = example.response.Response;

    expect(Object.keys(fields)).toEqual(Object.keys(documented));
    expect(fields.CertificateId).toMatch(/^[A-Za-z0-9]{8}$/);
    expect(requestId).toMatch(UUID);
    expect(server.store.get(fields.CertificateId)).toMatchObject({ Domain: 'wgc.red', Status: 4 });
  });

  it('makes a manual DNS order pending (status 0) with a CNAME to write, as the list shows it', async () => {
    const server = await start();

    const { CertificateId: id } = await call(server, 'ApplyCertificate', {
      DvAuthMethod: 'DNS',
      DomainName: 'WWW.Example.com',
      Alias: 'tencent-ssl-sync',
    });
    const page = await call(server, 'DescribeCertificates', { CertIds: [id] });
    const detail = await call(server, 'DescribeCertificate', { CertificateId: id });

    expect(page.Certificates[0]).toMatchObject({
      CertificateId: id,
      Domain: 'www.example.com',
      SubjectAltName: ['www.example.com'],
      Status: 0,
      VerifyType: 'DNS',
      Alias: 'tencent-ssl-sync',
      PackageType: '83',
    });
    expect(detail.DvAuthDetail.DvAuths).toEqual([
      expect.objectContaining({ DvAuthDomain: 'www.example.com', DvAuthVerifyType: 'CNAME' }),
    ]);
  });

  it('links a renewal to the certificate it renews, both ways', async () => {
    const server = await start();
    const old = await server.store.addIssued({ domain: 'api.example.com', validDays: 20 });

    const { CertificateId: id } = await call(server, 'ApplyCertificate', {
      DvAuthMethod: 'DNS',
      DomainName: 'api.example.com',
      OldCertificateId: old.CertificateId,
    });

    expect(server.store.get(id)?.CertificateExtra).toMatchObject({ OriginCertificateId: old.CertificateId });
    expect(server.store.get(String(old.CertificateId))).toMatchObject({
      CertificateExtra: expect.objectContaining({ RenewOrder: id }),
      HasRenewOrder: id,
    });
  });

  it('refuses to renew a certificate with more than 30 days left, or one of another name', async () => {
    const server = await start();
    const fresh = await server.store.addIssued({ domain: 'api.example.com', validDays: 60 });
    const expiring = await server.store.addIssued({ domain: 'api.example.com', validDays: 10 });

    const early = await call(server, 'ApplyCertificate', {
      DvAuthMethod: 'DNS',
      DomainName: 'api.example.com',
      OldCertificateId: fresh.CertificateId,
    });
    const otherName = await call(server, 'ApplyCertificate', {
      DvAuthMethod: 'DNS',
      DomainName: 'www.example.com',
      OldCertificateId: expiring.CertificateId,
    });
    const unknown = await call(server, 'ApplyCertificate', {
      DvAuthMethod: 'DNS',
      DomainName: 'api.example.com',
      OldCertificateId: 'nope1234',
    });

    expect(early.Error.Code).toBe('FailedOperation.InvalidParam');
    expect(otherName.Error.Code).toBe('FailedOperation.InvalidParam');
    expect(unknown.Error.Code).toBe('FailedOperation.CertificateNotFound');
    expect(server.store.size).toBe(2);
  });

  it('refuses a wildcard, a missing domain, an unknown method and the unsupported DnsNames', async () => {
    const server = await start();

    const answers = await Promise.all([
      call(server, 'ApplyCertificate', { DvAuthMethod: 'DNS', DomainName: '*.example.com' }),
      call(server, 'ApplyCertificate', { DvAuthMethod: 'DNS' }),
      call(server, 'ApplyCertificate', { DvAuthMethod: 'EMAIL', DomainName: 'example.com' }),
      call(server, 'ApplyCertificate', { DvAuthMethod: 'DNS', DomainName: 'a.example.com', DnsNames: ['b'] }),
      call(server, 'ApplyCertificate', {
        DvAuthMethod: 'DNS',
        DomainName: 'a.example.com',
        PackageType: '2',
      }),
    ]);

    expect(answers.map((a) => a.Error?.Code)).toEqual([
      'FailedOperation.InvalidParam',
      'MissingParameter',
      'InvalidParameter',
      'InvalidParameter',
      'InvalidParameter',
    ]);
    expect(server.store.size).toBe(0);
  });

  it('answers FailedOperation.ExceedsFreeLimit once the free quota is spent', async () => {
    const server = await start({ freeCertificateQuota: 1 });

    const first = await call(server, 'ApplyCertificate', {
      DvAuthMethod: 'DNS',
      DomainName: 'a.example.com',
    });
    const second = await call(server, 'ApplyCertificate', {
      DvAuthMethod: 'DNS',
      DomainName: 'b.example.com',
    });

    expect(first.CertificateId).toEqual(expect.any(String));
    expect(second.Error.Code).toBe('FailedOperation.ExceedsFreeLimit');
    expect(server.store.size).toBe(1);
  });

  it('fails with a quota error injected as a fault, making no order', async () => {
    const server = await start();
    server.faults.inject({
      action: 'ApplyCertificate',
      times: 1,
      fault: { kind: 'error', code: 'FailedOperation.MainDomainCertificateCountLimit' },
    });

    const refused = await call(server, 'ApplyCertificate', {
      DvAuthMethod: 'DNS',
      DomainName: 'a.example.com',
    });

    expect(refused.Error.Code).toBe('FailedOperation.MainDomainCertificateCountLimit');
    expect(server.store.size).toBe(0);
  });
});
