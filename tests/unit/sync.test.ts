import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  type HostedZone,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { hasFailures, runSync } from '../../lib/sync.js';
import type { SyncDeps, SyncSettings } from '../../lib/sync-types.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { cname, type FakeCertificate, FakeTencent, txt } from '../helpers/fake-tencent.js';

const route53 = mockClient(Route53Client);
const COMMENT = 'tencent-ssl-sync: certificate validation records';

const zone = (id: string, name: string, options: { private?: boolean; count?: number } = {}): HostedZone => ({
  Id: `/hostedzone/${id}`,
  Name: `${name}.`,
  CallerReference: id,
  Config: { PrivateZone: options.private ?? false },
  ResourceRecordSetCount: options.count ?? 2,
});

function givenZones(...zones: HostedZone[]) {
  route53.on(ListHostedZonesCommand).resolves({ HostedZones: zones, IsTruncated: false, MaxItems: 100 });
}

function givenRecords(zoneId: string, sets: ResourceRecordSet[]) {
  route53
    .on(ListResourceRecordSetsCommand, { HostedZoneId: zoneId })
    .resolves({ ResourceRecordSets: sets, IsTruncated: false, MaxItems: 300 });
}

let changeCounter = 0;
function acceptChanges() {
  route53.on(ChangeResourceRecordSetsCommand).callsFake(async () => ({
    ChangeInfo: { Id: `/change/C${++changeCounter}`, Status: 'PENDING', SubmittedAt: new Date() },
  }));
  route53.on(GetChangeCommand).callsFake(async (input: { Id: string }) => ({
    ChangeInfo: { Id: input.Id, Status: 'INSYNC', SubmittedAt: new Date() },
  }));
}

function changeInputs() {
  return route53.commandCalls(ChangeResourceRecordSetsCommand).map((call) => call.args[0].input);
}

const create = (name: string, type: 'CNAME' | 'TXT', values: string[], ttl = 60) => ({
  Action: 'CREATE',
  ResourceRecordSet: {
    Name: name,
    Type: type,
    TTL: ttl,
    ResourceRecords: values.map((Value) => ({ Value })),
  },
});

let clock: FakeClock;
function deps(certificates: FakeCertificate[], settings: Partial<SyncSettings> = {}) {
  const tencent = new FakeTencent(certificates);
  const d: SyncDeps = {
    tencent,
    route53: new Route53Client({ region: 'us-east-1' }),
    clock,
    logger: silentLogger,
    settings: {
      allowedDomains: ['example.com', 'example.net'],
      zoneOverrides: [],
      recordTtl: 60,
      waitForInsync: true,
      dryRun: false,
      ...settings,
    },
  };
  return { deps: d, tencent };
}

beforeEach(() => {
  route53.reset();
  changeCounter = 0;
  clock = new FakeClock();
  givenZones(zone('ZCOM', 'example.com'), zone('ZNET', 'example.net'));
  givenRecords('ZCOM', []);
  givenRecords('ZNET', []);
  acceptChanges();
});

const CA = 'a3108492878a2d98.cc7346307ff022fc.cmcdpcwca5iljv.trust-provider.com';

describe('runSync writes validation records', () => {
  it('creates a CNAME when the validation record is missing', async () => {
    const { deps: d } = deps([
      {
        id: 'c1',
        domain: 'www.example.com',
        dvAuths: [cname('_abcabcabcabcabcabcabcabcabcabcab.www.example.com', CA, 'www.example.com')],
      },
    ]);
    const report = await runSync(d);

    expect(changeInputs()).toEqual([
      {
        HostedZoneId: 'ZCOM',
        ChangeBatch: {
          Comment: COMMENT,
          Changes: [create('_abcabcabcabcabcabcabcabcabcabcab.www.example.com', 'CNAME', [CA])],
        },
      },
    ]);
    expect(report.certificates[0]).toMatchObject({
      certificateId: 'c1',
      outcome: 'validating',
      insync: true,
      nudged: true,
    });
    expect(report.certificates[0]?.records).toEqual([
      expect.objectContaining({
        name: '_abcabcabcabcabcabcabcabcabcabcab.www.example.com',
        action: 'created',
        zone: { id: 'ZCOM', name: 'example.com' },
      }),
    ]);
  });

  it('creates a quoted TXT record at _dnsauth', async () => {
    const { deps: d } = deps([
      { id: 'c1', domain: 'example.com', dvAuths: [txt('20261128000000abc', 'example.com')] },
    ]);
    await runSync(d);
    expect(changeInputs()).toEqual([
      {
        HostedZoneId: 'ZCOM',
        ChangeBatch: {
          Comment: COMMENT,
          Changes: [create('_dnsauth.example.com', 'TXT', ['"20261128000000abc"'])],
        },
      },
    ]);
  });

  it('sends one batch per zone for a certificate spanning zones', async () => {
    const { deps: d } = deps([
      {
        id: 'multi',
        domain: 'example.com',
        altNames: ['www.example.com', 'example.net'],
        dvAuths: [
          cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com', 'a.ca.test', 'example.com'),
          cname('_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.www.example.com', 'b.ca.test', 'www.example.com'),
          cname('_cccccccccccccccccccccccccccccccc.example.net', 'c.ca.test', 'example.net'),
        ],
      },
    ]);
    const report = await runSync(d);
    const inputs = changeInputs().sort((a, b) =>
      String(a.HostedZoneId).localeCompare(String(b.HostedZoneId)),
    );
    expect(inputs).toEqual([
      {
        HostedZoneId: 'ZCOM',
        ChangeBatch: {
          Comment: COMMENT,
          Changes: [
            create('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com', 'CNAME', ['a.ca.test']),
            create('_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.www.example.com', 'CNAME', ['b.ca.test']),
          ],
        },
      },
      {
        HostedZoneId: 'ZNET',
        ChangeBatch: {
          Comment: COMMENT,
          Changes: [create('_cccccccccccccccccccccccccccccccc.example.net', 'CNAME', ['c.ca.test'])],
        },
      },
    ]);
    expect(report.totals.route53ChangeBatches).toBe(2);
  });

  it('writes into a delegated sub-zone and its parent separately', async () => {
    givenZones(zone('ZCOM', 'example.com'), zone('ZSUB', 'sub.example.com'));
    givenRecords('ZSUB', []);
    const { deps: d } = deps([
      {
        id: 'c1',
        domain: 'example.com',
        altNames: ['api.sub.example.com'],
        dvAuths: [
          cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com', 'a.ca.test', 'example.com'),
          cname('_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.api.sub.example.com', 'b.ca.test', 'api.sub.example.com'),
        ],
      },
    ]);
    await runSync(d);
    const byZone = Object.fromEntries(changeInputs().map((i) => [i.HostedZoneId, i.ChangeBatch?.Changes]));
    expect(byZone).toEqual({
      ZCOM: [create('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com', 'CNAME', ['a.ca.test'])],
      ZSUB: [create('_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.api.sub.example.com', 'CNAME', ['b.ca.test'])],
    });
  });

  it('puts the apex and wildcard TXT values in one record set', async () => {
    const { deps: d } = deps([
      {
        id: 'w',
        domain: 'example.com',
        altNames: ['*.example.com'],
        dvAuths: [txt('apex-token', 'example.com'), txt('wild-token', '*.example.com')],
      },
    ]);
    await runSync(d);
    expect(changeInputs()).toEqual([
      {
        HostedZoneId: 'ZCOM',
        ChangeBatch: {
          Comment: COMMENT,
          Changes: [create('_dnsauth.example.com', 'TXT', ['"apex-token"', '"wild-token"'])],
        },
      },
    ]);
  });

  it('keeps a TXT value another order already put there', async () => {
    givenRecords('ZCOM', [
      {
        Name: '_dnsauth.example.com.',
        Type: 'TXT',
        TTL: 300,
        ResourceRecords: [{ Value: '"older-order-token"' }],
      },
    ]);
    const { deps: d } = deps([
      { id: 'c1', domain: 'example.com', dvAuths: [txt('new-token', 'example.com')] },
    ]);
    const report = await runSync(d);
    expect(changeInputs()[0]?.ChangeBatch?.Changes).toEqual([
      {
        Action: 'DELETE',
        ResourceRecordSet: {
          Name: '_dnsauth.example.com',
          Type: 'TXT',
          TTL: 300,
          ResourceRecords: [{ Value: '"older-order-token"' }],
        },
      },
      create('_dnsauth.example.com', 'TXT', ['"older-order-token"', '"new-token"'], 300),
    ]);
    expect(report.certificates[0]?.records[0]?.action).toBe('updated');
  });

  it('reports a conflicting record and still writes the rest of the zone', async () => {
    givenRecords('ZCOM', [
      {
        Name: '_eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.www.example.com.',
        Type: 'TXT',
        TTL: 300,
        ResourceRecords: [{ Value: '"other"' }],
      },
    ]);
    const { deps: d } = deps([
      {
        id: 'clash',
        domain: 'www.example.com',
        dvAuths: [cname('_eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.www.example.com', 'x.ca.test', 'www.example.com')],
      },
      {
        id: 'fine',
        domain: 'api.example.com',
        dvAuths: [cname('_ffffffffffffffffffffffffffffffff.api.example.com', 'y.ca.test', 'api.example.com')],
      },
    ]);
    const report = await runSync(d);
    expect(changeInputs()).toEqual([
      {
        HostedZoneId: 'ZCOM',
        ChangeBatch: {
          Comment: COMMENT,
          Changes: [create('_ffffffffffffffffffffffffffffffff.api.example.com', 'CNAME', ['y.ca.test'])],
        },
      },
    ]);
    const clash = report.certificates.find((c) => c.certificateId === 'clash');
    expect(clash?.outcome).toBe('blocked');
    expect(clash?.records[0]).toMatchObject({ action: 'conflict', reason: expect.stringMatching(/TXT/) });
    expect(hasFailures(report)).toBe(true);
  });

  it('writes nothing again when every record is already in place', async () => {
    givenRecords('ZCOM', [
      {
        Name: '_abcabcabcabcabcabcabcabcabcabcab.www.example.com.',
        Type: 'CNAME',
        TTL: 60,
        ResourceRecords: [{ Value: `${CA}.` }],
      },
    ]);
    const { deps: d, tencent } = deps([
      {
        id: 'c1',
        domain: 'www.example.com',
        dvAuths: [cname('_abcabcabcabcabcabcabcabcabcabcab.www.example.com', CA, 'www.example.com')],
      },
    ]);
    const report = await runSync(d);
    expect(changeInputs()).toEqual([]);
    expect(route53.commandCalls(GetChangeCommand)).toHaveLength(0);
    expect(tencent.count('CompleteCertificate')).toBe(0);
    expect(report.certificates[0]?.records[0]?.action).toBe('unchanged');
    expect(report.certificates[0]?.outcome).toBe('validating');
  });
});

describe('runSync pipelines its work', () => {
  it('writes a zone as soon as every certificate that can touch it is read, while others are still being read', async () => {
    const { deps: d, tencent } = deps([
      {
        id: 'com',
        domain: 'www.example.com',
        dvAuths: [cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com')],
      },
      {
        id: 'net',
        domain: 'www.example.net',
        dvAuths: [cname('_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.www.example.net', 'b.ca.test', 'www.example.net')],
      },
    ]);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const describe = tencent.describeCertificate.bind(tencent);
    tencent.describeCertificate = async (id: string) => {
      if (id === 'net') await gate;
      return describe(id);
    };
    const run = runSync(d);
    await vi.waitFor(() => expect(changeInputs().map((i) => i.HostedZoneId)).toEqual(['ZCOM']));
    release();
    const report = await run;
    expect(changeInputs().map((i) => i.HostedZoneId)).toEqual(['ZCOM', 'ZNET']);
    expect(report.totals.route53ChangeBatches).toBe(2);
  });

  it('still sends one batch for a zone that several certificates share', async () => {
    const certs = Array.from({ length: 25 }, (_, i) => ({
      id: `c${i}`,
      domain: `h${i}.example.com`,
      dvAuths: [
        cname(`_${String(i).padStart(32, '0')}.h${i}.example.com`, `v${i}.ca.test`, `h${i}.example.com`),
      ],
    }));
    const { deps: d } = deps(certs);
    await runSync(d);
    expect(changeInputs()).toHaveLength(1);
    expect(changeInputs()[0]?.ChangeBatch?.Changes).toHaveLength(25);
  });
});

describe('runSync refuses what it must not write', () => {
  it.each([
    [
      'a name outside the certificate',
      cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.other.example.com', 'a.ca.test', 'other.example.com'),
      /certificate/,
    ],
    [
      'a name outside the allow-list',
      cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.org', 'a.ca.test', 'www.example.org'),
      /ALLOWED_DOMAINS|allow/,
    ],
    [
      'a name whose first label has no underscore',
      cname('www.example.com', 'a.ca.test', 'www.example.com'),
      /_/,
    ],
  ])('refuses %s and writes nothing', async (_label, dvAuth, reason) => {
    const { deps: d } = deps([
      { id: 'c1', domain: 'www.example.com', altNames: ['www.example.org'], dvAuths: [dvAuth] },
    ]);
    const report = await runSync(d);
    expect(changeInputs()).toEqual([]);
    expect(report.certificates[0]?.records[0]).toMatchObject({
      action: 'refused',
      reason: expect.stringMatching(reason),
    });
    expect(report.certificates[0]?.outcome).toBe('blocked');
  });

  it('skips FILE validation, which DNS cannot serve', async () => {
    const { deps: d } = deps([
      {
        id: 'f',
        domain: 'www.example.com',
        dvAuths: [
          {
            DvAuthVerifyType: 'FILE',
            DvAuthPath: '/.well-known/pki-validation/x.txt',
            DvAuthValue: 'v',
            DvAuthDomain: 'www.example.com',
          },
        ],
      },
    ]);
    const report = await runSync(d);
    expect(changeInputs()).toEqual([]);
    expect(route53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(0);
    expect(report.certificates[0]?.records[0]?.action).toBe('skipped');
  });

  it('writes nothing and says how to fix it when ALLOWED_DOMAINS is unset', async () => {
    const { deps: d } = deps(
      [
        {
          id: 'c1',
          domain: 'www.example.com',
          dvAuths: [
            cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com'),
          ],
        },
      ],
      {
        allowedDomains: undefined,
      },
    );
    const report = await runSync(d);
    expect(route53.calls()).toHaveLength(0);
    expect(report.certificates[0]?.records[0]?.reason).toMatch(/ALLOWED_DOMAINS=example\.com/);
  });

  it('reports two public zones of one name as ambiguous and writes to neither', async () => {
    givenZones(zone('ZONE1', 'example.com'), zone('ZONE2', 'example.com'));
    const { deps: d } = deps([
      {
        id: 'c1',
        domain: 'www.example.com',
        dvAuths: [cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com')],
      },
    ]);
    const report = await runSync(d);
    expect(changeInputs()).toEqual([]);
    expect(report.certificates[0]?.records[0]).toMatchObject({
      action: 'failed',
      reason: expect.stringMatching(/ambiguous.*ROUTE53_ZONES/),
    });
  });

  it('uses the configured zone over discovery', async () => {
    givenZones(
      zone('ZONE1', 'example.com'),
      zone('ZONE2', 'example.com'),
      zone('ZPRIV', 'example.com', { private: true }),
    );
    givenRecords('ZONE2', []);
    const { deps: d } = deps(
      [
        {
          id: 'c1',
          domain: 'www.example.com',
          dvAuths: [
            cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com'),
          ],
        },
      ],
      {
        zoneOverrides: [{ domain: 'example.com', hostedZoneId: 'ZONE2' }],
      },
    );
    await runSync(d);
    expect(changeInputs().map((i) => i.HostedZoneId)).toEqual(['ZONE2']);
  });
});

describe('runSync under failure', () => {
  it('splits a rejected batch so the good records still go through', async () => {
    route53
      .on(ChangeResourceRecordSetsCommand)
      .callsFake(
        async (input: { ChangeBatch: { Changes: Array<{ ResourceRecordSet: { Name: string } }> } }) => {
          if (
            input.ChangeBatch.Changes.some(
              (c) => c.ResourceRecordSet.Name === '_badbadbadbadbadbadbadbadbadbadba.www.example.com',
            )
          ) {
            throw Object.assign(
              new Error(
                '[RRSet with DNS name _badbadbadbadbadbadbadbadbadbadba.www.example.com. is not permitted in zone example.com.]',
              ),
              {
                name: 'InvalidChangeBatch',
              },
            );
          }
          return {
            ChangeInfo: { Id: `/change/C${++changeCounter}`, Status: 'PENDING', SubmittedAt: new Date() },
          };
        },
      );
    const { deps: d } = deps([
      {
        id: 'bad',
        domain: 'www.example.com',
        dvAuths: [cname('_badbadbadbadbadbadbadbadbadbadba.www.example.com', 'b.ca.test', 'www.example.com')],
      },
      {
        id: 'good',
        domain: 'api.example.com',
        dvAuths: [cname('_c00dc00dc00dc00dc00dc00dc00dc00d.api.example.com', 'g.ca.test', 'api.example.com')],
      },
    ]);
    const report = await runSync(d);
    const batches = changeInputs().map((i) => i.ChangeBatch?.Changes?.map((c) => c.ResourceRecordSet?.Name));
    expect(batches).toEqual([
      [
        '_badbadbadbadbadbadbadbadbadbadba.www.example.com',
        '_c00dc00dc00dc00dc00dc00dc00dc00d.api.example.com',
      ],
      ['_badbadbadbadbadbadbadbadbadbadba.www.example.com'],
      ['_c00dc00dc00dc00dc00dc00dc00dc00d.api.example.com'],
    ]);
    const outcome = (id: string) => report.certificates.find((c) => c.certificateId === id);
    expect(outcome('good')).toMatchObject({ outcome: 'validating', insync: true });
    expect(outcome('bad')).toMatchObject({ outcome: 'failed' });
    expect(outcome('bad')?.records[0]?.reason).toMatch(/not permitted/);
  });

  it('polls until PENDING turns INSYNC, then asks the CA to check', async () => {
    let polls = 0;
    route53.on(GetChangeCommand).callsFake(async (input: { Id: string }) => ({
      ChangeInfo: { Id: input.Id, Status: ++polls < 3 ? 'PENDING' : 'INSYNC', SubmittedAt: new Date() },
    }));
    const { deps: d, tencent } = deps([
      {
        id: 'c1',
        domain: 'www.example.com',
        dvAuths: [cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com')],
      },
    ]);
    const report = await runSync(d);
    expect(polls).toBe(3);
    expect(clock.sleeps.length).toBeGreaterThanOrEqual(3);
    expect(report.certificates[0]).toMatchObject({ insync: true, nudged: true });
    expect(tencent.calls.at(-1)).toEqual({ action: 'CompleteCertificate', id: 'c1' });
    expect(changeInputs()).toHaveLength(1);
  });

  it('does not nudge the CA while the change is still PENDING at the deadline', async () => {
    route53.on(GetChangeCommand).callsFake(async (input: { Id: string }) => ({
      ChangeInfo: { Id: input.Id, Status: 'PENDING', SubmittedAt: new Date() },
    }));
    const { deps: d, tencent } = deps(
      [
        {
          id: 'c1',
          domain: 'www.example.com',
          dvAuths: [
            cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com'),
          ],
        },
      ],
      {
        insyncTimeoutMs: 30_000,
      },
    );
    const report = await runSync(d);
    expect(report.certificates[0]?.insync).toBe(false);
    expect(tencent.count('CompleteCertificate')).toBe(0);
    expect(changeInputs()).toHaveLength(1);
  });

  it('goes on with the other certificates when one cannot be read', async () => {
    const { deps: d } = deps([
      { id: 'broken', domain: 'www.example.com', describeError: 'InternalError' },
      {
        id: 'fine',
        domain: 'api.example.com',
        dvAuths: [cname('_ffffffffffffffffffffffffffffffff.api.example.com', 'y.ca.test', 'api.example.com')],
      },
    ]);
    const report = await runSync(d);
    expect(report.certificates.find((c) => c.certificateId === 'broken')).toMatchObject({
      outcome: 'failed',
      error: expect.stringContaining('InternalError'),
    });
    expect(report.certificates.find((c) => c.certificateId === 'fine')?.outcome).toBe('validating');
  });

  it('fails the whole run when Tencent rejects the credentials', async () => {
    const { deps: d } = deps([
      { id: 'c1', domain: 'www.example.com', describeError: 'AuthFailure.UnauthorizedOperation' },
    ]);
    await expect(runSync(d)).rejects.toMatchObject({ code: 'AuthFailure.UnauthorizedOperation' });
  });

  it('starts nothing new past the deadline and reports what it left', async () => {
    const { deps: d, tencent } = deps([
      {
        id: 'c1',
        domain: 'www.example.com',
        dvAuths: [cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com')],
      },
    ]);
    const report = await runSync(d, { deadline: clock.now() - 1 });
    expect(tencent.count('DescribeCertificate')).toBe(0);
    expect(report.certificates[0]).toMatchObject({ outcome: 'deferred' });
    expect(changeInputs()).toEqual([]);
  });
});

describe('runSync dry run and hand-off', () => {
  it('plans everything and writes nothing in a dry run', async () => {
    const { deps: d, tencent } = deps([
      {
        id: 'c1',
        domain: 'www.example.com',
        dvAuths: [cname('_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com', 'a.ca.test', 'www.example.com')],
      },
    ]);
    const report = await runSync(d, { dryRun: true });
    expect(changeInputs()).toEqual([]);
    expect(tencent.count('CompleteCertificate')).toBe(0);
    expect(report.dryRun).toBe(true);
    expect(report.certificates[0]?.records[0]).toMatchObject({
      action: 'created',
      name: '_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.www.example.com',
    });
  });

  it('hands issued certificates to export without reading their details', async () => {
    const { deps: d, tencent } = deps([{ id: 'done', domain: 'www.example.com', status: 1 }]);
    const handed: string[][] = [];
    d.onIssued = async (items) => {
      handed.push(items.map((item) => String(item.CertificateId)));
      return items.map((item) => ({
        certificateId: String(item.CertificateId),
        domain: item.Domain,
        result: 'queued' as const,
      }));
    };
    const report = await runSync(d);
    expect(handed).toEqual([['done']]);
    expect(tencent.count('DescribeCertificate')).toBe(0);
    expect(report.certificates[0]).toMatchObject({ outcome: 'issued', export: { result: 'queued' } });
    expect(hasFailures(report)).toBe(false);
  });

  it('counts a certificate whose export failed as failed', async () => {
    const { deps: d } = deps([{ id: 'done', domain: 'www.example.com', status: 1 }]);
    d.onIssued = async () => [
      { certificateId: 'done', domain: 'www.example.com', result: 'invalid', reason: 'the chain is missing' },
    ];
    const report = await runSync(d);
    expect(report.certificates[0]).toMatchObject({
      outcome: 'failed',
      error: 'export invalid: the chain is missing',
    });
    expect(hasFailures(report)).toBe(true);
  });

  it('leaves a reissue without validation records alone, and validates one that has them', async () => {
    const { deps: d } = deps([
      { id: 'quiet', domain: 'www.example.com', status: 11, dvAuths: [] },
      {
        id: 'needs',
        domain: 'api.example.com',
        status: 11,
        dvAuths: [cname('_99999999999999999999999999999999.api.example.com', 'r.ca.test', 'api.example.com')],
      },
    ]);
    const report = await runSync(d);
    expect(report.certificates.find((c) => c.certificateId === 'quiet')).toMatchObject({
      outcome: 'ignored',
      records: [],
    });
    expect(report.certificates.find((c) => c.certificateId === 'needs')?.outcome).toBe('validating');
    expect(hasFailures(report)).toBe(false);
  });

  it('reports an id Tencent does not know', async () => {
    const { deps: d } = deps([]);
    const report = await runSync(d, { certificateIds: ['nope1234'] });
    expect(report.certificates).toEqual([
      expect.objectContaining({ certificateId: 'nope1234', outcome: 'not-found' }),
    ]);
  });
});

describe('runSync with the state table: idle runs', () => {
  const HEX = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  const certificate: FakeCertificate = {
    id: 'c1',
    domain: 'www.example.com',
    dvAuths: [cname(`_${HEX}.www.example.com`, CA, 'www.example.com')],
  };

  async function firstRun() {
    const state = new MemoryStateStore(clock);
    const { deps: d, tencent } = deps([certificate]);
    d.state = state;
    await runSync(d);
    route53.resetHistory();
    tencent.calls.length = 0;
    return { d, tencent, state };
  }

  it('does not read a pending certificate again while its listing and records stay as they were', async () => {
    const { d, tencent } = await firstRun();

    const report = await runSync(d);

    expect(tencent.count('DescribeCertificate')).toBe(0);
    expect(route53.calls()).toHaveLength(0);
    expect(report.certificates[0]).toMatchObject({
      outcome: 'validating',
      unchangedSince: expect.any(String),
    });
    expect(report.certificates[0]?.records).toEqual([
      expect.objectContaining({
        name: `_${HEX}.www.example.com`,
        type: 'CNAME',
        value: CA,
        action: 'unchanged',
      }),
    ]);
  });

  it('reads it again once an hour has passed', async () => {
    const { d, tencent } = await firstRun();
    clock.time += 3_600_000;

    await runSync(d);

    expect(tencent.count('DescribeCertificate')).toBe(1);
  });

  it('reads it again when its listing changed', async () => {
    const { d, tencent } = await firstRun();
    (tencent.certificates[0] as FakeCertificate).altNames = ['api.example.com'];

    await runSync(d);

    expect(tencent.count('DescribeCertificate')).toBe(1);
  });

  it('reads every certificate in a dry run, which remembers nothing', async () => {
    const { d, tencent } = await firstRun();

    await runSync(d, { dryRun: true });

    expect(tencent.count('DescribeCertificate')).toBe(1);
  });
});
