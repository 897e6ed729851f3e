import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TencentClient } from '../../lib/tencent/client.js';
import { TencentSslApi } from '../../lib/tencent/ssl-api.js';
import { FakeClock } from '../helpers/fake-clock.js';

const ENDPOINT = 'https://ssl.tencentcloudapi.com';

let agent: MockAgent;
let actions: string[];

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  actions = [];
  agent
    .get(ENDPOINT)
    .intercept({ path: '/', method: 'POST' })
    .reply((options) => {
      const headers = options.headers as Record<string, string>;
      const action = String(headers['X-TC-Action'] ?? headers['x-tc-action']);
      actions.push(action);
      return {
        statusCode: 200,
        data: JSON.stringify({
          Response: {
            CertificateId: 'abc',
            Domain: 'example.com',
            CertificatePrivateKey: '-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----',
            DvAuthDetail: { DvAuths: [] },
            RequestId: 'req',
          },
        }),
      };
    })
    .persist();
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
    }),
  );
}

describe('TencentSslApi.describeValidation', () => {
  it('spreads concurrent reads over DescribeCertificate and DescribeCertificateDetail', async () => {
    const ssl = api();

    await Promise.all(Array.from({ length: 6 }, () => ssl.describeValidation('abc')));

    expect(actions.filter((a) => a === 'DescribeCertificate')).toHaveLength(3);
    expect(actions.filter((a) => a === 'DescribeCertificateDetail')).toHaveLength(3);
  });

  it('takes DescribeCertificate, which carries no key, when both budgets are free', async () => {
    await api().describeValidation('abc');

    expect(actions).toEqual(['DescribeCertificate']);
  });

  it('steers reads away from DescribeCertificateDetail while other callers queue on it', async () => {
    const ssl = api();
    const exports = Array.from({ length: 4 }, () => ssl.describeCertificateDetail('abc'));

    await Promise.all([...exports, ssl.describeValidation('abc'), ssl.describeValidation('abc')]);

    expect(actions.filter((a) => a === 'DescribeCertificate')).toHaveLength(2);
  });

  it('drops the private key of a DescribeCertificateDetail answer', async () => {
    const ssl = api();
    const answers = await Promise.all([ssl.describeValidation('abc'), ssl.describeValidation('abc')]);

    expect(actions).toContain('DescribeCertificateDetail');
    for (const answer of answers) expect(answer.CertificatePrivateKey).toBeNull();
  });
});
