/**
 * Renewal inside a sync run (Tencent faked, Route53 mocked): applied for at the start of a full
 * writing run, before the listing of validation, so a new order is validated in the same run;
 * only planned in a dry run; reported by status; a run for named certificates renews nothing.
 */
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { formatStatusReport, formatSyncReport } from '../../lib/report-format.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { collectStatus, hasFailures, runSync, summarizeSyncReport } from '../../lib/sync.js';
import type { SyncDeps } from '../../lib/sync-types.js';
import { TencentApiError } from '../../lib/tencent/errors.js';
import { formatTencentTime, type InvalidListItem } from '../../lib/tencent/schemas.js';
import type { ApplyCertificateParams, ListCertificatesOptions } from '../../lib/tencent/ssl-api.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { cname, type FakeCertificate, FakeTencent } from '../helpers/fake-tencent.js';

const route53 = mockClient(Route53Client);
const DAY = 86_400_000;

/** A fake Tencent whose ApplyCertificate adds a pending order with one CNAME to the listing. */
class ApplyingTencent extends FakeTencent {
  readonly applied: ApplyCertificateParams[] = [];
  refuseWith: string | undefined;
  /** Listed items that do not parse, handed to `onInvalid` as the real client does. */
  unreadable: InvalidListItem[] = [];

  override async listCertificates(options: ListCertificatesOptions = {}) {
    const items = await super.listCertificates(options);
    for (const item of this.unreadable) options.onInvalid?.(item);
    return items;
  }

  async applyCertificate(params: ApplyCertificateParams) {
    this.calls.push({ action: 'ApplyCertificate' });
    this.applied.push(params);
    if (this.refuseWith) {
      throw new TencentApiError({
        code: this.refuseWith,
        message: 'no',
        action: 'ApplyCertificate',
        retryable: false,
      });
    }
    const id = `New${this.applied.length}`;
    const label = `_${'a'.repeat(31)}${this.applied.length}`;
    this.certificates.push({
      id,
      domain: params.DomainName,
      status: 0,
      insertTime: tencentTime(0),
      dvAuths: [cname(`${label}.${params.DomainName}`, 'x.trust-provider.com', params.DomainName)],
    });
    return { CertificateId: id };
  }
}

let clock: FakeClock;
const tencentTime = (daysFromNow: number) => formatTencentTime(new Date(clock.time + daysFromNow * DAY));

function issued(id: string, domain: string, daysLeft: number): FakeCertificate {
  return { id, domain, status: 1, endTime: tencentTime(daysLeft), insertTime: tencentTime(daysLeft - 90) };
}

function deps(tencent: FakeTencent, options: { state?: boolean } = {}): SyncDeps {
  return {
    tencent,
    route53: new Route53Client({ region: 'us-east-1' }),
    clock,
    logger: silentLogger,
    ...(options.state === false ? {} : { state: new MemoryStateStore(clock) }),
    settings: {
      allowedDomains: ['example.com'],
      zoneOverrides: [],
      recordTtl: 60,
      waitForInsync: false,
      nudgeCa: false,
      dryRun: false,
      certificates: ['www.example.com', 'api.example.com', 'new.example.com'],
      renewBeforeDays: 30,
    },
  };
}

beforeEach(() => {
  clock = new FakeClock();
  route53.reset();
  route53.on(ListHostedZonesCommand).resolves({
    HostedZones: [
      { Id: '/hostedzone/ZCOM', Name: 'example.com.', CallerReference: 'c', Config: { PrivateZone: false } },
    ],
    IsTruncated: false,
    MaxItems: 100,
  });
  route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [], IsTruncated: false });
  route53.on(ChangeResourceRecordSetsCommand).resolves({
    ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() },
  });
  route53.on(GetChangeCommand).resolves({
    ChangeInfo: { Id: '/change/C1', Status: 'INSYNC', SubmittedAt: new Date() },
  });
});

const account = () =>
  new ApplyingTencent([issued('Www1', 'www.example.com', 60), issued('Api1', 'api.example.com', 10)]);

describe('renewal in a sync run', () => {
  it('applies at the start, then lists again, so the new orders are validated in the same run', async () => {
    const tencent = account();

    const report = await runSync(deps(tencent));

    expect(tencent.calls.map((c) => c.action).slice(0, 4)).toEqual([
      'DescribeCertificates',
      'ApplyCertificate',
      'ApplyCertificate',
      'DescribeCertificates',
    ]);
    expect(tencent.applied).toEqual([
      expect.objectContaining({ DomainName: 'api.example.com', OldCertificateId: 'Api1' }),
      expect.not.objectContaining({ OldCertificateId: expect.anything() }),
    ]);
    expect(report.renewals?.map((r) => [r.domain, r.state, r.newCertificateId])).toEqual([
      ['www.example.com', 'not-due', undefined],
      ['api.example.com', 'applied', 'New1'],
      ['new.example.com', 'applied', 'New2'],
    ]);
    expect(
      report.certificates.filter((c) => c.certificateId.startsWith('New')).map((c) => c.outcome),
    ).toEqual(['validating', 'validating']);
    expect(hasFailures(report)).toBe(false);
  });

  it('applies nothing in a second run: the orders are pending', async () => {
    const tencent = account();
    const shared = deps(tencent);
    await runSync(shared);

    const second = await runSync(shared);

    expect(tencent.applied).toHaveLength(2);
    expect(second.renewals?.map((r) => r.state)).toEqual(['not-due', 'applied', 'applied']);
  });

  it('only plans in a dry run', async () => {
    const tencent = account();

    const report = await runSync(deps(tencent), { dryRun: true });

    expect(tencent.applied).toEqual([]);
    expect(report.renewals?.map((r) => [r.state, r.reason])).toEqual([
      ['not-due', undefined],
      ['due', 'would apply for renewing Api1 (DNS validation)'],
      ['missing', 'would apply for a new certificate (DNS validation)'],
    ]);
    expect(formatSyncReport(report)).toMatch(/api\.example\.com +Api1 +expires .* due since /);
  });

  it('renews nothing in a run for named certificates', async () => {
    const tencent = account();

    const report = await runSync(deps(tencent), { certificateIds: ['Www1'] });

    expect(tencent.applied).toEqual([]);
    expect(report.renewals).toBeUndefined();
  });

  it('without a state table applies for nothing, and says so', async () => {
    const tencent = account();

    const report = await runSync(deps(tencent, { state: false }));

    expect(tencent.applied).toEqual([]);
    expect(report.renewals?.[1]).toMatchObject({
      state: 'due',
      reason: expect.stringMatching(/^renewal is off/),
    });
    expect(formatSyncReport(report)).toContain('Renewal of CERTIFICATES (off: STATE_TABLE unset');
  });

  it('counts a blocked renewal as a failure, with its reason in the summary', async () => {
    const tencent = account();
    tencent.refuseWith = 'FailedOperation.ExceedsFreeLimit';

    const report = await runSync(deps(tencent));

    expect(hasFailures(report)).toBe(true);
    expect(summarizeSyncReport(report).renewals).toEqual([
      { domain: 'www.example.com', state: 'not-due' },
      { domain: 'api.example.com', state: 'blocked', reason: expect.stringMatching(/ExceedsFreeLimit/) },
      { domain: 'new.example.com', state: 'blocked', reason: expect.stringMatching(/ExceedsFreeLimit/) },
    ]);
  });

  it('applies for nothing while Tencent lists a certificate this tool cannot read', async () => {
    const tencent = account();
    tencent.unreadable = [{ certificateId: 'Odd1', path: 'Status', problem: 'expected an integer' }];

    const report = await runSync(deps(tencent));

    expect(tencent.applied).toEqual([]);
    expect(report.renewals?.[2]).toMatchObject({
      state: 'blocked',
      reason: expect.stringMatching(/cannot read \(Odd1\)/),
    });
  });
});

describe('renewal in status', () => {
  it('shows per domain the certificate, its expiry and its renewal state, applying nothing', async () => {
    const tencent = account();
    const shared = deps(tencent);
    await runSync(shared);
    const rejected = tencent.certificates.find((c) => c.id === 'New1') as FakeCertificate;
    rejected.status = 2;

    const report = await collectStatus(shared);
    const text = formatStatusReport(report);

    expect(tencent.applied).toHaveLength(2);
    expect(report.renewals?.map((r) => r.state)).toEqual(['not-due', 'due', 'applied']);
    expect(text).toMatch(/www\.example\.com +Www1 +expires \S+ \S+ UTC +not due \(due on /);
    expect(text).toMatch(
      /api\.example\.com +Api1 +expires .* due since .*: the next sync applies for renewing Api1/,
    );
    expect(text).toMatch(/new\.example\.com +- +- +applied as New2: order New2 is pending at Tencent/);
  });
});
