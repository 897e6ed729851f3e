import type { EventsReport } from './events/types.js';
import type { ExportEntry, ExportReport } from './export.js';
import type { RenewalReport } from './renew.js';
import type { RecordOutcome } from './route53/types.js';
import type { CertificateReport, SyncReport } from './sync-types.js';

/** Plain-text tables for people; `--json` prints the report objects instead. */

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

function shortTime(iso: string | null): string {
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '-';
}

function status(certificate: CertificateReport): string {
  if (certificate.status === null) return '-';
  return certificate.statusName
    ? `${certificate.status} ${certificate.statusName}`
    : String(certificate.status);
}

/** How a record's action reads in `status`, where nothing is written: the state it is in. */
const STATE_WORDS: Record<string, string> = {
  unchanged: 'in place',
  created: 'missing',
  updated: 'differs',
};

function exportLine(entry: ExportEntry): string {
  const facts = [
    entry.secretName && `secret ${entry.secretName}`,
    entry.versionId && `version ${entry.versionId}`,
    entry.notAfter && `expires ${shortTime(entry.notAfter)}`,
    entry.reason,
  ].filter(Boolean);
  const word = entry.result === 'unchanged' ? 'exported' : entry.result;
  const line = facts.length ? `${word} (${facts.join(', ')})` : word;
  return entry.acm ? `${line}; ${acmLine(entry.acm)}` : line;
}

/** `acm: reimported (arn:…)`, `acm: refused: <reason>`. */
function acmLine(acm: NonNullable<ExportEntry['acm']>): string {
  return [`acm: ${acm.result}`, acm.reason && `: ${acm.reason}`, acm.arn && ` (${acm.arn})`]
    .filter(Boolean)
    .join('');
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function recordRow(record: RecordOutcome, words: Record<string, string>): string[] {
  const action = words[record.action] ?? record.action;
  return [
    `    ${record.type ?? '?'}`,
    record.name ?? '(no name)',
    record.value ? shorten(record.type === 'TXT' ? `"${record.value}"` : record.value, 44) : '',
    record.zone ? (record.zone.name ? `${record.zone.name} (${record.zone.id})` : record.zone.id) : '-',
    (record.reason ? `${action}: ${record.reason}` : action) + (record.owned ? ' (owned)' : ''),
  ];
}

function certificateBlock(certificate: CertificateReport, words: Record<string, string>): string {
  const lines = [
    `${certificate.certificateId}  ${certificate.domains.join(', ') || '-'}  [${status(certificate)}]  ${certificate.outcome}${
      certificate.error ? `: ${certificate.error}` : ''
    }`,
  ];
  // The deadline matters only while Tencent waits for validation (statuses 0, 4 and 11).
  if (certificate.validationDeadline && [0, 4, 11].includes(certificate.status ?? -1)) {
    lines.push(`  validation deadline: ${shortTime(certificate.validationDeadline)}`);
  }
  if (certificate.unchangedSince) {
    lines.push(
      `  not read again: listing unchanged and records in place since ${shortTime(certificate.unchangedSince)}`,
    );
  }
  if (certificate.records.length > 0) {
    lines.push('  records:', table(certificate.records.map((record) => recordRow(record, words))));
  }
  if (certificate.insync !== undefined)
    lines.push(`  route53: ${certificate.insync ? 'INSYNC' : 'still PENDING'}`);
  if (certificate.nudged !== undefined) {
    const note = certificate.nudgeNote ?? 'the CA checks on its own';
    lines.push(
      `  CA nudge: ${certificate.nudged ? 'CompleteCertificate accepted' : `not sent or not accepted (${note})`}`,
    );
  }
  if (certificate.export) lines.push(`  export: ${exportLine(certificate.export)}`);
  if (certificate.blockedSince) lines.push(`  blocked since ${shortTime(certificate.blockedSince)}`);
  return lines.join('\n');
}

/** What the run announced on EVENT_BUS_NAME; nothing when it announced nothing (or events are off). */
function eventsBlock(events: EventsReport | undefined): string {
  if (!events) return '';
  if (events.off) return `\nEvents: none sent: ${events.off}\n`;
  if (events.announced.length === 0) return '';
  const sent = events.announced.filter((a) => a.result === 'sent');
  const failed = events.announced
    .filter((a) => a.result === 'failed')
    .map(
      (a) =>
        `  ${a.transition} ${a.certificateId}: not sent (${a.reason ?? 'unknown'}), its claim given back`,
    );
  const kinds = [...new Set(sent.map((a) => a.transition))].join(', ');
  return `\nEvents on ${events.bus}: ${sent.length} sent${kinds ? ` (${kinds})` : ''}${failed.length ? `, ${failed.length} failed` : ''}\n${failed.map((line) => `${line}\n`).join('')}`;
}

function summary(report: SyncReport): string {
  const outcomes = Object.entries(report.totals.byOutcome)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  const records = Object.entries(report.totals.records)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  return `${report.totals.certificates} certificate(s): ${outcomes || 'none'}; records: ${records || 'none'}; Route53 change batches: ${report.totals.route53ChangeBatches}`;
}

/** The first line of a report whose run a step stopped as a whole. */
function fatalLine(report: SyncReport): string {
  return report.fatal ? `The run could not complete: ${report.fatal.reason}\n\n` : '';
}

/** Owned values taken out (or, in status and dry runs, to be taken out), and whether state is on. */
function cleanupBlock(report: SyncReport, words: Record<string, string>): string {
  if (report.state === 'off') {
    return 'State table: off (STATE_TABLE unset): records are only added, never replaced or removed; nothing is cleaned up.';
  }
  if (report.cleanup.length === 0) return 'State table: on. Cleanup: nothing to remove.';
  const rows = report.cleanup.map((record) => [
    record.certificateId,
    ...recordRow(record, words).map((c) => c.trim()),
  ]);
  return `State table: on. Cleanup of owned records whose certificate is done:\n${table(rows.map((row) => [`  ${row[0]}`, ...row.slice(1)]))}`;
}

function renewalState(renewal: RenewalReport): string {
  const why = renewal.reason ? `: ${renewal.reason}` : '';
  switch (renewal.state) {
    case 'not-due':
      return `not due (due on ${shortTime(renewal.dueAt)})`;
    case 'due':
      return `due since ${shortTime(renewal.dueAt)}${why}`;
    case 'missing':
      return `missing${why}`;
    case 'applied':
      return renewal.newCertificateId ? `applied as ${renewal.newCertificateId}${why}` : `applying${why}`;
    case 'blocked':
    case 'failed':
      return `${renewal.state}${why}`;
  }
}

/** CERTIFICATES: each domain's current certificate, its expiry and where its renewal stands. */
function renewalsBlock(report: SyncReport): string {
  if (!report.renewals) return '';
  const rows = report.renewals.map((renewal) => [
    `  ${renewal.domain}`,
    renewal.certificateId ?? '-',
    renewal.expiresAt ? `expires ${shortTime(renewal.expiresAt)}` : '-',
    renewalState(renewal),
  ]);
  const off = report.state === 'off' ? ' (off: STATE_TABLE unset, so nothing is applied for)' : '';
  return `Renewal of CERTIFICATES${off}:\n${rows.length ? table(rows) : '  none declared'}\n\n`;
}

export function formatSyncReport(report: SyncReport): string {
  const title =
    fatalLine(report) + (report.dryRun ? 'Dry run: nothing was written. What a run would do:\n\n' : '');
  const body = report.certificates.length
    ? report.certificates.map((c) => certificateBlock(c, {})).join('\n\n')
    : 'No certificate to act on.';
  return `${title}${renewalsBlock(report)}${body}\n\n${cleanupBlock(report, {})}\n\n${summary(report)}\n${eventsBlock(report.events)}`;
}

/** In `status` a removal has not happened: it is pending. */
const STATUS_CLEANUP_WORDS: Record<string, string> = { ...STATE_WORDS, removed: 'to remove' };

export function formatStatusReport(report: SyncReport): string {
  const body = report.certificates.length
    ? report.certificates.map((c) => certificateBlock(c, STATE_WORDS)).join('\n\n')
    : 'No certificates.';
  return `${fatalLine(report)}${renewalsBlock(report)}${body}\n\n${cleanupBlock(report, STATUS_CLEANUP_WORDS)}\n`;
}

export function formatExportReport(report: ExportReport): string {
  const title = report.dryRun ? 'Dry run: nothing was written. What an export would do:\n\n' : '';
  const rows = report.certificates.map((entry) => [
    entry.certificateId,
    entry.domain ?? '-',
    entry.secretName ?? '-',
    entry.result,
    [
      entry.versionId && `version ${entry.versionId}`,
      entry.notAfter && `expires ${shortTime(entry.notAfter)}`,
      entry.reason,
      entry.acm && acmLine(entry.acm),
    ]
      .filter(Boolean)
      .join(', '),
  ]);
  const totals = Object.entries(report.totals)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  const body = rows.length
    ? table([['CERTIFICATE', 'DOMAIN', 'SECRET', 'RESULT', 'DETAIL'], ...rows])
    : 'No issued certificate.';
  return `${title}${body}\n\n${report.certificates.length} certificate(s): ${totals || 'none'}\n${eventsBlock(report.events)}`;
}
