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
import { collectStatus, hasFailures, runSync } from '../../lib/sync.js';
import type { SyncDeps, SyncSettings } from '../../lib/sync-types.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { cname, type FakeCertificate, FakeTencent, txt } from '../helpers/fake-tencent.js';

/* What a sync or status report says about each certificate, and what counts as a failure. */

const route53 = mockClient(Route53Client);

function deps(certificates: FakeCertificate[], settings: Partial<SyncSettings> = {}): SyncDeps {
  return {
    tencent: new FakeTencent(certificates),
    route53: new Route53Client({ region: 'us-east-1' }),
    clock: new FakeClock(),
    logger: silentLogger,
    settings: {
      allowedDomains: ['example.com'],
      zoneOverrides: [],
      recordTtl: 60,
      waitForInsync: true,
      dryRun: false,
      ...settings,
    },
  };
}

/** The SDK's error when no credentials can be found anywhere in its chain. */
function missingCredentials(): Error {
  const error = new Error('Could not load credentials from any providers');
  error.name = 'CredentialsProviderError';
  return error;
}

beforeEach(() => {
  route53.reset();
  route53.on(ListHostedZonesCommand).resolves({
    HostedZones: [
      { Id: '/hostedzone/ZCOM', Name: 'example.com.', CallerReference: 'c', Config: { PrivateZone: false } },
      { Id: '/hostedzone/ZORG', Name: 'example.org.', CallerReference: 'o', Config: { PrivateZone: false } },
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

describe('the domains a report shows', () => {
  it('shows wildcard names as the certificate has them, each once', async () => {
    const d = deps([
      {
        id: 'w1',
        domain: 'example.com',
        altNames: ['*.example.com', 'example.com'],
        dvAuths: [txt('t1', 'example.com'), txt('t2', '*.example.com')],
      },
    ]);

    const report = await runSync(d);

    expect(report.certificates[0]?.domains).toEqual(['example.com', '*.example.com']);
  });
});

describe('a certificate outside ALLOWED_DOMAINS', () => {
  it('is left alone by design and is no failure', async () => {
    const d = deps([
      {
        id: 'o1',
        domain: 'www.example.org',
        dvAuths: [cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.org', 'a.ca.test', 'www.example.org')],
      },
    ]);

    const report = await runSync(d);

    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toEqual([]);
    expect(report.certificates[0]).toMatchObject({
      outcome: 'outside-allow-list',
      records: [
        expect.objectContaining({ action: 'refused', reason: expect.stringMatching(/ALLOWED_DOMAINS/) }),
      ],
    });
    expect(hasFailures(report)).toBe(false);
  });

  it('stays blocked when some of its domains are inside, as it cannot be issued', async () => {
    const d = deps([
      {
        id: 'm1',
        domain: 'www.example.com',
        altNames: ['www.example.org'],
        dvAuths: [
          cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com'),
          cname('_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.www.example.org', 'b.ca.test', 'www.example.org'),
        ],
      },
    ]);

    const report = await runSync(d);

    expect(report.certificates[0]?.outcome).toBe('blocked');
    expect(hasFailures(report)).toBe(true);
  });

  it('is blocked while ALLOWED_DOMAINS is unset, since then nothing is written at all', async () => {
    const d = deps(
      [
        {
          id: 'u1',
          domain: 'www.example.org',
          dvAuths: [
            cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.org', 'a.ca.test', 'www.example.org'),
          ],
        },
      ],
      { allowedDomains: undefined },
    );

    const report = await runSync(d);

    expect(report.certificates[0]?.outcome).toBe('blocked');
    expect(hasFailures(report)).toBe(true);
  });
});

describe('status when AWS cannot be read', () => {
  it('reports missing AWS credentials while reading the zones as a whole-run credentials failure', async () => {
    route53.on(ListHostedZonesCommand).rejects(missingCredentials());
    const d = deps([
      {
        id: 'p1',
        domain: 'www.example.com',
        dvAuths: [cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com')],
      },
    ]);

    const report = await collectStatus(d);

    expect(report.fatal).toEqual({
      reason: expect.stringContaining('Could not load credentials'),
      credentials: true,
    });
    expect(hasFailures(report)).toBe(true);
  });

  it('reports missing AWS credentials while reading the secrets as a whole-run credentials failure', async () => {
    const d = deps([{ id: 'i1', domain: 'www.example.com', status: 1 }]);
    d.exportState = async () => {
      throw missingCredentials();
    };

    const report = await collectStatus(d);

    expect(report.fatal).toEqual({
      reason: expect.stringContaining('Could not load credentials'),
      credentials: true,
    });
  });

  it('reports a Secrets Manager that cannot be read as a failure', async () => {
    const d = deps([{ id: 'i1', domain: 'www.example.com', status: 1 }]);
    d.exportState = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:1');
    };

    const report = await collectStatus(d);

    expect(report.fatal).toEqual({ reason: expect.stringContaining('ECONNREFUSED'), credentials: false });
    expect(hasFailures(report)).toBe(true);
  });

  it('reports an id Tencent does not know as a failure', async () => {
    const report = await collectStatus(deps([]), { certificateIds: ['nope1234'] });

    expect(report.certificates).toEqual([
      expect.objectContaining({
        certificateId: 'nope1234',
        outcome: 'not-found',
        error: 'Tencent does not know this certificate id',
      }),
    ]);
    expect(hasFailures(report)).toBe(true);
  });
});
