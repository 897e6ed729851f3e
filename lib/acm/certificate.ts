import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { certificateVersion, DerError, keyUsages } from './der.js';

/**
 * A certificate as ACM imports it, and what ties it to the secret it was exported to: plain
 * PEM text and names, nothing of where the certificate came from.
 */
export interface AcmCertificate {
  /** The secret the certificate was exported to: one ACM certificate (ARN) per secret, across renewals. */
  secretName: string;
  /** The certificate's id at its source, recorded as a tag. */
  certificateId: string;
  /** The leaf alone, PEM. */
  certificatePem: string;
  /** The intermediates from the leaf's issuer upwards, without the leaf (and without the root), PEM. */
  chainPem: string;
  /** Unencrypted, PEM. */
  privateKeyPem: string;
  /** SHA-256 of the leaf's DER, lower-case hex: what tells one certificate from another. */
  fingerprintSha256: string;
  /** ISO 8601. */
  notAfter: string;
  /** Digest of the certificate's name set: certificates with the same one are renewals of each other. */
  namesSha256: string;
}

/**
 * Limits of ImportCertificate, from ACM's API model (CertificateBodyBlob, CertificateChainBlob,
 * PrivateKeyBlob, TagValue) and the API reference's guidelines (the OCSP URL).
 */
const IMPORT_LIMITS = {
  certificateBytes: 32_768,
  chainBytes: 2_097_152,
  privateKeyBytes: 5_120,
  ocspUrlLength: 1_000,
  tagValueLength: 256,
} as const;

/** The key algorithms ACM imports, by ACM's names (import-certificate-prerequisites). */
export const KEY_ALGORITHMS = [
  'RSA_1024',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'EC_prime256v1',
  'EC_secp384r1',
  'EC_secp521r1',
] as const;

type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

const ALGORITHMS_IMPORTED =
  'ACM imports RSA keys of 1024, 2048, 3072 or 4096 bits and ECDSA keys on P-256, P-384 or P-521';

/** The key usages an ARN's current certificate has, as ListCertificates names them. */
export interface HeldUsages {
  keyUsages?: readonly string[] | undefined;
  extendedKeyUsages?: readonly string[] | undefined;
}

/** Extended key usage OIDs by ACM's names. */
const EXTENDED_KEY_USAGES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'TLS_WEB_SERVER_AUTHENTICATION',
  '1.3.6.1.5.5.7.3.2': 'TLS_WEB_CLIENT_AUTHENTICATION',
  '1.3.6.1.5.5.7.3.3': 'CODE_SIGNING',
  '1.3.6.1.5.5.7.3.4': 'EMAIL_PROTECTION',
  '1.3.6.1.5.5.7.3.5': 'IPSEC_END_SYSTEM',
  '1.3.6.1.5.5.7.3.6': 'IPSEC_TUNNEL',
  '1.3.6.1.5.5.7.3.7': 'IPSEC_USER',
  '1.3.6.1.5.5.7.3.8': 'TIME_STAMPING',
  '1.3.6.1.5.5.7.3.9': 'OCSP_SIGNING',
  '2.5.29.37.0': 'ANY',
};

/** Names ListCertificates may give that say nothing comparable about a certificate's own values. */
const UNCOMPARABLE = new Set(['ANY', 'NONE', 'CUSTOM']);

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

interface PemBlock {
  label: string;
  body: string;
  text: string;
}

/** The PEM blocks of `text`; undefined when anything but whitespace lies outside them. */
function pemBlocks(text: string): PemBlock[] | undefined {
  const blocks: PemBlock[] = [];
  let rest = text;
  for (const match of text.matchAll(PEM_BLOCK)) {
    blocks.push({ label: match[1] as string, body: match[2] as string, text: match[0] });
    rest = rest.replace(match[0], '');
  }
  return rest.trim() === '' ? blocks : undefined;
}

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** ACM's name for the key of `certificate`, or a description of a key it does not import. */
function keyAlgorithmOf(key: KeyObject): { algorithm: KeyAlgorithm } | { unsupported: string } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const name = `RSA_${details.modulusLength}`;
    return (KEY_ALGORITHMS as readonly string[]).includes(name)
      ? { algorithm: name as KeyAlgorithm }
      : { unsupported: `RSA ${details.modulusLength} bits` };
  }
  if (key.asymmetricKeyType === 'ec') {
    const name = `EC_${details.namedCurve}`;
    return (KEY_ALGORITHMS as readonly string[]).includes(name)
      ? { algorithm: name as KeyAlgorithm }
      : { unsupported: `EC on curve ${details.namedCurve ?? 'unknown'}` };
  }
  return { unsupported: key.asymmetricKeyType ?? 'of an unknown type' };
}

function isSelfSigned(certificate: X509Certificate): boolean {
  return certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey);
}

/** The OCSP responder URLs of the Authority Information Access extension. */
function ocspUrls(certificate: X509Certificate): string[] {
  return (certificate.infoAccess ?? '')
    .split('\n')
    .filter((line) => line.startsWith('OCSP - URI:'))
    .map((line) => line.slice('OCSP - URI:'.length));
}

/**
 * Why ACM would refuse to import `certificate` now (into an ARN whose current certificate has the
 * usages `held`, when re-importing), or undefined when it passes every rule checked here:
 *
 * - the certificate is one PEM block, the chain PEM blocks of certificates only, the key one
 *   unencrypted PEM private key; within ImportCertificate's sizes (32 768, 2 097 152 and 5 120 bytes);
 * - an X.509 version 3 certificate with an issuer, valid now, whose key is one ACM imports
 *   (RSA 1024/2048/3072/4096, ECDSA P-256/P-384/P-521) and matches the private key;
 * - the chain given without the leaf, each certificate certifying the one before it, and given at
 *   all unless the certificate is self-signed; an OCSP URL of at most 1 000 characters;
 * - on re-import, no key usage or extended key usage of the ARN's certificate dropped, except
 *   those ACM lets go (keyEncipherment of an ECDSA key, client authentication);
 * - the secret name fits in a tag value.
 *
 * Sources: ACM User Guide "Prerequisites for importing ACM certificates", "Certificate and key
 * format for importing", "Reimport a certificate"; API Reference "ImportCertificate", "Tag".
 */
export function importRefusal(certificate: AcmCertificate, now: Date, held?: HeldUsages): string | undefined {
  const { certificatePem, chainPem, privateKeyPem } = certificate;
  if (bytes(certificatePem) > IMPORT_LIMITS.certificateBytes)
    return `the certificate is ${bytes(certificatePem)} bytes of PEM; ACM imports at most ${IMPORT_LIMITS.certificateBytes}`;
  if (bytes(chainPem) > IMPORT_LIMITS.chainBytes)
    return `the chain is ${bytes(chainPem)} bytes of PEM; ACM imports at most ${IMPORT_LIMITS.chainBytes}`;
  if (bytes(privateKeyPem) > IMPORT_LIMITS.privateKeyBytes)
    return `the private key is ${bytes(privateKeyPem)} bytes of PEM; ACM imports at most ${IMPORT_LIMITS.privateKeyBytes}`;
  if (certificate.secretName.length > IMPORT_LIMITS.tagValueLength)
    return `the secret name is ${certificate.secretName.length} characters; an ACM tag value holds at most ${IMPORT_LIMITS.tagValueLength}`;

  const leafBlocks = pemBlocks(certificatePem);
  if (leafBlocks?.length !== 1 || leafBlocks[0]?.label !== 'CERTIFICATE')
    return 'the certificate must be exactly one PEM CERTIFICATE block';
  const chainBlocks = pemBlocks(chainPem);
  if (!chainBlocks || chainBlocks.some((block) => block.label !== 'CERTIFICATE'))
    return 'the chain must hold PEM CERTIFICATE blocks only';
  const keyBlocks = pemBlocks(privateKeyPem)?.filter((block) => block.label !== 'EC PARAMETERS');
  const keyBlock = keyBlocks?.length === 1 ? keyBlocks[0] : undefined;
  if (!keyBlock || !/^(RSA |EC |ENCRYPTED )?PRIVATE KEY$/.test(keyBlock.label))
    return 'the private key must be exactly one PEM private key block';
  if (keyBlock.label === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type:\s*4,\s*ENCRYPTED/m.test(keyBlock.body))
    return 'the private key is encrypted; ACM imports unencrypted keys only';

  let leaf: X509Certificate;
  let chain: X509Certificate[];
  let key: KeyObject;
  let version: number;
  let usages: string[] | undefined;
  try {
    leaf = new X509Certificate(certificatePem);
    chain = chainBlocks.map((block) => new X509Certificate(block.text));
    key = createPrivateKey(keyBlock.text);
    version = certificateVersion(new Uint8Array(leaf.raw));
    usages = keyUsages(new Uint8Array(leaf.raw));
  } catch (error) {
    const what = error instanceof DerError ? error.message : 'a PEM block cannot be read';
    return `the certificate, chain or key cannot be read (${what})`;
  }

  if (version !== 3) return `the certificate is X.509 version ${version}; ACM imports version 3 only`;
  if (leaf.issuer.trim() === '') return 'the certificate has an empty issuer';
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  if (now.getTime() < notBefore) return `the certificate is not valid before ${leaf.validFrom}`;
  if (now.getTime() > notAfter) return `the certificate expired ${leaf.validTo}`;
  const algorithm = keyAlgorithmOf(leaf.publicKey);
  if ('unsupported' in algorithm) return `the key is ${algorithm.unsupported}: ${ALGORITHMS_IMPORTED}`;
  if (!leaf.checkPrivateKey(key)) return 'the private key is not the certificate’s own';
  const longOcsp = ocspUrls(leaf).find((url) => url.length > IMPORT_LIMITS.ocspUrlLength);
  if (longOcsp)
    return `the OCSP URL is ${longOcsp.length} characters; ACM imports at most ${IMPORT_LIMITS.ocspUrlLength}`;

  if (chain.some((c) => c.fingerprint256 === leaf.fingerprint256))
    return 'the chain holds the certificate itself; ACM takes the chain without it';
  if (chain.length === 0 && !isSelfSigned(leaf))
    return 'the certificate is not self-signed and comes without a chain';
  let child = leaf;
  for (const [index, parent] of chain.entries()) {
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey))
      return `chain certificate ${index + 1} (${parent.subject.replaceAll('\n', ', ')}) did not issue the certificate before it`;
    child = parent;
  }

  if (held) {
    const isEc = algorithm.algorithm.startsWith('EC_');
    const offeredKeyUsages = new Set<string>(usages ?? []);
    const droppedKeyUsages = (held.keyUsages ?? []).filter(
      (name) =>
        !UNCOMPARABLE.has(name) && !offeredKeyUsages.has(name) && !(isEc && name === 'KEY_ENCIPHERMENT'),
    );
    const offeredExtended = new Set((leaf.keyUsage ?? []).map((oid) => EXTENDED_KEY_USAGES[oid] ?? oid));
    const droppedExtended = (held.extendedKeyUsages ?? []).filter(
      (name) =>
        !UNCOMPARABLE.has(name) && !offeredExtended.has(name) && name !== 'TLS_WEB_CLIENT_AUTHENTICATION',
    );
    const dropped = [...droppedKeyUsages, ...droppedExtended];
    if (dropped.length > 0)
      return `ACM keeps the key usages of a re-imported certificate, and this one drops ${dropped.join(', ')}`;
  }
  return undefined;
}
