import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { isUnder, normalizeName, stripWildcard } from '../domain.js';
import { buildTrustedChain, type ChainBreak, type TrustAnchors } from './trust.js';

/**
 * Why a certificate and key from Tencent are not exported. Every one but `missing-private-key`
 * is a refusal: the certificate is not trusted as it is, and nothing is written for it.
 */
export type BundleProblem =
  | 'missing-certificate'
  | 'missing-private-key'
  | 'unparsable'
  | 'key-mismatch'
  | 'domain-mismatch'
  | 'name-outside-allow-list'
  | 'not-yet-valid'
  | 'expired'
  | 'untrusted-chain';

/** A verified certificate, ready to be stored. Every PEM is normalised and ends in one `\n`. */
export interface CertificateBundle {
  /** The leaf certificate alone. */
  certificate: string;
  /**
   * The intermediates from the leaf's issuer up to (not including) the trusted root, in the order
   * a server sends them, whatever order Tencent gave them in.
   */
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
  /** The trusted root the chain ends at (common name, or the whole name). */
  root: string;
  /** Whether a certificate of `extraCertificates` was needed to reach the root. */
  chainCompletedFromExtra: boolean;
}

export type BundleCheck =
  | { ok: true; bundle: CertificateBundle }
  | { ok: false; problem: BundleProblem; reason: string };

export interface VerifyCertificateBundleInput {
  /** Tencent's `CertificatePublicKey`: the leaf first, possibly followed by intermediates. */
  certificatePem: string | null;
  /** Tencent's `CertificatePrivateKey`. */
  privateKeyPem: string | null;
  /** The name the certificate was ordered for; `*.example.com` for a wildcard. */
  domain: string;
  now: Date;
  /** The roots the chain must end at. */
  trust: TrustAnchors;
  /**
   * ALLOWED_DOMAINS: every name on the leaf must lie under one of them. `'*'` allows any name;
   * undefined (unset) allows none.
   */
  allowedDomains: readonly string[] | '*' | undefined;
  /**
   * More certificates that may complete the chain, in any order, unrelated ones allowed: the
   * PEMs of the DownloadCertificate archive.
   */
  extraCertificates?: readonly string[];
  /** What `extraCertificates` are, for reasons. Default "the extra certificates". */
  extraSource?: string;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
// PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) and their encrypted forms.
const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----([\s\S]*?)-----END \1-----/g;
const PEM_LINE_LENGTH = 64;

const NO_PRIVATE_KEY_REASON =
  'Tencent holds no private key for this certificate (it was ordered with your own CSR); it cannot be exported';

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

function altNamesOf(certificate: X509Certificate): Array<{ type: string; value: string }> | undefined {
  const list = certificate.subjectAltName;
  return list === undefined ? undefined : splitNameList(list);
}

function dnsNamesOf(certificate: X509Certificate): string[] | undefined {
  return altNamesOf(certificate)
    ?.filter((entry) => entry.type === 'DNS')
    .map((entry) => entry.value);
}

/**
 * RFC 6125 matching, narrowed: a wildcard only stands for one whole left-most label, and a
 * wildcard domain is only covered by the same wildcard (a list of plain names is not the same
 * certificate).
 */
function covers(certificateName: string, domain: string): boolean {
  const name = normalizeName(certificateName);
  if (name === domain) return true;
  if (domain.startsWith('*.') || !name.startsWith('*.')) return false;
  const dot = domain.indexOf('.');
  return dot > 0 && domain.slice(dot + 1) === name.slice(2);
}

/** True when `name` (a wildcard's base counts) lies under one of `allowed`. */
function allowedName(name: string, allowed: readonly string[]): boolean {
  const base = stripWildcard(normalizeName(name));
  return base !== '' && allowed.some((domain) => isUnder(base, domain));
}

/**
 * The names on the leaf that lie outside ALLOWED_DOMAINS: every DNS name of its subjectAltName,
 * its subject common name, and any subjectAltName entry that is not a DNS name at all (an IP
 * address or an e-mail address lies under no domain).
 */
function namesOutside(leaf: X509Certificate, allowedDomains: readonly string[] | '*'): string[] {
  if (allowedDomains === '*') return [];
  const allowed = allowedDomains.map((domain) => stripWildcard(normalizeName(domain)));
  const outside: string[] = [];
  for (const entry of altNamesOf(leaf) ?? []) {
    if (entry.type !== 'DNS') outside.push(`${entry.type}:${entry.value}`);
    else if (!allowedName(entry.value, allowed)) outside.push(entry.value);
  }
  const commonName = commonNameOf(leaf.subject);
  if (commonName !== undefined && !allowedName(commonName, allowed) && !outside.includes(commonName)) {
    outside.push(`${commonName} (subject common name)`);
  }
  return outside;
}

const quoted = (certificate: X509Certificate): string => `"${labelOf(certificate)}"`;

function chainReason(found: ChainBreak, trust: TrustAnchors, extraSource: string | undefined): string {
  const roots = `the ${trust.roots.length} roots of ${trust.description}`;
  const given = extraSource ? `CertificatePublicKey or ${extraSource}` : 'CertificatePublicKey';
  const issuerName = (c: X509Certificate) => `"${commonNameOf(c.issuer) ?? oneLineName(c.issuer)}"`;
  switch (found.kind) {
    case 'no-issuer':
      return `no chain to a trusted root: ${quoted(found.at)} was issued by ${issuerName(found.at)}, which is neither among ${roots} nor in ${given}`;
    case 'untrusted-root':
      return `the chain ends at the self-signed ${quoted(found.at)}, which is not among ${roots}`;
    case 'bad-signature':
      return `${quoted(found.issuer)} bears the name of ${quoted(found.at)}'s issuer, but the signature of ${quoted(found.at)} does not verify with its key`;
    case 'not-a-ca':
      return `${quoted(found.issuer)} would have issued ${quoted(found.at)} but is not a CA certificate`;
    case 'issuer-not-valid':
      return `${quoted(found.issuer)}, the issuer of ${quoted(found.at)}, is valid only from ${found.issuer.validFromDate.toISOString()} to ${found.issuer.validToDate.toISOString()}`;
    case 'too-long':
      return `no chain to a trusted root within a realistic length (stopped at ${quoted(found.at)})`;
  }
}

function parseBlocks(blocks: readonly string[], where: string): X509Certificate[] | BundleCheck {
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (error) {
      return fail(
        'unparsable',
        `certificate block ${index + 1} of ${blocks.length} in ${where} cannot be parsed: ${messageOf(error)}`,
      );
    }
  }
  return certificates;
}

/**
 * Decides whether a certificate and key returned by DescribeCertificateDetail can be trusted and
 * served for `domain` at `now`: the leaf covers `domain`, every name on it lies under
 * ALLOWED_DOMAINS, the private key is its own, it is within its validity period, and a chain from
 * it reaches one of `trust`'s roots through certificates Tencent gave (`CertificatePublicKey`,
 * then `extraCertificates`). Pure: no I/O, no clock. A failure's `reason` may name subjects,
 * serials and dates but never contains key material.
 */
export function verifyCertificateBundle(input: VerifyCertificateBundleInput): BundleCheck {
  const { certificatePem, privateKeyPem, now, trust } = input;
  const domain = normalizeName(input.domain);

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
  const given = parseBlocks(blocks, 'CertificatePublicKey');
  if (!Array.isArray(given)) return given;
  const extraBlocks = (input.extraCertificates ?? []).flatMap(splitPemCertificates);
  const extra = parseBlocks(extraBlocks, input.extraSource ?? 'the extra certificates');
  if (!Array.isArray(extra)) return extra;

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

  const [leaf] = given;
  if (leaf === undefined) return fail('unparsable', 'CertificatePublicKey holds no certificate');

  if (!leaf.checkPrivateKey(key)) {
    return fail(
      'key-mismatch',
      `CertificatePrivateKey does not belong to the certificate for ${labelOf(leaf)} (serial ${leaf.serialNumber})`,
    );
  }

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

  if (input.allowedDomains === undefined) {
    return fail(
      'name-outside-allow-list',
      'ALLOWED_DOMAINS is not set, so no certificate is exported; set it to the domains this tool may handle',
    );
  }
  const outside = namesOutside(leaf, input.allowedDomains);
  if (outside.length > 0) {
    return fail(
      'name-outside-allow-list',
      `the certificate for ${labelOf(leaf)} names ${outside.join(', ')}, outside ALLOWED_DOMAINS (${[...input.allowedDomains].join(', ')})`,
    );
  }

  const notBefore = leaf.validFromDate;
  const notAfter = leaf.validToDate;
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

  const pemOf = new Map<string, string>();
  for (const [index, c] of given.entries()) pemOf.set(c.fingerprint256, blocks[index] ?? c.toString());
  const fromExtra = new Set<string>();
  for (const [index, c] of extra.entries()) {
    if (pemOf.has(c.fingerprint256)) continue;
    pemOf.set(c.fingerprint256, extraBlocks[index] ?? c.toString());
    fromExtra.add(c.fingerprint256);
  }
  const chain = buildTrustedChain(leaf, [...given.slice(1), ...extra], trust, now);
  if (!chain.ok) return fail('untrusted-chain', chainReason(chain.break, trust, input.extraSource));

  const certificate = blocks[0] ?? '';
  const chainPem = chain.intermediates.map((c) => pemOf.get(c.fingerprint256) ?? '').join('');
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
      root: labelOf(chain.root),
      chainCompletedFromExtra: chain.intermediates.some((c) => fromExtra.has(c.fingerprint256)),
    },
  };
}
