import { X509Certificate } from 'node:crypto';
import { type UnzipFileInfo, unzipSync } from 'fflate';
import { splitPemCertificates } from './pem.js';

/**
 * Bounds on a certificate archive (DownloadCertificate's ZIP). A real one is a few folders of
 * certificates, keys, a PFX and a JKS: tens of kilobytes. The limits stop a corrupt or hostile
 * archive from taking the function's memory: every entry's declared size is checked before it is
 * inflated, and an entry never inflates past its declared size.
 */
export interface ArchiveLimits {
  /** Size of the ZIP itself (after base64 decoding). */
  maxArchiveBytes: number;
  maxEntries: number;
  /** Sum of the declared sizes of all entries, uncompressed. */
  maxTotalBytes: number;
}

const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = {
  maxArchiveBytes: 1024 * 1024,
  maxEntries: 100,
  maxTotalBytes: 8 * 1024 * 1024,
};

/** A DER certificate is a few kilobytes; larger binary entries (PFX, JKS) are not tried as one. */
const MAX_DER_BYTES = 16 * 1024;

export class CertificateArchiveError extends Error {
  override readonly name = 'CertificateArchiveError';
  constructor(
    readonly code: 'too-large' | 'too-many-entries' | 'not-a-zip',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ArchiveCertificates {
  /** Every certificate found, as normalised PEM blocks, each once, in archive order. */
  certificates: string[];
  /** Names of the entries that held at least one certificate. */
  sources: string[];
  /** Every unencrypted PEM private key found (the Nginx and Apache folders carry one), each once. */
  privateKeys: string[];
}

const PRIVATE_KEY_PEM = /-----BEGIN (RSA |EC )?PRIVATE KEY-----[\s\S]*?-----END \1?PRIVATE KEY-----/g;

function privateKeysIn(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return [...text.matchAll(PRIVATE_KEY_PEM)].map((match) => `${match[0].replace(/\r\n/g, '\n')}\n`);
}

function certificatesIn(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (text.includes('-----BEGIN')) return splitPemCertificates(text);
  // A SEQUENCE tag: IIS folders have been seen with DER `.cer` files.
  if (bytes.byteLength > MAX_DER_BYTES || bytes[0] !== 0x30) return [];
  try {
    return [new X509Certificate(bytes).toString()].flatMap(splitPemCertificates);
  } catch {
    return [];
  }
}

/**
 * Every certificate in a base64 ZIP, found by content (PEM blocks in any entry, DER certificates
 * in small binary ones), never by file name: Tencent's layout (`Nginx/1_<domain>_bundle.crt`,
 * `<domain>_nginx/…`, Apache's `1_root_bundle.crt`, …) has changed over the years.
 *
 * @throws CertificateArchiveError when the archive is over a limit or is not a ZIP.
 */
export function certificatesFromArchive(
  base64: string,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): ArchiveCertificates {
  // base64 carries 3 bytes in 4 characters: refuse before decoding anything oversized.
  if (Math.floor((base64.length * 3) / 4) > limits.maxArchiveBytes + 3) {
    throw new CertificateArchiveError(
      'too-large',
      `the archive is larger than ${limits.maxArchiveBytes} bytes`,
    );
  }
  const zip = new Uint8Array(Buffer.from(base64, 'base64'));
  let entries = 0;
  let total = 0;
  const filter = (file: UnzipFileInfo): boolean => {
    entries += 1;
    if (entries > limits.maxEntries) {
      throw new CertificateArchiveError(
        'too-many-entries',
        `the archive has more than ${limits.maxEntries} entries`,
      );
    }
    // A stored entry is copied at its compressed size, an inflated one allocated at its declared size.
    total += Math.max(file.size, file.originalSize);
    if (total > limits.maxTotalBytes) {
      throw new CertificateArchiveError(
        'too-large',
        `the archive's entries add up to more than ${limits.maxTotalBytes} bytes uncompressed`,
      );
    }
    return !file.name.endsWith('/');
  };
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, { filter });
  } catch (error) {
    if (error instanceof CertificateArchiveError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new CertificateArchiveError('not-a-zip', `the archive cannot be read as a ZIP: ${message}`, {
      cause: error,
    });
  }
  const certificates: string[] = [];
  const sources: string[] = [];
  const privateKeys: string[] = [];
  for (const [name, bytes] of Object.entries(files)) {
    for (const key of privateKeysIn(bytes)) if (!privateKeys.includes(key)) privateKeys.push(key);
    const found = certificatesIn(bytes);
    if (found.length === 0) continue;
    sources.push(name);
    for (const pem of found) if (!certificates.includes(pem)) certificates.push(pem);
  }
  return { certificates, sources, privateKeys };
}
