import { isAwsCredentialsError } from './aws-errors.js';
import { isUnder, stripWildcard } from './domain.js';
import { errorMessage } from './error-text.js';
import { mapPool } from './pool.js';
import { applyChanges, waitForInsync } from './route53/apply.js';
import { diffZone } from './route53/diff.js';
import { readRecordSets } from './route53/records.js';
import type {
  HostedZone,
  HostedZoneRef,
  RecordAction,
  RecordOutcome,
  ValidationRecord,
} from './route53/types.js';
import { listHostedZones, resolveZone } from './route53/zones.js';
import type { CertificateOutcome, CertificateReport, RunFailure, SyncDeps } from './sync-types.js';
import { TencentApiError } from './tencent/errors.js';
import type { CertificateListItem } from './tencent/schemas.js';
import { CertificateStatus } from './tencent/ssl-api.js';
import { NudgePolicy } from './validation/nudge-policy.js';
import { certificateDomains, planValidationRecords } from './validation/plan.js';

/*
 * The validation half of a sync run, pipelined. Reading DvAuths is bounded by Tencent's
 * 10 requests/second per action; each zone still gets exactly one change batch, so a zone is
 * written as soon as every certificate that can have records in it has been read, while the
 * reads of the others go on. Which zones a certificate can touch is known before reading it: its
 * records must lie under its own domains, which the listing already gives. Certificates are read
 * grouped by zone so zones complete early; INSYNC waits and CompleteCertificate nudges follow
 * per zone and per certificate, also while reads go on.
 */

const DESCRIBE_CONCURRENCY = 20;
const BATCH_COMMENT = 'tencent-ssl-sync: certificate validation records';
const DEFAULT_INSYNC_TIMEOUT_MS = 120_000;
/** How long nudges may go on once every zone is written and in sync. */
const NUDGE_GRACE_MS = 1_000;
/**
 * First GetChange right after a write (moto and a quiet Route53 are INSYNC at once), later polls
 * back off (apply.ts): one extra call per zone written buys the nudges a head start.
 */
const INSYNC_FIRST_POLL_MS = 0;
const BLOCKING: ReadonlySet<RecordAction> = new Set(['refused', 'conflict', 'skipped']);

export interface PipelineOptions {
  dryRun: boolean;
  /** Epoch ms after which no certificate is started (and INSYNC waits end). */
  deadline?: number | undefined;
}

export interface PipelineResult {
  /** Change batches Route53 accepted. */
  batches: number;
  /** A step that stopped every certificate (the zones could not be listed). */
  fatal?: RunFailure;
}

interface ZoneDone {
  /** Change ids still PENDING when waiting ended (empty when all are INSYNC or nothing was written). */
  pending: Set<string>;
  /** Change ids per certificate written in this zone. */
  changes: Map<string, string[]>;
}

class Deferred<T> {
  resolve!: (value: T) => void;
  readonly promise = new Promise<T>((resolve) => {
    this.resolve = resolve;
  });
}

function outcomeOf(record: ValidationRecord): Omit<RecordOutcome, 'action'> {
  return { certificateId: record.certificateId, name: record.name, type: record.type, value: record.value };
}

/** The outcome a pending certificate's records add up to. */
export function pendingOutcome(records: readonly RecordOutcome[]): CertificateOutcome {
  if (records.some((r) => r.action === 'failed')) return 'failed';
  if (records.length === 0 || records.some((r) => BLOCKING.has(r.action))) return 'blocked';
  return 'validating';
}

function allowedBy(domain: string, allowed: string[] | '*' | undefined): boolean {
  if (allowed === undefined) return false;
  return allowed === '*' || allowed.some((a) => isUnder(domain, a));
}

/**
 * Reads the pending certificates' validation records, writes them zone by zone (unless dry),
 * waits for INSYNC and nudges the CA. Fills each certificate's report.
 */
export async function validatePending(
  deps: SyncDeps,
  items: CertificateListItem[],
  reports: Map<string, CertificateReport>,
  options: PipelineOptions,
): Promise<PipelineResult> {
  const { settings, logger, clock } = deps;
  const result: PipelineResult = { batches: 0 };
  if (items.length === 0) return result;
  if (settings.allowedDomains === undefined) {
    logger.warn('ALLOWED_DOMAINS is not set: no record will be written', {
      fix: 'set ALLOWED_DOMAINS to the domains this tool may validate, e.g. ALLOWED_DOMAINS=example.com, or * for every zone',
    });
  }
  // One listing of the account's zones per run; without an allow-list nothing can be written, so Route53 is not asked.
  let zones: HostedZone[] = [];
  if (settings.allowedDomains !== undefined) {
    try {
      zones = await listHostedZones(deps.route53);
    } catch (error) {
      // Without the zones no record can be placed: every pending certificate waits for the next run.
      const reason = `Route53 ListHostedZones failed: ${errorMessage(error)}`;
      logger.error('cannot list the Route53 hosted zones', { error });
      for (const item of items) {
        const report = reports.get(item.CertificateId as string) as CertificateReport;
        report.outcome = 'failed';
        report.error = reason;
      }
      result.fatal = { reason, credentials: isAwsCredentialsError(error) };
      return result;
    }
  }
  const zoneById = new Map(zones.map((zone) => [zone.id, zone]));
  const resolve = (name: string) => resolveZone(name, zones, settings.zoneOverrides);

  // Which zones each certificate can write to, from the domains the listing already shows.
  const predicted = new Map<string, string[]>();
  const remaining = new Map<string, number>();
  for (const item of items) {
    const ids = new Set<string>();
    for (const domain of certificateDomains({ Domain: item.Domain, SubjectAltName: item.SubjectAltName })) {
      if (!allowedBy(domain, settings.allowedDomains)) continue;
      const zone = resolve(`_.${stripWildcard(domain)}`);
      if ('zone' in zone) ids.add(zone.zone.id);
    }
    predicted.set(item.CertificateId as string, [...ids]);
    for (const id of ids) remaining.set(id, (remaining.get(id) ?? 0) + 1);
  }
  // Read certificates zone by zone, each zone complete at its turn. Smallest zones first: the
  // first zone is written, in sync and nudged soonest, and from then on writes and nudges keep
  // pace with the reads instead of trailing them by a whole zone.
  const zoneOrder = [...remaining.entries()].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  const byZone = new Map<string, CertificateListItem[]>();
  for (const item of items) {
    for (const zoneId of predicted.get(item.CertificateId as string) ?? []) {
      byZone.set(zoneId, [...(byZone.get(zoneId) ?? []), item]);
    }
  }
  const queued = new Set<string>();
  const ordered: CertificateListItem[] = [];
  for (const [zoneId] of zoneOrder) {
    for (const item of byZone.get(zoneId) ?? []) {
      if (queued.has(item.CertificateId as string)) continue;
      queued.add(item.CertificateId as string);
      ordered.push(item);
    }
  }
  ordered.push(...items.filter((item) => !queued.has(item.CertificateId as string)));

  const wanted = new Map<string, ValidationRecord[]>();
  const late = new Map<string, ValidationRecord[]>();
  const done = new Map<string, Deferred<ZoneDone>>();
  const lateDone = new Map<string, Deferred<ZoneDone>>();
  const zoneTasks: Promise<void>[] = [];
  const settleTasks: Promise<void>[] = [];
  // Nudges are best effort: once every zone is written and in sync they get a short grace, then
  // the ones still waiting for a slot are dropped rather than keep the run going.
  const nudgeWindow = new AbortController();
  const nudges = new NudgePolicy(items, logger);
  const doneOf = (zoneId: string) => {
    let entry = done.get(zoneId);
    if (!entry) {
      entry = new Deferred<ZoneDone>();
      done.set(zoneId, entry);
    }
    return entry;
  };
  const started = new Set<string>();

  const runZone = async (zoneId: string, records: ValidationRecord[]): Promise<ZoneDone> => {
    const listed = zoneById.get(zoneId);
    const firstRecordZone = records[0] ? resolve(records[0].name) : undefined;
    const resolved =
      firstRecordZone && 'zone' in firstRecordZone ? firstRecordZone.zone : { id: zoneId, name: '' };
    const ref: HostedZoneRef = listed ? { id: listed.id, name: listed.name } : resolved;
    const zone = { id: ref.id, name: ref.name, ...(listed ? { recordCount: listed.recordCount } : {}) };
    const outcome: ZoneDone = { pending: new Set(), changes: new Map() };
    let outcomes: RecordOutcome[];
    try {
      const existing = await readRecordSets(deps.route53, zone, [...new Set(records.map((r) => r.name))]);
      const diff = diffZone({
        zone: ref,
        wanted: records,
        existing: [...existing.values()].flat(),
        ttl: settings.recordTtl,
      });
      outcomes = diff.outcomes;
      if (!options.dryRun && diff.changes.length > 0) {
        const applied = await applyChanges(
          deps.route53,
          zone.id,
          diff.changes.map(({ change, outcomes: carried }) => ({ change, tag: carried })),
          { comment: BATCH_COMMENT, logger },
        );
        result.batches += applied.submitted.length;
        for (const failure of applied.failed) {
          for (const carried of failure.tag) {
            carried.action = 'failed';
            carried.reason = failure.reason;
          }
        }
        for (const submitted of applied.submitted) {
          for (const id of new Set(submitted.tags.flat().map((o) => o.certificateId))) {
            outcome.changes.set(id, [...(outcome.changes.get(id) ?? []), submitted.changeId]);
          }
        }
        logger.info('zone updated', { zone: zone.name, changes: diff.changes.length });
        const ids = applied.submitted.map((s) => s.changeId).filter(Boolean);
        if (settings.waitForInsync && ids.length > 0) {
          const budget = settings.insyncTimeoutMs ?? DEFAULT_INSYNC_TIMEOUT_MS;
          const timeoutMs =
            options.deadline === undefined
              ? budget
              : Math.max(0, Math.min(budget, options.deadline - clock.now()));
          const waited = await waitForInsync(deps.route53, ids, {
            clock,
            timeoutMs,
            initialDelayMs: INSYNC_FIRST_POLL_MS,
            logger,
          });
          outcome.pending = new Set(waited.pending);
        }
      }
    } catch (error) {
      const reason = `Route53 zone ${zone.name} (${zone.id}): ${errorMessage(error)}`;
      logger.warn('cannot update zone', { zone: zone.id, error: reason });
      outcomes = records.map((record) => ({
        ...outcomeOf(record),
        zone: ref,
        action: 'failed' as const,
        reason,
      }));
    }
    for (const recordOutcome of outcomes)
      reports.get(recordOutcome.certificateId)?.records.push(recordOutcome);
    return outcome;
  };

  const startZone = (zoneId: string) => {
    if (started.has(zoneId)) return;
    started.add(zoneId);
    const records = wanted.get(zoneId) ?? [];
    const deferred = doneOf(zoneId);
    if (records.length === 0) {
      deferred.resolve({ pending: new Set(), changes: new Map() });
      return;
    }
    zoneTasks.push(runZone(zoneId, records).then(deferred.resolve));
  };

  const settleCertificate = async (report: CertificateReport, zoneIds: string[], lateZoneIds: string[]) => {
    const results = await Promise.all([
      ...zoneIds.map((id) => doneOf(id).promise),
      ...lateZoneIds.map((id) => (lateDone.get(id) as Deferred<ZoneDone>).promise),
    ]);
    const changeIds = results.flatMap((r) => r.changes.get(report.certificateId) ?? []);
    if (options.dryRun || changeIds.length === 0) return;
    if (settings.waitForInsync)
      report.insync = results.every((r) => changeIds.every((id) => !r.pending.has(id)));
    if (
      settings.nudgeCa === false ||
      pendingOutcome(report.records) !== 'validating' ||
      report.insync === false
    )
      return;
    if (nudges.skip(report)) return;
    try {
      await deps.tencent.completeCertificate(report.certificateId, { signal: nudgeWindow.signal });
      report.nudged = true;
    } catch (error) {
      // The CA checks on its own schedule anyway; a refused or skipped nudge changes nothing.
      report.nudged = false;
      if (nudgeWindow.signal.aborted && error === nudgeWindow.signal.reason) {
        report.nudgeNote = 'skipped to end the run; the CA checks on its own';
        return;
      }
      report.nudgeNote = errorMessage(error);
      if (nudges.isUnsupported(error)) return;
      logger.warn('CompleteCertificate was not accepted', {
        certificateId: report.certificateId,
        error: report.nudgeNote,
      });
    }
  };

  let authFailure: unknown;
  const leftAlone = new Set<string>();
  const describeOne = async (item: CertificateListItem) => {
    const id = item.CertificateId as string;
    const report = reports.get(id) as CertificateReport;
    try {
      const detail = await deps.tencent.describeCertificate(id);
      const auth = detail.DvAuthDetail;
      if (item.Status === CertificateStatus.ReissuePending && !auth?.DvAuths.length && !auth?.DvAuthKey) {
        // A reissue shows validation records only when it needs new ones; without them there is nothing to do.
        leftAlone.add(id);
        return;
      }
      const plan = planValidationRecords(
        {
          CertificateId: id,
          Domain: detail.Domain ?? item.Domain,
          SubjectAltName: detail.SubjectAltName.length ? detail.SubjectAltName : item.SubjectAltName,
          DvAuthDetail: detail.DvAuthDetail,
        },
        settings.allowedDomains,
      );
      report.records.push(...plan.outcomes);
      const zoneIds = new Set<string>();
      const lateZoneIds = new Set<string>();
      for (const record of plan.records) {
        const zone = resolve(record.name);
        if ('error' in zone) {
          report.records.push({ ...outcomeOf(record), action: 'failed', reason: zone.error });
          continue;
        }
        const zoneId = zone.zone.id;
        if (started.has(zoneId)) {
          // A zone already written (the record lies deeper than its domains predicted): a second batch at the end.
          late.set(zoneId, [...(late.get(zoneId) ?? []), record]);
          if (!lateDone.has(zoneId)) lateDone.set(zoneId, new Deferred<ZoneDone>());
          lateZoneIds.add(zoneId);
        } else {
          wanted.set(zoneId, [...(wanted.get(zoneId) ?? []), record]);
          zoneIds.add(zoneId);
        }
      }
      settleTasks.push(settleCertificate(report, [...zoneIds], [...lateZoneIds]));
    } catch (error) {
      if (error instanceof TencentApiError && error.isAuthFailure) authFailure ??= error;
      report.outcome = 'failed';
      report.error = errorMessage(error);
      logger.warn('cannot read certificate', { certificateId: id, error: report.error });
    } finally {
      for (const zoneId of predicted.get(id) ?? []) {
        const left = (remaining.get(zoneId) ?? 1) - 1;
        remaining.set(zoneId, left);
        if (left === 0) startZone(zoneId);
      }
    }
  };

  const results = await mapPool(
    ordered,
    DESCRIBE_CONCURRENCY,
    describeOne,
    () => authFailure === undefined && (options.deadline === undefined || clock.now() < options.deadline),
  );
  results.forEach((outcome, index) => {
    if (outcome !== undefined) return;
    const report = reports.get(ordered[index]?.CertificateId as string) as CertificateReport;
    report.outcome = 'deferred';
    report.error = 'not started: the run ran out of time; the next run continues';
  });
  // Zones held back by certificates that were not read, and zones nobody predicted.
  for (const zoneId of [...wanted.keys(), ...remaining.keys()]) startZone(zoneId);
  for (const [zoneId, records] of late) {
    const second = lateDone.get(zoneId) as Deferred<ZoneDone>;
    zoneTasks.push(
      doneOf(zoneId)
        .promise.then(() => runZone(zoneId, records))
        .then(second.resolve),
    );
  }
  await Promise.all(zoneTasks);
  const stopNudges = () => nudgeWindow.abort(new Error('nudge window closed'));
  const untilDeadline = options.deadline === undefined ? NUDGE_GRACE_MS : options.deadline - clock.now();
  const timer = setTimeout(stopNudges, Math.max(0, Math.min(NUDGE_GRACE_MS, untilDeadline)));
  timer.unref();
  await Promise.all(settleTasks);
  clearTimeout(timer);
  if (authFailure) throw authFailure;
  for (const item of items) {
    const report = reports.get(item.CertificateId as string) as CertificateReport;
    if (report.outcome === 'ignored' && !leftAlone.has(report.certificateId)) {
      report.outcome = pendingOutcome(report.records);
    }
  }
  return result;
}
