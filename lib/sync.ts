import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Clock } from './clock.js';
import type { ZoneOverride } from './config.js';
import { errorMessage } from './error-text.js';
import { type ExportEntry, type IssuedCertificateHandler, isExportFailure } from './export.js';
import type { Logger } from './logger.js';
import { certificateDomains } from './route53/plan.js';
import type { RecordAction, RecordOutcome } from './route53/types.js';
import type { CertificateListItem, InvalidListItem } from './tencent/schemas.js';
import { CertificateStatus, PENDING_STATUSES, type TencentSslApi } from './tencent/ssl-api.js';
import { validatePending } from './validation-pipeline.js';

/** Settings of a sync run, from the configuration. */
export interface SyncSettings {
  allowedDomains: string[] | '*' | undefined;
  zoneOverrides: ZoneOverride[];
  recordTtl: number;
  waitForInsync: boolean;
  /** Upper bound on waiting for INSYNC. */
  insyncTimeoutMs?: number;
  /** Ask the CA to check at once after new records are in sync (CompleteCertificate). */
  nudgeCa?: boolean;
  dryRun: boolean;
}

/** The Tencent calls a sync run makes. */
export type SyncTencentApi = Pick<
  TencentSslApi,
  'listCertificates' | 'describeCertificate' | 'completeCertificate'
>;

export interface SyncDeps {
  tencent: SyncTencentApi;
  route53: Route53Client;
  clock: Clock;
  logger: Logger;
  settings: SyncSettings;
  /** Absent: issued certificates are listed in the report as ready for export. */
  onIssued?: IssuedCertificateHandler;
  /** For `status`: what the secrets hold for issued certificates (reads only). */
  exportState?: (items: CertificateListItem[]) => Promise<ExportEntry[]>;
}

export interface SyncRequest {
  /** Only these certificates; all pending and issued ones when absent. */
  certificateIds?: string[];
  /** Overrides the configured DRY_RUN. */
  dryRun?: boolean;
  /** Epoch ms after which no new certificate is started (a Lambda running out of time). */
  deadline?: number;
}

/**
 * - `validating`: records are in place (written or already there); waiting for the CA.
 * - `blocked`: a record was refused or conflicts: needs a person.
 * - `failed`: an error stopped this certificate; the next run tries again.
 * - `deferred`: not started because the run ran out of time.
 * - `issued`: status 1, handed to export (or ready for it).
 * - `ignored`: a status this tool does not act on (failed, expired, cancelled…).
 * - `not-found`: an id asked for that Tencent does not know.
 */
export type CertificateOutcome =
  | 'validating'
  | 'blocked'
  | 'failed'
  | 'deferred'
  | 'issued'
  | 'ignored'
  | 'not-found';

export interface CertificateReport {
  certificateId: string;
  domains: string[];
  status: number | null;
  statusName: string | null;
  /** Until when the CA waits for validation (DVAuthDeadline). */
  validationDeadline: string | null;
  outcome: CertificateOutcome;
  records: RecordOutcome[];
  /** All written changes reached INSYNC (absent when nothing was written or waiting is off). */
  insync?: boolean;
  /** CompleteCertificate was accepted. */
  nudged?: boolean;
  /** Why the nudge was not accepted, or that it was skipped to end the run in time. */
  nudgeNote?: string;
  export?: ExportEntry;
  error?: string;
}

export interface RunFailure {
  reason: string;
  /** The AWS credentials or their permissions are at fault (exit code 2 of the CLI). */
  credentials: boolean;
}

export interface SyncReport {
  dryRun: boolean;
  /** Set when a step stopped every pending certificate (e.g. the hosted zones could not be listed). */
  fatal?: RunFailure;
  startedAt: string;
  finishedAt: string;
  certificates: CertificateReport[];
  totals: {
    certificates: number;
    byOutcome: Partial<Record<CertificateOutcome, number>>;
    records: Partial<Record<RecordAction, number>>;
    route53ChangeBatches: number;
  };
}

const ACTIONABLE_STATUSES = [...PENDING_STATUSES, CertificateStatus.ReissuePending, CertificateStatus.Issued];

function baseReport(item: CertificateListItem): CertificateReport {
  return {
    certificateId: item.CertificateId ?? '',
    domains: certificateDomains({ Domain: item.Domain, SubjectAltName: item.SubjectAltName }),
    status: item.Status,
    statusName: item.StatusName,
    validationDeadline: item.DVAuthDeadline?.toISOString() ?? null,
    outcome: 'ignored',
    records: [],
  };
}

/**
 * Lists the certificates a run looks at: the ids asked for (whatever their status), else every
 * certificate in `statuses` (every certificate at all when `statuses` is undefined).
 */
export async function listCandidates(
  tencent: SyncTencentApi,
  certificateIds: readonly string[] | undefined,
  statuses: readonly number[] | undefined,
  logger: Logger,
): Promise<{ items: CertificateListItem[]; missing: string[]; unreadable: InvalidListItem[] }> {
  const ids = certificateIds?.length ? [...new Set(certificateIds)] : undefined;
  const unreadable: InvalidListItem[] = [];
  const onPage = (page: { offset: number; received: number; total: number }) =>
    logger.debug('listed certificates', page);
  const onInvalid = (item: InvalidListItem) => {
    logger.warn('Tencent listed a certificate this tool cannot read', { ...item });
    unreadable.push(item);
  };
  const items = await tencent.listCertificates(
    ids ? { ids, onPage, onInvalid } : { ...(statuses ? { statuses } : {}), onPage, onInvalid },
  );
  const known = new Set([
    ...items.map((item) => item.CertificateId),
    ...unreadable.map((u) => u.certificateId),
  ]);
  return {
    items: items.filter((item) => item.CertificateId),
    missing: (ids ?? []).filter((id) => !known.has(id)),
    unreadable,
  };
}

/** The report of a certificate the listing gives nothing usable about. */
function unlistedReport(
  certificateId: string,
  outcome: CertificateOutcome,
  error: string,
): CertificateReport {
  return {
    certificateId,
    domains: [],
    status: null,
    statusName: null,
    validationDeadline: null,
    outcome,
    records: [],
    error,
  };
}

function isPending(status: number | null): boolean {
  return (
    status !== null && (PENDING_STATUSES.includes(status) || status === CertificateStatus.ReissuePending)
  );
}

function totals(reports: CertificateReport[], batches: number): SyncReport['totals'] {
  const byOutcome: SyncReport['totals']['byOutcome'] = {};
  const records: SyncReport['totals']['records'] = {};
  for (const report of reports) {
    byOutcome[report.outcome] = (byOutcome[report.outcome] ?? 0) + 1;
    for (const record of report.records) records[record.action] = (records[record.action] ?? 0) + 1;
  }
  return { certificates: reports.length, byOutcome, records, route53ChangeBatches: batches };
}

interface Inspection {
  reports: Map<string, CertificateReport>;
  pending: CertificateListItem[];
  issued: CertificateListItem[];
}

/** Lists the certificates of a run and prepares a report for each. */
async function inspect(
  deps: SyncDeps,
  request: SyncRequest,
  statuses: readonly number[] | undefined,
): Promise<Inspection> {
  const { items, missing, unreadable } = await listCandidates(
    deps.tencent,
    request.certificateIds,
    statuses,
    deps.logger,
  );
  const reports = new Map<string, CertificateReport>();
  for (const item of items) reports.set(item.CertificateId as string, baseReport(item));
  for (const item of unreadable) {
    if (!item.certificateId) continue;
    const error = `Tencent lists this certificate with a field this tool cannot read (${item.path || 'the item'}: ${item.problem}); it is left alone`;
    reports.set(item.certificateId, unlistedReport(item.certificateId, 'failed', error));
  }
  for (const id of missing) {
    reports.set(id, unlistedReport(id, 'not-found', 'Tencent does not know this certificate id'));
  }
  const pending = items.filter((item) => isPending(item.Status));
  const issued = items.filter((item) => item.Status === CertificateStatus.Issued);
  for (const item of issued)
    (reports.get(item.CertificateId as string) as CertificateReport).outcome = 'issued';
  deps.logger.info('certificates listed', {
    certificates: items.length,
    pending: pending.length,
    issued: issued.length,
  });
  return { reports, pending, issued };
}

function finish(
  deps: SyncDeps,
  reports: Map<string, CertificateReport>,
  batches: number,
  dryRun: boolean,
  startedAt: string,
): SyncReport {
  const certificates = [...reports.values()];
  return {
    dryRun,
    startedAt,
    finishedAt: new Date(deps.clock.now()).toISOString(),
    certificates,
    totals: totals(certificates, batches),
  };
}

/** One sync run: pending certificates' validation records into Route53, issued ones to export. */
export async function runSync(deps: SyncDeps, request: SyncRequest = {}): Promise<SyncReport> {
  const dryRun = request.dryRun ?? deps.settings.dryRun;
  const startedAt = new Date(deps.clock.now()).toISOString();
  deps.logger.info('sync started', {
    dryRun,
    certificateIds: request.certificateIds?.length ?? 'all pending and issued',
  });
  const { reports, pending, issued } = await inspect(deps, request, ACTIONABLE_STATUSES);
  // Export reads other Tencent actions and other AWS services than validation: both go at once.
  const [validated, exported] = await Promise.allSettled([
    validatePending(deps, pending, reports, { dryRun, deadline: request.deadline }),
    issued.length > 0 ? handOver(deps, issued, reports, dryRun, request.deadline) : Promise.resolve(),
  ]);
  // Both settle before anything is passed on, so a failure of one never cuts the other short.
  if (validated.status === 'rejected') throw validated.reason;
  if (exported.status === 'rejected') throw exported.reason;
  const validation = validated.value;
  const report = finish(deps, reports, validation.batches, dryRun, startedAt);
  if (validation.fatal) report.fatal = validation.fatal;
  deps.logger.info('sync finished', { dryRun, ...report.totals });
  return report;
}

/**
 * Every certificate of the account (or those asked for) with its state; for pending ones, each
 * validation record and whether it is in place in Route53. Writes nothing.
 */
export async function collectStatus(
  deps: SyncDeps,
  request: Pick<SyncRequest, 'certificateIds'> = {},
): Promise<SyncReport> {
  const startedAt = new Date(deps.clock.now()).toISOString();
  const { reports, pending, issued } = await inspect(deps, request, undefined);
  await validatePending(deps, pending, reports, { dryRun: true });
  if (deps.exportState && issued.length > 0) {
    try {
      for (const entry of await deps.exportState(issued)) {
        const report = reports.get(entry.certificateId);
        if (report) report.export = entry;
      }
    } catch (error) {
      deps.logger.warn('cannot read the export state from Secrets Manager', { error: errorMessage(error) });
    }
  }
  return finish(deps, reports, 0, true, startedAt);
}

async function handOver(
  deps: SyncDeps,
  issued: CertificateListItem[],
  reports: Map<string, CertificateReport>,
  dryRun: boolean,
  deadline: number | undefined,
): Promise<void> {
  if (!deps.onIssued) {
    for (const item of issued) {
      const report = reports.get(item.CertificateId as string) as CertificateReport;
      report.export = {
        certificateId: report.certificateId,
        domain: item.Domain,
        result: 'deferred',
        reason: 'ready for export; no export configured',
      };
    }
    return;
  }
  try {
    for (const entry of await deps.onIssued(issued, { dryRun, deadline })) {
      const report = reports.get(entry.certificateId);
      if (!report) continue;
      report.export = entry;
      if (isExportFailure(entry)) {
        report.outcome = 'failed';
        report.error = `export ${entry.result}: ${entry.reason ?? ''}`.trim();
      }
    }
  } catch (error) {
    // The listing of secrets failed, or the queue is unreachable: every issued certificate waits for the next run.
    for (const item of issued) {
      const report = reports.get(item.CertificateId as string) as CertificateReport;
      report.outcome = 'failed';
      report.error = `export hand-off failed: ${errorMessage(error)}`;
    }
  }
}

/** True when the run left something that needs attention (exit code 1 of the CLI). */
export function hasFailures(report: SyncReport): boolean {
  return report.certificates.some(
    (c) => c.outcome === 'failed' || c.outcome === 'blocked' || c.outcome === 'not-found',
  );
}

/** The one structured line a run logs and a Lambda returns: totals, and what needs attention. */
export function summarizeSyncReport(report: SyncReport) {
  const pick = (outcome: CertificateOutcome) =>
    report.certificates
      .filter((c) => c.outcome === outcome)
      .map((c) => ({
        certificateId: c.certificateId,
        reason:
          c.error ??
          c.records
            .filter((r) => r.reason)
            .map((r) => `${r.name ?? '?'}: ${r.reason}`)
            .join('; '),
      }));
  return {
    dryRun: report.dryRun,
    ...(report.fatal ? { fatal: report.fatal.reason } : {}),
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    ...report.totals,
    failed: pick('failed'),
    blocked: pick('blocked'),
    deferred: report.certificates.filter((c) => c.outcome === 'deferred').map((c) => c.certificateId),
  };
}
