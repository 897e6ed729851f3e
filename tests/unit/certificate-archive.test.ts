import { X509Certificate } from 'node:crypto';
import { strToU8, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCertificateArchive } from '../../infra/local/certificate-archive.js';
import { createTestPki, type IssuedLeaf, type TestPki } from '../../infra/local/pki.js';
import { CertificateArchiveError, certificatesFromArchive } from '../../lib/secrets/archive.js';

let pki: TestPki;
let leaf: IssuedLeaf;

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

function archiveError(run: () => unknown): CertificateArchiveError {
  try {
    run();
  } catch (error) {
    if (error instanceof CertificateArchiveError) return error;
    throw error;
  }
  throw new Error('expected a CertificateArchiveError');
}

beforeAll(async () => {
  pki = await createTestPki();
  leaf = await pki.issueLeaf({ commonName: '*.example.com', altNames: ['example.com'] });
});

describe('certificatesFromArchive', () => {
  it.each(['server-folders', 'domain-folders'] as const)(
    'finds the leaf and the intermediate in the %s layout, each once',
    (layout) => {
      const zip = buildCertificateArchive({
        domain: '*.example.com',
        certificatePem: leaf.certificatePem,
        chainPem: leaf.chainPem,
        privateKeyPem: leaf.privateKeyPem,
        layout,
      });

      const found = certificatesFromArchive(base64(zip));

      expect(found.certificates).toEqual([leaf.certificatePem, pki.intermediatePem]);
      expect(found.sources.length).toBeGreaterThanOrEqual(2);
      expect(found.sources.every((name) => !name.endsWith('.key') && !name.endsWith('.csr'))).toBe(true);
    },
  );

  it('finds certificates by content whatever the files are called, DER ones included', () => {
    const der = new Uint8Array(new X509Certificate(pki.intermediatePem).raw);
    const zip = zipSync({
      'misc/readme.txt': strToU8('Certificates for example.com'),
      'misc/a.bin': strToU8(`prefix\r\n${leaf.certificatePem.replaceAll('\n', '\r\n')}`),
      'IIS/chain.cer': der,
    });

    const found = certificatesFromArchive(base64(zip));

    expect(found).toEqual({
      certificates: [leaf.certificatePem, pki.intermediatePem],
      sources: ['misc/a.bin', 'IIS/chain.cer'],
      privateKeys: [],
    });
  });

  it('finds the private key by content, whatever the file is called', () => {
    const zip = zipSync({
      'keys/whatever.txt': strToU8(leaf.privateKeyPem.replaceAll('\n', '\r\n')),
      'misc/a.bin': strToU8(leaf.certificatePem),
    });

    const found = certificatesFromArchive(base64(zip));

    expect(found.privateKeys).toEqual([leaf.privateKeyPem]);
  });

  it('refuses an archive larger than the limit before decoding it', () => {
    const error = archiveError(() =>
      certificatesFromArchive('A'.repeat(4000), {
        maxArchiveBytes: 1000,
        maxEntries: 10,
        maxTotalBytes: 1e6,
      }),
    );

    expect(error.code).toBe('too-large');
  });

  it('refuses an archive with too many entries', () => {
    const files = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}.txt`, strToU8('x')]));

    const error = archiveError(() =>
      certificatesFromArchive(base64(zipSync(files)), {
        maxArchiveBytes: 1e6,
        maxEntries: 10,
        maxTotalBytes: 1e6,
      }),
    );

    expect(error.code).toBe('too-many-entries');
  });

  it('refuses a small archive that would inflate past the limit, without inflating it', () => {
    // 4 MiB of zeros compress to about 4 KiB: a bomb in miniature, refused from its declared size.
    const bomb = zipSync({ 'Nginx/bundle.crt': new Uint8Array(4 * 1024 * 1024) }, { level: 9 });
    expect(bomb.byteLength).toBeLessThan(64 * 1024);

    const error = archiveError(() =>
      certificatesFromArchive(base64(bomb), {
        maxArchiveBytes: 1e6,
        maxEntries: 10,
        maxTotalBytes: 1024 * 1024,
      }),
    );

    expect(error).toMatchObject({ code: 'too-large', message: expect.stringContaining('uncompressed') });
  });

  it('refuses what is not a ZIP', () => {
    const error = archiveError(() => certificatesFromArchive(Buffer.from('no zip here').toString('base64')));

    expect(error.code).toBe('not-a-zip');
  });
});
