import {
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseReadStrategy, readRecordSets } from '../../lib/route53/records.js';

const route53 = mockClient(Route53Client);
const client = new Route53Client({});

afterEach(() => {
  route53.reset();
});

const txt = (name: string, ...values: string[]): ResourceRecordSet => ({
  Name: name,
  Type: 'TXT',
  TTL: 60,
  ResourceRecords: values.map((Value) => ({ Value })),
});

const listInputs = () =>
  route53.commandCalls(ListResourceRecordSetsCommand).map((call) => call.args[0].input);

describe('chooseReadStrategy', () => {
  it('lists a small zone in full rather than one call per name', () => {
    expect(chooseReadStrategy(40, 3)).toBe('full');
  });

  it('lists in full when the pages cost no more calls than the names', () => {
    expect(chooseReadStrategy(900, 3)).toBe('full');
  });

  it('looks names up one by one when the zone takes more pages than there are names', () => {
    expect(chooseReadStrategy(901, 3)).toBe('targeted');
    expect(chooseReadStrategy(5000, 2)).toBe('targeted');
  });

  it('treats an empty zone as one page', () => {
    expect(chooseReadStrategy(0, 1)).toBe('full');
  });

  it('looks up a few names in a zone of unknown size, and lists it for many', () => {
    expect(chooseReadStrategy(undefined, 2)).toBe('targeted');
    expect(chooseReadStrategy(undefined, 20)).toBe('full');
  });
});

describe('readRecordSets', () => {
  it('reads a small zone with one listing and keeps only the names asked', async () => {
    route53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [
        {
          Name: 'example.com.',
          Type: 'NS',
          TTL: 172800,
          ResourceRecords: [{ Value: 'ns-1.awsdns-00.com.' }],
        },
        txt('_dnsauth.example.com.', '"token-1"'),
        {
          Name: '_abc.example.com.',
          Type: 'CNAME',
          TTL: 300,
          ResourceRecords: [{ Value: 'x.trust-provider.com.' }],
        },
        txt('_other.example.com.', '"unrelated"'),
      ],
      IsTruncated: false,
      MaxItems: 300,
    });

    const sets = await readRecordSets(client, { id: 'Z1', name: 'example.com', recordCount: 4 }, [
      '_dnsauth.example.com',
      '_ABC.example.com.',
      '_missing.example.com',
    ]);

    expect(listInputs()).toEqual([{ HostedZoneId: 'Z1', MaxItems: 300 }]);
    expect(sets).toEqual(
      new Map([
        [
          '_dnsauth.example.com',
          [{ name: '_dnsauth.example.com', type: 'TXT', ttl: 60, values: ['"token-1"'], special: false }],
        ],
        [
          '_abc.example.com',
          [
            {
              name: '_abc.example.com',
              type: 'CNAME',
              ttl: 300,
              values: ['x.trust-provider.com.'],
              special: false,
            },
          ],
        ],
        ['_missing.example.com', []],
      ]),
    );
  });

  it('follows NextRecordName, NextRecordType and NextRecordIdentifier through a full listing', async () => {
    route53
      .on(ListResourceRecordSetsCommand)
      .resolvesOnce({
        ResourceRecordSets: [txt('_a.example.com.', '"a"')],
        IsTruncated: true,
        NextRecordName: '_b.example.com.',
        NextRecordType: 'TXT',
        NextRecordIdentifier: 'blue',
        MaxItems: 300,
      })
      .resolvesOnce({
        ResourceRecordSets: [{ ...txt('_b.example.com.', '"b"'), SetIdentifier: 'blue', Weight: 10 }],
        IsTruncated: false,
        MaxItems: 300,
      });

    const sets = await readRecordSets(client, { id: 'Z1', name: 'example.com', recordCount: 301 }, [
      '_a.example.com',
      '_b.example.com',
    ]);

    expect(listInputs()).toEqual([
      { HostedZoneId: 'Z1', MaxItems: 300 },
      {
        HostedZoneId: 'Z1',
        MaxItems: 300,
        StartRecordName: '_b.example.com.',
        StartRecordType: 'TXT',
        StartRecordIdentifier: 'blue',
      },
    ]);
    expect(sets.get('_a.example.com')).toEqual([
      { name: '_a.example.com', type: 'TXT', ttl: 60, values: ['"a"'], special: false },
    ]);
    expect(sets.get('_b.example.com')).toEqual([
      { name: '_b.example.com', type: 'TXT', ttl: 60, values: ['"b"'], special: true },
    ]);
  });

  it('looks up each name once in a large zone, starting the listing at that name', async () => {
    route53
      .on(ListResourceRecordSetsCommand, { StartRecordName: '_dnsauth.example.com' })
      .resolves({
        ResourceRecordSets: [
          txt('_dnsauth.example.com.', '"t1"', '"t2"'),
          txt('a._dnsauth.example.com.', '"no"'),
        ],
        IsTruncated: true,
        NextRecordName: 'b.example.com.',
        NextRecordType: 'A',
        MaxItems: 100,
      })
      .on(ListResourceRecordSetsCommand, { StartRecordName: '_abc.example.com' })
      .resolves({
        ResourceRecordSets: [
          { Name: 'api.example.com.', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] },
        ],
        IsTruncated: true,
        NextRecordName: 'app.example.com.',
        NextRecordType: 'A',
        MaxItems: 100,
      });

    const sets = await readRecordSets(client, { id: 'Z1', name: 'example.com', recordCount: 25_000 }, [
      '_dnsauth.example.com',
      '_abc.example.com',
    ]);

    expect(listInputs()).toEqual([
      { HostedZoneId: 'Z1', StartRecordName: '_dnsauth.example.com', MaxItems: 100 },
      { HostedZoneId: 'Z1', StartRecordName: '_abc.example.com', MaxItems: 100 },
    ]);
    expect(sets).toEqual(
      new Map([
        [
          '_dnsauth.example.com',
          [{ name: '_dnsauth.example.com', type: 'TXT', ttl: 60, values: ['"t1"', '"t2"'], special: false }],
        ],
        ['_abc.example.com', []],
      ]),
    );
  });

  it('follows a targeted lookup onto the next page while the name continues there', async () => {
    route53
      .on(ListResourceRecordSetsCommand)
      .resolvesOnce({
        ResourceRecordSets: [{ ...txt('_x.example.com.', '"1"'), SetIdentifier: 'one', Weight: 1 }],
        IsTruncated: true,
        NextRecordName: '_x.example.com.',
        NextRecordType: 'TXT',
        NextRecordIdentifier: 'two',
        MaxItems: 1,
      })
      .resolvesOnce({
        ResourceRecordSets: [{ ...txt('_x.example.com.', '"2"'), SetIdentifier: 'two', Weight: 1 }],
        IsTruncated: false,
        MaxItems: 1,
      });

    const sets = await readRecordSets(client, { id: 'Z1', name: 'example.com', recordCount: 10_000 }, [
      '_x.example.com',
    ]);

    expect(listInputs()).toEqual([
      { HostedZoneId: 'Z1', StartRecordName: '_x.example.com', MaxItems: 100 },
      {
        HostedZoneId: 'Z1',
        StartRecordName: '_x.example.com.',
        StartRecordType: 'TXT',
        StartRecordIdentifier: 'two',
        MaxItems: 100,
      },
    ]);
    expect(sets.get('_x.example.com')?.map((set) => set.values)).toEqual([['"1"'], ['"2"']]);
  });

  it('decodes \\052 in names returned by Route53', async () => {
    route53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [
        {
          Name: '\\052.example.com.',
          Type: 'CNAME',
          TTL: 300,
          ResourceRecords: [{ Value: 'lb.example.net.' }],
        },
      ],
      IsTruncated: false,
      MaxItems: 300,
    });

    const sets = await readRecordSets(client, { id: 'Z1', name: 'example.com', recordCount: 1 }, [
      '*.example.com',
    ]);

    expect(sets.get('*.example.com')).toEqual([
      { name: '*.example.com', type: 'CNAME', ttl: 300, values: ['lb.example.net.'], special: false },
    ]);
  });

  it.each<[string, Partial<ResourceRecordSet>]>([
    [
      'alias',
      { AliasTarget: { HostedZoneId: 'Z2', DNSName: 'd1.cloudfront.net.', EvaluateTargetHealth: false } },
    ],
    ['weighted', { SetIdentifier: 'a', Weight: 10 }],
    ['latency', { SetIdentifier: 'a', Region: 'eu-west-1' }],
    ['failover', { SetIdentifier: 'a', Failover: 'PRIMARY' }],
    ['geolocation', { SetIdentifier: 'a', GeoLocation: { CountryCode: 'DE' } }],
    ['multivalue', { SetIdentifier: 'a', MultiValueAnswer: true }],
    ['IP-based', { SetIdentifier: 'a', CidrRoutingConfig: { CollectionId: 'c', LocationName: 'l' } }],
    ['geoproximity', { SetIdentifier: 'a', GeoProximityLocation: { AWSRegion: 'eu-west-1', Bias: 0 } }],
  ])('flags a %s record set as special', async (_kind, fields) => {
    route53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [{ Name: '_x.example.com.', Type: 'CNAME', ...fields }],
      IsTruncated: false,
      MaxItems: 300,
    });

    const sets = await readRecordSets(client, { id: 'Z1', name: 'example.com', recordCount: 1 }, [
      '_x.example.com',
    ]);

    expect(sets.get('_x.example.com')?.[0]?.special).toBe(true);
  });

  it('makes no call when no names are asked', async () => {
    const sets = await readRecordSets(client, { id: 'Z1', name: 'example.com', recordCount: 1 }, []);

    expect(sets.size).toBe(0);
    expect(listInputs()).toEqual([]);
  });
});
