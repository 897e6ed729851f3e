import { createHash, generateKeyPair, generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type IssuedLeaf, type TestPki } from '../../infra/local/pki.js';
import { type AcmCertificate, importRefusal } from '../../lib/acm/certificate.js';
import { certificateVersion, keyUsages } from '../../lib/acm/der.js';

/*
 * ACM's import rules, checked before any call (sources: ACM User Guide "Prerequisites for
 * importing ACM certificates", "Certificate and key format for importing", "Reimport a
 * certificate"; API Reference "ImportCertificate" and the API model's blob sizes).
 */

const DAY = 86_400_000;
const NOW = new Date('2030-06-01T12:00:00Z');
const VALID = { notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 89 * DAY) };

let pki: TestPki;
let otherPki: TestPki;
let leaf: IssuedLeaf;

const record = (l: IssuedLeaf, overrides: Partial<AcmCertificate> = {}): AcmCertificate => ({
  secretName: 'tencent-ssl/www.example.com',
  certificateId: 'K33dxkOk',
  certificatePem: l.certificatePem,
  chainPem: l.chainPem,
  privateKeyPem: l.privateKeyPem,
  fingerprintSha256: new X509Certificate(l.certificatePem).fingerprint256.replaceAll(':', '').toLowerCase(),
  notAfter: l.notAfter.toISOString(),
  namesSha256: createHash('sha256').update('www.example.com').digest('hex'),
  ...overrides,
});

const keyPem = (key: ReturnType<typeof generateKeyPairSync>['privateKey']) =>
  key.export({ type: 'pkcs8', format: 'pem' }).toString();

async function leafWithKey(privateKeyPem: string): Promise<IssuedLeaf> {
  return pki.issueLeaf({ commonName: 'www.example.com', privateKeyPem, ...VALID });
}

beforeAll(async () => {
  pki = await createTestPki();
  otherPki = await createTestPki({ fresh: true });
  leaf = await pki.issueLeaf({ commonName: 'www.example.com', ...VALID });
});

describe('ACM import rules', () => {
  it('accepts a verified ECDSA P-256 certificate with its chain', () => {
    expect(importRefusal(record(leaf), NOW)).toBeUndefined();
  });

  it.each([
    ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
    ['RSA 3072', () => generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey],
    ['ECDSA P-384', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey],
    ['ECDSA P-521', () => generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey],
  ])('accepts a %s key', async (_name, key) => {
    const l = await leafWithKey(keyPem(key()));

    expect(importRefusal(record(l), NOW)).toBeUndefined();
  });

  it('accepts an RSA 4096 key', async () => {
    const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 4096 });
    const l = await leafWithKey(keyPem(privateKey));

    expect(importRefusal(record(l), NOW)).toBeUndefined();
  });

  it.each([
    ['RSA 1536 bits', () => generateKeyPairSync('rsa', { modulusLength: 1536 }).privateKey],
    ['EC on curve secp256k1', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey],
    ['ed25519', () => generateKeyPairSync('ed25519').privateKey],
  ])('refuses a key that is %s', async (description, key) => {
    const l = await leafWithKey(keyPem(key()));

    expect(importRefusal(record(l), NOW)).toBe(
      `the key is ${description}: ACM imports RSA keys of 1024, 2048, 3072 or 4096 bits and ECDSA keys on P-256, P-384 or P-521`,
    );
  });

  it('refuses an encrypted private key, PKCS#8 or traditional', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs8 = privateKey
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
      .toString();
    const pkcs1 = privateKey
      .export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
      .toString();

    for (const privateKeyPem of [pkcs8, pkcs1]) {
      expect(importRefusal(record(leaf, { privateKeyPem }), NOW)).toBe(
        'the private key is encrypted; ACM imports unencrypted keys only',
      );
    }
  });

  it('refuses a key that is not the certificate’s own', async () => {
    const other = await pki.issueLeaf({ commonName: 'www.example.com', ...VALID });

    expect(importRefusal(record(leaf, { privateKeyPem: other.privateKeyPem }), NOW)).toBe(
      'the private key is not the certificate’s own',
    );
  });

  it('refuses a certificate outside its validity period', () => {
    expect(importRefusal(record(leaf), new Date(VALID.notAfter.getTime() + DAY))).toMatch(
      /^the certificate expired /,
    );
    expect(importRefusal(record(leaf), new Date(VALID.notBefore.getTime() - DAY))).toMatch(
      /^the certificate is not valid before /,
    );
  });

  it('refuses a chain that holds the certificate itself', () => {
    expect(importRefusal(record(leaf, { chainPem: leaf.fullchainPem }), NOW)).toBe(
      'the chain holds the certificate itself; ACM takes the chain without it',
    );
  });

  it('refuses a chain whose certificates do not certify the one before', () => {
    expect(importRefusal(record(leaf, { chainPem: otherPki.intermediatePem }), NOW)).toMatch(
      /^chain certificate 1 \(.*\) did not issue the certificate before it$/,
    );
    expect(importRefusal(record(leaf, { chainPem: `${leaf.chainPem}${otherPki.rootPem}` }), NOW)).toMatch(
      /^chain certificate 2 /,
    );
  });

  it('accepts the chain up to the root, and refuses a CA-issued certificate without one', () => {
    expect(importRefusal(record(leaf, { chainPem: `${leaf.chainPem}${pki.rootPem}` }), NOW)).toBeUndefined();
    expect(importRefusal(record(leaf, { chainPem: '' }), NOW)).toBe(
      'the certificate is not self-signed and comes without a chain',
    );
  });

  it('refuses what is not PEM, or more than one certificate where one belongs', () => {
    expect(importRefusal(record(leaf, { certificatePem: leaf.fullchainPem }), NOW)).toBe(
      'the certificate must be exactly one PEM CERTIFICATE block',
    );
    const der = new X509Certificate(leaf.certificatePem).raw.toString('base64');
    expect(importRefusal(record(leaf, { certificatePem: der }), NOW)).toBe(
      'the certificate must be exactly one PEM CERTIFICATE block',
    );
    expect(importRefusal(record(leaf, { chainPem: `${leaf.chainPem}${leaf.privateKeyPem}` }), NOW)).toBe(
      'the chain must hold PEM CERTIFICATE blocks only',
    );
    expect(importRefusal(record(leaf, { privateKeyPem: leaf.certificatePem }), NOW)).toBe(
      'the private key must be exactly one PEM private key block',
    );
  });

  it('refuses PEM larger than ImportCertificate takes', () => {
    const pad = (pem: string, size: number) => pem + ' '.repeat(size - Buffer.byteLength(pem) + 1);

    expect(importRefusal(record(leaf, { certificatePem: pad(leaf.certificatePem, 32_768) }), NOW)).toBe(
      'the certificate is 32769 bytes of PEM; ACM imports at most 32768',
    );
    expect(importRefusal(record(leaf, { chainPem: pad(leaf.chainPem, 2_097_152) }), NOW)).toBe(
      'the chain is 2097153 bytes of PEM; ACM imports at most 2097152',
    );
    expect(importRefusal(record(leaf, { privateKeyPem: pad(leaf.privateKeyPem, 5_120) }), NOW)).toBe(
      'the private key is 5121 bytes of PEM; ACM imports at most 5120',
    );
  });

  it('refuses a secret name longer than an ACM tag value', () => {
    expect(importRefusal(record(leaf, { secretName: `tencent-ssl/${'a'.repeat(250)}` }), NOW)).toBe(
      'the secret name is 262 characters; an ACM tag value holds at most 256',
    );
  });

  it('refuses an OCSP URL over 1000 characters', async () => {
    const x509 = await import('@peculiar/x509');
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const url = `http://ocsp.example.com/${'a'.repeat(1000)}`;
    const selfSigned = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=www.example.com',
      ...VALID,
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.AuthorityInfoAccessExtension({ ocsp: [url] })],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
    const privateKeyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n`;

    const refusal = importRefusal(
      record(leaf, { certificatePem: selfSigned.toString('pem'), chainPem: '', privateKeyPem }),
      NOW,
    );

    expect(refusal).toBe(`the OCSP URL is ${url.length} characters; ACM imports at most 1000`);
  });

  describe('on re-import', () => {
    it('refuses a certificate that drops a key usage or extended key usage the ARN holds', () => {
      expect(
        importRefusal(record(leaf), NOW, {
          keyUsages: ['DIGITAL_SIGNATURE', 'NON_REPUDIATION'],
          extendedKeyUsages: ['TLS_WEB_SERVER_AUTHENTICATION', 'CODE_SIGNING'],
        }),
      ).toBe(
        'ACM keeps the key usages of a re-imported certificate, and this one drops NON_REPUDIATION, CODE_SIGNING',
      );
    });

    it('lets an ECDSA certificate drop keyEncipherment, and any certificate drop client authentication', () => {
      expect(
        importRefusal(record(leaf), NOW, {
          keyUsages: ['DIGITAL_SIGNATURE', 'KEY_ENCIPHERMENT'],
          extendedKeyUsages: ['TLS_WEB_SERVER_AUTHENTICATION', 'TLS_WEB_CLIENT_AUTHENTICATION', 'NONE'],
        }),
      ).toBeUndefined();
    });
  });
});

describe('DER facts node:crypto does not give', () => {
  it('reads the version and the key usages of a certificate', async () => {
    const rsa = await pki.issueLeaf({ commonName: 'rsa.example.com', keyAlgorithm: 'rsa-2048', ...VALID });
    const raw = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);

    expect(certificateVersion(raw(leaf.certificatePem))).toBe(3);
    expect(keyUsages(raw(leaf.certificatePem))).toEqual(['DIGITAL_SIGNATURE']);
    expect(keyUsages(raw(rsa.certificatePem))).toEqual(['DIGITAL_SIGNATURE', 'KEY_ENCIPHERMENT']);
    expect(keyUsages(raw(pki.intermediatePem))).toEqual([
      'DIGITAL_SIGNATURE',
      'CERTIFICATE_SIGNING',
      'CRL_SIGNING',
    ]);
  });

  it('reads a certificate without a version field as version 1', () => {
    // Certificate { TBSCertificate { serialNumber 1 } }: no [0] version, as in an X.509 v1 certificate.
    expect(certificateVersion(new Uint8Array([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x01]))).toBe(1);
  });
});
