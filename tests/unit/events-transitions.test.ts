import { describe, expect, it } from 'vitest';
import { transitionsOf } from '../../lib/events/transitions.js';
import type { RenewalReport } from '../../lib/renew.js';
import type { SyncReport } from '../../lib/sync-types.js';
import {
  certificate,
  DAY_MS,
  exportReport,
  issued,
  NOW,
  record,
  syncReport,
  ZONE,
} from '../helpers/reports.js';

/* Which transitions a finished report shows, with the claim key that makes each announced once. */

const options = { now: NOW, renewBeforeDays: 30 };
const of = (report: Parameters<typeof transitionsOf>[0]) => transitionsOf(report, options);

/** A report with a `renewals` list, as the renewal module adds it. */
const withRenewals = (renewals: RenewalReport[]): SyncReport => ({ ...syncReport([]), renewals });
const renewal = (domain: string, fields: Partial<RenewalReport> = {}): RenewalReport => ({
  domain,
  state: 'not-due',
  certificateId: null,
  expiresAt: null,
  dueAt: null,
  ...fields,
});

describe('transitionsOf a sync report', () => {
  it('shows validation-records-written for the records a run created or updated, with what they hold', () => {
    const report = syncReport([
      certificate({
        records: [
          record({ action: 'created' }),
          record({ name: '_dnsauth.www.example.com', type: 'TXT', value: 'token', action: 'updated' }),
          record({ name: '_dnsauth.api.example.com', type: 'TXT', value: 'kept', action: 'unchanged' }),
        ],
      }),
    ]);

    const [written, ...others] = of(report);

    expect(others).toEqual([]);
    expect(written?.detailType).toBe('Validation Records Written');
    expect(written?.detail).toEqual({
      transition: 'validation-records-written',
      certificateId: 'u5WLLKsA',
      domains: ['www.example.com'],
      records: [
        {
          name: '_89fa8b68e216bbe8b6ce189028d358b2.www.example.com',
          type: 'CNAME',
          value: '3a34bd83441aabe1f6f210579e1be4b2.8d1f9e6959.trust-provider.com',
          action: 'created',
          zone: ZONE,
        },
        { name: '_dnsauth.www.example.com', type: 'TXT', value: 'token', action: 'updated', zone: ZONE },
      ],
    });
    expect(written?.claimKey).toMatch(/^announce#u5WLLKsA#validation-records-written#[0-9a-f]{16}$/);
  });

  it('keys validation-records-written by the values written, so new values are news and the same ones are not', () => {
    const keyFor = (value: string) =>
      of(syncReport([certificate({ records: [record({ action: 'created', value })] })]))[0]?.claimKey;

    expect(keyFor('a.trust-provider.com')).toBe(keyFor('a.trust-provider.com'));
    expect(keyFor('a.trust-provider.com')).not.toBe(keyFor('b.trust-provider.com'));
  });

  it('shows nothing for a run that wrote nothing and saw nothing new', () => {
    const report = syncReport([
      certificate({ records: [record()] }),
      certificate({ certificateId: 'idle0001', unchangedSince: new Date(NOW - 60_000).toISOString() }),
      issued('T28vl4nl', 80),
    ]);

    expect(of(report)).toEqual([]);
  });

  it('shows certificate-blocked with the reason of each refused or conflicting record', () => {
    const report = syncReport([
      certificate({
        certificateId: 'WElhM1Z2',
        outcome: 'blocked',
        records: [
          record({ action: 'conflict', reason: 'a CNAME with another target is there and is not ours' }),
          record({
            name: '_dnsauth.www.example.org',
            type: 'TXT',
            action: 'refused',
            reason: 'outside ALLOWED_DOMAINS',
          }),
        ],
      }),
    ]);

    const [blocked] = of(report);

    expect(blocked?.detailType).toBe('Certificate Blocked');
    expect(blocked?.detail).toEqual({
      transition: 'certificate-blocked',
      certificateId: 'WElhM1Z2',
      domains: ['www.example.com'],
      statusName: 'to be validated',
      validationDeadline: '2026-12-01T01:29:00.000Z',
      reasons: [
        {
          name: '_89fa8b68e216bbe8b6ce189028d358b2.www.example.com',
          type: 'CNAME',
          action: 'conflict',
          reason: 'a CNAME with another target is there and is not ours',
        },
        {
          name: '_dnsauth.www.example.org',
          type: 'TXT',
          action: 'refused',
          reason: 'outside ALLOWED_DOMAINS',
        },
      ],
    });
    expect(blocked?.claimKey).toMatch(/^announce#WElhM1Z2#certificate-blocked#[0-9a-f]{16}$/);
  });

  it('keys certificate-blocked by its reasons: blocked for another reason is announced again', () => {
    const keyFor = (reason: string) =>
      of(
        syncReport([certificate({ outcome: 'blocked', records: [record({ action: 'conflict', reason })] })]),
      )[0]?.claimKey;

    expect(keyFor('conflict')).toBe(keyFor('conflict'));
    expect(keyFor('conflict')).not.toBe(keyFor('refused'));
  });

  it('shows certificate-issued for an issued certificate its secret does not hold yet', () => {
    const report = syncReport([issued('T28vl4nl', 90, {}, { result: 'queued' })]);

    const [first] = of(report);

    expect(first).toMatchObject({
      detailType: 'Certificate Issued',
      claimKey: 'announce#T28vl4nl#certificate-issued',
      detail: {
        transition: 'certificate-issued',
        certificateId: 'T28vl4nl',
        domains: ['www.example.com'],
        expiresAt: new Date(NOW + 90 * DAY_MS).toISOString(),
      },
    });
    // The claim outlives the certificate, so it is never announced again while Tencent lists it.
    expect(first?.ttlMs).toBeGreaterThan(90 * DAY_MS);
  });

  it('does not show certificate-issued for a certificate already exported, or superseded by a newer one', () => {
    const report = syncReport([
      issued('unchangd', 90, {}, { result: 'unchanged' }),
      issued('supersed', 20, {}, { result: 'superseded' }),
    ]);

    expect(of(report).map((t) => t.detail.transition)).not.toContain('certificate-issued');
  });

  it('shows certificate-exported with the secret name and version, keyed by the version', () => {
    const report = syncReport([
      issued(
        'T28vl4nl',
        90,
        {},
        {
          result: 'created',
          versionId: '0a39338f-6c1a-4c55-bd7a-a3c2f0d6b1e0',
          fingerprintSha256: 'ab'.repeat(32),
          notAfter: '2027-02-26T00:00:00.000Z',
        },
      ),
    ]);

    const exported = of(report).find((t) => t.detail.transition === 'certificate-exported');

    expect(exported).toMatchObject({
      detailType: 'Certificate Exported',
      claimKey: 'announce#T28vl4nl#certificate-exported#0a39338f-6c1a-4c55-bd7a-a3c2f0d6b1e0',
      detail: {
        certificateId: 'T28vl4nl',
        domains: ['www.example.com'],
        result: 'created',
        secretName: 'tencent-ssl/www.example.com',
        versionId: '0a39338f-6c1a-4c55-bd7a-a3c2f0d6b1e0',
        fingerprintSha256: 'ab'.repeat(32),
        notAfter: '2027-02-26T00:00:00.000Z',
      },
    });
  });

  it('copies only the fields it names into a detail: nothing else of an entry, a key least of all', () => {
    const leaky = issued('T28vl4nl', 90, {}, {
      result: 'updated',
      versionId: 'v2',
      privateKey: '-----BEGIN PRIVATE KEY-----\nMIIE…',
      certificate: '-----BEGIN CERTIFICATE-----\nMIID…',
    } as object);

    const text = JSON.stringify(of(syncReport([leaky])));

    expect(text).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE|privateKey/);
  });

  it('shows certificate-imported when the export entry has an acm result of imported or reimported', () => {
    const arn = 'arn:aws:acm:us-east-1:111122223333:certificate/5d1d1a0e-0b6c-4f14-9c56-0f3f4f0e9a61';
    const report = syncReport([
      issued(
        'T28vl4nl',
        90,
        {},
        {
          result: 'unchanged',
          fingerprintSha256: 'cd'.repeat(32),
          acm: { result: 'reimported', arn },
        },
      ),
    ]);

    expect(of(report)).toEqual([
      expect.objectContaining({
        detailType: 'Certificate Imported',
        claimKey: expect.stringMatching(/^announce#T28vl4nl#certificate-imported#[0-9a-f]{16}$/),
        detail: {
          transition: 'certificate-imported',
          certificateId: 'T28vl4nl',
          domains: ['www.example.com'],
          result: 'reimported',
          certificateArn: arn,
        },
      }),
    ]);
  });

  it('announces no import when ACM already held the certificate', () => {
    const report = syncReport([
      issued('unchangd', 90, {}, { result: 'unchanged', acm: { result: 'unchanged' } }),
    ]);

    expect(of(report)).toEqual([]);
  });

  it('shows renewal-requested for an order this run placed', () => {
    const report = withRenewals([
      renewal('www.example.com', {
        state: 'applied',
        certificateId: 'T28vl4nl',
        newCertificateId: 'nEw0rder',
        appliedThisRun: true,
      }),
      renewal('api.example.com', { state: 'failed', reason: 'LimitExceeded' }),
      renewal('old.example.com', { state: 'applied', newCertificateId: 'earlier1' }),
      renewal('mail.example.com'),
    ]);

    expect(of(report)).toEqual([
      expect.objectContaining({
        detailType: 'Renewal Requested',
        claimKey: 'announce#nEw0rder#renewal-requested',
        detail: {
          transition: 'renewal-requested',
          certificateId: 'nEw0rder',
          domains: ['www.example.com'],
          oldCertificateId: 'T28vl4nl',
        },
      }),
    ]);
  });

  it('shows no renewal-requested without a renewals list', () => {
    expect(of(syncReport([]))).toEqual([]);
  });

  it('shows certificate-expiring, once per certificate, within RENEW_BEFORE_DAYS of its CertEndTime', () => {
    const report = syncReport([
      issued('soon0001', 12.5),
      issued('later001', 45, { domains: ['api.example.com'] }),
    ]);

    expect(of(report)).toEqual([
      expect.objectContaining({
        detailType: 'Certificate Expiring',
        claimKey: 'announce#soon0001#certificate-expiring',
        detail: {
          transition: 'certificate-expiring',
          certificateId: 'soon0001',
          domains: ['www.example.com'],
          expiresAt: new Date(NOW + 12.5 * DAY_MS).toISOString(),
          daysLeft: 12,
          renewBeforeDays: 30,
        },
      }),
    ]);
    expect(transitionsOf(report, { ...options, renewBeforeDays: 60 })).toHaveLength(2);
  });

  it('does not show certificate-expiring for a certificate a newer one of the same names replaces', () => {
    const report = syncReport([
      issued('old00001', 10, {}, { result: 'superseded' }),
      issued('new00001', 90, {}, { result: 'unchanged' }),
    ]);

    expect(of(report)).toEqual([]);
  });

  it('shows nothing for a dry run', () => {
    const report = syncReport(
      [certificate({ outcome: 'blocked', records: [record({ action: 'created' })] }), issued('soon0001', 3)],
      { dryRun: true },
    );

    expect(of(report)).toEqual([]);
  });
});

describe('transitionsOf an export report', () => {
  it('shows certificate-exported for each secret version written, with the Domain it knows', () => {
    const report = exportReport([
      {
        certificateId: 'T28vl4nl',
        domain: 'example.com',
        secretName: 'tencent-ssl/example.com',
        result: 'updated',
        versionId: 'v-2',
      },
      { certificateId: 'u5WLLKsA', domain: 'www.example.com', result: 'unchanged' },
      { certificateId: 'Zq81mRkT', domain: 'www.example.com', result: 'refused', reason: 'untrusted-chain' },
    ]);

    expect(of(report)).toEqual([
      {
        detailType: 'Certificate Exported',
        claimKey: 'announce#T28vl4nl#certificate-exported#v-2',
        ttlMs: expect.any(Number),
        detail: {
          transition: 'certificate-exported',
          certificateId: 'T28vl4nl',
          domains: ['example.com'],
          result: 'updated',
          secretName: 'tencent-ssl/example.com',
          versionId: 'v-2',
        },
      },
    ]);
  });
});
