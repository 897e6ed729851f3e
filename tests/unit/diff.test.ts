import { describe, expect, it } from 'vitest';
import { diffZone } from '../../lib/route53/diff.js';
import type { ExistingRecordSet, HostedZoneRef, ValidationRecord } from '../../lib/route53/types.js';

const zone: HostedZoneRef = { id: 'Z123', name: 'example.com' };
const ttl = 60;

function wantCname(name: string, value: string, certificateId = 'cert-1'): ValidationRecord {
  return { certificateId, domain: 'example.com', name, type: 'CNAME', value };
}

function wantTxt(name: string, value: string, certificateId = 'cert-1'): ValidationRecord {
  return { certificateId, domain: 'example.com', name, type: 'TXT', value };
}

function existingSet(name: string, type: string, values: string[], special = false): ExistingRecordSet {
  return { name, type, ttl: 300, values, special };
}

describe('diffZone with CNAME records', () => {
  it('creates a missing CNAME', () => {
    const diff = diffZone({ zone, wanted: [wantCname('_a.example.com', 'x.ca.test')], existing: [], ttl });

    expect(diff.changes.map((c) => c.change)).toEqual([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: '_a.example.com',
          Type: 'CNAME',
          TTL: 60,
          ResourceRecords: [{ Value: 'x.ca.test' }],
        },
      },
    ]);
    expect(diff.outcomes).toEqual([
      {
        certificateId: 'cert-1',
        name: '_a.example.com',
        type: 'CNAME',
        value: 'x.ca.test',
        zone,
        action: 'created',
      },
    ]);
  });

  it('links the created outcome to its change', () => {
    const diff = diffZone({ zone, wanted: [wantCname('_a.example.com', 'x.ca.test')], existing: [], ttl });

    expect(diff.changes[0]?.outcomes).toEqual([diff.outcomes[0]]);
    expect(diff.changes[0]?.outcomes[0]).toBe(diff.outcomes[0]);
  });

  it('writes nothing when the same CNAME target is already there', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_A.example.com.', 'CNAME', ['X.CA.test.'])],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['unchanged']);
  });

  it('replaces a CNAME with a different target', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_a.example.com.', 'CNAME', ['old.ca.test.'])],
      ttl,
    });

    expect(diff.changes.map((c) => c.change)).toEqual([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: '_a.example.com',
          Type: 'CNAME',
          TTL: 60,
          ResourceRecords: [{ Value: 'x.ca.test' }],
        },
      },
    ]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['updated']);
  });

  it('reports a conflict instead of replacing an existing TXT record with a CNAME', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_a.example.com.', 'TXT', ['"hello"'])],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes).toEqual([
      {
        certificateId: 'cert-1',
        name: '_a.example.com',
        type: 'CNAME',
        value: 'x.ca.test',
        zone,
        action: 'conflict',
        reason: 'a TXT record already exists at this name; a CNAME cannot replace it',
      },
    ]);
  });

  it('reports a conflict instead of replacing an existing A record with a CNAME', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_a.example.com.', 'A', ['192.0.2.1'])],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]).toMatchObject({
      action: 'conflict',
      reason: 'an A record already exists at this name; a CNAME cannot replace it',
    });
  });

  it('never touches an alias record set at the name', () => {
    const diff = diffZone({
      zone,
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('_a.example.com.', 'CNAME', [], true)],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]).toMatchObject({ action: 'conflict', reason: expect.stringMatching(/alias/) });
  });

  it('writes nothing when two certificates want different CNAME targets at one name', () => {
    const diff = diffZone({
      zone,
      wanted: [
        wantCname('_a.example.com', 'x.ca.test', 'cert-1'),
        wantCname('_a.example.com', 'y.ca.test', 'cert-2'),
      ],
      existing: [],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes.map((o) => [o.certificateId, o.action, o.reason])).toEqual([
      [
        'cert-1',
        'conflict',
        'certificates want different CNAME targets at this name (x.ca.test, y.ca.test); none is written',
      ],
      [
        'cert-2',
        'conflict',
        'certificates want different CNAME targets at this name (x.ca.test, y.ca.test); none is written',
      ],
    ]);
  });

  it('writes one CNAME when two certificates want the same target', () => {
    const diff = diffZone({
      zone,
      wanted: [
        wantCname('_a.example.com', 'x.ca.test', 'cert-1'),
        wantCname('_a.example.com', 'x.ca.test', 'cert-2'),
      ],
      existing: [],
      ttl,
    });

    expect(diff.changes).toHaveLength(1);
    expect(diff.changes[0]?.outcomes.map((o) => o.certificateId)).toEqual(['cert-1', 'cert-2']);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['created', 'created']);
  });

  it('reports a conflict when a TXT and a CNAME are wanted at one name', () => {
    const diff = diffZone({
      zone,
      wanted: [
        wantCname('_a.example.com', 'x.ca.test', 'cert-1'),
        wantTxt('_a.example.com', 'token', 'cert-2'),
      ],
      existing: [],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['conflict', 'conflict']);
  });
});

describe('diffZone with TXT records', () => {
  it('creates a missing TXT set with the value quoted', () => {
    const diff = diffZone({ zone, wanted: [wantTxt('_dnsauth.example.com', 'token-1')], existing: [], ttl });

    expect(diff.changes.map((c) => c.change)).toEqual([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: '_dnsauth.example.com',
          Type: 'TXT',
          TTL: 60,
          ResourceRecords: [{ Value: '"token-1"' }],
        },
      },
    ]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['created']);
  });

  it('keeps the values already there and adds the wanted one after them', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'new-token')],
      existing: [existingSet('_dnsauth.example.com.', 'TXT', ['"other-order-token"'])],
      ttl,
    });

    expect(diff.changes.map((c) => c.change)).toEqual([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: '_dnsauth.example.com',
          Type: 'TXT',
          TTL: 60,
          ResourceRecords: [{ Value: '"other-order-token"' }, { Value: '"new-token"' }],
        },
      },
    ]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['updated']);
  });

  it('writes nothing when the TXT value is already present', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'token-1')],
      existing: [existingSet('_dnsauth.example.com.', 'TXT', ['"unrelated"', '"token-1"'])],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['unchanged']);
  });

  it('carries only the missing values in the change when some are already present', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'present'), wantTxt('_dnsauth.example.com', 'missing')],
      existing: [existingSet('_dnsauth.example.com.', 'TXT', ['"present"'])],
      ttl,
    });

    expect(diff.outcomes.map((o) => o.action)).toEqual(['unchanged', 'updated']);
    expect(diff.changes[0]?.outcomes).toEqual([diff.outcomes[1]]);
  });

  it('reports a conflict when a CNAME already holds the TXT name', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'token-1')],
      existing: [existingSet('_dnsauth.example.com.', 'CNAME', ['elsewhere.test.'])],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]).toMatchObject({
      action: 'conflict',
      reason: 'a CNAME already exists at this name; a TXT record cannot be added beside it',
    });
  });

  it('writes one set with both values when two certificates share a TXT name', () => {
    const diff = diffZone({
      zone,
      wanted: [
        wantTxt('_dnsauth.example.com', 'token-b', 'cert-2'),
        wantTxt('_dnsauth.example.com', 'token-a', 'cert-1'),
      ],
      existing: [],
      ttl,
    });

    expect(diff.changes.map((c) => c.change)).toEqual([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: '_dnsauth.example.com',
          Type: 'TXT',
          TTL: 60,
          ResourceRecords: [{ Value: '"token-a"' }, { Value: '"token-b"' }],
        },
      },
    ]);
    expect(diff.changes[0]?.outcomes.map((o) => o.certificateId)).toEqual(['cert-2', 'cert-1']);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['created', 'created']);
  });

  it('coexists with other record types at the name', () => {
    const diff = diffZone({
      zone,
      wanted: [wantTxt('_dnsauth.example.com', 'token-1')],
      existing: [existingSet('_dnsauth.example.com.', 'A', ['192.0.2.1'])],
      ttl,
    });

    expect(diff.changes).toHaveLength(1);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['created']);
  });
});

describe('diffZone across names', () => {
  it('sorts changes by name, then type', () => {
    const diff = diffZone({
      zone,
      wanted: [
        wantTxt('_dnsauth.www.example.com', 't'),
        wantCname('_b.example.com', 'b.ca.test'),
        wantTxt('_dnsauth.example.com', 't'),
      ],
      existing: [],
      ttl,
    });

    expect(diff.changes.map((c) => c.change.ResourceRecordSet?.Name)).toEqual([
      '_b.example.com',
      '_dnsauth.example.com',
      '_dnsauth.www.example.com',
    ]);
  });

  it('refuses a record outside the hosted zone', () => {
    const diff = diffZone({ zone, wanted: [wantCname('_a.example.org', 'x.ca.test')], existing: [], ttl });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes[0]).toMatchObject({
      action: 'refused',
      reason: 'record name _a.example.org is not in hosted zone example.com',
    });
  });

  it('matches existing names given with Route53 escapes and a trailing dot', () => {
    const diff = diffZone({
      zone: { id: 'Z9', name: 'example.com.' },
      wanted: [wantCname('_a.example.com', 'x.ca.test')],
      existing: [existingSet('\\137a.example.com.', 'CNAME', ['x.ca.test'])],
      ttl,
    });

    expect(diff.changes).toEqual([]);
    expect(diff.outcomes.map((o) => o.action)).toEqual(['unchanged']);
  });
});
