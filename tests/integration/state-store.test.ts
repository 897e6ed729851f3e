import { createHash } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoStateStore } from '../../lib/state/dynamo-store.js';
import { ClaimNotHeldError } from '../../lib/state/errors.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { ensureStateTable } from '../../lib/state/setup.js';
import type { CertificateMemory, OwnedValue, StateStore } from '../../lib/state/types.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { type MotoServer, startMoto } from '../helpers/moto.js';

/*
 * One contract, two stores: every behaviour below holds for the in-memory store and for the
 * DynamoDB store against moto's DynamoDB (a new table per test, so no test sees another's items).
 */

let moto: MotoServer;
let dynamo: DynamoDBClient;
let tables = 0;

beforeAll(async () => {
  moto = await startMoto();
  dynamo = new DynamoDBClient({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
});

afterAll(async () => {
  dynamo?.destroy();
  await moto?.stop();
});

interface Subject {
  store: StateStore;
  clock: FakeClock;
  /** The table behind a DynamoDB store. */
  table?: string;
}

const SUBJECTS: Array<{ kind: string; make: () => Promise<Subject> }> = [
  {
    kind: 'MemoryStateStore',
    make: async () => {
      const clock = new FakeClock();
      return { store: new MemoryStateStore(clock), clock };
    },
  },
  {
    kind: 'DynamoStateStore',
    make: async () => {
      const clock = new FakeClock();
      const table = `state-contract-${++tables}`;
      await ensureStateTable(dynamo, table);
      // The store gets its own client so that destroying it leaves the suite's client alone.
      const client = new DynamoDBClient({
        endpoint: moto.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      });
      return { store: new DynamoStateStore({ client, tableName: table, clock }), clock, table };
    },
  },
];

const SINCE = Date.UTC(2026, 0, 15, 11, 0, 0);

function owned(
  name: string,
  type: OwnedValue['type'],
  value: string,
  certificateId = 'cert0001',
): OwnedValue {
  return { zoneId: 'Z04417962Q7EXAMPLE', name, type, value, certificateId, since: SINCE };
}

const byKey = (a: OwnedValue, b: OwnedValue) =>
  JSON.stringify([a.name, a.type, a.value]) < JSON.stringify([b.name, b.type, b.value]) ? -1 : 1;
const sorted = (values: OwnedValue[]) => [...values].sort(byKey);

/** Values a TXT can hold that would break a naive key: separators, quotes, escapes, non-ASCII, nothing at all. */
const AWKWARD_VALUES = [
  '20261128000000loikcc2',
  'a|b|c',
  '"quoted" "twice"',
  'back\\slash\\"',
  '%7C%25',
  'v=spf1 include:_spf.example.com ~all',
  'naïve ✓ 证书',
  '',
  'x'.repeat(255),
];

function memory(certificateId: string, overrides: Partial<CertificateMemory> = {}): CertificateMemory {
  return {
    certificateId,
    status: 4,
    listingDigest: `digest-${certificateId}`,
    recordsInPlace: false,
    readAt: SINCE,
    ...overrides,
  };
}

describe.each(SUBJECTS)('$kind', ({ make }) => {
  let subject: Subject;
  let store: StateStore;
  let clock: FakeClock;

  beforeEach(async () => {
    subject = await make();
    ({ store, clock } = subject);
    return () => {
      if (subject.store instanceof DynamoStateStore) subject.store.destroy();
    };
  });

  describe('owned values', () => {
    it('gives back every field of values with awkward text', async () => {
      const values = AWKWARD_VALUES.map((v) => owned('_dnsauth.example.com', 'TXT', v));

      await store.own(values);

      expect(sorted(await store.ownedAt(['_dnsauth.example.com']))).toEqual(sorted(values));
      expect(sorted(await store.allOwned())).toEqual(sorted(values));
    });

    it('finds values by exact name only, whatever the name holds', async () => {
      const values = [
        owned('_dnsauth.example.com', 'TXT', 'plain'),
        owned('_dnsauth.example.com|TXT', 'TXT', 'plain'),
        owned('_dnsauth.example.com%7CTXT', 'TXT', 'plain'),
        owned('_dnsauth.example.co', 'TXT', 'prefix of another name'),
        owned('sub._dnsauth.example.com', 'TXT', 'plain'),
      ];
      await store.own(values);

      const found = await store.ownedAt(['_dnsauth.example.com']);

      expect(found).toEqual([values[0]]);
    });

    it('keeps a CNAME and a TXT with the same name and value apart', async () => {
      const cname = owned('_0123456789abcdef0123456789abcdef.example.com', 'CNAME', 'a.b.trust-provider.com');
      const txt = { ...cname, type: 'TXT' as const };
      await store.own([cname, txt]);

      await store.disown([txt]);

      expect(await store.ownedAt([cname.name])).toEqual([cname]);
    });

    it('keeps the first record of a value owned twice', async () => {
      const first = owned('_dnsauth.example.com', 'TXT', 'token', 'cert0001');
      await store.own([first]);

      await store.own([{ ...first, certificateId: 'cert0002', since: SINCE + 60_000 }]);

      expect(await store.allOwned()).toEqual([first]);
    });

    it('keeps one record of a value two runs own at once', async () => {
      const value = owned('_dnsauth.example.com', 'TXT', 'token');

      await Promise.all(
        ['cert0001', 'cert0002', 'cert0003'].map((certificateId) => store.own([{ ...value, certificateId }])),
      );

      expect(await store.allOwned()).toEqual([expect.objectContaining({ value: 'token' })]);
    });

    it('forgets exactly the values disowned, and disowning one not owned is no error', async () => {
      const values = AWKWARD_VALUES.map((v) => owned('_dnsauth.example.com', 'TXT', v));
      await store.own(values);

      await store.disown([
        values[1] as OwnedValue,
        values[7] as OwnedValue,
        owned('nowhere.example', 'TXT', 'x'),
      ]);

      expect(sorted(await store.allOwned())).toEqual(sorted(values.filter((_, i) => i !== 1 && i !== 7)));
    });

    it('handles more values than one batch holds, and many names at once', async () => {
      const values = Array.from({ length: 30 }, (_, n) => [
        owned(`_dnsauth.host${n}.example.com`, 'TXT', `first-${n}`),
        owned(`_dnsauth.host${n}.example.com`, 'TXT', `second-${n}`),
      ]).flat();
      await store.own(values);

      const many = Array.from({ length: 20 }, (_, n) => `_dnsauth.host${n}.example.com`);
      const few = ['_dnsauth.host3.example.com', '_dnsauth.host29.example.com', 'absent.example.com'];

      expect(await store.allOwned()).toHaveLength(60);
      expect(sorted(await store.ownedAt(many))).toEqual(sorted(values.filter((v) => many.includes(v.name))));
      expect(sorted(await store.ownedAt(few))).toEqual(sorted(values.filter((v) => few.includes(v.name))));
      await store.disown(values);
      expect(await store.allOwned()).toEqual([]);
    });

    it('answers an empty list for no names', async () => {
      await store.own([owned('_dnsauth.example.com', 'TXT', 'v')]);

      expect(await store.ownedAt([])).toEqual([]);
    });
  });

  describe('certificate memories', () => {
    it('gives back what was remembered, and nothing for certificates never seen', async () => {
      const pending = memory('pend0001');
      const gone = memory('gone0001', { status: null, recordsInPlace: true });
      await store.remember([pending, gone]);

      const found = await store.memories(['pend0001', 'gone0001', 'never001']);

      expect(found).toEqual(
        new Map([
          ['pend0001', pending],
          ['gone0001', gone],
        ]),
      );
    });

    it('replaces a memory with the newer one, and forgets', async () => {
      await store.remember([memory('cert0001')]);
      const newer = memory('cert0001', { status: 1, readAt: SINCE + 3_600_000, recordsInPlace: true });

      await store.remember([newer]);
      expect((await store.memories(['cert0001'])).get('cert0001')).toEqual(newer);

      await store.forget(['cert0001', 'never001']);
      expect(await store.memories(['cert0001'])).toEqual(new Map());
    });

    it('reads and writes more memories than one batch holds', async () => {
      const all = Array.from({ length: 130 }, (_, n) => memory(`cert${String(n).padStart(4, '0')}`));
      await store.remember(all);

      const found = await store.memories(all.map((m) => m.certificateId));

      expect(found.size).toBe(130);
      expect(found.get('cert0129')).toEqual(all[129]);
    });
  });

  describe('claims', () => {
    it('lets exactly one of ten racing runs claim', async () => {
      const owners = Array.from({ length: 10 }, (_, n) => `run-${n}`);

      const won = await Promise.all(
        owners.map((owner) => store.claim('apply:example.com', owner, { ttlMs: 60_000 })),
      );

      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = owners[won.indexOf(true)];
      expect(await store.claimOf('apply:example.com')).toEqual({
        key: 'apply:example.com',
        owner: winner,
        at: clock.now(),
      });
    });

    it('answers true again to the holder asking again (a retried call), and false to anyone else', async () => {
      await store.claim('k', 'run-a', { ttlMs: 60_000 });

      expect(await store.claim('k', 'run-a', { ttlMs: 60_000 })).toBe(true);
      expect(await store.claim('k', 'run-b', { ttlMs: 60_000 })).toBe(false);
    });

    it('lets no one claim a done claim again, the holder included', async () => {
      await store.claim('apply:example.com', 'run-a', { ttlMs: 86_400_000 });
      clock.time += 1_000;

      await store.complete('apply:example.com', 'run-a', 'newCert1');

      expect(await store.claim('apply:example.com', 'run-b', { ttlMs: 60_000 })).toBe(false);
      expect(await store.claim('apply:example.com', 'run-a', { ttlMs: 60_000 })).toBe(false);
      expect(await store.claimOf('apply:example.com')).toEqual({
        key: 'apply:example.com',
        owner: 'run-a',
        at: clock.now() - 1_000,
        done: { at: clock.now(), result: 'newCert1' },
      });
    });

    it('lets the next run claim a released claim', async () => {
      await store.claim('k', 'run-a', { ttlMs: 60_000 });
      await store.release('k', 'run-a', 'ApplyCertificate failed: FailedOperation');
      expect(await store.claimOf('k')).toMatchObject({
        owner: 'run-a',
        released: { at: clock.now(), reason: 'ApplyCertificate failed: FailedOperation' },
      });

      expect(await store.claim('k', 'run-b', { ttlMs: 60_000 })).toBe(true);
      expect(await store.claimOf('k')).toEqual({ key: 'k', owner: 'run-b', at: clock.now() });
    });

    it('holds a claim until its ttl, then lets another run take it', async () => {
      await store.claim('k', 'run-a', { ttlMs: 60_000 });

      clock.time += 59_999;
      expect(await store.claim('k', 'run-b', { ttlMs: 60_000 })).toBe(false);
      expect((await store.claimOf('k'))?.owner).toBe('run-a');

      clock.time += 1;
      expect(await store.claimOf('k')).toBeUndefined();
      expect(await store.claim('k', 'run-b', { ttlMs: 60_000 })).toBe(true);
      expect((await store.claimOf('k'))?.owner).toBe('run-b');
    });

    it('ends a done claim at its ttl too', async () => {
      await store.claim('k', 'run-a', { ttlMs: 60_000 });
      await store.complete('k', 'run-a', 'done');

      clock.time += 60_000;

      expect(await store.claimOf('k')).toBeUndefined();
      expect(await store.claim('k', 'run-b', { ttlMs: 60_000 })).toBe(true);
    });

    it('refuses complete and release by a run that does not hold the claim', async () => {
      await store.claim('k', 'run-a', { ttlMs: 60_000 });

      await expect(store.complete('k', 'run-b', 'x')).rejects.toBeInstanceOf(ClaimNotHeldError);
      await expect(store.release('k', 'run-b', 'x')).rejects.toBeInstanceOf(ClaimNotHeldError);
      await expect(store.complete('never', 'run-a', 'x')).rejects.toMatchObject({
        name: 'ClaimNotHeldError',
        key: 'never',
        owner: 'run-a',
        action: 'complete',
        retryable: false,
      });
      expect(await store.claimOf('k')).toEqual({ key: 'k', owner: 'run-a', at: clock.now() });
    });

    it('refuses to release a done claim, and to complete a released one', async () => {
      await store.claim('done', 'run-a', { ttlMs: 60_000 });
      await store.complete('done', 'run-a', 'ok');
      await store.claim('given-back', 'run-a', { ttlMs: 60_000 });
      await store.release('given-back', 'run-a', 'failed');

      await expect(store.release('done', 'run-a', 'late')).rejects.toBeInstanceOf(ClaimNotHeldError);
      await expect(store.complete('given-back', 'run-a', 'late')).rejects.toBeInstanceOf(ClaimNotHeldError);
    });

    it('knows nothing of a key never claimed', async () => {
      expect(await store.claimOf('never')).toBeUndefined();
    });

    it('refuses a ttl that is not a positive number', async () => {
      await expect(store.claim('k', 'run-a', { ttlMs: 0 })).rejects.toBeInstanceOf(RangeError);
      await expect(store.firstSighting('sig', { ttlMs: Number.NaN })).rejects.toBeInstanceOf(RangeError);
    });
  });

  describe('webhook sightings', () => {
    const SIGNATURE = 'sha256=5d41402abc4b2a76b9719d911017c592ae1b6f4ea0a5d3e3e7b6c5c0f6a7f0a1';

    it('answers true to the first sighting and false to a replay', async () => {
      expect(await store.firstSighting(SIGNATURE, { ttlMs: 300_000 })).toBe(true);

      expect(await store.firstSighting(SIGNATURE, { ttlMs: 300_000 })).toBe(false);
      expect(await store.firstSighting(`${SIGNATURE}0`, { ttlMs: 300_000 })).toBe(true);
    });

    it('accepts exactly one of ten racing deliveries of one signature', async () => {
      const firsts = await Promise.all(
        Array.from({ length: 10 }, () => store.firstSighting(SIGNATURE, { ttlMs: 300_000 })),
      );

      expect(firsts.filter(Boolean)).toHaveLength(1);
    });

    it('forgets a signature once its ttl has passed', async () => {
      await store.firstSighting(SIGNATURE, { ttlMs: 300_000 });

      clock.time += 299_999;
      expect(await store.firstSighting(SIGNATURE, { ttlMs: 300_000 })).toBe(false);
      clock.time += 1;
      expect(await store.firstSighting(SIGNATURE, { ttlMs: 300_000 })).toBe(true);
    });
  });

  describe('export failures', () => {
    it('records, lists, replaces and clears failures', async () => {
      const noKey = {
        certificateId: 'cert0001',
        kind: 'no-private-key',
        reason: 'ordered with a CSR',
        at: SINCE,
      };
      const untrusted = {
        certificateId: 'cert0002',
        kind: 'untrusted-chain',
        reason: 'chain does not verify',
        fingerprint: 'ab'.repeat(32),
        at: SINCE,
      };
      await store.recordExportFailure(noKey);
      await store.recordExportFailure(untrusted);
      expect(await store.exportFailures()).toEqual(
        new Map([
          ['cert0001', noKey],
          ['cert0002', untrusted],
        ]),
      );

      const again = { ...untrusted, fingerprint: 'cd'.repeat(32), at: SINCE + 1 };
      await store.recordExportFailure(again);
      await store.clearExportFailure('cert0001');
      await store.clearExportFailure('never001');

      expect(await store.exportFailures()).toEqual(new Map([['cert0002', again]]));
    });
  });
});

describe('DynamoStateStore items', () => {
  let store: DynamoStateStore;
  let clock: FakeClock;
  let doc: DynamoDBDocumentClient;
  const table = 'state-items';

  beforeAll(async () => {
    await ensureStateTable(dynamo, table);
    doc = DynamoDBDocumentClient.from(dynamo);
  });

  beforeEach(() => {
    clock = new FakeClock();
    store = new DynamoStateStore({
      client: new DynamoDBClient({
        endpoint: moto.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      }),
      tableName: table,
      clock,
    });
    return () => store.destroy();
  });

  it('stamps claims and sightings with expiresAt in epoch seconds for the TTL sweep', async () => {
    await store.claim('ttl-claim', 'run-a', { ttlMs: 1_500 });
    await store.firstSighting('sha256=ttl-signature', { ttlMs: 300_000 });

    const claim = await doc.send(
      new GetCommand({ TableName: table, Key: { pk: 'claim#ttl-claim', sk: 'claim' } }),
    );
    const digest = createHash('sha256').update('sha256=ttl-signature').digest('base64url');
    const sighting = await doc.send(
      new GetCommand({ TableName: table, Key: { pk: `webhook#${digest}`, sk: 'webhook' } }),
    );

    expect(claim.Item?.expiresAt).toBe(Math.ceil((clock.now() + 1_500) / 1000));
    expect(sighting.Item?.expiresAt).toBe((clock.now() + 300_000) / 1000);
    // The signature itself is not kept, only its digest.
    expect(JSON.stringify(sighting.Item)).not.toContain('ttl-signature');
  });

  it('keeps owned values in one partition, with the raw fields as attributes', async () => {
    const value = owned('_dnsauth.example.com', 'TXT', 'a|b "c"');
    await store.own([value]);

    const out = await doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'owned' },
      }),
    );

    expect(out.Items).toEqual([
      expect.objectContaining({
        ...value,
        sk: expect.stringMatching(/^_dnsauth\.example\.com\|TXT\|[\w-]{43}$/),
      }),
    ]);
  });
});
