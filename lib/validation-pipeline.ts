import { isAwsCredentialsError } from './aws-errors.js';
import { isUnder, normalizeName, stripWildcard } from './domain.js';
import { errorMessage } from './error-text.js';
import { mapPool } from './pool.js';
import { applyChanges, waitForInsync } from './route53/apply.js';
import { diffZone, type PlannedChange } from './route53/diff.js';
import { readRecordSets } from './route53/records.js';
import type {
  HostedZone,
  HostedZoneRef,
  OwnedRecord,
  RecordAction,
  RecordOutcome,
  ValidationRecord,
} from './route53/types.js';
import { listHostedZones, resolveZone } from './route53/zones.js';
import type { OwnedValue } from './state/types.js';
import type { CertificateOutcome, CertificateReport, RunFailure, SyncDeps } from './sync-types.js';
import { TencentApiError } from './tencent/errors.js';
import type { CertificateListItem } from './tencent/schemas.js';
import { CertificateStatus } from './tencent/ssl-api.js';
import { NudgePolicy } from './validation/nudge-policy.js';
import { certificateDomains, planValidationRecords } from './validation/plan.js';
import { idOf, rememberReads, reportUnchanged, unchangedCertificates } from './validation-memory.js';

/*
 * The validation half of a sync run, pipelined. Reading DvAuths is bounded by Tencent's
 * 10 requests/second per action; each zone still gets exactly one change batch, so a zone is
 * written as soon as every certificate that can have records in it has been read, while the
 * reads of the others go on. Which zones a certificate can touch is known before reading it: its
 * records must lie under its own domains, which the listing already gives. Certificates are read
 * grouped by zone so zones complete early; INSYNC waits and CompleteCertificate nudges follow
 * per zone and per certificate, also while reads go on.
 *
 * The steps, in the order a run takes them:
 *   1. listZones          one ListHostedZones for the run
 *   2. predictZones       the zones each certificate can write to, from its listed domains
 *   3. readingOrder       certificates grouped by zone, smallest zones first
 *   4. readCertificate    DvAuths → planned records → the zone they go to (run.read, in a pool)
 *   5. writeZone          read the zone's record sets, diff, one change batch, wait for INSYNC
 *   6. settleCertificate  INSYNC per certificate, then the CompleteCertificate nudge
 *   7. conclude           each certificate's outcome from its records
 */

/** Times a zone is read and written again when a concurrent writer changed it meanwhile. */
const MAX_ZONE_ATTEMPTS = 3;
/** Reads in flight: enough to keep both read budgets (DescribeCertificate and -Detail) busy. */
const DESCRIBE_CONCURRENCY = 20;
const BATCH_COMMENT = 'tencent-ssl-sync: certificate validation records';
const DEFAULT_INSYNC_TIMEOUT_MS = 120_000;
/** How long nudges may go on once every zone is written and in sync. */
const NUDGE_GRACE_MS = 250;
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
  /**
   * True for a certificate known to be done with validation (issued, failed, cancelled, gone):
   * the record values it owns are removed. The run's listing decides; a certificate it could not
   * read is never done.
   */
  isDone?: (certificateId: string) => boolean;
}

export interface PipelineResult {
  /** Change batches Route53 accepted. */
  batches: number;
  /** A step that stopped every certificate (the zones or the state table could not be read). */
  fatal?: RunFailure;
  /** Owned values removed (or, dry, to be removed), and removals that failed. */
  cleanup: RecordOutcome[];
}

interface ZoneDone {
  /** Change ids still PENDING when waiting ended (empty when all are INSYNC or nothing was written). */
  pending: Set<string>;
  /** Change ids per certificate written in this zone. */
  changes: Map<string, string[]>;
  /** Outcomes of the changes Route53 accepted. */
  accepted: Set<RecordOutcome>;
}

const NOTHING_WRITTEN: ZoneDone = { pending: new Set(), changes: new Map(), accepted: new Set() };

class Deferred<T> {
  resolve!: (value: T) => void;
  readonly promise = new Promise<T>((resolve) => {
    this.resolve = resolve;
  });
}

/** Deferreds created on first use, by key. */
class DeferredMap<T> {
  readonly #entries = new Map<string, Deferred<T>>();
  get(key: string): Deferred<T> {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = new Deferred<T>();
      this.#entries.set(key, entry);
    }
    return entry;
  }
}

function outcomeOf(record: ValidationRecord): Omit<RecordOutcome, 'action'> {
  return { certificateId: record.certificateId, name: record.name, type: record.type, value: record.value };
}

/** The outcome a pending certificate's records add up to. */
function pendingOutcome(records: readonly RecordOutcome[]): CertificateOutcome {
  if (records.some((r) => r.action === 'failed')) return 'failed';
  if (records.length === 0 || records.some((r) => BLOCKING.has(r.action))) return 'blocked';
  return 'validating';
}

function allowedBy(domain: string, allowed: string[] | '*' | undefined): boolean {
  if (allowed === undefined) return false;
  return allowed === '*' || allowed.some((a) => isUnder(domain, a));
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/** None of the certificate's domains lies under a set ALLOWED_DOMAINS: left alone by design. */
function outsideAllowList(item: CertificateListItem, allowed: string[] | '*' | undefined): boolean {
  if (!Array.isArray(allowed) || allowed.length === 0) return false;
  const domains = certificateDomains({ Domain: item.Domain, SubjectAltName: item.SubjectAltName });
  return domains.length > 0 && domains.every((domain) => !allowedBy(domain, allowed));
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
  const owned = await ownedValues(deps, items, reports);
  if ('fatal' in owned) return { batches: 0, fatal: owned.fatal, cleanup: [] };
  const leaving = (owned.values ?? []).filter((value) => options.isDone?.(value.certificateId) === true);
  const { unchanged, memories } = await unchangedCertificates(deps, items, owned.values, options);
  for (const item of unchanged)
    reportUnchanged(reports.get(idOf(item)) as CertificateReport, item, memories, owned.values);
  const toRead = items.filter((item) => !unchanged.includes(item));
  if (toRead.length === 0 && leaving.length === 0) return { batches: 0, cleanup: [] };
  const zones = await listZones(deps, toRead, reports);
  if ('fatal' in zones) return { batches: 0, fatal: zones.fatal, cleanup: [] };
  const run = new ValidationRun(deps, reports, options, zones.zones, toRead, owned.values, leaving);
  const prediction = predictZones(toRead, deps.settings.allowedDomains, run.resolve);
  const ordered = readingOrder(toRead, prediction);
  await run.readAll(ordered, prediction);
  // Once every zone is written, the outcomes are known: they are remembered while the nudges finish.
  await run.zonesWritten();
  run.conclude(toRead);
  await Promise.all([
    run.settle(),
    options.dryRun ? undefined : rememberReads(deps, toRead, reports, leaving),
  ]);
  return run.result;
}

/**
 * Step 0: the record values the tool owns (one read of the state table); undefined with state
 * off. Without them no value can be told apart from a foreign one, so a failed read stops the
 * validation of every pending certificate, as a failed zone listing does.
 */
async function ownedValues(
  deps: SyncDeps,
  items: CertificateListItem[],
  reports: Map<string, CertificateReport>,
): Promise<{ values: OwnedValue[] | undefined } | { fatal: RunFailure }> {
  if (!deps.state) return { values: undefined };
  try {
    return { values: await deps.state.allOwned() };
  } catch (error) {
    const reason = `state table: cannot read the owned record values: ${errorMessage(error)}`;
    deps.logger.error('cannot read the state table', { error });
    failAll(items, reports, reason);
    return { fatal: { reason, credentials: isAwsCredentialsError(error) } };
  }
}

function failAll(
  items: CertificateListItem[],
  reports: Map<string, CertificateReport>,
  reason: string,
): void {
  for (const item of items) {
    const report = reports.get(idOf(item)) as CertificateReport;
    report.outcome = 'failed';
    report.error = reason;
  }
}

/**
 * Step 1: the account's hosted zones, listed once per run. Without an allow-list nothing can be
 * written, so Route53 is not asked; when the listing fails no record can be placed and every
 * pending certificate waits for the next run.
 */
async function listZones(
  deps: SyncDeps,
  items: CertificateListItem[],
  reports: Map<string, CertificateReport>,
): Promise<{ zones: HostedZone[] } | { fatal: RunFailure }> {
  const { settings, logger } = deps;
  if (settings.allowedDomains === undefined) {
    logger.warn('ALLOWED_DOMAINS is not set: no record will be written', {
      fix: 'set ALLOWED_DOMAINS to the domains this tool may validate, e.g. ALLOWED_DOMAINS=example.com, or * for every zone',
    });
    return { zones: [] };
  }
  try {
    return { zones: await listHostedZones(deps.route53) };
  } catch (error) {
    const reason = `Route53 ListHostedZones failed: ${errorMessage(error)}`;
    logger.error('cannot list the Route53 hosted zones', { error });
    failAll(items, reports, reason);
    return { fatal: { reason, credentials: isAwsCredentialsError(error) } };
  }
}

interface ZonePrediction {
  /** Zone ids each certificate can write to. */
  zonesOf: Map<string, string[]>;
  /** Per zone, how many certificates can still add records to it. */
  readersLeft: Map<string, number>;
}

/** Step 2: which zones each certificate can write to, from the domains the listing already shows. */
function predictZones(
  items: CertificateListItem[],
  allowed: string[] | '*' | undefined,
  resolve: ValidationRun['resolve'],
): ZonePrediction {
  const zonesOf = new Map<string, string[]>();
  const readersLeft = new Map<string, number>();
  for (const item of items) {
    const ids = new Set<string>();
    for (const domain of certificateDomains({ Domain: item.Domain, SubjectAltName: item.SubjectAltName })) {
      if (!allowedBy(domain, allowed)) continue;
      const zone = resolve(`_.${stripWildcard(domain)}`);
      if ('zone' in zone) ids.add(zone.zone.id);
    }
    zonesOf.set(idOf(item), [...ids]);
    for (const id of ids) readersLeft.set(id, (readersLeft.get(id) ?? 0) + 1);
  }
  return { zonesOf, readersLeft };
}

/**
 * Step 3: certificates zone by zone, each zone complete at its turn. Smallest zones first: the
 * first zone is written, in sync and nudged soonest, and from then on writes and nudges keep
 * pace with the reads instead of trailing them by a whole zone.
 */
function readingOrder(items: CertificateListItem[], prediction: ZonePrediction): CertificateListItem[] {
  const zoneOrder = [...prediction.readersLeft.entries()].sort(
    (a, b) => a[1] - b[1] || a[0].localeCompare(b[0]),
  );
  const byZone = new Map<string, CertificateListItem[]>();
  for (const item of items) {
    for (const zoneId of prediction.zonesOf.get(idOf(item)) ?? []) {
      byZone.set(zoneId, [...(byZone.get(zoneId) ?? []), item]);
    }
  }
  const queued = new Set<string>();
  const ordered: CertificateListItem[] = [];
  for (const [zoneId] of zoneOrder) {
    for (const item of byZone.get(zoneId) ?? []) {
      if (queued.has(idOf(item))) continue;
      queued.add(idOf(item));
      ordered.push(item);
    }
  }
  ordered.push(...items.filter((item) => !queued.has(idOf(item))));
  return ordered;
}

/** The state of one pipelined run: records gathered per zone, zone writes and settlements under way. */
class ValidationRun {
  readonly result: PipelineResult = { batches: 0, cleanup: [] };
  readonly resolve: (name: string) => ReturnType<typeof resolveZone>;
  readonly #zoneById: Map<string, HostedZone>;
  /** Records waiting for their zone's batch. */
  readonly #wanted = new Map<string, ValidationRecord[]>();
  /** Records for zones already written: a second batch at the end. */
  readonly #late = new Map<string, ValidationRecord[]>();
  readonly #done = new DeferredMap<ZoneDone>();
  readonly #lateDone = new DeferredMap<ZoneDone>();
  readonly #started = new Set<string>();
  readonly #zoneTasks: Promise<void>[] = [];
  readonly #settleTasks: Promise<void>[] = [];
  /** Reissues without validation records: nothing to do. */
  readonly #leftAlone = new Set<string>();
  /**
   * Nudges are best effort: once every zone is written and in sync they get a short grace, then
   * the ones still waiting for a slot are dropped rather than keep the run going.
   */
  readonly #nudgeWindow = new AbortController();
  readonly #nudges: NudgePolicy;
  #authFailure: unknown;
  /** Owned values per zone (undefined: state is off). */
  readonly #owned: Map<string, OwnedValue[]> | undefined;
  /** Owned values to remove, per zone: of certificates done, and values a read certificate no longer wants. */
  readonly #leaving = new Map<string, OwnedValue[]>();

  constructor(
    private readonly deps: SyncDeps,
    private readonly reports: Map<string, CertificateReport>,
    private readonly options: PipelineOptions,
    zones: HostedZone[],
    items: CertificateListItem[],
    owned: OwnedValue[] | undefined,
    leaving: OwnedValue[],
  ) {
    this.#zoneById = new Map(zones.map((zone) => [zone.id, zone]));
    this.resolve = (name) => resolveZone(name, zones, deps.settings.zoneOverrides);
    this.#owned = owned === undefined ? undefined : groupBy(owned, (value) => value.zoneId);
    this.#nudges = new NudgePolicy(items, deps.logger);
    for (const value of leaving) this.#leave(value);
  }

  #leave(value: OwnedValue): void {
    this.#leaving.set(value.zoneId, [...(this.#leaving.get(value.zoneId) ?? []), value]);
  }

  #report(id: string): CertificateReport {
    return this.reports.get(id) as CertificateReport;
  }

  /**
   * Step 4, over every certificate: reads in a pool until the deadline (or a credential failure),
   * then starts the zones still held back and the late batches.
   */
  async readAll(ordered: CertificateListItem[], prediction: ZonePrediction): Promise<void> {
    const { clock } = this.deps;
    const { deadline } = this.options;
    // Zones with only cleanup to do wait for no read.
    for (const zoneId of this.#leaving.keys()) {
      if (!prediction.readersLeft.has(zoneId)) this.#startZone(zoneId);
    }
    const results = await mapPool(
      ordered,
      DESCRIBE_CONCURRENCY,
      (item) => this.#readCertificate(item, prediction),
      () => this.#authFailure === undefined && (deadline === undefined || clock.now() < deadline),
    );
    results.forEach((outcome, index) => {
      if (outcome !== undefined) return;
      const report = this.#report(idOf(ordered[index] as CertificateListItem));
      report.outcome = 'deferred';
      report.error = 'not started: the run ran out of time; the next run continues';
    });
    // Zones held back by certificates that were not read, and zones nobody predicted.
    for (const zoneId of [...this.#wanted.keys(), ...prediction.readersLeft.keys(), ...this.#leaving.keys()])
      this.#startZone(zoneId);
    for (const [zoneId, records] of this.#late) {
      const second = this.#lateDone.get(zoneId);
      this.#zoneTasks.push(
        this.#done
          .get(zoneId)
          .promise.then(() => this.#writeZone(zoneId, records, []))
          .then(second.resolve),
      );
    }
  }

  /** Step 4: one certificate's DvAuths, planned and handed to the zones they belong to. */
  async #readCertificate(item: CertificateListItem, prediction: ZonePrediction): Promise<void> {
    const { deps } = this;
    const id = idOf(item);
    const report = this.#report(id);
    try {
      const detail = await deps.tencent.describeValidation(id);
      const auth = detail.DvAuthDetail;
      if (item.Status === CertificateStatus.ReissuePending && !auth?.DvAuths.length && !auth?.DvAuthKey) {
        // A reissue shows validation records only when it needs new ones; without them there is nothing to do.
        this.#leftAlone.add(id);
        return;
      }
      const plan = planValidationRecords(
        {
          CertificateId: id,
          Domain: detail.Domain ?? item.Domain,
          SubjectAltName: detail.SubjectAltName.length ? detail.SubjectAltName : item.SubjectAltName,
          DvAuthDetail: detail.DvAuthDetail,
        },
        deps.settings.allowedDomains,
      );
      report.records.push(...plan.outcomes);
      this.#leaveUnwanted(id, plan.records);
      const { zoneIds, lateZoneIds } = this.#routeRecords(report, plan.records);
      this.#settleTasks.push(this.#settleCertificate(report, zoneIds, lateZoneIds));
    } catch (error) {
      if (error instanceof TencentApiError && error.isAuthFailure) this.#authFailure ??= error;
      report.outcome = 'failed';
      report.error = errorMessage(error);
      deps.logger.warn('cannot read certificate', { certificateId: id, error: report.error });
    } finally {
      for (const zoneId of prediction.zonesOf.get(id) ?? []) {
        const left = (prediction.readersLeft.get(zoneId) ?? 1) - 1;
        prediction.readersLeft.set(zoneId, left);
        if (left === 0) this.#startZone(zoneId);
      }
    }
  }

  /**
   * Values a pending certificate owns that its records no longer name (its validation changed):
   * removed with its zone's batch. A zone already written keeps them until the next run.
   */
  #leaveUnwanted(certificateId: string, records: ValidationRecord[]): void {
    if (!this.#owned) return;
    const wanted = new Set(records.map((r) => `${r.name}|${r.type}|${r.value}`));
    for (const values of this.#owned.values()) {
      for (const value of values) {
        if (value.certificateId !== certificateId || this.#started.has(value.zoneId)) continue;
        if (!wanted.has(`${value.name}|${value.type}|${value.value}`)) this.#leave(value);
      }
    }
  }

  /** Each planned record to its zone's batch, or to a late batch when that zone is already written. */
  #routeRecords(
    report: CertificateReport,
    records: ValidationRecord[],
  ): { zoneIds: string[]; lateZoneIds: string[] } {
    const zoneIds = new Set<string>();
    const lateZoneIds = new Set<string>();
    for (const record of records) {
      const zone = this.resolve(record.name);
      if ('error' in zone) {
        report.records.push({ ...outcomeOf(record), action: 'failed', reason: zone.error });
        continue;
      }
      const zoneId = zone.zone.id;
      // A record lying deeper than its domains predicted can land in a zone already written.
      const late = this.#started.has(zoneId);
      const batch = late ? this.#late : this.#wanted;
      batch.set(zoneId, [...(batch.get(zoneId) ?? []), record]);
      (late ? lateZoneIds : zoneIds).add(zoneId);
    }
    return { zoneIds: [...zoneIds], lateZoneIds: [...lateZoneIds] };
  }

  #startZone(zoneId: string): void {
    if (this.#started.has(zoneId)) return;
    this.#started.add(zoneId);
    const records = this.#wanted.get(zoneId) ?? [];
    const leaving = this.#leaving.get(zoneId) ?? [];
    const done = this.#done.get(zoneId);
    if (records.length === 0 && leaving.length === 0) {
      done.resolve(NOTHING_WRITTEN);
      return;
    }
    this.#zoneTasks.push(this.#writeZone(zoneId, records, leaving).then(done.resolve));
  }

  #zoneOf(zoneId: string, names: string[]): HostedZoneRef & { recordCount?: number } {
    const listed = this.#zoneById.get(zoneId);
    if (listed) return { id: listed.id, name: listed.name, recordCount: listed.recordCount };
    const first = names[0] ? this.resolve(names[0]) : undefined;
    return first && 'zone' in first ? first.zone : { id: zoneId, name: '' };
  }

  /**
   * Step 5: one zone's record sets read, diffed, written in one batch, and waited for. The batch
   * deletes each changed set exactly as read: when a concurrent writer changed one meanwhile,
   * Route53 refuses that part, and its names are read and planned again (a few times at most).
   */
  async #writeZone(zoneId: string, records: ValidationRecord[], leaving: OwnedValue[]): Promise<ZoneDone> {
    const { deps, options } = this;
    const zone = this.#zoneOf(
      zoneId,
      [...records, ...leaving].map((r) => r.name),
    );
    const ref: HostedZoneRef = { id: zone.id, name: zone.name };
    const done: ZoneDone = { pending: new Set(), changes: new Map(), accepted: new Set() };
    const outcomes = new Map<ValidationRecord, RecordOutcome>();
    const removals = new Map<OwnedRecord, RecordOutcome>();
    const changeIds: string[] = [];
    let todo = { records, leaving };
    try {
      for (let attempt = 1; todo.records.length + todo.leaving.length > 0; attempt++) {
        const names = [...new Set([...todo.records, ...todo.leaving].map((r) => normalizeName(r.name)))];
        const existing = await readRecordSets(deps.route53, zone, names);
        const diff = diffZone({
          zone: ref,
          wanted: todo.records,
          existing: [...existing.values()].flat(),
          ttl: deps.settings.recordTtl,
          owned: this.#owned === undefined ? undefined : (this.#owned.get(zoneId) ?? []),
          remove: todo.leaving,
        });
        todo.records.forEach((record, index) => {
          outcomes.set(record, diff.outcomes[index] as RecordOutcome);
        });
        const removalOf = new Map(diff.removals.map((o) => [`${o.name}|${o.type}|${o.value}`, o]));
        for (const value of todo.leaving) {
          const outcome = removalOf.get(`${normalizeName(value.name)}|${value.type}|${value.value}`);
          if (outcome) removals.set(value, outcome);
        }
        if (options.dryRun) break;
        await this.#disown(diff.gone);
        if (diff.changes.length === 0) break;
        const retry = await this.#applyZone(zone, diff.changes, done, changeIds, attempt);
        todo = {
          records: todo.records.filter((r) => retry.has(normalizeName(r.name))),
          leaving: todo.leaving.filter((v) => retry.has(normalizeName(v.name))),
        };
      }
      done.pending = await this.#waitForInsync(changeIds);
    } catch (error) {
      // What Route53 accepted stands; everything else of this zone waits for the next run.
      const reason = `Route53 zone ${zone.name} (${zone.id}): ${errorMessage(error)}`;
      deps.logger.warn('cannot update zone', { zone: zone.id, error: reason });
      for (const record of records) {
        const outcome = outcomes.get(record);
        if (outcome && done.accepted.has(outcome)) continue;
        outcomes.set(record, { ...outcomeOf(record), zone: ref, action: 'failed', reason });
      }
      for (const value of leaving) {
        const outcome = removals.get(value);
        if (outcome && !done.accepted.has(outcome)) Object.assign(outcome, { action: 'failed', reason });
      }
    }
    for (const outcome of outcomes.values()) this.reports.get(outcome.certificateId)?.records.push(outcome);
    this.result.cleanup.push(...removals.values());
    return done;
  }

  /**
   * Sends one zone's planned changes: ownership of the new values is recorded first, ownership of
   * the removed ones forgotten once Route53 accepted them. Returns the names to plan again: those
   * whose change Route53 refused as invalid (a set changed since it was read), while attempts last.
   */
  async #applyZone(
    zone: HostedZoneRef,
    changes: PlannedChange[],
    done: ZoneDone,
    changeIds: string[],
    attempt: number,
  ): Promise<Set<string>> {
    const { deps } = this;
    await this.#own(
      zone.id,
      changes.flatMap((change) => change.owns),
    );
    const applied = await applyChanges(
      deps.route53,
      zone.id,
      changes.map((planned) => ({ changes: planned.changes, tag: planned })),
      { comment: BATCH_COMMENT, logger: deps.logger },
    );
    this.result.batches += applied.submitted.length;
    const retry = new Set<string>();
    for (const failure of applied.failed) {
      if (failure.changed && attempt < MAX_ZONE_ATTEMPTS) {
        retry.add(failure.tag.name);
        continue;
      }
      for (const carried of failure.tag.outcomes) {
        carried.action = 'failed';
        carried.reason = failure.changed
          ? `${failure.reason} (the record set kept changing while this run wrote it; the next run tries again)`
          : failure.reason;
      }
    }
    for (const submitted of applied.submitted) {
      changeIds.push(submitted.changeId);
      for (const tag of submitted.tags) for (const outcome of tag.outcomes) done.accepted.add(outcome);
      await this.#disown(submitted.tags.flatMap((tag) => tag.disowns));
      for (const id of new Set(submitted.tags.flatMap((tag) => tag.outcomes.map((o) => o.certificateId)))) {
        done.changes.set(id, [...(done.changes.get(id) ?? []), submitted.changeId]);
      }
    }
    if (applied.submitted.length > 0)
      deps.logger.info('zone updated', { zone: zone.name, changes: changes.length });
    if (retry.size > 0)
      deps.logger.info('record sets changed while this run wrote them; reading them again', {
        zone: zone.name,
        names: retry.size,
      });
    return retry;
  }

  async #own(zoneId: string, records: OwnedRecord[]): Promise<void> {
    const { state, clock } = this.deps;
    if (!state || records.length === 0) return;
    const now = clock.now();
    await state.own(records.map((record) => ({ ...record, zoneId, since: now })));
  }

  async #disown(records: OwnedRecord[]): Promise<void> {
    const { state } = this.deps;
    if (!state || records.length === 0) return;
    await state.disown(records);
  }

  /** The change ids still PENDING when waiting ended (bounded by the run's deadline). */
  async #waitForInsync(changeIds: string[]): Promise<Set<string>> {
    const { settings, clock, logger, route53 } = this.deps;
    if (!settings.waitForInsync || changeIds.length === 0) return new Set();
    const budget = settings.insyncTimeoutMs ?? DEFAULT_INSYNC_TIMEOUT_MS;
    const { deadline } = this.options;
    const timeoutMs = deadline === undefined ? budget : Math.max(0, Math.min(budget, deadline - clock.now()));
    const waited = await waitForInsync(route53, changeIds, {
      clock,
      timeoutMs,
      initialDelayMs: INSYNC_FIRST_POLL_MS,
      logger,
    });
    return new Set(waited.pending);
  }

  /** Step 6: once its zones are written, whether the certificate's changes are INSYNC, then the nudge. */
  async #settleCertificate(report: CertificateReport, zoneIds: string[], lateZoneIds: string[]) {
    const results = await Promise.all([
      ...zoneIds.map((id) => this.#done.get(id).promise),
      ...lateZoneIds.map((id) => this.#lateDone.get(id).promise),
    ]);
    const changeIds = results.flatMap((r) => r.changes.get(report.certificateId) ?? []);
    if (this.options.dryRun || changeIds.length === 0) return;
    const { settings } = this.deps;
    if (settings.waitForInsync)
      report.insync = results.every((r) => changeIds.every((id) => !r.pending.has(id)));
    if (
      settings.nudgeCa === false ||
      pendingOutcome(report.records) !== 'validating' ||
      report.insync === false
    )
      return;
    await this.#nudge(report);
  }

  /** Asks the CA to check now (CompleteCertificate); a refused or skipped nudge changes nothing. */
  async #nudge(report: CertificateReport): Promise<void> {
    const signal = this.#nudgeWindow.signal;
    if (this.#nudges.skip(report)) return;
    try {
      await this.deps.tencent.completeCertificate(report.certificateId, { signal });
      report.nudged = true;
    } catch (error) {
      // The CA checks on its own schedule anyway.
      report.nudged = false;
      if (signal.aborted && error === signal.reason) {
        report.nudgeNote = 'skipped to end the run; the CA checks on its own';
        return;
      }
      report.nudgeNote = errorMessage(error);
      if (this.#nudges.isUnsupported(error)) return;
      this.deps.logger.warn('CompleteCertificate was not accepted', {
        certificateId: report.certificateId,
        error: report.nudgeNote,
      });
    }
  }

  /** Waits for every zone, gives the nudges their grace, and passes a credential failure on. */
  /** Every zone's batches written and waited for (INSYNC); nudges may still be under way. */
  async zonesWritten(): Promise<void> {
    await Promise.all(this.#zoneTasks);
  }

  async settle(): Promise<void> {
    const { clock } = this.deps;
    await this.zonesWritten();
    const { deadline } = this.options;
    const untilDeadline = deadline === undefined ? NUDGE_GRACE_MS : deadline - clock.now();
    const timer = setTimeout(
      () => this.#nudgeWindow.abort(new Error('nudge window closed')),
      Math.max(0, Math.min(NUDGE_GRACE_MS, untilDeadline)),
    );
    timer.unref();
    await Promise.all(this.#settleTasks);
    clearTimeout(timer);
    if (this.#authFailure) throw this.#authFailure;
  }

  /** Step 7: the outcome of each certificate not already decided, from its records. */
  conclude(items: CertificateListItem[]): void {
    for (const item of items) {
      const report = this.#report(idOf(item));
      if (report.outcome === 'ignored' && !this.#leftAlone.has(report.certificateId)) {
        report.outcome = pendingOutcome(report.records);
        if (report.outcome === 'blocked' && outsideAllowList(item, this.deps.settings.allowedDomains))
          report.outcome = 'outside-allow-list';
      }
    }
  }
}
