/**
 * The two facts of a certificate's DER that node:crypto does not expose and ACM's import rules
 * ask about: the X.509 version, and the Key Usage extension (RFC 5280 4.2.1.3). A reader of
 * definite-length DER (which X.509 requires), just deep enough for these.
 */

interface Node {
  tag: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just past the content. */
  end: number;
}

export class DerError extends Error {
  override readonly name = 'DerError';
}

function read(der: Uint8Array, offset: number, limit: number): Node {
  if (offset + 2 > limit) throw new DerError('truncated DER');
  const tag = der[offset] as number;
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > limit) throw new DerError('unsupported DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[start + i] as number);
    start += bytes;
  }
  const end = start + length;
  if (end > limit) throw new DerError('DER element runs past its container');
  return { tag, start, end };
}

function children(der: Uint8Array, parent: Node): Node[] {
  const nodes: Node[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const node = read(der, offset, parent.end);
    nodes.push(node);
    offset = node.end;
  }
  return nodes;
}

const SEQUENCE = 0x30;
const VERSION = 0xa0; // [0] EXPLICIT
const EXTENSIONS = 0xa3; // [3] EXPLICIT
const OID = 0x06;
const BOOLEAN = 0x01;
const OCTET_STRING = 0x04;
const BIT_STRING = 0x03;
/** 2.5.29.15, id-ce-keyUsage, as DER content bytes. */
const KEY_USAGE_OID = [0x55, 0x1d, 0x0f];

function tbsCertificate(der: Uint8Array): Node {
  const certificate = read(der, 0, der.length);
  if (certificate.tag !== SEQUENCE) throw new DerError('not a certificate');
  const [tbs] = children(der, certificate);
  if (tbs?.tag !== SEQUENCE) throw new DerError('not a certificate');
  return tbs;
}

/** The certificate's version as written (1, 2 or 3); an absent version field means 1. */
export function certificateVersion(der: Uint8Array): number {
  const [first] = children(der, tbsCertificate(der));
  if (first?.tag !== VERSION) return 1;
  const [value] = children(der, first);
  if (value?.tag !== 0x02 || value.end - value.start !== 1) throw new DerError('unreadable version');
  return (der[value.start] as number) + 1;
}

/** RFC 5280 KeyUsage bits in order, named as ACM's API names them. */
const KEY_USAGE_NAMES = [
  'DIGITAL_SIGNATURE',
  'NON_REPUDIATION',
  'KEY_ENCIPHERMENT',
  'DATA_ENCIPHERMENT',
  'KEY_AGREEMENT',
  'CERTIFICATE_SIGNING',
  'CRL_SIGNING',
  'ENCIPHER_ONLY',
  'DECIPHER_ONLY',
] as const;

export type KeyUsageName = (typeof KEY_USAGE_NAMES)[number];

/** The Key Usage extension's values; undefined when the certificate has no such extension. */
export function keyUsages(der: Uint8Array): KeyUsageName[] | undefined {
  const extensions = children(der, tbsCertificate(der)).find((node) => node.tag === EXTENSIONS);
  if (!extensions) return undefined;
  const [list] = children(der, extensions);
  if (list?.tag !== SEQUENCE) throw new DerError('unreadable extensions');
  for (const extension of children(der, list)) {
    const parts = children(der, extension);
    const [oid] = parts;
    if (oid?.tag !== OID) continue;
    const id = der.subarray(oid.start, oid.end);
    if (id.length !== KEY_USAGE_OID.length || KEY_USAGE_OID.some((byte, i) => id[i] !== byte)) continue;
    const value = parts.find((part, i) => i > 0 && part.tag !== BOOLEAN);
    if (value?.tag !== OCTET_STRING) throw new DerError('unreadable key usage');
    const bits = read(der, value.start, value.end);
    if (bits.tag !== BIT_STRING || bits.end <= bits.start) throw new DerError('unreadable key usage');
    const names: KeyUsageName[] = [];
    KEY_USAGE_NAMES.forEach((name, bit) => {
      const byte = der[bits.start + 1 + Math.floor(bit / 8)];
      if (byte !== undefined && bits.start + 1 + Math.floor(bit / 8) < bits.end && byte & (0x80 >> (bit % 8)))
        names.push(name);
    });
    return names;
  }
  return undefined;
}
