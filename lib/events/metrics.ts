import type { ExportReport } from '../export.js';
import type { CertificateOutcome, SyncReport } from '../sync-types.js';
import { newestIssued, renewalsOf } from './transitions.js';

/*
 * The numbers of a run, for CloudWatch (namespace TencentSslSync): pure, from the finished
 * report. The Lambda handlers hand them to Powertools Metrics, which writes them to the log in
 * the embedded metric format; no API call is made.
 */

export const METRICS_NAMESPACE = 'TencentSslSync';

type MetricUnitName = 'Count' | 'None';

export interface RunMetric {
  name: string;
  unit: MetricUnitName;
  value: number;
}

/** What takes the metrics: Powertools' `Metrics` is one. */
export interface MetricsSink {
  addMetric(name: string, unit: MetricUnitName, value: number): void;
}

/** One metric per outcome, every outcome in every full run (0 included), so graphs have no gaps. */
const OUTCOME_METRICS: Readonly<Record<CertificateOutcome, string>> = {
  validating: 'CertificatesValidating',
  blocked: 'CertificatesBlocked',
  'outside-allow-list': 'CertificatesOutsideAllowList',
  failed: 'CertificatesFailed',
  deferred: 'CertificatesDeferred',
  issued: 'CertificatesIssued',
  ignored: 'CertificatesIgnored',
  'not-found': 'CertificatesNotFound',
};

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;

export interface SyncMetricsOptions {
  /** Epoch ms of the run's end. */
  now: number;
  /**
   * The run looked at certificates asked for by id: it says nothing about the account as a
   * whole, so only what it did is counted (records, exports, renewal failures).
   */
  partial: boolean;
}

const count = (name: string, value: number): RunMetric => ({ name, unit: 'Count', value });

/**
 * - what the run did, every run: `RecordsWritten` (validation records created or updated),
 *   `ExportsWritten` (secret versions written inline), `RenewalFailures` (the report's renewals
 *   that failed or are blocked; 0 without renewals);
 * - how the account stands, full runs only (not a run cut short by a failure of every
 *   certificate): `Certificates<Outcome>`, `BlockedCertificates`, `DaysUntilSoonestExpiry` (of
 *   the newest issued certificate of each name set; absent without one) and
 *   `BlockedForMoreThanAnHour` (absent when the state table is off, or did not answer).
 */
export function syncRunMetrics(report: SyncReport, options: SyncMetricsOptions): RunMetric[] {
  const certificates = report.certificates;
  const written = certificates
    .flatMap((c) => c.records)
    .filter((r) => r.action === 'created' || r.action === 'updated').length;
  const exported = certificates.filter(
    (c) => c.export?.result === 'created' || c.export?.result === 'updated',
  ).length;
  const metrics = [
    count('RecordsWritten', written),
    count('ExportsWritten', exported),
    count(
      'RenewalFailures',
      renewalsOf(report).filter((r) => r.state === 'failed' || r.state === 'blocked').length,
    ),
  ];
  if (options.partial || report.fatal) return metrics;

  for (const [outcome, name] of Object.entries(OUTCOME_METRICS)) {
    metrics.push(count(name, certificates.filter((c) => c.outcome === outcome).length));
  }
  const blocked = certificates.filter((c) => c.outcome === 'blocked');
  metrics.push(count('BlockedCertificates', blocked.length));
  if (report.state === 'on' && blocked.every((c) => c.blockedSince)) {
    const longBlocked = blocked.filter(
      (c) => options.now - Date.parse(c.blockedSince as string) > HOUR_MS,
    ).length;
    metrics.push(count('BlockedForMoreThanAnHour', longBlocked));
  }
  const expiries = newestIssued(report).map((c) => Date.parse(c.expiresAt as string));
  if (expiries.length > 0) {
    const days = (Math.min(...expiries) - options.now) / DAY_MS;
    metrics.push({ name: 'DaysUntilSoonestExpiry', unit: 'None', value: Math.round(days * 100) / 100 });
  }
  return metrics;
}

/** The export function's batch: `ExportsWritten` (secret versions created or updated). */
export function exportRunMetrics(report: ExportReport): RunMetric[] {
  return [
    count(
      'ExportsWritten',
      report.certificates.filter((e) => e.result === 'created' || e.result === 'updated').length,
    ),
  ];
}
