import { createPrivateKey, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IssuedLeaf, TestPki } from '../../infra/local/pki.js';
import { createTestPki } from '../../infra/local/pki.js';
import {
  type BundleCheck,
  normalizePem,
  splitPemCertificates,
  verifyCertificateBundle,
} from '../../lib/secrets/pem.js';
import { type TrustAnchors, trustAnchorsFrom } from '../../lib/secrets/trust.js';

const DAY_MS = 86_400_000;
// A fixed clock: the leaves below are dated around it, so no test depends on the machine's time.
const NOW = new Date('2030-06-01T12:00:00Z');
const VALID = {
  notBefore: new Date(NOW.getTime() - DAY_MS),
  notAfter: new Date(NOW.getTime() + 89 * DAY_MS),
};

let pki: TestPki;
let otherPki: TestPki;
/** Only the test CA's root: the other CA stands for any CA Node does not trust. */
let trust: TrustAnchors;
let leaf: IssuedLeaf;
let wildcardLeaf: IssuedLeaf;
let otherLeaf: IssuedLeaf;
let expiredLeaf: IssuedLeaf;
let futureLeaf: IssuedLeaf;

beforeAll(async () => {
  pki = await createTestPki();
  otherPki = await createTestPki({ fresh: true });
  trust = trustAnchorsFrom([pki.rootPem], 'the test root');
  [leaf, wildcardLeaf, otherLeaf, expiredLeaf, futureLeaf] = await Promise.all([
    pki.issueLeaf({ commonName: 'example.com', altNames: ['www.example.com'], ...VALID }),
    pki.issueLeaf({ commonName: '*.example.com', ...VALID }),
    pki.issueLeaf({ commonName: 'example.com', ...VALID }),
    pki.issueLeaf({
      commonName: 'example.com',
      notBefore: new Date('2030-01-01T00:00:00Z'),
      notAfter: new Date('2030-04-01T00:00:00Z'),
    }),
    pki.issueLeaf({
      commonName: 'example.com',
      notBefore: new Date('2030-07-01T00:00:00Z'),
      notAfter: new Date('2030-09-29T00:00:00Z'),
    }),
  ]);
});

function verify(
  issued: IssuedLeaf,
  overrides: Partial<Parameters<typeof verifyCertificateBundle>[0]> = {},
): BundleCheck {
  return verifyCertificateBundle({
    certificatePem: issued.fullchainPem,
    privateKeyPem: issued.privateKeyPem,
    domain: 'example.com',
    now: NOW,
    trust,
    allowedDomains: ['example.com'],
    ...overrides,
  });
}

function failureOf(check: BundleCheck): { problem: string; reason: string } {
  if (check.ok) throw new Error('expected the bundle to be rejected');
  return { problem: check.problem, reason: check.reason };
}

/** The base64 lines of a PEM key, any of which in a reason would be a leak. */
function keyBodyLines(privateKeyPem: string): string[] {
  return privateKeyPem.split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
}

describe('verifyCertificateBundle', () => {
  it('accepts a leaf followed by its intermediate and describes the bundle', () => {
    const check = verify(leaf);

    const x509 = new X509Certificate(leaf.certificatePem);
    expect(check).toEqual({
      ok: true,
      bundle: {
        certificate: leaf.certificatePem,
        chain: pki.intermediatePem,
        fullchain: leaf.certificatePem + pki.intermediatePem,
        privateKey: leaf.privateKeyPem,
        subjectAltNames: ['example.com', 'www.example.com'],
        notBefore: leaf.notBefore.toISOString(),
        notAfter: leaf.notAfter.toISOString(),
        serialNumber: leaf.serialNumber.toUpperCase(),
        fingerprintSha256: x509.fingerprint256.replaceAll(':', '').toLowerCase(),
        issuer: 'tencent-ssl-sync Local Test DV CA G1',
        root: 'tencent-ssl-sync Local Test Root CA',
        chainCompletedFromExtra: false,
      },
    });
  });

  it('normalises CRLF line endings and stray whitespace', () => {
    const crlf = (pem: string): string => `\r\n  ${pem.replaceAll('\n', '\r\n')}  \r\n`;

    const check = verify(leaf, {
      certificatePem: crlf(leaf.fullchainPem),
      privateKeyPem: crlf(leaf.privateKeyPem),
    });

    expect(check.ok && check.bundle.fullchain).toBe(leaf.fullchainPem);
    expect(check.ok && check.bundle.privateKey).toBe(leaf.privateKeyPem);
  });

  it('accepts a wildcard domain covered by the same wildcard name', () => {
    const check = verify(wildcardLeaf, { domain: '*.example.com' });

    expect(check.ok).toBe(true);
  });

  it('rejects a wildcard domain when the leaf only has plain names', () => {
    const check = verify(leaf, { domain: '*.example.com' });

    expect(failureOf(check).problem).toBe('domain-mismatch');
  });

  it('accepts a plain name covered by a wildcard one label deep', () => {
    const check = verify(wildcardLeaf, { domain: 'shop.example.com' });

    expect(check.ok).toBe(true);
  });

  it('rejects a plain name two labels below a wildcard', () => {
    const check = verify(wildcardLeaf, { domain: 'a.b.example.com' });

    expect(failureOf(check).problem).toBe('domain-mismatch');
  });

  it('matches the domain case-insensitively', () => {
    const check = verify(leaf, { domain: 'WWW.Example.COM' });

    expect(check.ok).toBe(true);
  });

  it('rejects a leaf that does not name the domain and lists the names it has', () => {
    const check = verify(leaf, { domain: 'example.org' });

    const failure = failureOf(check);
    expect(failure.problem).toBe('domain-mismatch');
    expect(failure.reason).toContain('example.org');
    expect(failure.reason).toContain('example.com, www.example.com');
  });

  it('rejects a private key that belongs to another leaf', () => {
    const check = verify(leaf, { privateKeyPem: otherLeaf.privateKeyPem });

    expect(failureOf(check).problem).toBe('key-mismatch');
  });

  it('refuses a leaf alone, whose chain cannot reach a trusted root', () => {
    const check = verify(leaf, { certificatePem: leaf.certificatePem });

    expect(failureOf(check)).toEqual({
      problem: 'untrusted-chain',
      reason:
        'no chain to a trusted root: "example.com" was issued by "tencent-ssl-sync Local Test DV CA G1", which is neither among the 1 roots of the test root nor in CertificatePublicKey',
    });
  });

  it('completes a leaf-only chain from the extra certificates, in any order among unrelated ones', () => {
    const check = verify(leaf, {
      certificatePem: leaf.certificatePem,
      extraCertificates: [otherPki.intermediatePem, leaf.fullchainPem + pki.rootPem, otherPki.rootPem],
      extraSource: 'the DownloadCertificate archive',
    });

    expect(check.ok && check.bundle).toMatchObject({
      chain: pki.intermediatePem,
      fullchain: leaf.certificatePem + pki.intermediatePem,
      chainCompletedFromExtra: true,
    });
  });

  it('names the extra certificates in the reason when they do not complete the chain either', () => {
    const check = verify(leaf, {
      certificatePem: leaf.certificatePem,
      extraCertificates: [otherPki.rootPem],
      extraSource: 'the DownloadCertificate archive',
    });

    expect(failureOf(check).reason).toContain(
      'nor in CertificatePublicKey or the DownloadCertificate archive',
    );
  });

  it('refuses a complete chain from a CA that is not trusted', async () => {
    const untrusted = await otherPki.issueLeaf({ commonName: 'example.com', ...VALID });

    const check = verify(untrusted);

    expect(failureOf(check)).toEqual({
      problem: 'untrusted-chain',
      reason:
        'no chain to a trusted root: "tencent-ssl-sync Local Test DV CA G1" was issued by "tencent-ssl-sync Local Test Root CA", which is neither among the 1 roots of the test root nor in CertificatePublicKey',
    });
  });

  it('refuses a chain that ends at a self-signed root of the same name as a trusted one', async () => {
    const untrusted = await otherPki.issueLeaf({ commonName: 'example.com', ...VALID });

    const check = verify(untrusted, { certificatePem: untrusted.fullchainPem + otherPki.rootPem });

    // Both test CAs use the same names: only the keys tell the roots apart.
    expect(failureOf(check)).toEqual({
      problem: 'untrusted-chain',
      reason:
        '"tencent-ssl-sync Local Test Root CA" bears the name of "tencent-ssl-sync Local Test Root CA"\'s issuer, but the signature of "tencent-ssl-sync Local Test Root CA" does not verify with its key',
    });
  });

  it('refuses a chain that ends at a self-signed root nobody trusts', async () => {
    const untrusted = await otherPki.issueLeaf({ commonName: 'example.com', ...VALID });

    const check = verify(untrusted, {
      certificatePem: untrusted.fullchainPem + otherPki.rootPem,
      trust: trustAnchorsFrom([], 'an empty store'),
    });

    expect(failureOf(check)).toEqual({
      problem: 'untrusted-chain',
      reason:
        'the chain ends at the self-signed "tencent-ssl-sync Local Test Root CA", which is not among the 0 roots of an empty store',
    });
  });

  it('refuses an intermediate of another CA that bears the same name as the real issuer', () => {
    const check = verify(leaf, { certificatePem: leaf.certificatePem + otherPki.intermediatePem });

    expect(failureOf(check)).toMatchObject({
      problem: 'untrusted-chain',
      reason: expect.stringMatching(/^no chain to a trusted root: "example.com" was issued by/),
    });
  });

  it('refuses a chain through an intermediate that has expired', async () => {
    const later = new Date(Date.now() + 6 * 365 * DAY_MS);
    const lateLeaf = await pki.issueLeaf({
      commonName: 'example.com',
      notBefore: new Date(later.getTime() - DAY_MS),
      notAfter: new Date(later.getTime() + 89 * DAY_MS),
    });

    const check = verify(lateLeaf, { now: later });

    expect(failureOf(check)).toMatchObject({
      problem: 'untrusted-chain',
      reason: expect.stringContaining('is valid only from'),
    });
  });

  it('puts the intermediates in chain order whatever order they came in, and leaves the root out', () => {
    const check = verify(leaf, {
      certificatePem: leaf.certificatePem + pki.rootPem + pki.intermediatePem,
    });

    expect(check.ok && check.bundle.chain).toBe(pki.intermediatePem);
  });

  it('takes the first block as the leaf', () => {
    const check = verify(leaf, { certificatePem: pki.intermediatePem + leaf.certificatePem });

    expect(failureOf(check).problem).toBe('key-mismatch');
  });

  it('refuses a certificate that names a domain outside ALLOWED_DOMAINS, listing it', async () => {
    const wide = await pki.issueLeaf({
      commonName: 'example.com',
      altNames: ['www.example.com', 'www.example.org'],
      ...VALID,
    });

    const check = verify(wide);

    expect(failureOf(check)).toEqual({
      problem: 'name-outside-allow-list',
      reason: 'the certificate for example.com names www.example.org, outside ALLOWED_DOMAINS (example.com)',
    });
  });

  it('allows a wildcard whose base lies under an allowed domain', async () => {
    const deep = await pki.issueLeaf({ commonName: '*.shop.example.com', ...VALID });

    const check = verify(deep, { domain: '*.shop.example.com' });

    expect(check.ok).toBe(true);
  });

  it('refuses a wildcard above the allowed domain', () => {
    const check = verify(wildcardLeaf, { domain: '*.example.com', allowedDomains: ['shop.example.com'] });

    expect(failureOf(check)).toMatchObject({
      problem: 'name-outside-allow-list',
      reason: expect.stringContaining('names *.example.com, outside ALLOWED_DOMAINS (shop.example.com)'),
    });
  });

  it('allows every name with ALLOWED_DOMAINS=*', () => {
    const check = verify(leaf, { allowedDomains: '*' });

    expect(check.ok).toBe(true);
  });

  it('refuses everything while ALLOWED_DOMAINS is unset', () => {
    const check = verify(leaf, { allowedDomains: undefined });

    expect(failureOf(check)).toMatchObject({
      problem: 'name-outside-allow-list',
      reason: expect.stringContaining('ALLOWED_DOMAINS is not set'),
    });
  });

  it('rejects a leaf whose validity ended before now', () => {
    const check = verify(expiredLeaf);

    expect(failureOf(check)).toEqual({
      problem: 'expired',
      reason:
        'the certificate for example.com expired at 2030-04-01T00:00:00.000Z (now 2030-06-01T12:00:00.000Z)',
    });
  });

  it('rejects a leaf whose validity starts after now', () => {
    const check = verify(futureLeaf);

    expect(failureOf(check)).toEqual({
      problem: 'not-yet-valid',
      reason:
        'the certificate for example.com is not valid before 2030-07-01T00:00:00.000Z (now 2030-06-01T12:00:00.000Z)',
    });
  });

  it.each([
    ['null', null],
    ['empty', ''],
    ['masked', '*****'],
  ])('reports a %s private key as missing', (_label, privateKeyPem) => {
    const check = verify(leaf, { privateKeyPem });

    expect(failureOf(check)).toEqual({
      problem: 'missing-private-key',
      reason:
        'Tencent holds no private key for this certificate (it was ordered with your own CSR); it cannot be exported',
    });
  });

  it.each([
    ['null', null],
    ['masked', '*****'],
  ])('reports a %s certificate as missing', (_label, certificatePem) => {
    const check = verify(leaf, { certificatePem });

    expect(failureOf(check).problem).toBe('missing-certificate');
  });

  it('reports garbage inside a CERTIFICATE block as unparsable, naming the block', () => {
    const garbage = '-----BEGIN CERTIFICATE-----\nthis is not base64 DER!\n-----END CERTIFICATE-----\n';

    const check = verify(leaf, { certificatePem: leaf.certificatePem + garbage });

    const failure = failureOf(check);
    expect(failure.problem).toBe('unparsable');
    expect(failure.reason).toContain('certificate block 2 of 2');
  });

  it('reports a corrupt private key as unparsable without echoing it', () => {
    const [first = '', ...rest] = keyBodyLines(leaf.privateKeyPem);
    const corrupt = `-----BEGIN PRIVATE KEY-----\n${first.slice(0, 20)}${rest.join('\n')}\n-----END PRIVATE KEY-----\n`;

    const check = verify(leaf, { privateKeyPem: corrupt });

    const failure = failureOf(check);
    expect(failure.problem).toBe('unparsable');
    for (const line of keyBodyLines(corrupt)) expect(failure.reason).not.toContain(line);
  });

  it('accepts an RSA leaf with a PKCS#1 private key and keeps the key in that format', async () => {
    const rsaLeaf = await pki.issueLeaf({
      commonName: 'rsa.example.com',
      keyAlgorithm: 'rsa-2048',
      ...VALID,
    });
    const pkcs1 = createPrivateKey(rsaLeaf.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();

    const check = verify(rsaLeaf, { privateKeyPem: pkcs1, domain: 'rsa.example.com' });

    expect(check.ok && check.bundle.privateKey).toBe(pkcs1);
    expect(pkcs1).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
  });

  it('accepts an EC leaf with a SEC1 private key', () => {
    const sec1 = createPrivateKey(leaf.privateKeyPem).export({ type: 'sec1', format: 'pem' }).toString();

    const check = verify(leaf, { privateKeyPem: sec1 });

    expect(check.ok && check.bundle.privateKey).toBe(sec1);
  });

  it('never puts the private key into a failure reason', () => {
    const failures = [
      verify(leaf, { domain: 'example.org' }),
      verify(leaf, { certificatePem: leaf.certificatePem }),
      verify(otherLeaf, { certificatePem: leaf.fullchainPem }),
      verify(expiredLeaf),
    ].map(failureOf);

    expect(failures.map((failure) => failure.problem)).toEqual([
      'domain-mismatch',
      'untrusted-chain',
      'key-mismatch',
      'expired',
    ]);
    const secrets = [...keyBodyLines(leaf.privateKeyPem), ...keyBodyLines(otherLeaf.privateKeyPem)];
    for (const failure of failures) {
      for (const secret of secrets) expect(failure.reason).not.toContain(secret);
    }
  });
});

describe('splitPemCertificates', () => {
  it('returns each CERTIFICATE block in order and ignores the text between them', () => {
    const text = `subject=CN = example.com\n${leaf.certificatePem}\n# intermediate\n${pki.intermediatePem}${leaf.privateKeyPem}`;

    const blocks = splitPemCertificates(text);

    expect(blocks).toEqual([leaf.certificatePem, pki.intermediatePem]);
  });

  it('rewraps a block whose base64 arrives on one line', () => {
    const body = keyBodyLines(leaf.certificatePem).join('');
    const oneLine = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`;

    const blocks = splitPemCertificates(oneLine);

    expect(blocks).toEqual([leaf.certificatePem]);
  });
});

describe('normalizePem', () => {
  it('converts CRLF and lone CR to LF and trims the ends', () => {
    const normalized = normalizePem('  \r\n-----BEGIN X-----\r\nAAAA\rBBBB\r\n-----END X-----\r\n\r\n');

    expect(normalized).toBe('-----BEGIN X-----\nAAAA\nBBBB\n-----END X-----');
  });
});
