import { isAwsCredentialsError } from './aws-errors.js';
import { DEFAULT_RENEW_BEFORE_DAYS } from './config.js';
import { normalizeName } from './domain.js';
import { errorMessage } from './error-text.js';
import { exportFailureText, isExportFailure } from './export.js';
import type { Logger } from './logger.js';
import {
  holdWhileUnreadable,
  planRenewals,
  type RenewalReport,
  type RenewOptions,
  runRenewals,
} from './renew.js';
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
import { type PipelineResult, validatePending } from './validation-pipeline.js';

const ACTIONABLE_STATUSES = [...PENDING_STATUSES, CertificateStatus.ReissuePending, CertificateStatus.Issued];

/** The certificate's names as it has them (`*.` kept), each once: what a person recognises it by. */
function shownDomains(item: CertificateListItem): string[] {
  const names = [item.Domain ?? '', ...item.SubjectAltName].map(normalizeName);
  return [...new Set(names.filter((name) => name !== ''))];
}

function baseReport(item: CertificateListItem): CertificateReport {
  return {
    certificateId: item.CertificateId ?? '',
    domains: shownDomains(item),
    status: item.Status,
    statusName: item.StatusName,
    validationDeadline: item.DVAuthDeadline?.toISOString() ?? null,
    ...(item.CertEndTime ? { expiresAt: item.CertEndTime.toISOString() } : {}),
    outcome: 'ignored',
    records: [],
  };
}

/**
 * Lists the certificates a run looks at: the ids asked for (whatever their status), else every
 * certificate in `statuses` (every certificate at all when `statuses` is undefined).
 */
async function listCandidates(
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

interface Listing {
  items: CertificateListItem[];
  unreadable: InvalidListItem[];
}

interface Inspection {
  /** What the listing gave, before any report was made of it. */
  listing: Listing;
  reports: Map<string, CertificateReport>;
  pending: CertificateListItem[];
  issued: CertificateListItem[];
  /** True for a certificate whose owned record values can go: done with validation, or gone. */
  isDone: (certificateId: string) => boolean;
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
  // Only what this run looked at can be judged done; a certificate it could not read never is.
  const pendingIds = new Set(pending.map((item) => item.CertificateId as string));
  const unreadableIds = new Set(unreadable.map((item) => item.certificateId));
  const asked = request.certificateIds?.length ? new Set(request.certificateIds) : undefined;
  const isDone = (id: string) =>
    (asked === undefined || asked.has(id)) && !pendingIds.has(id) && !unreadableIds.has(id);
  return { listing: { items, unreadable }, reports, pending, issued, isDone };
}

/**
 * The declared domains (CERTIFICATES): planned from a listing of every certificate (failed and
 * cancelled orders included, which name a need anew) and, in a writing run, applied for.
 * Undefined when none are declared.
 */
async function renewDeclared(
  deps: SyncDeps,
  mode: RenewOptions['mode'],
  listed?: Listing,
): Promise<RenewalReport[] | undefined> {
  const domains = deps.settings.certificates ?? [];
  const applyCertificate = deps.tencent.applyCertificate?.bind(deps.tencent);
  if (domains.length === 0 || !applyCertificate) return undefined;
  const { items, unreadable } =
    listed ?? (await listCandidates(deps.tencent, undefined, undefined, deps.logger));
  const days = deps.settings.renewBeforeDays ?? DEFAULT_RENEW_BEFORE_DAYS;
  const plan = holdWhileUnreadable(
    planRenewals(domains, items, deps.clock.now(), days),
    unreadable.map((item) => item.certificateId),
  );
  const { state, clock, logger } = deps;
  return runRenewals({ tencent: { applyCertificate }, state, clock, logger }, plan, { mode });
}

function finish(
  deps: SyncDeps,
  reports: Map<string, CertificateReport>,
  validation: PipelineResult,
  dryRun: boolean,
  startedAt: string,
): SyncReport {
  const certificates = [...reports.values()];
  const report: SyncReport = {
    dryRun,
    startedAt,
    finishedAt: new Date(deps.clock.now()).toISOString(),
    certificates,
    state: deps.state ? 'on' : 'off',
    cleanup: validation.cleanup,
    totals: totals(certificates, validation.batches),
  };
  for (const record of validation.cleanup)
    report.totals.records[record.action] = (report.totals.records[record.action] ?? 0) + 1;
  if (validation.fatal) report.fatal = validation.fatal;
  return report;
}

/** One sync run: pending certificates' validation records into Route53, issued ones to export. */
export async function runSync(deps: SyncDeps, request: SyncRequest = {}): Promise<SyncReport> {
  const dryRun = request.dryRun ?? deps.settings.dryRun;
  const startedAt = new Date(deps.clock.now()).toISOString();
  deps.logger.info('sync started', {
    dryRun,
    certificateIds: request.certificateIds?.length ?? 'all pending and issued',
  });
  // Before the listing below, so that an order applied for now is validated in this same run
  // when Tencent lists it already. Only full runs: a run for named certificates renews nothing.
  const renewals = request.certificateIds?.length
    ? undefined
    : await renewDeclared(deps, dryRun ? 'dry-run' : 'apply');
  const { reports, pending, issued, isDone } = await inspect(deps, request, ACTIONABLE_STATUSES);
  // Export reads other Tencent actions and other AWS services than validation: both go at once.
  const [validated, exported] = await Promise.allSettled([
    validatePending(deps, pending, reports, { dryRun, deadline: request.deadline, isDone }),
    issued.length > 0 ? handOver(deps, issued, reports, dryRun, request.deadline) : Promise.resolve(),
  ]);
  // Both settle before anything is passed on, so a failure of one never cuts the other short.
  if (validated.status === 'rejected') throw validated.reason;
  if (exported.status === 'rejected') throw exported.reason;
  const report = finish(deps, reports, validated.value, dryRun, startedAt);
  if (renewals) report.renewals = renewals;
  deps.logger.info('sync finished', { dryRun, ...report.totals });
  if (deps.observer && !dryRun) {
    const events = await deps.observer.afterSync(report, {
      partial: Boolean(request.certificateIds?.length),
    });
    if (events) report.events = events;
  }
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
  const { listing, reports, pending, issued, isDone } = await inspect(deps, request, undefined);
  const validation = await validatePending(deps, pending, reports, { dryRun: true, isDone });
  const renewals = request.certificateIds?.length ? undefined : await renewDeclared(deps, 'status', listing);
  let fatal = validation.fatal;
  if (deps.exportState && issued.length > 0) {
    try {
      for (const entry of await deps.exportState(issued)) {
        const report = reports.get(entry.certificateId);
        if (report) report.export = entry;
      }
    } catch (error) {
      // Without it status cannot say what the secrets hold: as much a failure of the run as unreadable zones.
      const reason = `Secrets Manager could not be read: ${errorMessage(error)}`;
      deps.logger.error('cannot read the export state from Secrets Manager', { error: errorMessage(error) });
      fatal ??= { reason, credentials: isAwsCredentialsError(error) };
    }
  }
  const report = finish(deps, reports, { ...validation, batches: 0 }, true, startedAt);
  if (fatal) report.fatal = fatal;
  if (renewals) report.renewals = renewals;
  return report;
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
        report.error = exportFailureText(entry);
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

/**
 * True when the run left something that needs attention (exit code 1 of the CLI): a step that
 * stopped the run, or a certificate that failed, is blocked or is unknown. A certificate outside
 * ALLOWED_DOMAINS is left alone by design and is none of these.
 */
export function hasFailures(report: SyncReport): boolean {
  return (
    report.fatal !== undefined ||
    report.certificates.some(
      (c) => c.outcome === 'failed' || c.outcome === 'blocked' || c.outcome === 'not-found',
    ) ||
    (report.renewals ?? []).some((r) => r.state === 'blocked' || r.state === 'failed')
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
    ...(report.renewals
      ? {
          renewals: report.renewals.map((r) => ({
            domain: r.domain,
            state: r.state,
            ...(r.newCertificateId ? { newCertificateId: r.newCertificateId } : {}),
            ...(r.state === 'blocked' || r.state === 'failed' ? { reason: r.reason } : {}),
          })),
        }
      : {}),
  };
}
