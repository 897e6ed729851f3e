import { describe, expect, it } from 'vitest';
import { NO_STATE_FOR_EVENTS } from '../../lib/events/observer.js';
import { formatExportReport, formatSyncReport } from '../../lib/report-format.js';
import { certificate, exportReport, NOW, record, syncReport } from '../helpers/reports.js';

/* The text report says what a run announced, and why it announced nothing when events are off. */

describe('the text report', () => {
  it('lists the events a sync sent and those that failed', () => {
    const report = syncReport([certificate({ records: [record({ action: 'created' })] })], {
      events: {
        bus: 'certs',
        announced: [
          {
            transition: 'validation-records-written',
            certificateId: 'u5WLLKsA',
            result: 'sent',
            eventId: 'e1',
          },
          {
            transition: 'certificate-blocked',
            certificateId: 'WElhM1Z2',
            result: 'failed',
            reason: 'InternalFailure: try again',
          },
        ],
      },
    });

    expect(formatSyncReport(report)).toContain(
      'Events on certs: 1 sent (validation-records-written), 1 failed\n' +
        '  certificate-blocked WElhM1Z2: not sent (InternalFailure: try again), its claim given back\n',
    );
  });

  it('says nothing about events when the run announced nothing', () => {
    const report = syncReport([certificate()], { events: { bus: 'certs', announced: [] } });

    expect(formatSyncReport(report)).not.toMatch(/Events/);
  });

  it('says why no event was sent when events are off', () => {
    const report = exportReport([], { events: { bus: 'certs', announced: [], off: NO_STATE_FOR_EVENTS } });

    expect(formatExportReport(report)).toContain(`Events: none sent: ${NO_STATE_FOR_EVENTS}`);
  });

  it('shows since when a certificate is blocked', () => {
    const blocked = certificate({ outcome: 'blocked', blockedSince: new Date(NOW).toISOString() });

    expect(formatSyncReport(syncReport([blocked]))).toContain('  blocked since 2026-11-28 12:00 UTC');
  });
});
