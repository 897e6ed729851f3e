import { ListHostedZonesCommand, Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostedZone } from '../../lib/route53/types.js';
import { listHostedZones, resolveZone } from '../../lib/route53/zones.js';

const route53 = mockClient(Route53Client);

afterEach(() => {
  route53.reset();
});

const zone = (id: string, name: string, options: Partial<HostedZone> = {}): HostedZone => ({
  id,
  name,
  private: false,
  recordCount: 10,
  ...options,
});

describe('listHostedZones', () => {
  it('follows NextMarker until the listing is complete and maps every zone', async () => {
    route53
      .on(ListHostedZonesCommand)
      .resolvesOnce({
        HostedZones: [
          {
            Id: '/hostedzone/Z1PUBLIC',
            Name: 'Example.com.',
            CallerReference: 'a',
            Config: { PrivateZone: false },
            ResourceRecordSetCount: 12,
          },
        ],
        IsTruncated: true,
        NextMarker: 'Z2NEXT',
        Marker: '',
        MaxItems: 1,
      })
      .resolvesOnce({
        HostedZones: [
          {
            Id: '/hostedzone/Z2NEXT',
            Name: 'internal.example.com.',
            CallerReference: 'b',
            Config: { PrivateZone: true },
            ResourceRecordSetCount: 3,
          },
          {
            Id: '/hostedzone/Z3WILD',
            Name: '\\052.example.org.',
            CallerReference: 'c',
            ResourceRecordSetCount: 2,
          },
        ],
        IsTruncated: false,
        Marker: 'Z2NEXT',
        MaxItems: 100,
      });

    const zones = await listHostedZones(new Route53Client({}));

    expect(route53.commandCalls(ListHostedZonesCommand).map((call) => call.args[0].input)).toEqual([
      { MaxItems: 100 },
      { MaxItems: 100, Marker: 'Z2NEXT' },
    ]);
    expect(zones).toEqual([
      { id: 'Z1PUBLIC', name: 'example.com', private: false, recordCount: 12 },
      { id: 'Z2NEXT', name: 'internal.example.com', private: true, recordCount: 3 },
      { id: 'Z3WILD', name: '*.example.org', private: false, recordCount: 2 },
    ]);
  });
});

describe('resolveZone', () => {
  const parent = zone('ZPARENT', 'example.com');
  const sub = zone('ZSUB', 'sub.example.com');

  it('chooses the delegated sub-zone for a name below it', () => {
    expect(resolveZone('_x.sub.example.com', [parent, sub], [])).toEqual({
      zone: { id: 'ZSUB', name: 'sub.example.com' },
    });
  });

  it('chooses the parent zone for a name beside the delegated sub-zone', () => {
    expect(resolveZone('_x.example.com', [sub, parent], [])).toEqual({
      zone: { id: 'ZPARENT', name: 'example.com' },
    });
  });

  it('matches names case-insensitively and ignores a trailing dot', () => {
    expect(resolveZone('_X.Sub.Example.COM.', [parent, sub], [])).toEqual({
      zone: { id: 'ZSUB', name: 'sub.example.com' },
    });
  });

  it('does not treat a zone that only shares a suffix as containing the name', () => {
    expect(resolveZone('_x.notexample.com', [parent], [])).toEqual({
      error: 'no public hosted zone in this account contains _x.notexample.com',
    });
  });

  it('ignores a private zone of the same name as a public one', () => {
    const privateTwin = zone('ZPRIVATE', 'sub.example.com', { private: true });

    expect(resolveZone('_x.sub.example.com', [privateTwin, parent], [])).toEqual({
      zone: { id: 'ZPARENT', name: 'example.com' },
    });
  });

  it('never chooses a private zone by discovery alone', () => {
    const privateOnly = zone('ZPRIVATE', 'corp.internal', { private: true });

    expect(resolveZone('_x.corp.internal', [privateOnly], [])).toEqual({
      error: 'no public hosted zone in this account contains _x.corp.internal',
    });
  });

  it('reports two public zones of the same longest name as ambiguous', () => {
    const twin = zone('ZTWIN', 'sub.example.com');

    expect(resolveZone('_x.sub.example.com', [parent, sub, twin], [])).toEqual({
      error:
        'ambiguous: two public hosted zones named sub.example.com (ZSUB, ZTWIN); set ROUTE53_ZONES to choose one',
    });
  });

  it('is not ambiguous when the twins are shorter than the best match', () => {
    const twinParent = zone('ZPARENT2', 'example.com');

    expect(resolveZone('_x.sub.example.com', [parent, twinParent, sub], [])).toEqual({
      zone: { id: 'ZSUB', name: 'sub.example.com' },
    });
  });

  it('reports a name no zone contains', () => {
    expect(resolveZone('_x.example.net', [parent, sub], [])).toEqual({
      error: 'no public hosted zone in this account contains _x.example.net',
    });
  });

  it('lets an override win over a longer discovered zone', () => {
    const overrides = [{ domain: 'example.com', hostedZoneId: 'ZPARENT' }];

    expect(resolveZone('_x.sub.example.com', [parent, sub], overrides)).toEqual({
      zone: { id: 'ZPARENT', name: 'example.com' },
    });
  });

  it('uses the longest override domain the name lies under', () => {
    const overrides = [
      { domain: 'example.com', hostedZoneId: 'ZPARENT' },
      { domain: 'sub.example.com', hostedZoneId: 'ZSUB' },
    ];

    expect(resolveZone('_x.sub.example.com', [parent, sub], overrides)).toEqual({
      zone: { id: 'ZSUB', name: 'sub.example.com' },
    });
  });

  it('accepts an override naming a private zone', () => {
    const privateZone = zone('ZPRIVATE', 'sub.example.com', { private: true });
    const overrides = [{ domain: 'sub.example.com', hostedZoneId: 'ZPRIVATE' }];

    expect(resolveZone('_x.sub.example.com', [parent, privateZone], overrides)).toEqual({
      zone: { id: 'ZPRIVATE', name: 'sub.example.com' },
    });
  });

  it('settles an ambiguity when an override names one of the twins', () => {
    const twin = zone('ZTWIN', 'sub.example.com');
    const overrides = [{ domain: 'sub.example.com', hostedZoneId: '/hostedzone/ZTWIN' }];

    expect(resolveZone('_x.sub.example.com', [sub, twin], overrides)).toEqual({
      zone: { id: 'ZTWIN', name: 'sub.example.com' },
    });
  });

  it('uses an override whose zone is not in the listing, named after the override domain', () => {
    const overrides = [{ domain: 'Other.Example.org', hostedZoneId: 'ZELSEWHERE' }];

    expect(resolveZone('_x.other.example.org', [parent], overrides)).toEqual({
      zone: { id: 'ZELSEWHERE', name: 'other.example.org' },
    });
  });

  it('falls back to discovery when no override covers the name', () => {
    const overrides = [{ domain: 'example.org', hostedZoneId: 'ZORG' }];

    expect(resolveZone('_x.example.com', [parent], overrides)).toEqual({
      zone: { id: 'ZPARENT', name: 'example.com' },
    });
  });
});
