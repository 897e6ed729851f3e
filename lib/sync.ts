import { errorMessage } from './error-text.js';
import { isExportFailure } from './export.js';
import type { Logger } from './logger.js';
import type {
  CertificateOutcome,
  CertificateReport,
  SyncDeps,
  SyncReport,
  SyncRequest,
  SyncTencentApi,
} from './sync-types.js';
import type { CertificateListItem, InvalidListItem, ListItemWarning } from './tencent/schemas.js';
import { CertificateStatus, PENDING_STATUSES } from './tencent/ssl-api.js';
import { certificateDomains } from './validation/plan.js';
import { validatePending } from './validation-pipeline.js';

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
  const onWarning = (warning: ListItemWarning) =>
    logger.warn('Tencent listed a certificate with an unreadable field', { ...warning });
  const items = await tencent.listCertificates(
    ids
      ? { ids, onPage, onInvalid, onWarning }
      : { ...(statuses ? { statuses } : {}), onPage, onInvalid, onWarning },
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
