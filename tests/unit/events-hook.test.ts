import {
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { runSync } from '../../lib/sync.js';
import type { SyncDeps, SyncObserver, SyncReport } from '../../lib/sync-types.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeTencent } from '../helpers/fake-tencent.js';

/* runSync hands every finished run but a dry run to its observer, and keeps what it announced. */

const route53 = mockClient(Route53Client);

function observing(): { observer: SyncObserver; seen: Array<{ report: SyncReport; partial: boolean }> } {
  const seen: Array<{ report: SyncReport; partial: boolean }> = [];
  return {
    seen,
    observer: {
      afterSync: async (report, run) => {
        seen.push({ report, partial: run.partial });
        return { bus: 'certs', announced: [] };
      },
    },
  };
}

function deps(observer: SyncObserver): SyncDeps {
  return {
    tencent: new FakeTencent([{ id: 'iss00001', domain: 'www.example.com', status: 1 }]),
    route53: new Route53Client({ region: 'us-east-1' }),
    clock: new FakeClock(),
    logger: silentLogger,
    observer,
    settings: {
      allowedDomains: ['example.com'],
      zoneOverrides: [],
      recordTtl: 60,
      waitForInsync: false,
      dryRun: false,
    },
  };
}

beforeEach(() => {
  route53.reset();
  route53.on(ListHostedZonesCommand).resolves({ HostedZones: [], IsTruncated: false, MaxItems: 100 });
  route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [], IsTruncated: false });
});

describe('runSync and its observer', () => {
  it('hands the finished report to the observer and keeps its events in the report', async () => {
    const { observer, seen } = observing();

    const report = await runSync(deps(observer));

    expect(seen).toEqual([{ report, partial: false }]);
    expect(report.events).toEqual({ bus: 'certs', announced: [] });
  });

  it('tells the observer when the run looked only at certificates asked for', async () => {
    const { observer, seen } = observing();

    await runSync(deps(observer), { certificateIds: ['iss00001'] });

    expect(seen.map((s) => s.partial)).toEqual([true]);
  });

  it('does not hand a dry run to the observer', async () => {
    const { observer, seen } = observing();

    const report = await runSync(deps(observer), { dryRun: true });

    expect(seen).toEqual([]);
    expect(report).not.toHaveProperty('events');
  });
});
