/**
 * Finished reports as a run leaves them, built field by field: what lib/events reads. Defaults
 * describe a pending certificate whose records are in place, in a run that wrote nothing.
 */
import type { ExportEntry, ExportReport } from '../../lib/export.js';
import type { RecordOutcome } from '../../lib/route53/types.js';
import type { CertificateReport, SyncReport } from '../../lib/sync-types.js';

export const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
export const DAY_MS = 24 * 3600 * 1000;
export const ZONE = { id: 'Z04417962Q7EXAMPLE', name: 'example.com' };

export function certificate(overrides: Partial<CertificateReport> = {}): CertificateReport {
  return {
    certificateId: 'u5WLLKsA',
    domains: ['www.example.com'],
    status: 4,
    statusName: 'to be validated',
    validationDeadline: '2026-12-01T01:29:00.000Z',
    outcome: 'validating',
    records: [],
    ...overrides,
  };
}

export function record(overrides: Partial<RecordOutcome> = {}): RecordOutcome {
  return {
    certificateId: 'u5WLLKsA',
    name: '_89fa8b68e216bbe8b6ce189028d358b2.www.example.com',
    type: 'CNAME',
    value: '3a34bd83441aabe1f6f210579e1be4b2.8d1f9e6959.trust-provider.com',
    zone: ZONE,
    action: 'unchanged',
    ...overrides,
  };
}

/** An issued certificate expiring `days` after NOW, with its export entry. */
export function issued(
  certificateId: string,
  days: number,
  overrides: Partial<CertificateReport> = {},
  exportEntry: Partial<ExportEntry> = { result: 'unchanged' },
): CertificateReport {
  return certificate({
    certificateId,
    status: 1,
    statusName: 'issued',
    validationDeadline: null,
    expiresAt: new Date(NOW + days * DAY_MS).toISOString(),
    outcome: 'issued',
    export: {
      certificateId,
      domain: 'www.example.com',
      secretName: 'tencent-ssl/www.example.com',
      ...exportEntry,
    } as ExportEntry,
    ...overrides,
  });
}

export function syncReport(
  certificates: CertificateReport[],
  overrides: Partial<SyncReport> = {},
): SyncReport {
  return {
    dryRun: false,
    startedAt: new Date(NOW - 5000).toISOString(),
    finishedAt: new Date(NOW).toISOString(),
    certificates,
    state: 'on',
    cleanup: [],
    totals: { certificates: certificates.length, byOutcome: {}, records: {}, route53ChangeBatches: 0 },
    ...overrides,
  };
}

export function exportReport(
  certificates: ExportEntry[],
  overrides: Partial<ExportReport> = {},
): ExportReport {
  return {
    dryRun: false,
    startedAt: new Date(NOW - 5000).toISOString(),
    finishedAt: new Date(NOW).toISOString(),
    certificates,
    totals: {},
    ...overrides,
  };
}
