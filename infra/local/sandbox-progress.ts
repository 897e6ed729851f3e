/**
 * The sandbox's running commentary: plain lines built from each SyncReport, so a first-time user
 * reads what the product did (which certificate, which record, which secret) as a story rather
 * than as JSON logs. Plain ASCII: it must read the same in any terminal.
 */
import type { ExportEntry } from '../../lib/export.js';
import type { RecordOutcome } from '../../lib/route53/types.js';
import type { CertificateReport, SyncReport } from '../../lib/sync-types.js';
import { CertificateStatus, PENDING_STATUSES } from '../../lib/tencent/ssl-api.js';

const WRITTEN: ReadonlySet<string> = new Set(['created', 'updated']);

const isPending = (c: CertificateReport): boolean =>
  c.status !== null && (PENDING_STATUSES.includes(c.status) || c.status === CertificateStatus.ReissuePending);

const isIssued = (c: CertificateReport): boolean => c.status === CertificateStatus.Issued;

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** `> cycle 2: 1 pending, 4 issued` */
export function cycleHeadline(cycle: number, report: SyncReport): string {
  const pending = report.certificates.filter(isPending).length;
  const issued = report.certificates.filter(isIssued).length;
  return `> cycle ${cycle}: ${pending} pending, ${issued} issued`;
}

/** True while some certificate has its records in place and only the CA is left to act. */
export function isWaitingForCa(report: SyncReport): boolean {
  return report.certificates.some((c) => c.outcome === 'validating');
}

/** True when the run wrote a record or a secret version. */
export function wroteSomething(report: SyncReport): boolean {
  return (
    report.totals.route53ChangeBatches > 0 ||
    report.certificates.some((c) => c.export !== undefined && WRITTEN.has(c.export.result))
  );
}

function recordLine(record: RecordOutcome): string {
  const type = (record.type ?? '?').padEnd(5);
  const name = record.name ?? '(no name)';
  const value = record.type === 'TXT' && record.value ? ` "${shorten(record.value, 24)}"` : '';
  const where = record.zone ? ` in ${record.zone.name}` : '';
  const action = record.reason ? `${record.action}: ${record.reason}` : `${record.action}${where}`;
  return `    ${type} ${name}${value}  ${action}`;
}

function exportLine(c: CertificateReport, entry: ExportEntry): string | undefined {
  const head = `  ${c.certificateId}  ${c.domains.join(', ')}`;
  if (WRITTEN.has(entry.result)) {
    const version = entry.versionId ? ` (version ${shorten(entry.versionId, 11)})` : '';
    return `${head}  issued, exported to ${entry.secretName ?? '?'}${version}`;
  }
  if (entry.result === 'unchanged') return undefined;
  return `${head}  export ${entry.result}${entry.reason ? `: ${entry.reason}` : ''}`;
}

/**
 * What one sync run did, pending certificates first, then the Route53 wait and the CA nudge, then
 * the exports. A line already printed in an earlier cycle (`seen`) is not repeated, so later
 * cycles show only what changed.
 */
export function cycleLines(report: SyncReport, seen: Set<string>): string[] {
  const lines: string[] = [];
  const once = (key: string, line: string, into: string[]): void => {
    if (seen.has(key)) return;
    seen.add(key);
    into.push(line);
  };
  // Tencent lists newest first; oldest first reads in the order the certificates were ordered.
  const certificates = [...report.certificates].reverse();

  for (const c of certificates.filter(isPending)) {
    const body: string[] = [];
    for (const record of c.records) {
      if (record.action === 'unchanged') continue;
      const key = `${c.certificateId}|${record.type}|${record.name}|${record.value}|${record.action}`;
      if (WRITTEN.has(record.action)) body.push(recordLine(record));
      else once(key, recordLine(record), body);
    }
    if (c.error) once(`${c.certificateId}|error|${c.error}`, `    error: ${c.error}`, body);
    const allInPlace = c.records.length > 0 && c.records.every((r) => r.action === 'unchanged');
    if (allInPlace && c.outcome === 'validating') {
      once(`${c.certificateId}|in-place`, '    records already in place', body);
    }
    if (body.length > 0) lines.push(`  ${c.certificateId}  ${c.domains.join(', ')}`, ...body);
  }

  for (const record of report.cleanup) {
    lines.push(`  cleanup: ${record.certificateId} ${recordLine(record).trim()} (its certificate is done)`);
  }

  const batches = report.totals.route53ChangeBatches;
  if (batches > 0) {
    const synced = report.certificates.filter((c) => c.insync === true).length;
    const nudged = report.certificates.filter((c) => c.nudged === true).length;
    const written = `  Route53: ${plural(batches, 'change batch', 'change batches')} written${synced > 0 ? ', INSYNC' : ''}`;
    const nudge = nudged > 0 ? `; CompleteCertificate sent for ${plural(nudged, 'certificate')}` : '';
    lines.push(`${written}${nudge}`);
  }

  for (const c of certificates.filter(isIssued)) {
    const line = c.export ? exportLine(c, c.export) : undefined;
    if (line) lines.push(line);
  }
  return lines;
}

/** A JSON log line (warn level and above) as one human line. */
export function logLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return `  ! ${json}`;
  }
  const { level: _level, time: _time, message, ...fields } = entry;
  const details = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
  return `  ! ${String(message)}${details ? ` (${details})` : ''}`;
}
