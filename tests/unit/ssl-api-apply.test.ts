/**
 * ApplyCertificate through the real client (HTTP mocked): what is sent, and what a failure means
 * for the need it was made for. Each accepted call spends a free certificate, so a failure that
 * may come after Tencent made the order must read as `unknown`, never as a refusal.
 */
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TencentClient } from '../../lib/tencent/client.js';
import { TencentApiError } from '../../lib/tencent/errors.js';
import { applyFailureOf, TencentSslApi } from '../../lib/tencent/ssl-api.js';
import { FakeClock } from '../helpers/fake-clock.js';

const ENDPOINT = 'https://ssl.tencentcloudapi.com';

let agent: MockAgent;
let bodies: unknown[];

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  bodies = [];
});
afterEach(async () => {
  await agent.close();
});

function api(): TencentSslApi {
  return new TencentSslApi(
    new TencentClient({
      endpoint: ENDPOINT,
      credentials: { secretId: 'AKIDtest', secretKey: 'test-secret-key-0123' },
      dispatcher: agent,
      clock: new FakeClock(),
      random: () => 0.5,
    }),
  );
}

function answer(response: Record<string, unknown> | Error | { status: number }): void {
  const interceptor = agent.get(ENDPOINT).intercept({ path: '/', method: 'POST' });
  if (response instanceof Error) {
    interceptor.replyWithError(response);
    return;
  }
  interceptor.reply((options) => {
    bodies.push(JSON.parse(String(options.body)));
    if ('status' in response && typeof response.status === 'number') {
      return { statusCode: response.status, data: 'gateway' };
    }
    return { statusCode: 200, data: JSON.stringify({ Response: { ...response, RequestId: 'req-1' } }) };
  });
}

const failureOf = (promise: Promise<unknown>) => promise.then(() => undefined, applyFailureOf);

describe('ApplyCertificate', () => {
  it('sends the renewal as DNS validation of the one name, with the old certificate', async () => {
    answer({ CertificateId: 'NewOrder1' });

    const result = await api().applyCertificate({
      DvAuthMethod: 'DNS',
      DomainName: 'www.example.com',
      OldCertificateId: 'OldCert1',
      Alias: 'tencent-ssl-sync',
    });

    expect(result).toEqual({ CertificateId: 'NewOrder1' });
    expect(bodies).toEqual([
      {
        DvAuthMethod: 'DNS',
        DomainName: 'www.example.com',
        OldCertificateId: 'OldCert1',
        Alias: 'tencent-ssl-sync',
      },
    ]);
  });

  it('reads a quota refusal as refused for good, with its code and request id', async () => {
    answer({ Error: { Code: 'FailedOperation.ExceedsFreeLimit', Message: 'no more free certificates' } });

    const failure = await failureOf(
      api().applyCertificate({ DvAuthMethod: 'DNS', DomainName: 'a.example.com' }),
    );

    expect(failure).toEqual({
      kind: 'refused-for-good',
      code: 'FailedOperation.ExceedsFreeLimit',
      message: 'no more free certificates',
      requestId: 'req-1',
    });
  });

  it.each([
    'InvalidParameter.PackageIdsInvalid',
    'InvalidParameterValue',
    'FailedOperation.MainDomainCertificateCountLimit',
    'FailedOperation.PackageCountLimit',
    'FailedOperation.NoRealNameAuth',
    'FailedOperation.InvalidParam',
  ])('reads %s as refused for good', async (code) => {
    answer({ Error: { Code: code, Message: 'no' } });

    const failure = await failureOf(
      api().applyCertificate({ DvAuthMethod: 'DNS', DomainName: 'a.example.com' }),
    );

    expect(failure?.kind).toBe('refused-for-good');
  });

  it('reads a reset connection as unknown: the order may have been made', async () => {
    answer(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));

    const failure = await failureOf(
      api().applyCertificate({ DvAuthMethod: 'DNS', DomainName: 'a.example.com' }),
    );

    expect(failure).toMatchObject({ kind: 'unknown', code: 'NetworkError' });
  });

  it('reads a gateway 5xx and an answer without the new id as unknown', async () => {
    answer({ status: 502 });
    answer({ CertificateId: '' });
    const a = api();

    const gateway = await failureOf(a.applyCertificate({ DvAuthMethod: 'DNS', DomainName: 'a.example.com' }));
    const noId = await failureOf(a.applyCertificate({ DvAuthMethod: 'DNS', DomainName: 'a.example.com' }));

    expect([gateway?.kind, gateway?.code]).toEqual(['unknown', 'HttpError']);
    expect([noId?.kind, noId?.code]).toEqual(['unknown', 'MalformedResponse']);
  });

  it('reads a refused connection as refused: nothing was sent', () => {
    const error = new TencentApiError({
      code: 'NetworkError',
      message: 'connect ECONNREFUSED',
      action: 'ApplyCertificate',
      retryable: true,
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });

    expect(applyFailureOf(error).kind).toBe('refused');
  });

  it('reads anything that is not a Tencent error as unknown', () => {
    expect(applyFailureOf(new Error('boom'))).toEqual({ kind: 'unknown', code: 'Error', message: 'boom' });
  });
});
