import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AcmOutcome, AcmSink } from './acm/import.js';
import { errorName } from './aws-errors.js';
import type { Clock } from './clock.js';
import type { EventsReport } from './events/types.js';
import { ExportAcm } from './export-acm.js';
import type { Logger } from './logger.js';
import { mapPool } from './pool.js';
import { CertificateArchiveError, certificatesFromArchive } from './secrets/archive.js';
import { nameSetDigest, normalizeNameSet, secretNameFor } from './secrets/naming.js';
import { type BundleProblem, type CertificateBundle, verifyCertificateBundle } from './secrets/pem.js';
import {
  createSecret,
  listManagedSecrets,
  type ManagedSecret,
  putSecretVersion,
  type SecretTags,
  tagSecret,
} from './secrets/secret-store.js';
import { nodeTrustAnchors, type TrustAnchors } from './secrets/trust.js';
import type { ExportFailure, StateStore } from './state/types.js';
import type { CertificateListItem, InvalidListItem } from './tencent/schemas.js';
import { CertificateStatus, type TencentSslApi } from './tencent/ssl-api.js';

/** The Tencent calls export makes; with `nextSlot`, it reads through the freer of two actions. */
type ExportTencentApi = Pick<
  TencentSslApi,
  'listCertificates' | 'describeCertificateDetail' | 'downloadCertificate'
> &
  Partial<Pick<TencentSslApi, 'nextSlot'>>;

interface ExportSettings {
  nameTemplate: string;
  kmsKeyId?: string | undefined;
  dryRun: boolean;
  /**
   * ALLOWED_DOMAINS: every name on an exported certificate must lie under one of them. `'*'`
   * allows any name; unset (undefined), nothing is exported.
   */
  allowedDomains: readonly string[] | '*' | undefined;
}

export interface ExportDeps {
  tencent: ExportTencentApi;
  secrets: SecretsManagerClient;
  clock: Clock;
  logger: Logger;
  settings: ExportSettings;
  /**
   * The roots an exported certificate's chain must reach, asked once per run. Default: what
   * Node trusts (its bundled roots plus NODE_EXTRA_CA_CERTS); the sandbox and tests add their
   * local CA's root.
   */
  trust?: () => TrustAnchors;
  /**
   * The state table: export failures no retry can mend by itself (a refused certificate, one
   * without a private key, a secret name taken by a secret this tool does not manage) are
   * remembered, reported, and checked again only after a day instead of every run.
   */
  state?: Pick<StateStore, 'exportFailures' | 'recordExportFailure' | 'clearExportFailure'>;
  /** ACM_IMPORT: ACM gets the certificate each secret holds as well (export-acm.ts). */
  acm?: AcmSink;
  /**
   * Told about every finished export that is not a dry run (events, metrics). Sync's inline
   * export goes without: the sync's own observer sees its entries in the sync report.
   */
  observer?: ExportObserver;
}

/** How long a remembered export failure stands before the certificate is checked again. */
const RECHECK_FAILURE_AFTER_MS = 24 * 3600 * 1000;

/**
 * What earlier runs learnt and remembered: certificates not worth reading again yet, as the
 * readings a run would make of them. Unreadable memory only means reading everything again.
 */
async function rememberedReadings(
  deps: Pick<ExportDeps, 'state' | 'clock' | 'logger'>,
): Promise<{ readings: Map<string, CertificateReading>; remembered: Set<string> }> {
  const readings = new Map<string, CertificateReading>();
  if (!deps.state) return { readings, remembered: new Set() };
  let failures: Map<string, ExportFailure>;
  try {
    failures = await deps.state.exportFailures();
  } catch (error) {
    deps.logger.warn('cannot read the remembered export failures', { error: describeError(error) });
    return { readings, remembered: new Set() };
  }
  const now = deps.clock.now();
  for (const failure of failures.values()) {
    if (now - failure.at >= RECHECK_FAILURE_AFTER_MS) continue;
    const reason = `${failure.reason} (remembered since ${new Date(failure.at).toISOString()}; checked again a day later)`;
    if (failure.kind === 'no-private-key')
      readings.set(failure.certificateId, { state: 'no-private-key', reason });
    else if (failure.kind === 'name-collision')
      readings.set(failure.certificateId, { state: 'failed', reason });
    else
      readings.set(failure.certificateId, {
        state: 'refused',
        refusal: failure.kind as RefusalReason,
        reason,
      });
  }
  return { readings, remembered: new Set(failures.keys()) };
}

/** Remembers a failure no retry mends by itself; forgets one that a fresh check cleared. */
async function rememberOutcome(
  deps: Pick<ExportDeps, 'state' | 'clock' | 'logger'>,
  certificateId: string,
  failure: { kind: string; reason: string } | undefined,
): Promise<void> {
  if (!deps.state) return;
  try {
    if (failure) await deps.state.recordExportFailure({ certificateId, ...failure, at: deps.clock.now() });
    else await deps.state.clearExportFailure(certificateId);
  } catch (error) {
    deps.logger.warn('cannot record the export failure in the state table', {
      certificateId,
      error: describeError(error),
    });
  }
}

/** Looks at a finished export report; never rejects. */
export interface ExportObserver {
  afterExport(report: ExportReport): Promise<EventsReport | undefined>;
}

/** Why a certificate is refused: whatever fails the trust checks (a missing key is its own result). */
type RefusalReason = Exclude<BundleProblem, 'missing-private-key'>;

/**
 * - `created`, `updated`: a secret version was written (or would be, in a dry run).
 * - `unchanged`: the secret already holds this certificate.
 * - `superseded`: a certificate of the same names (a renewal) expires later and wins the secret.
 * - `kept-newer`: the secret holds a trusted certificate of the same names that expires later; it
 *   is never moved back.
 * - `refused`: the certificate failed a trust check (`refusal` says which): nothing is written
 *   for it, and it never displaces a trusted certificate.
 * - `invalid`: Tencent lists it in a form this tool cannot read.
 * - `no-private-key`: Tencent holds no key for it (ordered with your own CSR).
 * - `failed`: an error a later attempt may overcome.
 * - `not-issued`, `not-found`: an id asked for that is not an issued certificate.
 * - `queued`: handed to the export queue.
 * - `deferred`: not started (out of time), or waiting for a certificate that expires later and
 *   could not be read this run.
 * - `missing`, `stale`: (status only) no secret yet, or the secret holds another certificate.
 */
type ExportResult =
  | 'created'
  | 'updated'
  | 'unchanged'
  | 'superseded'
  | 'kept-newer'
  | 'refused'
  | 'invalid'
  | 'no-private-key'
  | 'failed'
  | 'not-issued'
  | 'not-found'
  | 'queued'
  | 'deferred'
  | 'missing'
  | 'stale';

export interface ExportEntry {
  certificateId: string;
  domain: string | null;
  secretName?: string;
  result: ExportResult;
  /** With `refused`: which trust check failed. */
  refusal?: RefusalReason;
  versionId?: string;
  fingerprintSha256?: string;
  notAfter?: string;
  reason?: string;
  /** With ACM_IMPORT: what ACM holds of the certificate the secret holds. */
  acm?: AcmOutcome;
}

export interface ExportReport {
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  certificates: ExportEntry[];
  totals: Partial<Record<ExportResult, number>>;
  /** The lifecycle events this export announced (EVENT_BUS_NAME set, not a dry run). */
  events?: EventsReport;
}

export interface ExportRequest {
  /** Only these certificates; every issued one when absent (and `items` absent). */
  certificateIds?: string[];
  /** Already-listed certificates (sync passes its listing, saving a call). */
  items?: CertificateListItem[];
  dryRun?: boolean;
  deadline?: number;
}

/** Results that a later attempt cannot change by itself. */
const PERMANENT: ReadonlySet<ExportResult> = new Set([
  'refused',
  'invalid',
  'no-private-key',
  'not-issued',
  'not-found',
]);

export function isExportFailure(entry: ExportEntry): boolean {
  return isSecretFailure(entry) || entry.acm?.result === 'failed' || entry.acm?.result === 'refused';
}

function isSecretFailure(entry: ExportEntry): boolean {
  return entry.result === 'failed' || PERMANENT.has(entry.result);
}

/** What a report says of an entry that isExportFailure: the secret's problem, else ACM's. */
export function exportFailureText(entry: ExportEntry): string {
  if (isSecretFailure(entry) || !entry.acm) return `export ${entry.result}: ${entry.reason ?? ''}`.trim();
  return `acm ${entry.acm.result}: ${entry.acm.reason ?? ''}`.trim();
}

/** Secret results that leave the secret holding the certificate: ACM is given the same one. */
const SECRET_HOLDS: ReadonlySet<ExportResult> = new Set(['created', 'updated', 'unchanged']);

/** What a run learnt about a certificate by reading and checking it. */
export type CertificateReading =
  | { state: 'verified'; bundle: CertificateBundle; domain: string }
  | { state: 'refused'; refusal: RefusalReason; reason: string }
  | { state: 'no-private-key'; reason: string }
  | { state: 'failed'; reason: string }
  | { state: 'deferred'; reason: string };

/** What to do about one issued certificate. */
export interface ExportDecision {
  item: CertificateListItem;
  certificateId: string;
  /** The domain's plain secret name: the certificates that could share it. */
  slot: string;
  /** The secret this certificate belongs in. */
  secretName: string;
  /** Digest of the certificate's name set (naming.ts). */
  namesSha256: string;
  existing?: ManagedSecret | undefined;
  /** `export`: read it, check it, and write it unless the secret already holds it. */
  action:
    | 'export'
    | 'unchanged'
    | 'superseded'
    | 'kept-newer'
    | 'refused'
    | 'invalid'
    | 'no-private-key'
    | 'failed'
    | 'deferred';
  refusal?: RefusalReason;
  reason?: string;
}

/** Tencent's CertEndTime and the certificate's own notAfter can differ by the seconds of issuance. */
const SAME_EXPIRY_TOLERANCE_MS = 24 * 3600 * 1000;

function expiry(item: CertificateListItem): number {
  return item.CertEndTime?.getTime() ?? Number.NEGATIVE_INFINITY;
}

/** Latest expiry first; the certificate id breaks ties, so every run ranks alike. */
function byExpiry(a: CertificateListItem, b: CertificateListItem): number {
  return expiry(b) - expiry(a) || String(a.CertificateId).localeCompare(String(b.CertificateId));
}

/**
 * The certificates of one domain with one name set: a certificate and its renewals. They share a
 * secret, which holds the one that expires last.
 */
interface Line {
  slot: string;
  names: string[];
  digest: string;
  items: CertificateListItem[];
}

/** The broader name set first, then the alphabetically first: the line that gets the plain secret. */
function byBreadth(a: Line, b: Line): number {
  return b.names.length - a.names.length || a.names.join(',').localeCompare(b.names.join(','));
}

/** True when a line has a certificate that may still turn out exportable. */
function isEligible(line: Line, readings: ReadonlyMap<string, CertificateReading>): boolean {
  return line.items.some((item) => {
    const state = readings.get(item.CertificateId ?? '')?.state;
    return state !== 'refused' && state !== 'no-private-key';
  });
}

function holds(secret: ManagedSecret | undefined, item: CertificateListItem): boolean {
  if (!secret || secret.certificateId !== item.CertificateId || secret.fingerprint === undefined)
    return false;
  const held = secret.notAfter ? Date.parse(secret.notAfter) : Number.NaN;
  return item.CertEndTime === null || Math.abs(held - expiry(item)) <= SAME_EXPIRY_TOLERANCE_MS;
}

/** The decisions for one line's certificates, latest expiry first, against the secret they belong in. */
function decideLine(
  line: Line,
  secretName: string,
  existing: ManagedSecret | undefined,
  readings: ReadonlyMap<string, CertificateReading>,
): ExportDecision[] {
  const decisions: ExportDecision[] = [];
  // Only a certificate that passed the trust checks when it was written, of the same names,
  // holds the secret against an earlier-expiring one: nothing else can block a renewal.
  const heldCounts = existing?.trusted === true && existing.namesSha256 === line.digest;
  const heldExpiry = heldCounts && existing?.notAfter ? Date.parse(existing.notAfter) : Number.NaN;
  let rest: Pick<ExportDecision, 'action' | 'reason'> | undefined;
  for (const item of line.items) {
    const certificateId = item.CertificateId ?? '';
    const base = {
      item,
      certificateId,
      slot: line.slot,
      secretName,
      namesSha256: line.digest,
      existing,
    };
    if (rest) {
      decisions.push({ ...base, ...rest });
      continue;
    }
    if (existing?.trusted && holds(existing, item)) {
      decisions.push({ ...base, action: 'unchanged' });
      rest = {
        action: 'superseded',
        reason: `certificate ${certificateId}, which the secret holds, expires later`,
      };
      continue;
    }
    if (Number.isFinite(heldExpiry) && heldExpiry > expiry(item) + SAME_EXPIRY_TOLERANCE_MS) {
      rest = {
        action: 'kept-newer',
        reason: `the secret holds certificate ${existing?.certificateId ?? '?'}, which expires later (${existing?.notAfter})`,
      };
      decisions.push({ ...base, ...rest });
      continue;
    }
    const reading = readings.get(certificateId);
    switch (reading?.state) {
      case 'refused':
        decisions.push({ ...base, action: 'refused', refusal: reading.refusal, reason: reading.reason });
        continue;
      case 'no-private-key':
        decisions.push({ ...base, action: 'no-private-key', reason: reading.reason });
        continue;
      case 'failed':
      case 'deferred':
        decisions.push({ ...base, action: reading.state, reason: reading.reason });
        rest = {
          action: 'deferred',
          reason: `waits for certificate ${certificateId}, which expires later but could not be read this run`,
        };
        continue;
      default:
        decisions.push({ ...base, action: 'export' });
        rest = {
          action: 'superseded',
          reason: `certificate ${certificateId} for the same secret expires later`,
        };
    }
  }
  return decisions;
}

/**
 * Pure: which issued certificates need a new secret version, from the listing, the secrets' tags
 * and what this run has read so far (`readings`; a certificate not read yet is assumed to pass).
 *
 * Certificates are grouped by the secret name their `Domain` gives (the slot), then by name set
 * (`Domain` plus `SubjectAltName`) into lines: a certificate and its renewals. When one slot has
 * lines with different name sets, the broadest line keeps the plain name (most names, then the
 * alphabetically first) and every other line gets its own secret, the plain name with
 * `+<8 hex digits of its name-set digest>` after the domain. The choice depends only on the
 * lines that can still be exported, never on the order certificates arrived in or on a refused
 * certificate, so reruns agree. Within a line the certificate that expires last wins, and a
 * secret that holds a trusted certificate of the same line expiring later is kept.
 */
export function planExports(
  items: readonly CertificateListItem[],
  managed: ReadonlyMap<string, ManagedSecret>,
  template: string,
  readings: ReadonlyMap<string, CertificateReading> = new Map(),
): ExportDecision[] {
  const decisions: ExportDecision[] = [];
  const slots = new Map<string, Map<string, Line>>();
  for (const item of items) {
    const certificateId = item.CertificateId ?? '';
    if (!item.Domain) {
      decisions.push({
        item,
        certificateId,
        slot: '',
        secretName: '',
        namesSha256: '',
        action: 'invalid',
        reason: 'Tencent lists no domain for this certificate',
      });
      continue;
    }
    const slot = secretNameFor(template, { domain: item.Domain, certificateId });
    const names = normalizeNameSet([item.Domain, ...item.SubjectAltName]);
    const digest = nameSetDigest(names);
    const lines = slots.get(slot) ?? new Map<string, Line>();
    slots.set(slot, lines);
    const line = lines.get(digest) ?? { slot, names, digest, items: [] };
    lines.set(digest, line);
    line.items.push(item);
  }
  for (const [slot, lines] of slots) {
    const all = [...lines.values()];
    for (const line of all) line.items.sort(byExpiry);
    const eligible = all.filter((line) => isEligible(line, readings));
    const [primary] = [...(eligible.length > 0 ? eligible : all)].sort(byBreadth);
    for (const line of all) {
      const first = line.items[0] as CertificateListItem;
      const secretName =
        line === primary
          ? slot
          : secretNameFor(template, {
              domain: first.Domain ?? '',
              certificateId: first.CertificateId ?? '',
              nameSet: line.digest,
            });
      decisions.push(...decideLine(line, secretName, managed.get(secretName), readings));
    }
  }
  return decisions;
}

/** The secret's JSON value. Key order is fixed so the same certificate always gives the same text. */
function secretValue(certificateId: string, domain: string, bundle: CertificateBundle): string {
  return JSON.stringify({
    certificate: bundle.certificate,
    chain: bundle.chain,
    fullchain: bundle.fullchain,
    privateKey: bundle.privateKey,
    certificateId,
    domain,
    subjectAltNames: bundle.subjectAltNames,
    notBefore: bundle.notBefore,
    notAfter: bundle.notAfter,
    serialNumber: bundle.serialNumber,
    fingerprintSha256: bundle.fingerprintSha256,
    issuer: bundle.issuer,
  });
}

function describeError(error: unknown): string {
  const name = (error as { name?: string } | undefined)?.name;
  const message = error instanceof Error ? error.message : String(error);
  return name && name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message;
}

function entryOf(decision: ExportDecision): ExportEntry {
  const entry: ExportEntry = {
    certificateId: decision.certificateId,
    domain: decision.item.Domain,
    secretName: decision.secretName,
    result: decision.action === 'export' ? 'failed' : decision.action,
  };
  if (decision.refusal) entry.refusal = decision.refusal;
  if (decision.reason) entry.reason = decision.reason;
  if (decision.action === 'unchanged' && decision.existing) {
    if (decision.existing.currentVersionId) entry.versionId = decision.existing.currentVersionId;
    if (decision.existing.fingerprint) entry.fingerprintSha256 = decision.existing.fingerprint;
    if (decision.existing.notAfter) entry.notAfter = decision.existing.notAfter;
  }
  return entry;
}

const ARCHIVE_SOURCE = 'the DownloadCertificate archive';

/**
 * Reads one certificate's PEMs and checks them. When `CertificatePublicKey` alone does not reach a
 * trusted root (it may hold the leaf only), the chain is looked for again among the certificates
 * of the DownloadCertificate archive. Tencent errors are thrown (a later run may succeed).
 */
async function readCertificate(
  deps: ExportDeps,
  decision: ExportDecision,
  trust: TrustAnchors,
): Promise<CertificateReading> {
  const { nextSlot } = deps.tencent;
  // DescribeCertificateDetail shares its budget with the sync's validation reads; the archive
  // holds the same certificate, chain and key on a budget of its own.
  if (
    nextSlot &&
    nextSlot.call(deps.tencent, 'DownloadCertificate') <
      nextSlot.call(deps.tencent, 'DescribeCertificateDetail')
  ) {
    const fromArchive = await readFromArchive(deps, decision, trust);
    if (fromArchive) return fromArchive;
  }
  const detail = await deps.tencent.describeCertificateDetail(decision.certificateId);
  const domain = detail.Domain ?? decision.item.Domain ?? '';
  const input = {
    certificatePem: detail.CertificatePublicKey,
    privateKeyPem: detail.CertificatePrivateKey,
    domain,
    now: new Date(deps.clock.now()),
    trust,
    allowedDomains: deps.settings.allowedDomains,
  };
  let check = verifyCertificateBundle(input);
  if (!check.ok && check.problem === 'untrusted-chain') {
    const withoutArchive = check.reason;
    const download = await deps.tencent.downloadCertificate(decision.certificateId);
    try {
      const archive = certificatesFromArchive(download.Content ?? '');
      deps.logger.debug('certificate archive read', {
        certificateId: decision.certificateId,
        certificates: archive.certificates.length,
        files: archive.sources,
      });
      check = verifyCertificateBundle({
        ...input,
        extraCertificates: archive.certificates,
        extraSource: ARCHIVE_SOURCE,
      });
    } catch (error) {
      if (!(error instanceof CertificateArchiveError)) throw error;
      return {
        state: 'refused',
        refusal: 'untrusted-chain',
        reason: `${withoutArchive}; ${ARCHIVE_SOURCE} could not be used: ${error.message}`,
      };
    }
  }
  if (check.ok) return { state: 'verified', bundle: check.bundle, domain };
  if (check.problem === 'missing-private-key') return { state: 'no-private-key', reason: check.reason };
  return { state: 'refused', refusal: check.problem, reason: check.reason };
}

/**
 * The certificate as the DownloadCertificate archive holds it: the leaf is the certificate whose
 * key is in the archive, the chain is found among the others. Undefined when the archive does
 * not give a certificate that passes every check (no key in it, an encrypted key, a layout it
 * cannot be read from): DescribeCertificateDetail then decides, as it does without the archive.
 */
async function readFromArchive(
  deps: ExportDeps,
  decision: ExportDecision,
  trust: TrustAnchors,
): Promise<CertificateReading | undefined> {
  const download = await deps.tencent.downloadCertificate(decision.certificateId);
  let archive: ReturnType<typeof certificatesFromArchive>;
  try {
    archive = certificatesFromArchive(download.Content ?? '');
  } catch (error) {
    if (error instanceof CertificateArchiveError) return undefined;
    throw error;
  }
  const domain = decision.item.Domain ?? '';
  for (const privateKeyPem of archive.privateKeys) {
    const leaf = archive.certificates.find((pem) => keyMatches(pem, privateKeyPem));
    if (!leaf) continue;
    const check = verifyCertificateBundle({
      certificatePem: leaf,
      privateKeyPem,
      domain,
      now: new Date(deps.clock.now()),
      trust,
      allowedDomains: deps.settings.allowedDomains,
      extraCertificates: archive.certificates,
      extraSource: ARCHIVE_SOURCE,
    });
    if (check.ok) return { state: 'verified', bundle: check.bundle, domain };
  }
  return undefined;
}

function keyMatches(certificatePem: string, privateKeyPem: string): boolean {
  try {
    const certificate = new X509Certificate(certificatePem);
    return !certificate.ca && certificate.checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    return false;
  }
}

/** Writes a verified certificate to its secret unless the secret already holds it or a later one. */
async function writeCertificate(
  deps: ExportDeps,
  decision: ExportDecision,
  reading: Extract<CertificateReading, { state: 'verified' }>,
  dryRun: boolean,
): Promise<ExportEntry> {
  const { bundle, domain } = reading;
  const entry = entryOf(decision);
  entry.fingerprintSha256 = bundle.fingerprintSha256;
  entry.notAfter = bundle.notAfter;
  const existing = decision.existing;
  const tags: SecretTags = {
    certificateId: decision.certificateId,
    domain,
    notAfter: bundle.notAfter,
    fingerprint: bundle.fingerprintSha256,
    namesSha256: decision.namesSha256,
  };
  if (existing?.fingerprint === bundle.fingerprintSha256) {
    entry.result = 'unchanged';
    if (existing.currentVersionId) entry.versionId = existing.currentVersionId;
    // Written before the trust checks existed: it passed them now, and the tags say so from here on.
    if (!dryRun && (!existing.trusted || existing.namesSha256 !== decision.namesSha256)) {
      await tagSecret(deps.secrets, existing.arn, tags);
      deps.logger.info('secret tags refreshed', {
        certificateId: decision.certificateId,
        secretName: decision.secretName,
      });
    }
    return entry;
  }
  if (
    existing?.trusted &&
    existing.namesSha256 === decision.namesSha256 &&
    existing.notAfter &&
    Date.parse(existing.notAfter) > Date.parse(bundle.notAfter)
  ) {
    entry.result = 'kept-newer';
    entry.reason = `the secret holds certificate ${existing.certificateId ?? '?'}, which expires later (${existing.notAfter})`;
    return entry;
  }
  entry.result = existing ? 'updated' : 'created';
  if (dryRun) return entry;

  // The fingerprint (64 hex characters) is the idempotency token: a retried write of the same
  // certificate cannot create a second version.
  const write = {
    value: secretValue(decision.certificateId, domain, bundle),
    tags,
    clientRequestToken: bundle.fingerprintSha256,
  };
  entry.versionId = existing
    ? await putSecretVersion(deps.secrets, existing.arn, write)
    : await createSecret(deps.secrets, {
        ...write,
        name: decision.secretName,
        kmsKeyId: deps.settings.kmsKeyId,
        description: `TLS certificate for ${domain} from Tencent Cloud SSL (${decision.certificateId}), written by tencent-ssl-sync`,
      });
  deps.logger.info('certificate exported', {
    certificateId: decision.certificateId,
    secretName: decision.secretName,
    versionId: entry.versionId,
    fingerprintSha256: bundle.fingerprintSha256,
    notAfter: bundle.notAfter,
    root: bundle.root,
    chainFrom: bundle.chainCompletedFromExtra ? 'DownloadCertificate' : 'CertificatePublicKey',
  });
  return entry;
}

/** Lists the certificates an export looks at and reports the ids that are not issued. */
async function candidates(
  tencent: ExportTencentApi,
  request: ExportRequest,
): Promise<{ issued: CertificateListItem[]; rejected: ExportEntry[]; complete: boolean }> {
  const ids = request.certificateIds?.length ? [...new Set(request.certificateIds)] : undefined;
  const rejected: ExportEntry[] = [];
  const onInvalid = (item: InvalidListItem) => {
    if (!item.certificateId) return;
    rejected.push({
      certificateId: item.certificateId,
      domain: null,
      result: 'invalid',
      reason: `Tencent lists this certificate with a field this tool cannot read (${item.path || 'the item'}: ${item.problem})`,
    });
  };
  const items =
    request.items ??
    (ids
      ? await tencent.listCertificates({ ids, onInvalid })
      : await tencent.listCertificates({ statuses: [CertificateStatus.Issued], onInvalid }));
  const known = new Set([
    ...items.map((item) => item.CertificateId),
    ...rejected.map((r) => r.certificateId),
  ]);
  for (const id of ids ?? []) {
    if (!known.has(id))
      rejected.push({
        certificateId: id,
        domain: null,
        result: 'not-found',
        reason: 'Tencent does not know this certificate id',
      });
  }
  const issued: CertificateListItem[] = [];
  for (const item of items) {
    if (item.Status === CertificateStatus.Issued && item.CertificateId) issued.push(item);
    else if (item.CertificateId) {
      rejected.push({
        certificateId: item.CertificateId,
        domain: item.Domain,
        result: 'not-issued',
        reason: `status ${item.Status ?? '?'} (${item.StatusName ?? 'unknown'}): only issued certificates (status 1) are exported`,
      });
    }
  }
  return { issued, rejected, complete: !request.items && !ids };
}

/** Decides, from one listing of the managed secrets, what each issued certificate needs (reads nothing at Tencent). */
async function decideExports(
  deps: Pick<ExportDeps, 'secrets' | 'settings' | 'clock' | 'logger' | 'state'>,
  items: readonly CertificateListItem[],
): Promise<ExportDecision[]> {
  const [managed, { readings }] = await Promise.all([
    listManagedSecrets(deps.secrets),
    rememberedReadings(deps),
  ]);
  return planExports(items, managed, deps.settings.nameTemplate, readings);
}

/**
 * Exports the issued certificates asked for (all by default) whose secret is missing or stale.
 *
 * A certificate is read and checked before it takes part in any decision that depends on trust:
 * which line of a domain gets the plain secret, and which certificate of a line wins it. A refused
 * certificate drops out and the plan is made again, so the next one in line is read; a
 * certificate that could not be read keeps its place (a passing error must not move a secret),
 * and those ranked below it wait for the next run. When only some certificates were listed (an
 * id asked for, or sync's listing), every issued certificate is listed once before anything is
 * written, because the others of the same domain decide the secret names.
 */
export async function exportCertificates(
  deps: ExportDeps,
  request: ExportRequest = {},
): Promise<ExportReport> {
  const dryRun = request.dryRun ?? deps.settings.dryRun;
  const startedAt = new Date(deps.clock.now()).toISOString();
  const inTime = () => request.deadline === undefined || deps.clock.now() < request.deadline;
  const { issued, rejected, complete } = await candidates(deps.tencent, request);
  const requested = new Set(issued.map((item) => item.CertificateId ?? ''));
  const managed =
    issued.length > 0 ? await listManagedSecrets(deps.secrets) : new Map<string, ManagedSecret>();
  const acm = await ExportAcm.open(deps.acm, issued);
  // A certificate whose secret is current is read again only when ACM lacks it.
  const acmLacks = (d: ExportDecision) =>
    acm !== undefined && d.action === 'unchanged' && requested.has(d.certificateId) && !acm.current(d);
  const template = deps.settings.nameTemplate;

  // Failures an earlier run remembered stand as this run's readings: those certificates are not read again.
  const { readings, remembered } =
    issued.length > 0
      ? await rememberedReadings(deps)
      : { readings: new Map<string, CertificateReading>(), remembered: new Set<string>() };
  /** Writes of what this run learnt for the next; awaited before the run ends. */
  const memory: Promise<void>[] = [];
  let items: CertificateListItem[] = issued;
  let decisions = planExports(items, managed, template, readings);
  if (!complete && decisions.some((d) => d.action === 'export')) {
    const all = await deps.tencent.listCertificates({ statuses: [CertificateStatus.Issued] });
    const listed = new Set(all.map((item) => item.CertificateId));
    items = [
      ...all.filter((item) => item.CertificateId),
      ...issued.filter((item) => !listed.has(item.CertificateId)),
    ];
    decisions = planExports(items, managed, template, readings);
  }
  deps.logger.info('export started', {
    dryRun,
    issued: issued.length,
    toExport: decisions.filter((d) => d.action === 'export' && requested.has(d.certificateId)).length,
  });

  // Parsing Node's ~150 roots takes some 20 ms: only in a run that reads a certificate.
  let trust: TrustAnchors | undefined;
  for (;;) {
    // Certificates of other domains are not read for a run asked about some only; those of the
    // same domain are when they decide which line gets the plain secret.
    const contested = new Set(decisions.filter((d) => d.secretName !== d.slot).map((d) => d.slot));
    const askedSlots = new Set(decisions.filter((d) => requested.has(d.certificateId)).map((d) => d.slot));
    const toRead = decisions.filter(
      (d) =>
        d.action === 'export' &&
        !readings.has(d.certificateId) &&
        (requested.has(d.certificateId) || (contested.has(d.slot) && askedSlots.has(d.slot))),
    );
    if (toRead.length === 0) break;
    trust ??= (deps.trust ?? nodeTrustAnchors)();
    const anchors = trust;
    const results = await mapPool(toRead, 10, (decision) => readCertificate(deps, decision, anchors), inTime);
    toRead.forEach((decision, index) => {
      const outcome = results[index];
      const reading: CertificateReading =
        outcome === undefined
          ? { state: 'deferred', reason: 'not started: out of time; the next run continues' }
          : outcome.status === 'fulfilled'
            ? outcome.value
            : { state: 'failed', reason: describeError(outcome.reason) };
      readings.set(decision.certificateId, reading);
      if (!dryRun) {
        if (reading.state === 'refused' || reading.state === 'no-private-key') {
          const kind = reading.state === 'refused' ? reading.refusal : 'no-private-key';
          memory.push(rememberOutcome(deps, decision.certificateId, { kind, reason: reading.reason }));
        } else if (reading.state === 'verified' && remembered.has(decision.certificateId)) {
          memory.push(rememberOutcome(deps, decision.certificateId, undefined));
        }
      }
      if (reading.state === 'refused')
        deps.logger.warn('certificate refused', {
          certificateId: decision.certificateId,
          refusal: reading.refusal,
          reason: reading.reason,
        });
      if (reading.state === 'failed')
        deps.logger.warn('export failed', { certificateId: decision.certificateId, error: reading.reason });
    });
    decisions = planExports(items, managed, template, readings);
  }

  const toWrite = decisions.filter(
    (d) => (d.action === 'export' && requested.has(d.certificateId)) || acmLacks(d),
  );
  // A certificate read again for ACM alone is read here, apart from the plan: what it shows
  // never moves a secret.
  const anchors = toWrite.some((d) => d.action === 'unchanged')
    ? (trust ?? (deps.trust ?? nodeTrustAnchors)())
    : trust;
  const written = await mapPool(
    toWrite,
    10,
    async (decision) => {
      if (acm && anchors && decision.action === 'unchanged') {
        const reread = await readCertificate(deps, decision, anchors).catch(
          (error: unknown): CertificateReading => ({ state: 'failed', reason: describeError(error) }),
        );
        return { ...entryOf(decision), acm: await acm.deliverHeld(decision, reread, dryRun) };
      }
      const reading = readings.get(decision.certificateId);
      if (reading?.state !== 'verified') throw new Error('internal: a certificate to write was not verified');
      const entry = await writeCertificate(deps, decision, reading, dryRun);
      // After the secret: an ACM failure never undoes it.
      if (acm && SECRET_HOLDS.has(entry.result))
        entry.acm = await acm.deliver(decision, reading.bundle, dryRun);
      return entry;
    },
    inTime,
  );
  const entries = new Map<ExportDecision, ExportEntry>();
  toWrite.forEach((decision, index) => {
    const outcome = written[index];
    if (outcome?.status === 'fulfilled') {
      entries.set(decision, outcome.value);
      return;
    }
    if (decision.action === 'unchanged') {
      const reason = outcome
        ? describeError(outcome.reason)
        : 'not started: out of time; the next run continues';
      entries.set(decision, { ...entryOf(decision), acm: { result: 'failed', reason } });
      return;
    }
    const entry = entryOf(decision);
    entry.result = outcome === undefined ? 'deferred' : 'failed';
    entry.reason =
      outcome === undefined
        ? 'not started: out of time; the next run continues'
        : describeError(outcome.reason);
    if (outcome)
      deps.logger.warn('export failed', { certificateId: decision.certificateId, error: entry.reason });
    if (outcome?.status === 'rejected' && errorName(outcome.reason) === 'ResourceExistsException') {
      // The name belongs to a secret this tool does not manage: no later run can write it either.
      entry.reason = `a secret named ${decision.secretName} already exists and is not managed by this tool; rename or delete it, or change SECRET_NAME_TEMPLATE`;
      memory.push(
        rememberOutcome(deps, decision.certificateId, { kind: 'name-collision', reason: entry.reason }),
      );
    }
    entries.set(decision, entry);
  });
  const certificates = [
    ...decisions
      .filter((d) => requested.has(d.certificateId))
      .map((d) => entries.get(d) ?? withAcm(entryOf(d), d, acm)),
    ...rejected,
  ];
  const totals: ExportReport['totals'] = {};
  for (const entry of certificates) totals[entry.result] = (totals[entry.result] ?? 0) + 1;
  await Promise.all(memory);
  deps.logger.info('export finished', { dryRun, ...totals });
  const finishedAt = new Date(deps.clock.now()).toISOString();
  const report: ExportReport = { dryRun, startedAt, finishedAt, certificates, totals };
  if (deps.observer && !dryRun) {
    const events = await deps.observer.afterExport(report);
    if (events) report.events = events;
  }
  return report;
}

/** `entry` of a certificate whose secret is current, with what ACM holds for it. */
function withAcm(entry: ExportEntry, decision: ExportDecision, acm: ExportAcm | undefined): ExportEntry {
  const outcome = acm && decision.action === 'unchanged' ? acm.current(decision) : undefined;
  return outcome ? { ...entry, acm: outcome } : entry;
}

/** Hands issued certificates over for export; sync calls it with its own listing. */
export type IssuedCertificateHandler = (
  items: CertificateListItem[],
  options: { dryRun: boolean; deadline?: number | undefined },
) => Promise<ExportEntry[]>;

/** Export in the same process (CLI, sandbox, or a Lambda without a queue). */
export function exportInline(deps: ExportDeps): IssuedCertificateHandler {
  return async (items, options) =>
    (
      await exportCertificates(deps, {
        items,
        dryRun: options.dryRun,
        ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
      })
    ).certificates;
}

/**
 * Export through the queue: only certificates whose secret is missing or stale are queued, so a
 * run with nothing new sends nothing.
 */
export function exportViaQueue(
  deps: Pick<ExportDeps, 'secrets' | 'settings' | 'logger' | 'clock' | 'state' | 'acm'>,
  enqueue: (
    certificateIds: string[],
  ) => Promise<{ queued: string[]; failed: Array<{ certificateId: string; reason: string }> }>,
): IssuedCertificateHandler {
  return async (items, options) => {
    const decisions = await decideExports(deps, items);
    // A certificate whose secret is current but whose ACM certificate is missing or older is
    // queued too: the export function reads it again for ACM.
    const acm = await ExportAcm.open(deps.acm, items);
    const entries = decisions.map((d) => withAcm(entryOf(d), d, acm));
    const wanted = decisions
      .filter((d) => d.action === 'export' || (acm && d.action === 'unchanged' && !acm.current(d)))
      .map((d) => d.certificateId);
    if (wanted.length === 0) return entries;
    if (options.dryRun) {
      for (const entry of entries) if (wanted.includes(entry.certificateId)) entry.result = 'queued';
      return entries;
    }
    const sent = await enqueue(wanted);
    deps.logger.info('export requests queued', { queued: sent.queued.length, failed: sent.failed.length });
    const failures = new Map(sent.failed.map((f) => [f.certificateId, f.reason]));
    for (const entry of entries) {
      if (!wanted.includes(entry.certificateId)) continue;
      const reason = failures.get(entry.certificateId);
      entry.result = reason === undefined ? 'queued' : 'failed';
      if (reason !== undefined) entry.reason = `cannot queue the export: ${reason}`;
    }
    return entries;
  };
}

/** For `status`: what the secrets hold for each issued certificate, from the tags alone; writes nothing. */
export async function describeExportState(
  deps: Pick<ExportDeps, 'secrets' | 'settings' | 'logger' | 'clock' | 'state'>,
  items: CertificateListItem[],
): Promise<ExportEntry[]> {
  const decisions = await decideExports(deps, items);
  return decisions.map((decision) => {
    const entry = entryOf(decision);
    if (decision.action === 'export') {
      const held = decision.existing;
      entry.result = held ? 'stale' : 'missing';
      entry.reason = !held
        ? 'no secret yet'
        : held.certificateId === decision.certificateId
          ? 'the secret holds this certificate, written before the trust checks; the next export checks it'
          : `the secret holds certificate ${held.certificateId ?? '?'} (until ${held.notAfter ?? '?'})`;
    }
    return entry;
  });
}
