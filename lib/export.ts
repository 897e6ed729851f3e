import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { mapPool } from './pool.js';
import { secretNameFor } from './secrets/naming.js';
import { type CertificateBundle, verifyCertificateBundle } from './secrets/pem.js';
import {
  createSecret,
  listManagedSecrets,
  type ManagedSecret,
  putSecretVersion,
  type SecretTags,
} from './secrets/secret-store.js';
import type { CertificateListItem, InvalidListItem } from './tencent/schemas.js';
import { CertificateStatus, type TencentSslApi } from './tencent/ssl-api.js';

/** The Tencent calls export makes. */
export type ExportTencentApi = Pick<TencentSslApi, 'listCertificates' | 'describeCertificateDetail'>;

export interface ExportSettings {
  nameTemplate: string;
  kmsKeyId?: string | undefined;
  dryRun: boolean;
}

export interface ExportDeps {
  tencent: ExportTencentApi;
  secrets: SecretsManagerClient;
  clock: Clock;
  logger: Logger;
  settings: ExportSettings;
}

/**
 * - `created`, `updated`: a secret version was written (or would be, in a dry run).
 * - `unchanged`: the secret already holds this certificate.
 * - `superseded`: another issued certificate for the same secret expires later and wins.
 * - `kept-newer`: the secret holds a certificate that expires later; it is never moved back.
 * - `invalid`, `no-private-key`: the certificate cannot be exported as it is (not retried).
 * - `failed`: an error a later attempt may overcome.
 * - `not-issued`, `not-found`: an id asked for that is not an issued certificate.
 * - `queued`: handed to the export queue.
 * - `deferred`: not started, out of time.
 * - `missing`, `stale`: (status only) no secret yet, or the secret holds another certificate.
 */
export type ExportResult =
  | 'created'
  | 'updated'
  | 'unchanged'
  | 'superseded'
  | 'kept-newer'
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
  versionId?: string;
  fingerprintSha256?: string;
  notAfter?: string;
  reason?: string;
}

export interface ExportReport {
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  certificates: ExportEntry[];
  totals: Partial<Record<ExportResult, number>>;
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
  'invalid',
  'no-private-key',
  'not-issued',
  'not-found',
]);

export function isExportFailure(entry: ExportEntry): boolean {
  return entry.result === 'failed' || PERMANENT.has(entry.result);
}

/** What to do about one issued certificate, decided from the listing and the secrets' tags alone. */
export interface ExportDecision {
  item: CertificateListItem;
  certificateId: string;
  secretName: string;
  existing?: ManagedSecret | undefined;
  action: 'export' | 'unchanged' | 'superseded' | 'kept-newer' | 'invalid';
  reason?: string;
}

/** Tencent's CertEndTime and the certificate's own notAfter can differ by the seconds of issuance. */
const SAME_EXPIRY_TOLERANCE_MS = 24 * 3600 * 1000;

function expiry(item: CertificateListItem): number {
  return item.CertEndTime?.getTime() ?? Number.NEGATIVE_INFINITY;
}

/**
 * Pure: which issued certificates need a new secret version. Several certificates for one
 * secret (a renewal beside the certificate it replaces): the one that expires last wins; a secret
 * already holding a later certificate is kept.
 */
export function planExports(
  items: readonly CertificateListItem[],
  managed: ReadonlyMap<string, ManagedSecret>,
  template: string,
): ExportDecision[] {
  const decisions: ExportDecision[] = [];
  const groups = new Map<string, CertificateListItem[]>();
  for (const item of items) {
    const certificateId = item.CertificateId ?? '';
    if (!item.Domain) {
      decisions.push({
        item,
        certificateId,
        secretName: '',
        action: 'invalid',
        reason: 'Tencent lists no domain for this certificate',
      });
      continue;
    }
    const name = secretNameFor(template, { domain: item.Domain, certificateId });
    groups.set(name, [...(groups.get(name) ?? []), item]);
  }
  for (const [secretName, group] of groups) {
    const ranked = [...group].sort(
      (a, b) => expiry(b) - expiry(a) || String(a.CertificateId).localeCompare(String(b.CertificateId)),
    );
    const [winner, ...others] = ranked as [CertificateListItem, ...CertificateListItem[]];
    const existing = managed.get(secretName);
    const winnerId = winner.CertificateId ?? '';
    for (const other of others) {
      decisions.push({
        item: other,
        certificateId: other.CertificateId ?? '',
        secretName,
        existing,
        action: 'superseded',
        reason: `certificate ${winnerId} for the same secret expires later`,
      });
    }
    const heldExpiry = existing?.notAfter ? Date.parse(existing.notAfter) : Number.NaN;
    const sameCertificate =
      existing?.certificateId === winnerId &&
      existing.fingerprint !== undefined &&
      (winner.CertEndTime === null || Math.abs(heldExpiry - expiry(winner)) <= SAME_EXPIRY_TOLERANCE_MS);
    if (sameCertificate) {
      decisions.push({ item: winner, certificateId: winnerId, secretName, existing, action: 'unchanged' });
    } else if (Number.isFinite(heldExpiry) && heldExpiry > expiry(winner) + SAME_EXPIRY_TOLERANCE_MS) {
      decisions.push({
        item: winner,
        certificateId: winnerId,
        secretName,
        existing,
        action: 'kept-newer',
        reason: `the secret holds certificate ${existing?.certificateId ?? '?'}, which expires later (${existing?.notAfter})`,
      });
    } else {
      decisions.push({ item: winner, certificateId: winnerId, secretName, existing, action: 'export' });
    }
  }
  return decisions;
}

/** The secret's JSON value. Key order is fixed so the same certificate always gives the same text. */
export function secretValue(certificateId: string, domain: string, bundle: CertificateBundle): string {
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
  if (decision.reason) entry.reason = decision.reason;
  if (decision.action === 'unchanged' && decision.existing) {
    if (decision.existing.currentVersionId) entry.versionId = decision.existing.currentVersionId;
    if (decision.existing.fingerprint) entry.fingerprintSha256 = decision.existing.fingerprint;
    if (decision.existing.notAfter) entry.notAfter = decision.existing.notAfter;
  }
  return entry;
}

/** Reads the PEMs of one certificate, verifies them and writes the secret when it changed. */
async function exportOne(deps: ExportDeps, decision: ExportDecision, dryRun: boolean): Promise<ExportEntry> {
  const entry = entryOf(decision);
  const detail = await deps.tencent.describeCertificateDetail(decision.certificateId);
  const domain = detail.Domain ?? decision.item.Domain ?? '';
  const check = verifyCertificateBundle({
    certificatePem: detail.CertificatePublicKey,
    privateKeyPem: detail.CertificatePrivateKey,
    domain,
    now: new Date(deps.clock.now()),
  });
  if (!check.ok) {
    entry.result = check.problem === 'missing-private-key' ? 'no-private-key' : 'invalid';
    entry.reason = check.reason;
    return entry;
  }
  const { bundle } = check;
  entry.fingerprintSha256 = bundle.fingerprintSha256;
  entry.notAfter = bundle.notAfter;
  const existing = decision.existing;
  if (existing?.fingerprint === bundle.fingerprintSha256) {
    entry.result = 'unchanged';
    if (existing.currentVersionId) entry.versionId = existing.currentVersionId;
    return entry;
  }
  if (existing?.notAfter && Date.parse(existing.notAfter) > Date.parse(bundle.notAfter)) {
    entry.result = 'kept-newer';
    entry.reason = `the secret holds certificate ${existing.certificateId ?? '?'}, which expires later (${existing.notAfter})`;
    return entry;
  }
  entry.result = existing ? 'updated' : 'created';
  if (dryRun) return entry;

  const tags: SecretTags = {
    certificateId: decision.certificateId,
    domain,
    notAfter: bundle.notAfter,
    fingerprint: bundle.fingerprintSha256,
  };
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
  });
  return entry;
}

/** Lists the certificates an export looks at and reports the ids that are not issued. */
async function candidates(
  tencent: ExportTencentApi,
  request: ExportRequest,
): Promise<{ issued: CertificateListItem[]; rejected: ExportEntry[] }> {
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
  return { issued, rejected };
}

/** Decides, from one listing of the managed secrets, what each issued certificate needs. */
export async function decideExports(
  deps: Pick<ExportDeps, 'secrets' | 'settings'>,
  items: readonly CertificateListItem[],
): Promise<ExportDecision[]> {
  const managed = await listManagedSecrets(deps.secrets);
  return planExports(items, managed, deps.settings.nameTemplate);
}

/** Exports the issued certificates asked for (all by default) whose secret is missing or stale. */
export async function exportCertificates(
  deps: ExportDeps,
  request: ExportRequest = {},
): Promise<ExportReport> {
  const dryRun = request.dryRun ?? deps.settings.dryRun;
  const startedAt = new Date(deps.clock.now()).toISOString();
  const { issued, rejected } = await candidates(deps.tencent, request);
  const decisions = issued.length ? await decideExports(deps, issued) : [];
  const toExport = decisions.filter((d) => d.action === 'export');
  deps.logger.info('export started', { dryRun, issued: issued.length, toExport: toExport.length });

  const results = await mapPool(
    toExport,
    10,
    (decision) => exportOne(deps, decision, dryRun),
    () => request.deadline === undefined || deps.clock.now() < request.deadline,
  );
  const exported = new Map<ExportDecision, ExportEntry>();
  toExport.forEach((decision, index) => {
    const outcome = results[index];
    if (outcome?.status === 'fulfilled') {
      exported.set(decision, outcome.value);
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
    exported.set(decision, entry);
  });
  const certificates = [...decisions.map((d) => exported.get(d) ?? entryOf(d)), ...rejected];
  const totals: ExportReport['totals'] = {};
  for (const entry of certificates) totals[entry.result] = (totals[entry.result] ?? 0) + 1;
  deps.logger.info('export finished', { dryRun, ...totals });
  return { dryRun, startedAt, finishedAt: new Date(deps.clock.now()).toISOString(), certificates, totals };
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
  deps: Pick<ExportDeps, 'secrets' | 'settings' | 'logger'>,
  enqueue: (
    certificateIds: string[],
  ) => Promise<{ queued: string[]; failed: Array<{ certificateId: string; reason: string }> }>,
): IssuedCertificateHandler {
  return async (items, options) => {
    const decisions = await decideExports(deps, items);
    const entries = decisions.map(entryOf);
    const wanted = decisions.filter((d) => d.action === 'export').map((d) => d.certificateId);
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
  deps: Pick<ExportDeps, 'secrets' | 'settings'>,
  items: CertificateListItem[],
): Promise<ExportEntry[]> {
  const decisions = await decideExports(deps, items);
  return decisions.map((decision) => {
    const entry = entryOf(decision);
    if (decision.action === 'export') {
      entry.result = decision.existing ? 'stale' : 'missing';
      entry.reason = decision.existing
        ? `the secret holds certificate ${decision.existing.certificateId ?? '?'} (until ${decision.existing.notAfter ?? '?'})`
        : 'no secret yet';
    }
    return entry;
  });
}
