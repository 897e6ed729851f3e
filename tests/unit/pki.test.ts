import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestPki, generateLeafKeyPem } from '../../infra/local/pki.js';

describe('createTestPki', () => {
  it('issues a leaf that chains to the intermediate and the root', async () => {
    const pki = await createTestPki();

    const leaf = await pki.issueLeaf({ commonName: 'example.com', altNames: ['www.example.com'] });

    const leafCert = new X509Certificate(leaf.certificatePem);
    const intermediate = new X509Certificate(leaf.chainPem);
    const root = new X509Certificate(pki.rootPem);
    expect(leafCert.verify(intermediate.publicKey)).toBe(true);
    expect(leafCert.checkIssued(intermediate)).toBe(true);
    expect(intermediate.verify(root.publicKey)).toBe(true);
    expect(intermediate.ca).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(leafCert.ca).toBe(false);
  });

  it('puts the common name and every alt name, wildcards included, into the SANs', async () => {
    const pki = await createTestPki();

    const leaf = await pki.issueLeaf({
      commonName: 'example.net',
      altNames: ['*.example.net', 'example.net'],
    });

    const cert = new X509Certificate(leaf.certificatePem);
    expect(cert.subject).toBe('CN=example.net');
    expect(cert.subjectAltName).toBe('DNS:example.net, DNS:*.example.net');
    expect(cert.checkHost('foo.example.net')).toBe('*.example.net');
  });

  it('returns a PKCS#8 private key that matches the leaf', async () => {
    const pki = await createTestPki();

    const leaf = await pki.issueLeaf({ commonName: 'key.example.com' });

    expect(leaf.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(
      new X509Certificate(leaf.certificatePem).checkPrivateKey(createPrivateKey(leaf.privateKeyPem)),
    ).toBe(true);
    expect(leaf.fullchainPem).toBe(leaf.certificatePem + leaf.chainPem);
  });

  it('reuses a given private key', async () => {
    const pki = await createTestPki();
    const privateKeyPem = generateLeafKeyPem();

    const leaf = await pki.issueLeaf({ commonName: 'reuse.example.com', privateKeyPem });

    expect(leaf.privateKeyPem).toBe(privateKeyPem);
    expect(new X509Certificate(leaf.certificatePem).checkPrivateKey(createPrivateKey(privateKeyPem))).toBe(
      true,
    );
  });

  it('honours notBefore and notAfter', async () => {
    const pki = await createTestPki();
    const notBefore = new Date('2024-01-01T00:00:00Z');
    const notAfter = new Date('2024-04-01T00:00:00Z');

    const leaf = await pki.issueLeaf({ commonName: 'old.example.com', notBefore, notAfter });

    const cert = new X509Certificate(leaf.certificatePem);
    expect(new Date(cert.validFrom).getTime()).toBe(notBefore.getTime());
    expect(new Date(cert.validTo).getTime()).toBe(notAfter.getTime());
  });

  it('reuses the cached CA between calls', async () => {
    const first = await createTestPki();
    const second = await createTestPki();

    expect(second.rootPem).toBe(first.rootPem);
  });

  it('builds an RSA hierarchy and RSA leaves on request', async () => {
    const pki = await createTestPki({ keyAlgorithm: 'rsa-2048' });

    const leaf = await pki.issueLeaf({ commonName: 'rsa.example.com' });

    const cert = new X509Certificate(leaf.certificatePem);
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.verify(new X509Certificate(leaf.chainPem).publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.privateKeyPem))).toBe(true);
  });

  it('issues an EC leaf from an RSA CA', async () => {
    const pki = await createTestPki({ keyAlgorithm: 'rsa-2048' });

    const leaf = await pki.issueLeaf({ commonName: 'mixed.example.com', keyAlgorithm: 'ec-p256' });

    const cert = new X509Certificate(leaf.certificatePem);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(cert.verify(new X509Certificate(leaf.chainPem).publicKey)).toBe(true);
  });
});
