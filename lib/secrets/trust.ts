import { X509Certificate } from 'node:crypto';
import { getCACertificates } from 'node:tls';

/** The roots an exported certificate's chain must end at. */
export interface TrustAnchors {
  readonly roots: readonly X509Certificate[];
  /** Where the roots come from, for refusal reasons. */
  readonly description: string;
}

// Parsing the ~150 roots of Node's store costs a few milliseconds: once per PEM text per process.
const parsedRoots = new Map<string, X509Certificate | null>();

function parseRoot(pem: string): X509Certificate | null {
  let certificate = parsedRoots.get(pem);
  if (certificate === undefined) {
    try {
      certificate = new X509Certificate(pem);
    } catch {
      certificate = null;
    }
    parsedRoots.set(pem, certificate);
  }
  return certificate;
}

/** Trust anchors from PEM texts (one certificate each); unreadable ones and duplicates are skipped. */
export function trustAnchorsFrom(pems: readonly string[], description: string): TrustAnchors {
  const seen = new Set<string>();
  const roots: X509Certificate[] = [];
  for (const pem of pems) {
    const root = parseRoot(pem);
    if (root === null || seen.has(root.fingerprint256)) continue;
    seen.add(root.fingerprint256);
    roots.push(root);
  }
  return { roots, description };
}

/**
 * What Node trusts for TLS right now: its bundled Mozilla roots, the certificates of
 * NODE_EXTRA_CA_CERTS, and the system store when Node runs with --use-system-ca
 * (`tls.getCACertificates('default')`, Node 22.15+). Read at each call, so a root added with
 * `tls.setDefaultCACertificates` counts too.
 */
export function nodeTrustAnchors(): TrustAnchors {
  return trustAnchorsFrom(
    getCACertificates('default'),
    "Node's trust store: its bundled roots plus NODE_EXTRA_CA_CERTS",
  );
}

/** Why no chain from a certificate to a trusted root could be built; `at` is where it broke. */
export type ChainBreak =
  /** Nothing available (trusted roots or certificates given) issued `at`. */
  | { kind: 'no-issuer'; at: X509Certificate }
  /** `at` is self-signed and not a trusted root. */
  | { kind: 'untrusted-root'; at: X509Certificate }
  /** `issuer` has the name and key identifier of `at`'s issuer, but its key does not verify `at`'s signature. */
  | { kind: 'bad-signature'; at: X509Certificate; issuer: X509Certificate }
  /** `issuer` would issue `at` but is not a CA certificate (basicConstraints CA:FALSE or absent). */
  | { kind: 'not-a-ca'; at: X509Certificate; issuer: X509Certificate }
  /** `issuer` would issue `at` but is outside its validity period. */
  | { kind: 'issuer-not-valid'; at: X509Certificate; issuer: X509Certificate }
  /** The chain grew longer than any real one. */
  | { kind: 'too-long'; at: X509Certificate };

export type ChainResult =
  | {
      ok: true;
      /** The certificates between the leaf and the root, the leaf's issuer first; the root is not included. */
      intermediates: X509Certificate[];
      root: X509Certificate;
    }
  | { ok: false; break: ChainBreak };

/** Leaf, intermediates and root: real public chains have one to three intermediates. */
const MAX_INTERMEDIATES = 5;

function validAt(certificate: X509Certificate, now: Date): boolean {
  return (
    certificate.validFromDate.getTime() <= now.getTime() && now.getTime() <= certificate.validToDate.getTime()
  );
}

function signedBy(subject: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return subject.verify(issuer.publicKey);
  } catch {
    // verify() throws rather than returning false for some key-type combinations.
    return false;
  }
}

/**
 * Builds a chain from `leaf` to one of `anchors`, drawing intermediates from `candidates` (in any
 * order, unrelated certificates allowed: the PEMs of a download archive). An issuer must match by
 * name and key identifier (`checkIssued`), verify the signature, be a CA (trusted roots are taken
 * as they are: old v1 roots carry no basicConstraints) and be valid at `now`. Where several
 * candidates could issue a certificate (a cross-signed intermediate), each is tried, so a chain is
 * found whenever one exists. Path length and name constraints are not checked: node:crypto does
 * not expose them.
 */
export function buildTrustedChain(
  leaf: X509Certificate,
  candidates: readonly X509Certificate[],
  anchors: TrustAnchors,
  now: Date,
): ChainResult {
  const anchorPrints = new Set(anchors.roots.map((root) => root.fingerprint256));
  const seen = new Set<string>([leaf.fingerprint256]);
  const pool: X509Certificate[] = [];
  for (const candidate of candidates) {
    if (seen.has(candidate.fingerprint256) || anchorPrints.has(candidate.fingerprint256)) continue;
    seen.add(candidate.fingerprint256);
    pool.push(candidate);
  }

  // The break reported is the one furthest from the leaf: where the chain got closest to a root.
  let deepest: { depth: number; break: ChainBreak } | undefined;
  const note = (depth: number, found: ChainBreak) => {
    if (!deepest || depth > deepest.depth) deepest = { depth, break: found };
  };

  const search = (
    certificate: X509Certificate,
    depth: number,
    path: ReadonlySet<string>,
  ): { intermediates: X509Certificate[]; root: X509Certificate } | undefined => {
    let named = false;
    for (const root of anchors.roots) {
      if (!certificate.checkIssued(root)) continue;
      named = true;
      if (!signedBy(certificate, root)) note(depth, { kind: 'bad-signature', at: certificate, issuer: root });
      else if (!validAt(root, now)) note(depth, { kind: 'issuer-not-valid', at: certificate, issuer: root });
      else return { intermediates: [], root };
    }
    if (depth >= MAX_INTERMEDIATES) {
      note(depth, { kind: 'too-long', at: certificate });
      return undefined;
    }
    for (const issuer of pool) {
      if (path.has(issuer.fingerprint256) || !certificate.checkIssued(issuer)) continue;
      named = true;
      if (!issuer.ca) note(depth, { kind: 'not-a-ca', at: certificate, issuer });
      else if (!signedBy(certificate, issuer))
        note(depth, { kind: 'bad-signature', at: certificate, issuer });
      else if (!validAt(issuer, now)) note(depth, { kind: 'issuer-not-valid', at: certificate, issuer });
      else {
        const rest = search(issuer, depth + 1, new Set([...path, issuer.fingerprint256]));
        if (rest) return { intermediates: [issuer, ...rest.intermediates], root: rest.root };
      }
    }
    if (!named) {
      const selfSigned = certificate.checkIssued(certificate) && signedBy(certificate, certificate);
      note(depth, { kind: selfSigned ? 'untrusted-root' : 'no-issuer', at: certificate });
    }
    return undefined;
  };

  const found = search(leaf, 0, new Set());
  if (found) return { ok: true, ...found };
  return { ok: false, break: deepest?.break ?? { kind: 'no-issuer', at: leaf } };
}
