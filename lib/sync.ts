import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Clock } from './clock.js';
import type { ZoneOverride } from './config.js';
import { type ExportEntry, type IssuedCertificateHandler, isExportFailure } from './export.js';
import type { Logger } from './logger.js';
import { mapPool } from './pool.js';
import { applyChanges, waitForInsync } from './route53/apply.js';
import { diffZone } from './route53/diff.js';
import { certificateDomains, planValidationRecords } from './route53/plan.js';
import { readRecordSets } from './route53/records.js';
import type {
  HostedZone,
  HostedZoneRef,
  RecordAction,
  RecordOutcome,
  ValidationRecord,
} from './route53/types.js';
import { listHostedZones, resolveZone } from './route53/zones.js';
import { TencentApiError } from './tencent/errors.js';
import type { CertificateDetail, CertificateListItem } from './tencent/schemas.js';
import { CertificateStatus, PENDING_STATUSES, type TencentSslApi } from './tencent/ssl-api.js';

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
  export?: ExportEntry;
  error?: string;
}

export interface SyncReport {
  dryRun: boolean;
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

const DESCRIBE_CONCURRENCY = 20;
const ACTIONABLE_STATUSES = [...PENDING_STATUSES, CertificateStatus.ReissuePending, CertificateStatus.Issued];

/** Pending certificates with their detail, ready for planning. */
interface PendingCertificate {
  item: CertificateListItem;
  detail: CertificateDetail;
  report: CertificateReport;
}

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

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
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
): Promise<{ items: CertificateListItem[]; missing: string[] }> {
  const ids = certificateIds?.length ? [...new Set(certificateIds)] : undefined;
  const onPage = (page: { offset: number; received: number; total: number }) =>
    logger.debug('listed certificates', page);
  const items = await tencent.listCertificates(
    ids ? { ids, onPage } : { ...(statuses ? { statuses } : {}), onPage },
  );
  const known = new Set(items.map((item) => item.CertificateId));
  return {
    items: items.filter((item) => item.CertificateId),
    missing: (ids ?? []).filter((id) => !known.has(id)),
  };
}

function isPending(status: number | null): boolean {
  return (
    status !== null && (PENDING_STATUSES.includes(status) || status === CertificateStatus.ReissuePending)
  );
}

/**
 * Reads DvAuthDetail of each pending certificate, concurrently within the client's pacing, and
 * stops starting new ones past the deadline.
 */
export async function describePending(
  deps: Pick<SyncDeps, 'tencent' | 'clock' | 'logger'>,
  items: CertificateListItem[],
  reports: Map<string, CertificateReport>,
  deadline: number | undefined,
): Promise<PendingCertificate[]> {
  const results = await mapPool(
    items,
    DESCRIBE_CONCURRENCY,
    (item) => deps.tencent.describeCertificate(item.CertificateId as string),
    () => deadline === undefined || deps.clock.now() < deadline,
  );
  const pending: PendingCertificate[] = [];
  results.forEach((result, index) => {
    const item = items[index] as CertificateListItem;
    const report = reports.get(item.CertificateId as string) as CertificateReport;
    if (result === undefined) {
      report.outcome = 'deferred';
      report.error = 'not started: the run ran out of time; the next run continues';
    } else if (result.status === 'rejected') {
      const error = result.reason;
      if (error instanceof TencentApiError && error.isAuthFailure) throw error;
      report.outcome = 'failed';
      report.error = describeError(error);
      deps.logger.warn('cannot read certificate', {
        certificateId: report.certificateId,
        error: report.error,
      });
    } else {
      pending.push({ item, detail: result.value, report });
    }
  });
  return pending;
}

interface ZoneWork {
  zone: HostedZoneRef & { recordCount?: number };
  records: ValidationRecord[];
}

/**
 * Plans, reads, diffs and (unless dry) writes the validation records of the pending
 * certificates. Fills each report's `records`; returns the change ids written.
 */
export async function reconcileRecords(
  deps: Pick<SyncDeps, 'route53' | 'logger' | 'settings'>,
  pending: PendingCertificate[],
  dryRun: boolean,
): Promise<{ changeIds: Map<string, string[]>; batches: number }> {
  const { settings, logger } = deps;
  const byCertificate = new Map<string, CertificateReport>();
  const planned: ValidationRecord[] = [];
  for (const { detail, item, report } of pending) {
    byCertificate.set(report.certificateId, report);
    const plan = planValidationRecords(
      {
        CertificateId: report.certificateId,
        Domain: detail.Domain ?? item.Domain,
        SubjectAltName: detail.SubjectAltName.length ? detail.SubjectAltName : item.SubjectAltName,
        DvAuthDetail: detail.DvAuthDetail,
      },
      settings.allowedDomains,
    );
    report.records.push(...plan.outcomes);
    planned.push(...plan.records);
  }
  const changeIds = new Map<string, string[]>();
  if (planned.length === 0) return { changeIds, batches: 0 };

  // One listing of the account's zones per run.
  const zones: HostedZone[] = await listHostedZones(deps.route53);
  const work = new Map<string, ZoneWork>();
  for (const record of planned) {
    const resolved = resolveZone(record.name, zones, settings.zoneOverrides);
    if ('error' in resolved) {
      byCertificate
        .get(record.certificateId)
        ?.records.push({ ...outcomeOf(record), action: 'failed', reason: resolved.error });
      continue;
    }
    const listed = zones.find((zone) => zone.id === resolved.zone.id);
    const entry = work.get(resolved.zone.id) ?? {
      zone: { ...resolved.zone, ...(listed ? { recordCount: listed.recordCount } : {}) },
      records: [],
    };
    entry.records.push(record);
    work.set(resolved.zone.id, entry);
  }

  let batches = 0;
  await Promise.all(
    [...work.values()].map(async ({ zone, records }) => {
      const zoneRef: HostedZoneRef = { id: zone.id, name: zone.name };
      let outcomes: RecordOutcome[];
      try {
        const existing = await readRecordSets(deps.route53, zone, [...new Set(records.map((r) => r.name))]);
        const diff = diffZone({
          zone: zoneRef,
          wanted: records,
          existing: [...existing.values()].flat(),
          ttl: settings.recordTtl,
        });
        outcomes = diff.outcomes;
        if (!dryRun && diff.changes.length > 0) {
          const applied = await applyChanges(
            deps.route53,
            zone.id,
            diff.changes.map(({ change, outcomes: carried }) => ({ change, tag: carried })),
            { comment: 'tencent-ssl-sync: certificate validation records', logger },
          );
          batches += applied.submitted.length;
          for (const failure of applied.failed) {
            for (const outcome of failure.tag) {
              outcome.action = 'failed';
              outcome.reason = failure.reason;
            }
          }
          for (const submitted of applied.submitted) {
            const ids = new Set(submitted.tags.flat().map((o) => o.certificateId));
            for (const id of ids) changeIds.set(id, [...(changeIds.get(id) ?? []), submitted.changeId]);
          }
        }
      } catch (error) {
        const reason = `Route53 zone ${zone.name} (${zone.id}): ${describeError(error)}`;
        logger.warn('cannot update zone', { zone: zone.id, error: reason });
        outcomes = records.map((record) => ({
          ...outcomeOf(record),
          zone: zoneRef,
          action: 'failed' as const,
          reason,
        }));
      }
      for (const outcome of outcomes) byCertificate.get(outcome.certificateId)?.records.push(outcome);
    }),
  );
  return { changeIds, batches };
}

function outcomeOf(record: ValidationRecord): Omit<RecordOutcome, 'action'> {
  return { certificateId: record.certificateId, name: record.name, type: record.type, value: record.value };
}

const BLOCKING: ReadonlySet<RecordAction> = new Set(['refused', 'conflict', 'skipped']);

function settleOutcome(report: CertificateReport): void {
  if (report.outcome !== 'ignored') return;
  if (report.records.some((r) => r.action === 'failed')) report.outcome = 'failed';
  else if (report.records.length === 0 || report.records.some((r) => BLOCKING.has(r.action)))
    report.outcome = 'blocked';
  else report.outcome = 'validating';
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
  pending: PendingCertificate[];
  issued: CertificateListItem[];
  changeIds: Map<string, string[]>;
  batches: number;
}

/** Lists, reads the pending certificates and reconciles their records (writing unless `dryRun`). */
async function inspect(
  deps: SyncDeps,
  request: SyncRequest,
  statuses: readonly number[] | undefined,
  dryRun: boolean,
): Promise<Inspection> {
  const { logger, settings } = deps;
  const { items, missing } = await listCandidates(deps.tencent, request.certificateIds, statuses, logger);
  const reports = new Map<string, CertificateReport>();
  for (const item of items) reports.set(item.CertificateId as string, baseReport(item));
  for (const id of missing) {
    reports.set(id, {
      certificateId: id,
      domains: [],
      status: null,
      statusName: null,
      validationDeadline: null,
      outcome: 'not-found',
      records: [],
      error: 'Tencent does not know this certificate id',
    });
  }
  const pendingItems = items.filter((item) => isPending(item.Status));
  const issued = items.filter((item) => item.Status === CertificateStatus.Issued);
  for (const item of issued)
    (reports.get(item.CertificateId as string) as CertificateReport).outcome = 'issued';
  logger.info('certificates listed', {
    certificates: items.length,
    pending: pendingItems.length,
    issued: issued.length,
  });

  const pending = await describePending(deps, pendingItems, reports, request.deadline);
  if (settings.allowedDomains === undefined && pending.length > 0) {
    logger.warn('ALLOWED_DOMAINS is not set: no record will be written', {
      fix: 'set ALLOWED_DOMAINS to the domains this tool may validate, e.g. ALLOWED_DOMAINS=example.com, or * for every zone',
    });
  }
  const { changeIds, batches } = await reconcileRecords(deps, pending, dryRun);
  for (const { report } of pending) settleOutcome(report);
  return { reports, pending, issued, changeIds, batches };
}

function finish(deps: SyncDeps, inspection: Inspection, dryRun: boolean, startedAt: string): SyncReport {
  const certificates = [...inspection.reports.values()];
  return {
    dryRun,
    startedAt,
    finishedAt: new Date(deps.clock.now()).toISOString(),
    certificates,
    totals: totals(certificates, inspection.batches),
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
  const inspection = await inspect(deps, request, ACTIONABLE_STATUSES, dryRun);
  if (!dryRun && inspection.changeIds.size > 0) {
    await settleWrites(deps, inspection.pending, inspection.changeIds, request.deadline);
  }
  if (inspection.issued.length > 0) {
    await handOver(deps, inspection.issued, inspection.reports, dryRun, request.deadline);
  }
  const report = finish(deps, inspection, dryRun, startedAt);
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
  const inspection = await inspect(deps, request, undefined, true);
  if (deps.exportState && inspection.issued.length > 0) {
    try {
      for (const entry of await deps.exportState(inspection.issued)) {
        const report = inspection.reports.get(entry.certificateId);
        if (report) report.export = entry;
      }
    } catch (error) {
      deps.logger.warn('cannot read the export state from Secrets Manager', { error: describeError(error) });
    }
  }
  return finish(deps, inspection, true, startedAt);
}

/** Waits for INSYNC (bounded), then nudges the CA for certificates whose records are all in place. */
async function settleWrites(
  deps: SyncDeps,
  pending: PendingCertificate[],
  changeIds: Map<string, string[]>,
  deadline: number | undefined,
): Promise<void> {
  const { settings, clock, logger } = deps;
  let stillPending = new Set<string>();
  if (settings.waitForInsync) {
    const allIds = [...new Set([...changeIds.values()].flat())];
    const budget = settings.insyncTimeoutMs ?? 120_000;
    const timeoutMs = deadline === undefined ? budget : Math.max(0, Math.min(budget, deadline - clock.now()));
    logger.info('waiting for Route53 to apply changes', { changes: allIds.length, timeoutMs });
    const result = await waitForInsync(deps.route53, allIds, { clock, timeoutMs });
    stillPending = new Set(result.pending);
  }
  const nudge: CertificateReport[] = [];
  for (const { report } of pending) {
    const ids = changeIds.get(report.certificateId);
    if (!ids) continue;
    if (settings.waitForInsync) report.insync = ids.every((id) => !stillPending.has(id));
    if (report.outcome === 'validating' && report.insync !== false) nudge.push(report);
  }
  if (settings.nudgeCa === false || nudge.length === 0) return;
  await Promise.all(
    nudge.map(async (report) => {
      try {
        await deps.tencent.completeCertificate(report.certificateId);
        report.nudged = true;
      } catch (error) {
        // The CA checks on its own schedule anyway; a refused nudge changes nothing.
        report.nudged = false;
        logger.warn('CompleteCertificate was not accepted', {
          certificateId: report.certificateId,
          error: describeError(error),
        });
      }
    }),
  );
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
      report.error = `export hand-off failed: ${describeError(error)}`;
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
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    ...report.totals,
    failed: pick('failed'),
    blocked: pick('blocked'),
    deferred: report.certificates.filter((c) => c.outcome === 'deferred').map((c) => c.certificateId),
  };
}
