import { createHash } from 'node:crypto';
import type { ExportEntry, ExportReport } from '../export.js';
import type { RenewalReport } from '../renew.js';
import type { CertificateReport, SyncReport } from '../sync-types.js';
import { CertificateStatus } from '../tencent/ssl-api.js';
import { type BlockedDetail, DETAIL_TYPES, type Transition, type TransitionDetail } from './types.js';

/*
 * What happened in a run, read off its finished report: pure, so the same report always gives the
 * same transitions and claim keys. Whether each was announced before is the state table's to say
 * (announce.ts).
 */

const DAY_MS = 24 * 3600 * 1000;

/**
 * Claims of the validation phase (records written, blocked) outlive any order waiting for its
 * records: the CA drops a DV order after about three days (DVAuthDeadline).
 */
const PENDING_TTL_MS = 30 * DAY_MS;
/** Claims of a delivery (export, import, renewal order) outlive any certificate (398 days at most). */
const DELIVERY_TTL_MS = 400 * DAY_MS;
/** Claims about an issued certificate stand until it has expired, and a while after. */
const AFTER_EXPIRY_MS = 30 * DAY_MS;

/** Export results saying the secret already holds this certificate, or a newer one: not news. */
const DELIVERED: ReadonlySet<string> = new Set(['unchanged', 'superseded', 'kept-newer']);

export interface TransitionOptions {
  /** Epoch ms of the run's end. */
  now: number;
  /** RENEW_BEFORE_DAYS: an issued certificate expiring within this many days is expiring. */
  renewBeforeDays: number;
}

/**
 * The transitions a finished report shows: a sync report (its inline export entries included)
 * or an export report (the export function's batch). A dry run shows none.
 */
export function transitionsOf(report: SyncReport | ExportReport, options: TransitionOptions): Transition[] {
  if (report.dryRun) return [];
  if (!isSyncReport(report)) {
    return report.certificates.flatMap((entry) => delivered(entry, entry.domain ? [entry.domain] : []));
  }
  const newest = new Set(newestIssued(report).map((c) => c.certificateId));
  return [
    ...report.certificates.flatMap((c) => [
      ...recordsWritten(c),
      ...blocked(c),
      ...issued(c, options.now),
      ...(c.export ? delivered(c.export, c.domains) : []),
      ...expiring(c, newest.has(c.certificateId), options),
    ]),
    ...renewalsRequested(report),
  ];
}

function isSyncReport(report: SyncReport | ExportReport): report is SyncReport {
  return 'cleanup' in report;
}

/** A short digest that tells one occurrence of a transition from another. */
function digest(parts: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([...parts].sort()))
    .digest('hex')
    .slice(0, 16);
}

function transition(detail: TransitionDetail, ttlMs: number, detailKey?: string): Transition {
  const key = `announce#${detail.certificateId}#${detail.transition}`;
  return {
    detailType: DETAIL_TYPES[detail.transition],
    detail,
    claimKey: detailKey ? `${key}#${detailKey}` : key,
    ttlMs,
  };
}

function isIssued(c: CertificateReport): boolean {
  return c.status === CertificateStatus.Issued;
}

/**
 * The issued certificates that are the newest of their name set: a certificate a renewal has
 * replaced is no longer what anyone depends on, so its expiry is neither expiring nor the soonest.
 */
export function newestIssued(report: SyncReport): CertificateReport[] {
  const newest = new Map<string, CertificateReport>();
  for (const c of report.certificates) {
    if (!isIssued(c) || !c.expiresAt) continue;
    const names = [...c.domains].sort().join(',');
    const held = newest.get(names);
    if (!held || Date.parse(c.expiresAt) > Date.parse(held.expiresAt as string)) newest.set(names, c);
  }
  return [...newest.values()];
}

function recordsWritten(c: CertificateReport): Transition[] {
  const records = c.records.flatMap((r) =>
    (r.action === 'created' || r.action === 'updated') && r.name
      ? [
          {
            name: r.name,
            type: r.type ?? '',
            value: r.value ?? '',
            action: r.action,
            ...(r.zone ? { zone: { id: r.zone.id, name: r.zone.name } } : {}),
          },
        ]
      : [],
  );
  if (records.length === 0) return [];
  const detail: TransitionDetail = {
    transition: 'validation-records-written',
    certificateId: c.certificateId,
    domains: c.domains,
    records,
  };
  return [transition(detail, PENDING_TTL_MS, digest(records.map((r) => `${r.name}|${r.type}|${r.value}`)))];
}

function blocked(c: CertificateReport): Transition[] {
  if (c.outcome !== 'blocked') return [];
  const reasons: BlockedDetail['reasons'] = [
    ...c.records.flatMap((r) =>
      r.reason && (r.action === 'refused' || r.action === 'conflict' || r.action === 'failed')
        ? [
            {
              ...(r.name ? { name: r.name } : {}),
              ...(r.type ? { type: r.type } : {}),
              action: r.action,
              reason: r.reason,
            },
          ]
        : [],
    ),
    ...(c.error ? [{ reason: c.error }] : []),
  ];
  const detail: TransitionDetail = {
    transition: 'certificate-blocked',
    certificateId: c.certificateId,
    domains: c.domains,
    statusName: c.statusName,
    validationDeadline: c.validationDeadline,
    reasons,
  };
  // Blocked anew for other reasons is news; the same reasons seen again by the next run are not.
  return [transition(detail, PENDING_TTL_MS, digest(reasons.map((r) => `${r.name ?? ''}|${r.reason}`)))];
}

/** The claim of an issued certificate stands until well after it expired (it is then no longer listed). */
function untilAfterExpiry(c: CertificateReport, now: number): number {
  if (!c.expiresAt) return DELIVERY_TTL_MS;
  return Math.max(Date.parse(c.expiresAt) - now, 0) + AFTER_EXPIRY_MS;
}

/**
 * First seen issued: an issued certificate whose secret does not hold it yet. Once exported it
 * is no longer news, which keeps a run from asking the state table about every certificate the
 * account ever had issued.
 */
function issued(c: CertificateReport, now: number): Transition[] {
  if (!isIssued(c) || (c.export && DELIVERED.has(c.export.result))) return [];
  const detail: TransitionDetail = {
    transition: 'certificate-issued',
    certificateId: c.certificateId,
    domains: c.domains,
    expiresAt: c.expiresAt ?? null,
  };
  return [transition(detail, untilAfterExpiry(c, now))];
}

/** Exported (a secret version written) and imported into ACM. */
function delivered(entry: ExportEntry, domains: string[]): Transition[] {
  const transitions: Transition[] = [];
  if ((entry.result === 'created' || entry.result === 'updated') && entry.secretName && entry.versionId) {
    const detail: TransitionDetail = {
      transition: 'certificate-exported',
      certificateId: entry.certificateId,
      domains,
      result: entry.result,
      secretName: entry.secretName,
      versionId: entry.versionId,
      ...(entry.fingerprintSha256 ? { fingerprintSha256: entry.fingerprintSha256 } : {}),
      ...(entry.notAfter ? { notAfter: entry.notAfter } : {}),
    };
    transitions.push(transition(detail, DELIVERY_TTL_MS, entry.versionId));
  }
  const { acm } = entry;
  if (acm && (acm.result === 'imported' || acm.result === 'reimported')) {
    const detail: TransitionDetail = {
      transition: 'certificate-imported',
      certificateId: entry.certificateId,
      domains,
      result: acm.result,
      ...(acm.arn ? { certificateArn: acm.arn } : {}),
    };
    const what = entry.fingerprintSha256 ?? entry.versionId ?? '';
    transitions.push(transition(detail, DELIVERY_TTL_MS, digest([acm.arn ?? '', what])));
  }
  return transitions;
}

function expiring(c: CertificateReport, newest: boolean, options: TransitionOptions): Transition[] {
  if (!isIssued(c) || !c.expiresAt || !newest) return [];
  const left = Date.parse(c.expiresAt) - options.now;
  if (left > options.renewBeforeDays * DAY_MS) return [];
  const detail: TransitionDetail = {
    transition: 'certificate-expiring',
    certificateId: c.certificateId,
    domains: c.domains,
    expiresAt: c.expiresAt,
    daysLeft: Math.floor(left / DAY_MS),
    renewBeforeDays: options.renewBeforeDays,
  };
  return [transition(detail, untilAfterExpiry(c, options.now))];
}

/** The report's renewals (none when the run does not renew). */
export function renewalsOf(report: SyncReport): RenewalReport[] {
  return report.renewals ?? [];
}

/**
 * An order this run placed (a free certificate spent) is announced once; an order an earlier run
 * placed was announced by it. `certificateId` is the new order; the one it renews, if any, is
 * `oldCertificateId`.
 */
function renewalsRequested(report: SyncReport): Transition[] {
  return renewalsOf(report).flatMap((entry) => {
    if (!entry.appliedThisRun || !entry.newCertificateId) return [];
    const detail: TransitionDetail = {
      transition: 'renewal-requested',
      certificateId: entry.newCertificateId,
      domains: [entry.domain],
      ...(entry.certificateId ? { oldCertificateId: entry.certificateId } : {}),
    };
    return [transition(detail, DELIVERY_TTL_MS)];
  });
}
