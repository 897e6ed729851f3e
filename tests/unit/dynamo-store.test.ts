import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoStateStore, ownedKey, STATE_POLICY } from '../../lib/state/dynamo-store.js';
import { ClaimNotHeldError, StateItemError, StateThrottledError } from '../../lib/state/errors.js';
import { FakeClock } from '../helpers/fake-clock.js';

const dynamo = mockClient(DynamoDBDocumentClient);
const TABLE = 'tss-state';

afterEach(() => {
  dynamo.reset();
});

function storeWith(clock = new FakeClock()) {
  const store = new DynamoStateStore({
    client: new DynamoDBClient({ region: 'us-east-1' }),
    tableName: TABLE,
    clock,
    random: () => 1,
  });
  return { store, clock };
}

const conditionFailed = () =>
  Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });

const deletes = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    name: `_dnsauth.h${i}.example.com`,
    type: 'TXT' as const,
    value: 'v',
  }));

describe('ownedKey', () => {
  it('escapes | and % in the name and keeps the value only as its digest', () => {
    const key = ownedKey({ name: 'a|b%c.example.com', type: 'TXT', value: 'x|y' });

    expect(key.pk).toBe('owned');
    expect(key.sk).toMatch(/^a%7Cb%25c\.example\.com\|TXT\|[\w-]{43}$/);
  });

  it('gives values that differ only in text different keys', () => {
    const a = ownedKey({ name: 'n', type: 'TXT', value: '"a"' });
    const b = ownedKey({ name: 'n', type: 'TXT', value: 'a' });

    expect(a.sk).not.toBe(b.sk);
  });
});

describe('DynamoStateStore', () => {
  it('claims with one conditional put that only a free, given back, expired or own claim passes', async () => {
    dynamo.on(PutCommand).resolves({});
    const { store, clock } = storeWith();

    const won = await store.claim('apply:example.com', 'run-a', { ttlMs: 60_000 });

    expect(won).toBe(true);
    expect(dynamo.commandCalls(PutCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        Item: {
          pk: 'claim#apply:example.com',
          sk: 'claim',
          key: 'apply:example.com',
          owner: 'run-a',
          at: clock.now(),
          expiresAtMs: clock.now() + 60_000,
          expiresAt: (clock.now() + 60_000) / 1000,
        },
        ConditionExpression:
          'attribute_not_exists(pk) OR attribute_exists(releasedAt) OR expiresAtMs <= :now' +
          ' OR (#owner = :owner AND attribute_not_exists(doneAt))',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':now': clock.now(), ':owner': 'run-a' },
      },
    ]);
  });

  it('reports a claim lost to a failed condition as not won', async () => {
    dynamo.on(PutCommand).rejects(conditionFailed());
    const { store } = storeWith();

    expect(await store.claim('k', 'run-b', { ttlMs: 60_000 })).toBe(false);
  });

  it('lets other errors of a claim through', async () => {
    dynamo.on(PutCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const { store } = storeWith();

    await expect(store.claim('k', 'run-b', { ttlMs: 60_000 })).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('turns a failed condition on complete into ClaimNotHeldError, keeping the cause', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed());
    const { store } = storeWith();

    const error = await store.complete('k', 'run-b', 'x').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ClaimNotHeldError);
    expect((error as Error).cause).toMatchObject({ name: 'ConditionalCheckFailedException' });
  });

  it('writes in batches of 25 and names each key once', async () => {
    dynamo.on(BatchWriteCommand).resolves({});
    const { store } = storeWith();

    await store.disown([...deletes(60), ...deletes(3)]);

    const sizes = dynamo
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE]?.length);
    expect(sizes).toEqual([25, 25, 10]);
  });

  it('sends the unprocessed items again after a backoff, and only those', async () => {
    const requests = deletes(3).map((v) => ({ DeleteRequest: { Key: ownedKey(v) } }));
    dynamo
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { [TABLE]: [requests[2] as never] } })
      .resolves({});
    const { store, clock } = storeWith();

    await store.disown(deletes(3));

    const sent = dynamo
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE]);
    expect(sent).toEqual([requests, [requests[2]]]);
    expect(clock.sleeps).toEqual([STATE_POLICY.batchBaseDelayMs]);
  });

  it('gives up with a retryable error when items stay unprocessed', async () => {
    const [request] = deletes(1).map((v) => ({ DeleteRequest: { Key: ownedKey(v) } }));
    dynamo.on(BatchWriteCommand).resolves({ UnprocessedItems: { [TABLE]: [request as never] } });
    const { store, clock } = storeWith();

    const error = await store.disown(deletes(1)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StateThrottledError);
    expect(error).toMatchObject({ operation: 'BatchWriteItem', unprocessed: 1, retryable: true });
    expect(dynamo.commandCalls(BatchWriteCommand)).toHaveLength(STATE_POLICY.batchAttempts);
    expect(clock.sleeps).toEqual([50, 100, 200, 400, 800, 1600, 2000]);
  });

  it('reads memories in batches of 100, strongly consistent, retrying unprocessed keys', async () => {
    const ids = Array.from({ length: 130 }, (_, n) => `cert${n}`);
    const item = (id: string) => ({
      pk: `cert#${id}`,
      sk: 'memory',
      certificateId: id,
      status: 4,
      listingDigest: 'd',
      recordsInPlace: false,
      readAt: 1,
    });
    // Batches go out several at once: each is answered by what it asks for.
    dynamo.on(BatchGetCommand).callsFake((input) => {
      const keys = input.RequestItems[TABLE].Keys as Array<{ pk: string }>;
      if (keys.length === 100)
        return {
          Responses: { [TABLE]: ids.slice(0, 99).map(item) },
          UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'cert#cert99', sk: 'memory' }] } },
        };
      return { Responses: { [TABLE]: keys.map((key) => item(key.pk.slice('cert#'.length))) } };
    });
    const { store } = storeWith();

    const found = await store.memories(ids);

    const inputs = dynamo
      .commandCalls(BatchGetCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE]);
    expect(inputs.map((input) => [input?.Keys?.length, input?.ConsistentRead]).sort()).toEqual([
      [1, true],
      [100, true],
      [30, true],
    ]);
    expect(found.size).toBe(130);
  });

  it('owns only what is not owned yet, with a write that never replaces a record', async () => {
    const kept = {
      zoneId: 'Z1',
      name: 'n.example.com',
      type: 'TXT' as const,
      value: 'old',
      certificateId: 'c1',
      since: 1,
    };
    const added = { ...kept, value: 'new' };
    dynamo.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [ownedKey(kept)] } });
    dynamo.on(PutCommand).resolves({});
    const { store } = storeWith();

    await store.own([kept, added]);

    expect(dynamo.commandCalls(PutCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        Item: { ...ownedKey(added), ...added },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    ]);
  });

  it('refuses an item of another shape with StateItemError', async () => {
    dynamo.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: [{ pk: 'cert#c1', sk: 'memory', certificateId: 'c1', status: 'four' }] },
    });
    const { store } = storeWith();

    await expect(store.memories(['c1'])).rejects.toBeInstanceOf(StateItemError);
  });
});
