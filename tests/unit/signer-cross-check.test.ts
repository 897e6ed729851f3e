import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { seededRandom as seeded } from '../../infra/local/certificate-store.js';
import { signTc3 } from '../../lib/tencent/signer.js';

// The official signer, a test-only dependency: our signer must agree with it byte for byte.
const require = createRequire(import.meta.url);
const officialSign = require('tencentcloud-sdk-nodejs-common/tencentcloud/common/sign').default as {
  sign3(input: {
    method: string;
    url: string;
    payload: unknown;
    timestamp: number;
    service: string;
    secretId: string;
    secretKey: string;
    multipart: boolean;
    boundary: undefined;
    headers: Record<string, string>;
  }): string;
};

const ALPHABET = ['a', 'Z', '0', '-', '_', ' ', '"', '\\', '\n', 'é', '证书', '😀', '\u0000', '\u2028'];

function randomText(random: () => number, max: number): string {
  const length = Math.floor(random() * max);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return out;
}

function randomBody(random: () => number, i: number): unknown {
  switch (i % 5) {
    case 0:
      return {};
    case 1:
      return { CertificateId: randomText(random, 12) };
    case 2:
      return {
        Offset: Math.floor(random() * 1000),
        Limit: 1000,
        CertificateStatus: [0, 4],
        CertIds: Array.from({ length: Math.floor(random() * 20) }, () => randomText(random, 10)),
      };
    case 3:
      return {
        SearchKey: randomText(random, 200),
        Nested: { deep: [randomText(random, 30), null, true, 1.5] },
      };
    default:
      // a large payload, well past any buffer boundary
      return { Blob: randomText(random, 200_000) };
  }
}

const HOSTS = [
  'ssl.tencentcloudapi.com',
  'ssl.intl.tencentcloudapi.com',
  'ssl.ap-guangzhou.tencentcloudapi.com',
];
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8'];

describe('signTc3 agrees with the official Tencent Cloud signer', () => {
  const random = seeded(20261128);
  const cases = Array.from({ length: 300 }, (_, i) => {
    const credentials = {
      secretId: `AKID${randomText(random, 30).replace(/[^A-Za-z0-9]/g, 'x')}${i}`,
      secretKey: randomText(random, 40) || 'k',
    };
    return {
      i,
      ...credentials,
      host: HOSTS[i % HOSTS.length] as string,
      contentType: CONTENT_TYPES[i % CONTENT_TYPES.length] as string,
      timestamp: Math.floor(random() * 2_000_000_000),
      body: randomBody(random, i),
      // Temporary credentials carry a token; it travels in X-TC-Token and must not change the signature.
      sessionToken: i % 3 === 0 ? randomText(random, 60) : undefined,
    };
  });

  it.each(cases)('case $i', (c) => {
    const bytes = Buffer.from(JSON.stringify(c.body), 'utf8');
    const ours = signTc3({
      secretId: c.secretId,
      secretKey: c.secretKey,
      host: c.host,
      service: 'ssl',
      contentType: c.contentType,
      body: bytes,
      timestamp: c.timestamp,
    });
    const theirs = officialSign.sign3({
      method: 'POST',
      url: `https://${c.host}/`,
      // A Buffer makes the official signer hash these exact bytes (an object it would re-serialise its own way).
      payload: bytes,
      timestamp: c.timestamp,
      service: 'ssl',
      secretId: c.secretId,
      secretKey: c.secretKey,
      multipart: false,
      boundary: undefined,
      headers: { 'Content-Type': c.contentType },
    });
    expect(ours.authorization).toBe(theirs);
  });
});
