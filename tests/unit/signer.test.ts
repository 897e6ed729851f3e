import { describe, expect, it } from 'vitest';
import { parseTc3Authorization, signTc3 } from '../../lib/tencent/signer.js';

describe('signTc3', () => {
  it('reproduces Vector A (official Node SDK test)', () => {
    const result = signTc3({
      secretId: 'test-secret-id',
      secretKey: 'test-secret-key',
      host: 'cvm.tencentcloudapi.com',
      service: 'cvm',
      contentType: 'application/json',
      body: '{"Action":"DescribeInstances","Version":"2017-03-12"}',
      timestamp: 1640995200,
    });
    expect(result.authorization).toBe(
      'TC3-HMAC-SHA256 Credential=test-secret-id/2022-01-01/cvm/tc3_request, SignedHeaders=content-type;host, Signature=96473b50fe407833672a5d6d067238d88bb44c8abcc39ef83baa3132afbfadd3',
    );
  });

  it('reproduces Vector B (signature documentation worked example) step by step', () => {
    const body = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}';
    const result = signTc3({
      secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE',
      secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE',
      host: 'cvm.tencentcloudapi.com',
      service: 'cvm',
      contentType: 'application/json; charset=utf-8',
      body,
      timestamp: 1551113065,
    });
    expect(result.date).toBe('2019-02-25');
    expect(result.hashedPayload).toBe('35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064');
    expect(result.stringToSign.split('\n')[3]).toBe(
      '5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031',
    );
    expect(result.signature).toBe('72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168');
  });

  it('uses the UTC date of the timestamp in the credential scope', () => {
    // 2024-01-01 23:30 UTC is already 2024-01-02 in UTC+8; Tencent wants the UTC date.
    const result = signTc3({
      secretId: 'id',
      secretKey: 'key',
      host: 'ssl.tencentcloudapi.com',
      service: 'ssl',
      contentType: 'application/json',
      body: '{}',
      timestamp: Date.UTC(2024, 0, 1, 23, 30) / 1000,
    });
    expect(result.credentialScope).toBe('2024-01-01/ssl/tc3_request');
  });

  it('signs the same bytes whether the body is a string or a buffer', () => {
    const base = {
      secretId: 'id',
      secretKey: 'key',
      host: 'ssl.tencentcloudapi.com',
      service: 'ssl',
      contentType: 'application/json',
      timestamp: 1700000000,
    };
    const body = '{"Domain":"例え.jp"}';
    expect(signTc3({ ...base, body }).signature).toBe(
      signTc3({ ...base, body: Buffer.from(body, 'utf8') }).signature,
    );
  });

  it('rejects a fractional timestamp instead of signing a value Tencent would never accept', () => {
    expect(() =>
      signTc3({
        secretId: 'id',
        secretKey: 'key',
        host: 'h',
        service: 'ssl',
        contentType: 'application/json',
        body: '{}',
        timestamp: 1.5,
      }),
    ).toThrow(/whole number/);
  });
});

describe('parseTc3Authorization', () => {
  it('reads back the parts of a header the signer produced', () => {
    const { authorization, signature } = signTc3({
      secretId: 'AKIDEXAMPLE',
      secretKey: 'key',
      host: 'ssl.tencentcloudapi.com',
      service: 'ssl',
      contentType: 'application/json',
      body: '{}',
      timestamp: 1700000000,
    });
    expect(parseTc3Authorization(authorization)).toEqual({
      secretId: 'AKIDEXAMPLE',
      date: '2023-11-14',
      service: 'ssl',
      signedHeaders: ['content-type', 'host'],
      signature,
    });
  });

  it('returns undefined for anything that is not a TC3 header', () => {
    expect(parseTc3Authorization(undefined)).toBeUndefined();
    expect(parseTc3Authorization('Bearer abc')).toBeUndefined();
    expect(parseTc3Authorization('TC3-HMAC-SHA256 Credential=x/2024-01-01/ssl/tc3_request')).toBeUndefined();
  });
});
