import { createHash } from 'node:crypto';
import { strToU8, type Zippable, zipSync } from 'fflate';

/*
 * The ZIP that DownloadCertificate returns (base64 in `Content`): one folder per server type.
 * Tencent's layout has changed over the years, and the client must find the chain by content, so
 * the local server can answer in either of the two layouts seen in the wild.
 */

/**
 * - `server-folders`: `Nginx/1_<domain>_bundle.crt`, `Nginx/2_<domain>.key`,
 *   `Apache/1_root_bundle.crt`, `Apache/2_<domain>.crt`, `Apache/3_<domain>.key`, `IIS/…pfx`,
 *   `Tomcat/…jks`, each keystore with its `keystorePass.txt`.
 * - `domain-folders`: `<domain>_nginx/<domain>_bundle.crt` (and `.pem`, `.key`, `.csr`),
 *   `<domain>_apache/root_bundle.crt`, `<domain>.crt`, `<domain>.key`, `<domain>_iis/…`,
 *   `<domain>_tomcat/…`.
 */
export type ArchiveLayout = 'server-folders' | 'domain-folders';

export interface ArchiveMaterial {
  /** The main domain; `*.` becomes `_.` in file names. */
  domain: string;
  /** The leaf certificate. */
  certificatePem: string;
  /** The intermediates, leaf's issuer first; empty when the archive should lack them. */
  chainPem: string;
  /** Null when Tencent holds no key (an order with the customer's own CSR): no key files then. */
  privateKeyPem: string | null;
  layout: ArchiveLayout;
}

const crlf = (text: string): string => text.replace(/\r?\n/g, '\r\n');

/**
 * Stand-in bytes for the PFX and JKS keystores: binary like the real ones (a DER SEQUENCE
 * header), but not keystores. A client that looks inside them for the chain gets nothing, as it
 * would from a password-protected keystore.
 */
function keystoreStandIn(kind: string, seed: string): Uint8Array {
  const body = createHash('sha512').update(`${kind}:${seed}`).digest();
  return new Uint8Array([0x30, 0x82, 0x00, body.length, ...body]);
}

/** A CSR block: a PEM type the chain search must skip (it is not a CERTIFICATE). */
function csrStandIn(seed: string): string {
  const body = createHash('sha256').update(`csr:${seed}`).digest('base64');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** The ZIP bytes for one certificate. Deterministic for the same material. */
export function buildCertificateArchive(material: ArchiveMaterial): Uint8Array {
  const name = material.domain.replace(/^\*\./, '_.');
  const leaf = material.certificatePem;
  const chain = material.chainPem;
  const key = material.privateKeyPem;
  const seed = `${material.domain}:${createHash('sha256').update(leaf).digest('hex')}`;
  const password = strToU8(createHash('sha256').update(`password:${seed}`).digest('hex').slice(0, 16));
  const files: Zippable = {};
  const put = (path: string, content: string | Uint8Array) => {
    files[path] = typeof content === 'string' ? strToU8(content) : content;
  };
  if (material.layout === 'server-folders') {
    put(`Nginx/1_${name}_bundle.crt`, leaf + chain);
    if (key) put(`Nginx/2_${name}.key`, key);
    // Apache's files have come with Windows line endings.
    put('Apache/1_root_bundle.crt', crlf(chain));
    put(`Apache/2_${name}.crt`, crlf(leaf));
    if (key) put(`Apache/3_${name}.key`, crlf(key));
    if (key) {
      put(`IIS/${name}.pfx`, keystoreStandIn('pfx', seed));
      put('IIS/keystorePass.txt', password);
      put(`Tomcat/${name}.jks`, keystoreStandIn('jks', seed));
      put('Tomcat/keystorePass.txt', password);
    }
  } else {
    put(`${name}_nginx/${name}_bundle.crt`, leaf + chain);
    put(`${name}_nginx/${name}_bundle.pem`, leaf + chain);
    if (key) put(`${name}_nginx/${name}.key`, key);
    put(`${name}_nginx/${name}.csr`, csrStandIn(seed));
    put(`${name}_apache/root_bundle.crt`, chain);
    put(`${name}_apache/${name}.crt`, leaf);
    if (key) put(`${name}_apache/${name}.key`, key);
    if (key) {
      put(`${name}_iis/${name}.pfx`, keystoreStandIn('pfx', seed));
      put(`${name}_iis/keystorePass.txt`, password);
      put(`${name}_tomcat/${name}.jks`, keystoreStandIn('jks', seed));
      put(`${name}_tomcat/keystorePass.txt`, password);
    }
  }
  // A fixed time keeps the bytes the same from one call to the next.
  return zipSync(files, { level: 6, mtime: new Date('2026-01-01T00:00:00Z') });
}
