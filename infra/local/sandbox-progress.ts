/**
 * The sandbox's running commentary: plain lines built from each SyncReport, so a first-time user
 * reads what the product did (which certificate, which record, which secret) as a story rather
 * than as JSON logs. Plain ASCII: it must read the same in any terminal.
 */
import { DETAIL_TYPES, type EventsReport } from '../../lib/events/types.js';
import type { ExportEntry } from '../../lib/export.js';
import type { RenewalReport } from '../../lib/renew.js';
import type { RecordOutcome } from '../../lib/route53/types.js';
import type { CertificateReport, SyncReport } from '../../lib/sync-types.js';
import { CertificateStatus, PENDING_STATUSES } from '../../lib/tencent/ssl-api.js';

const WRITTEN: ReadonlySet<string> = new Set(['created', 'updated']);
const IMPORTED: ReadonlySet<string> = new Set(['imported', 'reimported']);

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

/** True when the run applied for a certificate, or wrote a record, a secret version or an ACM import. */
export function wroteSomething(report: SyncReport): boolean {
  return (
    report.totals.route53ChangeBatches > 0 ||
    (report.renewals ?? []).some((r) => r.appliedThisRun === true) ||
    report.certificates.some(
      (c) =>
        c.export !== undefined && (WRITTEN.has(c.export.result) || IMPORTED.has(c.export.acm?.result ?? '')),
    )
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

/** `    ACM: reimported into arn:…`: what the export did in ACM, when it did something. */
function acmLine(acm: NonNullable<ExportEntry['acm']>): string | undefined {
  switch (acm.result) {
    case 'unchanged':
      return undefined;
    case 'imported':
      return `    ACM: imported as ${acm.arn ?? '?'}`;
    case 'reimported':
      return `    ACM: reimported into ${acm.arn ?? '?'} (same ARN, new certificate)`;
    default:
      return `    ACM: ${acm.result}${acm.reason ? `: ${acm.reason}` : ''}${acm.arn ? ` (${acm.arn})` : ''}`;
  }
}

function exportLines(c: CertificateReport, entry: ExportEntry): string[] {
  const head = `  ${c.certificateId}  ${c.domains.join(', ')}`;
  const acm = entry.acm ? acmLine(entry.acm) : undefined;
  const lines: string[] = [];
  if (WRITTEN.has(entry.result)) {
    const version = entry.versionId ? ` (version ${shorten(entry.versionId, 11)})` : '';
    lines.push(`${head}  issued, exported to ${entry.secretName ?? '?'}${version}`);
  } else if (entry.result !== 'unchanged') {
    lines.push(`${head}  export ${entry.result}${entry.reason ? `: ${entry.reason}` : ''}`);
  } else if (acm) {
    lines.push(`${head}  already in ${entry.secretName ?? '?'}`);
  }
  if (acm) lines.push(acm);
  return lines;
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
    if (!c.export) continue;
    const [head, ...acm] = exportLines(c, c.export);
    if (head === undefined) continue;
    // A write is news in every cycle; a certificate left as it was (superseded…) is said once.
    if (WRITTEN.has(c.export.result) || acm.length > 0) lines.push(head, ...acm);
    else once(`${c.certificateId}|export|${c.export.result}`, head, lines);
  }
  return lines;
}

const day = (iso: string | null): string => (iso ? iso.slice(0, 10) : '-');

function renewalText(renewal: RenewalReport): string {
  const why = renewal.reason ? `: ${renewal.reason}` : '';
  switch (renewal.state) {
    case 'not-due':
      return `not due before ${day(renewal.dueAt)}`;
    case 'applied':
      // A run that made the order says so in its reason: `applied as <id>, renewing <old id>`.
      if (renewal.appliedThisRun)
        return `ApplyCertificate: ${renewal.reason ?? `applied as ${renewal.newCertificateId}`}`;
      return `applied as ${renewal.newCertificateId ?? '?'}${why}`;
    default:
      return `${renewal.state}${why}`;
  }
}

/**
 * Where each domain of CERTIFICATES stands: its certificate, its expiry, and what the run did
 * about it. A domain is shown again only when that changed (`seen`).
 */
export function renewalLines(report: SyncReport, seen: Set<string>): string[] {
  const rows = (report.renewals ?? [])
    .filter((r) => {
      const key = `renewal|${r.domain}|${r.state}|${r.certificateId}|${r.newCertificateId}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((r) => [
      r.domain,
      r.certificateId ?? '-',
      r.expiresAt ? `expires ${day(r.expiresAt)}` : 'no certificate',
      renewalText(r),
    ]);
  return rows.length > 0 ? ['  renewal of CERTIFICATES:', ...table(rows, '    ')] : [];
}

const DETAIL_TYPE_WIDTH = Math.max(...Object.values(DETAIL_TYPES).map((type) => type.length));

/** Transitions in the order they happen to one certificate. */
const LIFECYCLE: ReadonlyArray<keyof typeof DETAIL_TYPES> = [
  'renewal-requested',
  'validation-records-written',
  'certificate-blocked',
  'certificate-issued',
  'certificate-exported',
  'certificate-imported',
  'certificate-expiring',
];

/**
 * One line per event the run announced: its detail type, certificate and names, certificate by
 * certificate in the order they were ordered, each in the order of its lifecycle. The names come
 * from the run's report (an event of a new order names the order, which the run also listed).
 */
export function eventLines(report: SyncReport, seen: Set<string>): string[] {
  const events: EventsReport | undefined = report.events;
  if (!events) return [];
  if (events.off) {
    const key = `events-off|${events.off}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [`  events: none sent: ${events.off}`];
  }
  if (events.announced.length === 0) return [];
  const domainsOf = (id: string): string =>
    report.certificates.find((c) => c.certificateId === id)?.domains.join(', ') ??
    report.renewals?.find((r) => r.newCertificateId === id)?.domain ??
    '-';
  // Tencent lists newest first: reversed, oldest first, as the cycle's other lines.
  const order = report.certificates.map((c) => c.certificateId).reverse();
  const rank = (id: string) => (order.includes(id) ? order.indexOf(id) : order.length);
  const announced = [...events.announced].sort(
    (a, b) =>
      rank(a.certificateId) - rank(b.certificateId) ||
      LIFECYCLE.indexOf(a.transition) - LIFECYCLE.indexOf(b.transition),
  );
  const lines = announced.map((a) => {
    const line = `    ${DETAIL_TYPES[a.transition].padEnd(DETAIL_TYPE_WIDTH)}  ${a.certificateId}  ${domainsOf(a.certificateId)}`;
    return a.result === 'sent' ? line : `${line}  not sent: ${a.reason ?? 'unknown'}`;
  });
  return [`  events on ${events.bus}:`, ...lines];
}

/** Rows of cells in aligned columns, the last one left ragged. */
export function table(rows: string[][], indent = '  '): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
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
