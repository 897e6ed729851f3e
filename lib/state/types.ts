/**
 * The tool's memory (STATE_TABLE), shared by every run against one account: what it owns in DNS,
 * what it last saw of each certificate, one-time claims, webhook signatures seen, and export
 * failures not worth retrying every run. Plain records only: no Tencent or Route53 types.
 */

/** One DNS record value the tool wrote (or is about to write) and may therefore change or remove. */
export interface OwnedValue {
  /** Hosted zone id (bare, without `/hostedzone/`). */
  zoneId: string;
  /** Fully qualified record name: lower case, no trailing dot. */
  name: string;
  type: 'CNAME' | 'TXT';
  /** CNAME: the target host (lower case, no trailing dot). TXT: the text itself, unquoted. */
  value: string;
  /** The certificate this value validates. */
  certificateId: string;
  /** Epoch ms when ownership was first recorded. */
  since: number;
}

/** What a run last saw of a certificate, so an idle run can skip re-reading it. */
export interface CertificateMemory {
  certificateId: string;
  /** Tencent status at the last look. */
  status: number | null;
  /** A digest of the listing fields that matter (status, names, deadline): a change means "read again". */
  listingDigest: string;
  /** All of the certificate's validation records were in place after that look. */
  recordsInPlace: boolean;
  /** Epoch ms of the last full read (DescribeCertificate or -Detail). */
  readAt: number;
}

/** A permanent export failure: reported by `status`, not retried until the certificate changes. */
export interface ExportFailure {
  certificateId: string;
  /** e.g. `no-private-key`, `name-collision`, `untrusted-chain`. */
  kind: string;
  reason: string;
  /** The certificate's fingerprint when it failed; a new fingerprint means "try again". */
  fingerprint?: string | undefined;
  at: number;
}

/** A one-time action claimed by one run (applying for a certificate, announcing a transition). */
export interface Claim {
  key: string;
  /** Who holds it (a run id). */
  owner: string;
  at: number;
  /** Set when the action is done: the claim then stands for good (or until it expires). */
  done?: { at: number; result: string } | undefined;
  /** Set when the action failed and the claim was given back. */
  released?: { at: number; reason: string } | undefined;
}

export interface StateStore {
  /** Owned values at these names (any type, any certificate). */
  ownedAt(names: readonly string[]): Promise<OwnedValue[]>;
  /** Every owned value (for cleanup of certificates that are gone). */
  allOwned(): Promise<OwnedValue[]>;
  /** Records ownership of these values; recording one already owned refreshes nothing and is no error. */
  own(values: readonly OwnedValue[]): Promise<void>;
  /** Forgets these values (after they were removed from DNS); forgetting one not owned is no error. */
  disown(values: readonly Pick<OwnedValue, 'name' | 'type' | 'value'>[]): Promise<void>;

  /** What was last seen of these certificates (absent ones were never seen). */
  memories(certificateIds: readonly string[]): Promise<Map<string, CertificateMemory>>;
  remember(memories: readonly CertificateMemory[]): Promise<void>;
  forget(certificateIds: readonly string[]): Promise<void>;

  /**
   * Claims `key` for `owner` unless another run holds it or it is done: a conditional write, so
   * of two racing runs exactly one gets `true`. A claim older than `staleAfterMs` that is neither
   * done nor released (a run that crashed between claim and call) is reported, never taken over
   * silently: it stays held until released by hand or expired by `ttlMs`.
   * The holder claiming again gets `true` (a retried call must not lose its own claim); a done
   * claim answers `false` to everyone until it expires. A released or expired claim is free.
   */
  claim(key: string, owner: string, options: { ttlMs: number }): Promise<boolean>;
  /**
   * Marks a held claim done with its result (e.g. the new certificate id); ClaimNotHeldError
   * when `owner` does not hold it or gave it back.
   */
  complete(key: string, owner: string, result: string): Promise<void>;
  /**
   * Gives a held claim back with the reason (the call failed); the next run may claim again.
   * ClaimNotHeldError when `owner` does not hold it or it is done.
   */
  release(key: string, owner: string, reason: string): Promise<void>;
  /** The claim's current state, if any; undefined once expired. */
  claimOf(key: string): Promise<Claim | undefined>;

  /** Records a webhook signature; false when it was already seen (a replay). Expires after `ttlMs`. */
  firstSighting(signature: string, options: { ttlMs: number }): Promise<boolean>;

  exportFailures(): Promise<Map<string, ExportFailure>>;
  recordExportFailure(failure: ExportFailure): Promise<void>;
  clearExportFailure(certificateId: string): Promise<void>;
}
