import { describe, expect, it } from 'vitest';
import { exportRunMetrics, syncRunMetrics } from '../../lib/events/metrics.js';
import { createRunObserver } from '../../lib/events/observer.js';
import { silentLogger } from '../../lib/logger.js';
import type { SyncReport } from '../../lib/sync-types.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { certificate, exportReport, issued, NOW, record, syncReport } from '../helpers/reports.js';

/* The numbers of a run, as CloudWatch gets them. */

const HOUR_MS = 3600 * 1000;
const values = (metrics: Array<{ name: string; value: number }>) =>
  Object.fromEntries(metrics.map((m) => [m.name, m.value]));

const blockedFor = (id: string, ms: number) =>
  certificate({
    certificateId: id,
    outcome: 'blocked',
    records: [record({ action: 'conflict', reason: 'not ours' })],
    blockedSince: new Date(NOW - ms).toISOString(),
  });

const report = syncReport([
  certificate({ records: [record({ action: 'created' }), record({ action: 'updated' }), record()] }),
  blockedFor('long0001', 2 * HOUR_MS),
  blockedFor('short001', 10 * 60 * 1000),
  certificate({ certificateId: 'outside1', outcome: 'outside-allow-list' }),
  issued('soon0001', 12.25, {}, { result: 'created', versionId: 'v1' }),
  issued('later001', 60, { domains: ['api.example.com'] }),
  issued('old00001', 3, { domains: ['api.example.com'] }, { result: 'superseded' }),
]);

describe('syncRunMetrics', () => {
  it('counts certificates by outcome, every outcome included', () => {
    const metrics = values(syncRunMetrics(report, { now: NOW, partial: false }));

    expect(metrics).toMatchObject({
      CertificatesValidating: 1,
      CertificatesBlocked: 2,
      CertificatesOutsideAllowList: 1,
      CertificatesIssued: 3,
      CertificatesFailed: 0,
      CertificatesDeferred: 0,
      CertificatesIgnored: 0,
      CertificatesNotFound: 0,
    });
  });

  it('counts the records and exports written and the blocked certificates, and those blocked over an hour', () => {
    const metrics = values(syncRunMetrics(report, { now: NOW, partial: false }));

    expect(metrics).toMatchObject({
      RecordsWritten: 2,
      ExportsWritten: 1,
      BlockedCertificates: 2,
      BlockedForMoreThanAnHour: 1,
      RenewalFailures: 0,
    });
  });

  it('gives the days until the soonest expiry among the newest certificate of each name set', () => {
    const [expiry] = syncRunMetrics(report, { now: NOW, partial: false }).filter(
      (m) => m.name === 'DaysUntilSoonestExpiry',
    );

    // old00001 expires in 3 days, but later001 has replaced it.
    expect(expiry).toEqual({ name: 'DaysUntilSoonestExpiry', unit: 'None', value: 12.25 });
  });

  it('counts the failed and blocked renewals as RenewalFailures', () => {
    const entry = { certificateId: null, expiresAt: null, dueAt: null };
    const renewing: SyncReport = {
      ...syncReport([]),
      renewals: [
        { ...entry, domain: 'a.example.com', state: 'failed', reason: 'LimitExceeded' },
        { ...entry, domain: 'b.example.com', state: 'blocked', reason: 'quota' },
        { ...entry, domain: 'c.example.com', state: 'applied', newCertificateId: 'nEw0rder' },
      ],
    };

    expect(values(syncRunMetrics(renewing, { now: NOW, partial: false })).RenewalFailures).toBe(2);
  });

  it('leaves out BlockedForMoreThanAnHour when the state table is off', () => {
    const stateless = syncReport([certificate({ outcome: 'blocked' })], { state: 'off' });

    expect(values(syncRunMetrics(stateless, { now: NOW, partial: false }))).not.toHaveProperty(
      'BlockedForMoreThanAnHour',
    );
  });

  it('counts only what a partial run did, never how the account stands', () => {
    const metrics = syncRunMetrics(report, { now: NOW, partial: true });

    expect(metrics.map((m) => m.name)).toEqual(['RecordsWritten', 'ExportsWritten', 'RenewalFailures']);
  });

  it('counts only what a run stopped as a whole did', () => {
    const stopped = syncReport([], {
      fatal: { reason: 'Route53 ListHostedZones failed', credentials: false },
    });

    expect(syncRunMetrics(stopped, { now: NOW, partial: false }).map((m) => m.name)).toEqual([
      'RecordsWritten',
      'ExportsWritten',
      'RenewalFailures',
    ]);
  });
});

describe('exportRunMetrics', () => {
  it('counts the secret versions written', () => {
    const batch = exportReport([
      { certificateId: 'a', domain: 'a.example.com', result: 'created', versionId: '1' },
      { certificateId: 'b', domain: 'b.example.com', result: 'updated', versionId: '2' },
      { certificateId: 'c', domain: 'c.example.com', result: 'unchanged' },
    ]);

    expect(exportRunMetrics(batch)).toEqual([{ name: 'ExportsWritten', unit: 'Count', value: 2 }]);
  });
});

describe('the run observer', () => {
  it("hands an export's metrics to the sink", async () => {
    const added: Array<[string, string, number]> = [];
    const clock = new FakeClock(NOW);
    const observer = createRunObserver({
      clock,
      logger: silentLogger,
      renewBeforeDays: 30,
      metrics: { addMetric: (name, unit, value) => added.push([name, unit, value]) },
    });

    await observer.afterExport(
      exportReport([{ certificateId: 'a', domain: 'a', result: 'created', versionId: '1' }]),
    );

    expect(added).toEqual([['ExportsWritten', 'Count', 1]]);
  });
});
