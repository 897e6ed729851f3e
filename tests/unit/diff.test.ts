import type { Change } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { diffZone } from '../../lib/route53/diff.js';
import type {
  ExistingRecordSet,
  HostedZoneRef,
  OwnedRecord,
  ValidationRecord,
} from '../../lib/route53/types.js';

const zone: HostedZoneRef = { id: 'Z123', name: 'example.com' };
const ttl = 60;

function wantCname(name: string, value: string, certificateId = 'cert-1'): ValidationRecord {
  return { certificateId, domain: 'example.com', name, type: 'CNAME', value };
}

function wantTxt(name: string, value: string, certificateId = 'cert-1'): ValidationRecord {
  return { certificateId, domain: 'example.com', name, type: 'TXT', value };
}

function existingSet(
  name: string,
  type: string,
  values: string[],
  special = false,
  setTtl = 300,
): ExistingRecordSet {
  return { name, type, ttl: setTtl, values, special };
}

function owned(name: string, type: 'CNAME' | 'TXT', value: string, certificateId = 'old-cert'): OwnedRecord {
  return { certificateId, name, type, value };
}

const create = (name: string, type: string, values: string[], setTtl = ttl): Change =>
  ({
    Action: 'CREATE',
    ResourceRecordSet: {
      Name: name,
      Type: type,
      TTL: setTtl,
      ResourceRecords: values.map((Value) => ({ Value })),
    },
  }) as Change;

const remove = (set: ExistingRecordSet): Change =>
  ({
    Action: 'DELETE',
    ResourceRecordSet: {
      Name: set.name,
      Type: set.type,
      TTL: set.ttl,
      ResourceRecords: set.values.map((Value) => ({ Value })),
    },
  }) as Change;

describe('diffZone with CNAME records', () => {
  it('creates a missing CNAME', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [],
      ttl,
      owned: [],
    });

    expect(diff.changes.map((c) => c.changes)).toEqual([[create('_a.example.com', 'CNAME', ['x.ca.test'])]]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['created']);
  });

  it('records the created value as the tool\u2019s own', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [],
      ttl,
      owned: [],
    });

    expect(diff.changes[0]?.owns).toEqual([owned('_a.example.com', 'CNAME', 'x.ca.test', 'cert-1')]);
    expect(diff.changes[0]?.outcomes[0]).toBe(diff.outcomes[0]);
  });

  it('writes nothing when the same CNAME target is already there', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_A.example.com.', 'CNAME', ['X.CA.test.'])],
      ttl,
      owned: [],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['unchanged']);
  });

  it('replaces its own CNAME with another target by deleting it as read and creating the new one', () => {
    const current = existingSet('_a.example.com.', 'CNAME', ['old.ca.test.']);
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [current],
      ttl,
      owned: [owned('_a.example.com', 'CNAME', 'old.ca.test')],
    });

    expect(diff.changes[0]?.changes).toEqual([
      remove(current),
      create('_a.example.com', 'CNAME', ['x.ca.test']),
    ]);
    expect(diff.changes[0]?.disowns).toEqual([owned('_a.example.com', 'CNAME', 'old.ca.test')]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['updated']);
  });

  it('leaves a CNAME with another target that is not its own, as a conflict', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_a.example.com.', 'CNAME', ['attacker.example.net.'])],
      ttl,
      owned: [],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]).toMatchObject({
      action: 'conflict',
      reason: expect.stringMatching(/not written by this tool/),
    });
  });

  it('never replaces a CNAME without a state table, which would tell its own from others', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_a.example.com.', 'CNAME', ['old.ca.test.'])],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]).toMatchObject({
      action: 'conflict',
      reason: expect.stringMatching(/without a state table/),
    });
  });

  it('reports a conflict rather than replace a record of another type', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_a.example.com.', 'A', ['192.0.2.1'])],
      ttl,
      owned: [],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]).toMatchObject({
      action: 'conflict',
      reason: expect.stringMatching(/an A record/),
    });
  });

  it('never touches an alias or routing-policy set', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_a.example.com.', 'CNAME', [], true)],
      ttl,
      owned: [],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]?.action).toBe('conflict');
  });

  it('writes no CNAME when certificates want different targets at one name', () => {
    const diff = diffZone({
      zone,
      wanted: [
        wantCname('_a.example.com', 'x.ca.test', 'c1'),
        wantCname('_a.example.com', 'y.ca.test', 'c2'),
      ],
      existing: [],
      ttl,
      owned: [],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['conflict', 'conflict']);
  });

  it('deletes its own CNAME as read once its certificate is done', () => {
    const current = existingSet('_a.example.com.', 'CNAME', ['old.ca.test.']);
    const value = owned('_a.example.com', 'CNAME', 'old.ca.test');
    const diff = diffZone({ zone, wanted: [], existing: [current], ttl, owned: [value], remove: [value] });

    expect(diff.changes[0]?.changes).toEqual([remove(current)]);
    expect(diff.removals).toEqual([
      {
        certificateId: 'old-cert',
        name: '_a.example.com',
        type: 'CNAME',
        value: 'old.ca.test',
        zone,
        action: 'removed',
      },
    ]);
    expect(diff.changes[0]?.disowns).toEqual([value]);
  });

  it('only forgets an owned CNAME that someone else has changed meanwhile', () => {
    const value = owned('_a.example.com', 'CNAME', 'old.ca.test');
    const diff = diffZone({
      zone,
      wanted: [],
      existing: [existingSet('_a.example.com.', 'CNAME', ['someone-else.example.net.'])],
      ttl,
      owned: [value],
      remove: [value],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.gone).toEqual([value]);
  });
});

describe('diffZone with TXT records', () => {
  it('creates a missing TXT set with the value quoted and the configured TTL', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'token-1')],
      existing: [],
      ttl,
      owned: [],
    });

    expect(diff.changes[0]?.changes).toEqual([create('_dnsauth.example.com', 'TXT', ['"token-1"'])]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['created']);
  });

  it('adds its value to a set, keeping the others byte for byte and the set\u2019s TTL', () => {
    const current = existingSet(
      '_dnsauth.example.com.',
      'TXT',
      ['"v=foreign" "second string"', '"caf\\303\\251"'],
      false,
      3600,
    );
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'token-1')],
      existing: [current],
      ttl,
      owned: [],
    });

    expect(diff.changes[0]?.changes).toEqual([
      remove(current),
      create(
        '_dnsauth.example.com.',
        'TXT',
        ['"v=foreign" "second string"', '"caf\\303\\251"', '"token-1"'],
        3600,
      ),
    ]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['updated']);
  });

  it('adds its value without a state table too, deleting the set only as read', () => {
    const current = existingSet('_dnsauth.example.com.', 'TXT', ['"foreign"']);
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'token-1')],
      existing: [current],
      ttl,
    });

    expect(diff.changes[0]?.changes[0]).toEqual(remove(current));
    expect(diff.changes[0]?.changes[1]?.ResourceRecordSet?.ResourceRecords).toEqual([
      { Value: '"foreign"' },
      { Value: '"token-1"' },
    ]);
  });

  it('writes nothing when the TXT value is already present', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'token-1')],
      existing: [existingSet('_dnsauth.example.com.', 'TXT', ['"token-1"'])],
      ttl,
      owned: [],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['unchanged']);
  });

  it('writes one set with both values when two certificates share a TXT name', () => {
    const diff = diffZone({
      zone,
      wanted: [
        wantTxt('_dnsauth.example.com', 'b-token', 'c2'),
        wantTxt('_dnsauth.example.com', 'a-token', 'c1'),
      ],
      existing: [],
      ttl,
      owned: [],
    });

    expect(diff.changes).toHaveLength(1);
    expect(diff.changes[0]?.changes[0]?.ResourceRecordSet?.ResourceRecords).toEqual([
      { Value: '"a-token"' },
      { Value: '"b-token"' },
    ]);
  });

  it('removes its own value once its certificate is done, keeping foreign values and the TTL', () => {
    const current = existingSet('_dnsauth.example.com.', 'TXT', ['"foreign"', '"old-token"'], false, 900);
    const value = owned('_dnsauth.example.com', 'TXT', 'old-token');
    const diff = diffZone({ zone, wanted: [], existing: [current], ttl, owned: [value], remove: [value] });

    expect(diff.changes[0]?.changes).toEqual([
      remove(current),
      create('_dnsauth.example.com.', 'TXT', ['"foreign"'], 900),
    ]);
    expect(diff.removals.map((o) => o.action)).toEqual(['removed']);
  });

  it('deletes the set when only its own values were in it', () => {
    const current = existingSet('_dnsauth.example.com.', 'TXT', ['"old-token"']);
    const value = owned('_dnsauth.example.com', 'TXT', 'old-token');
    const diff = diffZone({ zone, wanted: [], existing: [current], ttl, owned: [value], remove: [value] });

    expect(diff.changes[0]?.changes).toEqual([remove(current)]);
  });

  it('keeps an owned value another certificate still wants', () => {
    const value = owned('_dnsauth.example.com', 'TXT', 'shared');
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'shared', 'new-cert')],
      existing: [existingSet('_dnsauth.example.com.', 'TXT', ['"shared"'])],
      ttl,
      owned: [value],
      remove: [value],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.removals).toEqual([]);
  });

  it('forgets an owned value that is no longer in the zone without writing', () => {
    const value = owned('_dnsauth.example.com', 'TXT', 'old-token');
    const diff = diffZone({
      zone,
      wanted: [],
      existing: [existingSet('_dnsauth.example.com.', 'TXT', ['"foreign"'])],
      ttl,
      owned: [value],
      remove: [value],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.gone).toEqual([value]);
  });

  it('reports a conflict when a CNAME already holds the TXT name', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'token-1')],
      existing: [existingSet('_dnsauth.example.com.', 'CNAME', ['elsewhere.example.net.'])],
      ttl,
      owned: [],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]?.action).toBe('conflict');
  });

  it('refuses a record outside the hosted zone', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.org', 'token-1')],
      existing: [],
      ttl,
      owned: [],
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]).toMatchObject({
      action: 'refused',
      reason: expect.stringMatching(/not in hosted zone/),
    });
  });

  it('reports a conflict when a CNAME and a TXT are both wanted at one name', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_x.example.com', 'token'), wantCname('_x.example.com', 'x.ca.test')],
      existing: [],
      ttl,
      owned: [],
    });

    expect(diff.outcomes.map((o) => o.action)).toEqual(['conflict', 'conflict']);
  });

  it('sorts changes by name, then type', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.b.example.com', 't'), wantCname('_a.example.com', 'x.ca.test')],
      existing: [],
      ttl,
      owned: [],
    });

    expect(diff.changes.map((c) => c.name)).toEqual(['_a.example.com', '_dnsauth.b.example.com']);
  });
});
