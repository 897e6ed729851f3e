import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';

/** Why a certificate and key from Tencent cannot be exported as they are. */
export type BundleProblem =
  | 'missing-certificate'
  | 'missing-private-key'
  | 'unparsable'
  | 'domain-mismatch'
  | 'key-mismatch'
  | 'broken-chain'
  | 'missing-chain'
  | 'not-yet-valid'
  | 'expired';

/** A verified certificate, ready to be stored. Every PEM is normalised and ends in one `\n`. */
export interface CertificateBundle {
  /** The leaf certificate alone. */
  certificate: string;
  /** The certificates after the leaf, concatenated in the order given (a trailing root is kept). */
  chain: string;
  /** `certificate + chain`. */
  fullchain: string;
  /** The private key block, in the format Tencent gave it (PKCS#8, PKCS#1 or SEC1). */
  privateKey: string;
  /** DNS names of the leaf's subjectAltName extension, as written (e.g. `*.example.com`). */
  subjectAltNames: string[];
  /** ISO 8601. */
  notBefore: string;
  /** ISO 8601. */
  notAfter: string;
  /** Upper-case hex, as node:crypto gives it. */
  serialNumber: string;
  /** SHA-256 of the leaf's DER, lower-case hex without colons. */
  fingerprintSha256: string;
  /** The issuer's common name, or the whole issuer name on one line when it has none. */
  issuer: string;
}

export type BundleCheck =
  | { ok: true; bundle: CertificateBundle }
  | { ok: false; problem: BundleProblem; reason: string };

export interface VerifyCertificateBundleInput {
  /** Tencent's `CertificatePublicKey`: the leaf, possibly followed by the intermediates. */
  certificatePem: string | null;
  /** Tencent's `CertificatePrivateKey`. */
  privateKeyPem: string | null;
  /** The name the certificate was ordered for; `*.example.com` for a wildcard. */
  domain: string;
  now: Date;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
// PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) and their encrypted forms.
const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----([\s\S]*?)-----END \1-----/g;
const PEM_LINE_LENGTH = 64;

const NO_PRIVATE_KEY_REASON =
  'Tencent holds no private key for this certificate (it was ordered with your own CSR); it cannot be exported';
const LEAF_ONLY_REASON =
  'CertificatePublicKey holds only the leaf certificate; the intermediate chain is missing, and servers would present an incomplete chain';

/** Converts `\r\n` and lone `\r` to `\n` and trims surrounding whitespace. */
export function normalizePem(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim();
}

/**
 * Rebuilds one PEM block with 64-character lines. Tencent has been seen returning `\r\n` and the
 * base64 may arrive unwrapped; a body with `Name: value` headers (legacy encrypted keys) is kept
 * line for line, because rewrapping would merge the headers into the base64.
 */
function formatBlock(label: string, body: string): string {
  const lines = body
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const hasHeaders = lines.some((line) => line.includes(':'));
  const bodyLines = hasHeaders ? lines : wrap(lines.join(''));
  return [`-----BEGIN ${label}-----`, ...bodyLines, `-----END ${label}-----`].join('\n').concat('\n');
}

function wrap(base64: string): string[] {
  const lines: string[] = [];
  for (let start = 0; start < base64.length; start += PEM_LINE_LENGTH) {
    lines.push(base64.slice(start, start + PEM_LINE_LENGTH));
  }
  return lines;
}

/** Every `CERTIFICATE` block in `text`, in order, each normalised and ending in `\n`. Other text is ignored. */
export function splitPemCertificates(text: string): string[] {
  const normalized = normalizePem(text);
  return [...normalized.matchAll(CERTIFICATE_BLOCK)].map((match) =>
    formatBlock('CERTIFICATE', match[1] ?? ''),
  );
}

function privateKeyBlocks(text: string): string[] {
  return [...normalizePem(text).matchAll(PRIVATE_KEY_BLOCK)].map((match) =>
    formatBlock(match[1] ?? 'PRIVATE KEY', match[2] ?? ''),
  );
}

// Tencent's documentation examples show masked values such as `*****`: anything without a PEM
// header is treated as absent rather than as a corrupt PEM.
function isAbsent(text: string | null): boolean {
  return text === null || !text.includes('-----BEGIN');
}

function fail(problem: BundleProblem, reason: string): BundleCheck {
  return { ok: false, problem, reason };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Splits a node:crypto name list such as `DNS:a.example.com, DNS:"b,c"`. Since Node 17 values
 * with special characters are written as JSON strings, so a plain split on `, ` is not enough.
 */
function splitNameList(list: string): Array<{ type: string; value: string }> {
  const entries: Array<{ type: string; value: string }> = [];
  const pattern = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:,\s*|$)/g;
  for (const match of list.matchAll(pattern)) {
    const type = (match[1] ?? '').trim();
    const raw = match[2] ?? '';
    entries.push({ type, value: unquote(raw) });
  }
  return entries;
}

function unquote(raw: string): string {
  if (!raw.startsWith('"')) return raw.trim();
  try {
    return String(JSON.parse(raw));
  } catch {
    return raw;
  }
}

function distinguishedNameParts(name: string): Array<{ key: string; value: string }> {
  return name
    .split('\n')
    .filter((line) => line.includes('='))
    .map((line) => {
      const at = line.indexOf('=');
      return { key: line.slice(0, at), value: unquote(line.slice(at + 1)) };
    });
}

function commonNameOf(name: string): string | undefined {
  return distinguishedNameParts(name).find((part) => part.key === 'CN')?.value;
}

function oneLineName(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

/** A short label for a certificate in reasons: its subject CN, or the whole subject. */
function labelOf(certificate: X509Certificate): string {
  return commonNameOf(certificate.subject) ?? oneLineName(certificate.subject);
}

function dnsNamesOf(certificate: X509Certificate): string[] | undefined {
  const list = certificate.subjectAltName;
  if (list === undefined) return undefined;
  return splitNameList(list)
    .filter((entry) => entry.type === 'DNS')
    .map((entry) => entry.value);
}

function normalizeDomain(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * RFC 6125 matching, narrowed: a wildcard only stands for one whole left-most label, and a
 * wildcard domain is only covered by the same wildcard (a list of plain names is not the same
 * certificate).
 */
function covers(certificateName: string, domain: string): boolean {
  const name = normalizeDomain(certificateName);
  if (name === domain) return true;
  if (domain.startsWith('*.') || !name.startsWith('*.')) return false;
  const dot = domain.indexOf('.');
  return dot > 0 && domain.slice(dot + 1) === name.slice(2);
}

// Node 20 only has the string forms; `validFromDate`/`validToDate` arrived in later releases.
function validityOf(certificate: X509Certificate): { notBefore: Date; notAfter: Date } {
  const dated = certificate as X509Certificate & { validFromDate?: Date; validToDate?: Date };
  return {
    notBefore: dated.validFromDate ?? new Date(certificate.validFrom),
    notAfter: dated.validToDate ?? new Date(certificate.validTo),
  };
}

function isIssuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    // verify() throws rather than returning false for some key-type combinations.
    return false;
  }
}

/**
 * Checks that a certificate and key returned by DescribeCertificateDetail make a bundle a server
 * can use for `domain` at `now`. Pure: no I/O, no clock. A failure's `reason` may name subjects,
 * serials and dates but never contains key material.
 */
export function verifyCertificateBundle(input: VerifyCertificateBundleInput): BundleCheck {
  const { certificatePem, privateKeyPem, now } = input;
  const domain = normalizeDomain(input.domain);

  if (certificatePem === null || isAbsent(certificatePem)) {
    return fail('missing-certificate', 'CertificatePublicKey holds no PEM certificate (not issued yet?)');
  }
  if (privateKeyPem === null || isAbsent(privateKeyPem)) {
    return fail('missing-private-key', NO_PRIVATE_KEY_REASON);
  }

  const blocks = splitPemCertificates(certificatePem);
  if (blocks.length === 0) {
    return fail('unparsable', 'CertificatePublicKey holds no CERTIFICATE PEM block');
  }
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (error) {
      return fail(
        'unparsable',
        `certificate block ${index + 1} of ${blocks.length} in CertificatePublicKey cannot be parsed: ${messageOf(error)}`,
      );
    }
  }

  const keyBlocks = privateKeyBlocks(privateKeyPem);
  if (keyBlocks.length !== 1) {
    return fail(
      'unparsable',
      `CertificatePrivateKey holds ${keyBlocks.length} PRIVATE KEY PEM blocks; expected exactly one`,
    );
  }
  const privateKey = keyBlocks[0] ?? '';
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKey);
  } catch (error) {
    // Only node's error code: the message is safe today, but a key must never reach a log.
    const code = (error as { code?: unknown }).code;
    const detail = typeof code === 'string' ? ` (${code})` : '';
    return fail(
      'unparsable',
      `CertificatePrivateKey cannot be read as a PKCS#8, PKCS#1 or SEC1 private key; is it encrypted or corrupt?${detail}`,
    );
  }

  const [leaf, ...chain] = certificates;
  if (leaf === undefined) return fail('unparsable', 'CertificatePublicKey holds no certificate');

  const dnsNames = dnsNamesOf(leaf);
  const leafNames = dnsNames ?? [commonNameOf(leaf.subject)].filter((name) => name !== undefined);
  if (!leafNames.some((name) => covers(name, domain))) {
    const source = dnsNames === undefined ? 'subject common name' : 'subjectAltName DNS names';
    const listed = leafNames.length > 0 ? leafNames.join(', ') : 'none';
    return fail(
      'domain-mismatch',
      `the certificate (serial ${leaf.serialNumber}) does not cover ${domain}; its ${source}: ${listed}`,
    );
  }

  if (!leaf.checkPrivateKey(key)) {
    return fail(
      'key-mismatch',
      `CertificatePrivateKey does not belong to the certificate for ${labelOf(leaf)} (serial ${leaf.serialNumber})`,
    );
  }

  if (chain.length === 0) return fail('missing-chain', LEAF_ONLY_REASON);
  // Each certificate must be signed by the next one. Blocks in the wrong order are reported,
  // not reordered: the text is stored as given, and servers send it in that order.
  for (let position = 0; position < chain.length; position += 1) {
    const subject = certificates[position];
    const issuer = certificates[position + 1];
    if (subject === undefined || issuer === undefined) break;
    if (!isIssuedBy(subject, issuer)) {
      return fail(
        'broken-chain',
        `certificate ${position + 1} (${labelOf(subject)}, issued by ${commonNameOf(subject.issuer) ?? oneLineName(subject.issuer)}) ` +
          `is not signed by certificate ${position + 2} (${labelOf(issuer)})`,
      );
    }
  }

  const { notBefore, notAfter } = validityOf(leaf);
  if (now.getTime() < notBefore.getTime()) {
    return fail(
      'not-yet-valid',
      `the certificate for ${labelOf(leaf)} is not valid before ${notBefore.toISOString()} (now ${now.toISOString()})`,
    );
  }
  if (now.getTime() > notAfter.getTime()) {
    return fail(
      'expired',
      `the certificate for ${labelOf(leaf)} expired at ${notAfter.toISOString()} (now ${now.toISOString()})`,
    );
  }

  const certificate = blocks[0] ?? '';
  const chainPem = blocks.slice(1).join('');
  return {
    ok: true,
    bundle: {
      certificate,
      chain: chainPem,
      fullchain: certificate + chainPem,
      privateKey,
      subjectAltNames: dnsNames ?? [],
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      serialNumber: leaf.serialNumber,
      fingerprintSha256: createHash('sha256').update(leaf.raw).digest('hex'),
      issuer: commonNameOf(leaf.issuer) ?? oneLineName(leaf.issuer),
    },
  };
}
