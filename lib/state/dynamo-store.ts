import { createHash, randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { mapPool } from '../pool.js';
import { ClaimNotHeldError, StateItemError, StateThrottledError } from './errors.js';
import { expiryOf, isExpired, ttlSeconds } from './expiry.js';
import type { CertificateMemory, Claim, ExportFailure, OwnedValue, StateStore } from './types.js';

/**
 * Limits of the DynamoDB API (Developer Guide, "Quotas": BatchWriteItem takes up to 25 put or
 * delete requests, BatchGetItem up to 100 keys) and what is done about unprocessed items: the API
 * returns them when the table is throttled and asks callers to retry them with exponential
 * backoff. Throttled single requests are retried by the SDK itself (`maxAttempts`).
 */
export const STATE_POLICY = {
  batchWriteMax: 25,
  batchGetMax: 100,
  /** Rounds of retrying unprocessed items, the first call included; the waits are full jitter over [0, min(cap, base × 2^n)]. */
  batchAttempts: 8,
  batchBaseDelayMs: 50,
  batchMaxDelayMs: 2_000,
  /** Conditional writes and queries in flight at once for one call. */
  concurrency: 8,
  /** Up to this many names, ownedAt queries each name; beyond it, one query of every owned value is cheaper. */
  ownedQueryNames: 8,
  /** Attempts of the SDK client for one request (standard retry mode). */
  maxAttempts: 5,
} as const;

/*
 * Key design (one table, string keys `pk` and `sk`; TTL attribute `expiresAt` in epoch seconds):
 *
 *   owned values      pk "owned"            sk "<name>|<type>|<sha256 of value>"   one partition: allOwned is one Query
 *   certificate memory pk "cert#<id>"       sk "memory"
 *   claims            pk "claim#<key>"      sk "claim"                              expiresAt
 *   webhook sightings pk "webhook#<sha256>" sk "webhook"                            expiresAt
 *   export failures   pk "export-failure"   sk "<certificate id>"                   one partition: listed by one Query
 *
 * The raw fields are attributes of each item; keys only find them. In an owned value's sort key
 * the name has `%` and `|` escaped, so `|` separates fields unambiguously and `begins_with` on
 * "<name>|" finds exactly that name; the value, which may hold any bytes a TXT can (quotes,
 * backslashes, `|`), enters only as its digest.
 */
const OWNED_PK = 'owned';
const EXPORT_FAILURE_PK = 'export-failure';
const MEMORY_SK = 'memory';
const CLAIM_SK = 'claim';
const SIGHTING_SK = 'webhook';

interface Key {
  pk: string;
  sk: string;
}

const digest = (text: string): string => createHash('sha256').update(text, 'utf8').digest('base64url');
const escapeName = (name: string): string => name.replaceAll('%', '%25').replaceAll('|', '%7C');
const ownedPrefix = (name: string): string => `${escapeName(name)}|`;

/** The key of an owned value (exported for tests of the encoding). */
export function ownedKey(value: Pick<OwnedValue, 'name' | 'type' | 'value'>): Key {
  return { pk: OWNED_PK, sk: `${ownedPrefix(value.name)}${value.type}|${digest(value.value)}` };
}
const memoryKey = (certificateId: string): Key => ({ pk: `cert#${certificateId}`, sk: MEMORY_SK });
const claimKey = (key: string): Key => ({ pk: `claim#${key}`, sk: CLAIM_SK });
const sightingKey = (signature: string): Key => ({ pk: `webhook#${digest(signature)}`, sk: SIGHTING_SK });
const exportFailureKey = (certificateId: string): Key => ({ pk: EXPORT_FAILURE_PK, sk: certificateId });

// What the items hold besides their keys; unknown attributes (pk, sk, expiresAt) are dropped.
const OwnedItem = z.object({
  zoneId: z.string(),
  name: z.string(),
  type: z.enum(['CNAME', 'TXT']),
  value: z.string(),
  certificateId: z.string(),
  since: z.number(),
});
const MemoryItem = z.object({
  certificateId: z.string(),
  status: z.number().nullable(),
  listingDigest: z.string(),
  recordsInPlace: z.boolean(),
  readAt: z.number(),
});
const ClaimItem = z.object({
  key: z.string(),
  owner: z.string(),
  at: z.number(),
  expiresAtMs: z.number(),
  doneAt: z.number().optional(),
  doneResult: z.string().optional(),
  releasedAt: z.number().optional(),
  releasedReason: z.string().optional(),
});
const ExportFailureItem = z.object({
  certificateId: z.string(),
  kind: z.string(),
  reason: z.string(),
  fingerprint: z.string().optional(),
  at: z.number(),
});

function read<T>(schema: z.ZodType<T>, item: Record<string, unknown>): T {
  const parsed = schema.safeParse(item);
  if (parsed.success) return parsed.data;
  throw new StateItemError(String(item.pk), String(item.sk), { cause: parsed.error });
}

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: unknown } | undefined)?.name === 'ConditionalCheckFailedException';
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The last of each key: a batch request must not name one key twice. */
function uniqueBy<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [keyOf(item), item])).values()];
}
const keyText = (key: Key): string => JSON.stringify([key.pk, key.sk]);

/** The first rejection of a pool run, thrown once every item has settled. */
function throwFirstRejection(results: ReadonlyArray<PromiseSettledResult<unknown> | undefined>): void {
  const failed = results.find((r): r is PromiseRejectedResult => r?.status === 'rejected');
  if (failed) throw failed.reason;
}

type WriteRequest = { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Key } };

export interface DynamoStateStoreOptions {
  /** The table's client; `destroy()` destroys it. */
  client: DynamoDBClient;
  tableName: string;
  clock: Clock;
  /** Jitter of the backoff between batch rounds (tests pass a fixed one). */
  random?: () => number;
}

/** The state store over one DynamoDB table (see the key design above); every read is strongly consistent. */
export class DynamoStateStore implements StateStore {
  readonly tableName: string;
  readonly #client: DynamoDBClient;
  readonly #doc: DynamoDBDocumentClient;
  readonly #clock: Clock;
  readonly #random: () => number;

  constructor(options: DynamoStateStoreOptions) {
    this.tableName = options.tableName;
    this.#client = options.client;
    this.#doc = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
  }

  destroy(): void {
    this.#client.destroy();
  }

  async ownedAt(names: readonly string[]): Promise<OwnedValue[]> {
    const wanted = [...new Set(names)];
    if (wanted.length === 0) return [];
    if (wanted.length > STATE_POLICY.ownedQueryNames) {
      const set = new Set(wanted);
      return (await this.allOwned()).filter((v) => set.has(v.name));
    }
    const results = await mapPool(wanted, STATE_POLICY.concurrency, (name) =>
      this.#query({
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': OWNED_PK, ':prefix': ownedPrefix(name) },
      }),
    );
    throwFirstRejection(results);
    return results.flatMap((r) =>
      r?.status === 'fulfilled' ? r.value.map((item) => read(OwnedItem, item)) : [],
    );
  }

  async allOwned(): Promise<OwnedValue[]> {
    const items = await this.#query({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': OWNED_PK },
    });
    return items.map((item) => read(OwnedItem, item));
  }

  async own(values: readonly OwnedValue[]): Promise<void> {
    const unique = uniqueBy(values, (v) => keyText(ownedKey(v)));
    if (unique.length === 0) return;
    // Reading first keeps a run that re-owns what it owns from writing at all.
    const existing = new Set(
      (await this.#batchGet(unique.map(ownedKey), 'pk, sk')).map((item) =>
        keyText({ pk: String(item.pk), sk: String(item.sk) }),
      ),
    );
    const missing = unique.filter((v) => !existing.has(keyText(ownedKey(v))));
    const results = await mapPool(missing, STATE_POLICY.concurrency, async (value) => {
      try {
        await this.#doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...ownedKey(value),
              zoneId: value.zoneId,
              name: value.name,
              type: value.type,
              value: value.value,
              certificateId: value.certificateId,
              since: value.since,
            },
            // Owned already (another run got there first): its first record stands.
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    });
    throwFirstRejection(results);
  }

  async disown(values: readonly Pick<OwnedValue, 'name' | 'type' | 'value'>[]): Promise<void> {
    await this.#batchWrite(values.map((v) => ({ DeleteRequest: { Key: ownedKey(v) } })));
  }

  async memories(certificateIds: readonly string[]): Promise<Map<string, CertificateMemory>> {
    const items = await this.#batchGet(certificateIds.map(memoryKey));
    const found = new Map<string, CertificateMemory>();
    for (const item of items) {
      const memory = read(MemoryItem, item);
      found.set(memory.certificateId, memory);
    }
    return found;
  }

  async remember(memories: readonly CertificateMemory[]): Promise<void> {
    await this.#batchWrite(
      memories.map((m) => ({
        PutRequest: {
          Item: {
            ...memoryKey(m.certificateId),
            certificateId: m.certificateId,
            status: m.status,
            listingDigest: m.listingDigest,
            recordsInPlace: m.recordsInPlace,
            readAt: m.readAt,
          },
        },
      })),
    );
  }

  async forget(certificateIds: readonly string[]): Promise<void> {
    await this.#batchWrite(certificateIds.map((id) => ({ DeleteRequest: { Key: memoryKey(id) } })));
  }

  async claim(key: string, owner: string, options: { ttlMs: number }): Promise<boolean> {
    const now = this.#clock.now();
    const expiresAtMs = expiryOf(now, options.ttlMs);
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...claimKey(key), key, owner, at: now, expiresAtMs, expiresAt: ttlSeconds(expiresAtMs) },
          // Free, given back, expired, or held by this owner and not done (the SDK retrying a
          // write whose answer was lost must not lose the claim it made).
          ConditionExpression:
            'attribute_not_exists(pk) OR attribute_exists(releasedAt) OR expiresAtMs <= :now' +
            ' OR (#owner = :owner AND attribute_not_exists(doneAt))',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': now, ':owner': owner },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async complete(key: string, owner: string, result: string): Promise<void> {
    await this.#updateClaim(key, owner, 'complete', {
      UpdateExpression: 'SET doneAt = :now, doneResult = :text',
      ConditionExpression: 'attribute_exists(pk) AND #owner = :owner AND attribute_not_exists(releasedAt)',
      text: result,
    });
  }

  async release(key: string, owner: string, reason: string): Promise<void> {
    await this.#updateClaim(key, owner, 'release', {
      UpdateExpression: 'SET releasedAt = :now, releasedReason = :text',
      ConditionExpression: 'attribute_exists(pk) AND #owner = :owner AND attribute_not_exists(doneAt)',
      text: reason,
    });
  }

  async claimOf(key: string): Promise<Claim | undefined> {
    const out = await this.#doc.send(
      new GetCommand({ TableName: this.tableName, Key: claimKey(key), ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    const item = read(ClaimItem, out.Item);
    if (isExpired(item.expiresAtMs, this.#clock.now())) return undefined;
    const claim: Claim = { key: item.key, owner: item.owner, at: item.at };
    if (item.doneAt !== undefined) claim.done = { at: item.doneAt, result: item.doneResult ?? '' };
    if (item.releasedAt !== undefined) {
      claim.released = { at: item.releasedAt, reason: item.releasedReason ?? '' };
    }
    return claim;
  }

  async firstSighting(signature: string, options: { ttlMs: number }): Promise<boolean> {
    const now = this.#clock.now();
    const expiresAtMs = expiryOf(now, options.ttlMs);
    // Marks this call's own write, so an SDK retry of it is not mistaken for a replay.
    const callId = randomUUID();
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...sightingKey(signature),
            at: now,
            expiresAtMs,
            expiresAt: ttlSeconds(expiresAtMs),
            callId,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAtMs <= :now OR callId = :callId',
          ExpressionAttributeValues: { ':now': now, ':callId': callId },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async exportFailures(): Promise<Map<string, ExportFailure>> {
    const items = await this.#query({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': EXPORT_FAILURE_PK },
    });
    return new Map(
      items.map((item) => {
        const failure = read(ExportFailureItem, item);
        return [failure.certificateId, failure];
      }),
    );
  }

  async recordExportFailure(failure: ExportFailure): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...exportFailureKey(failure.certificateId),
          certificateId: failure.certificateId,
          kind: failure.kind,
          reason: failure.reason,
          fingerprint: failure.fingerprint,
          at: failure.at,
        },
      }),
    );
  }

  async clearExportFailure(certificateId: string): Promise<void> {
    await this.#doc.send(
      new DeleteCommand({ TableName: this.tableName, Key: exportFailureKey(certificateId) }),
    );
  }

  async #updateClaim(
    key: string,
    owner: string,
    action: 'complete' | 'release',
    update: { UpdateExpression: string; ConditionExpression: string; text: string },
  ): Promise<void> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: claimKey(key),
          UpdateExpression: update.UpdateExpression,
          ConditionExpression: update.ConditionExpression,
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': this.#clock.now(), ':owner': owner, ':text': update.text },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new ClaimNotHeldError(key, owner, action, { cause: error });
      throw error;
    }
  }

  /** Every item of a (strongly consistent) query, page after page. */
  async #query(
    input: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'>,
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    const pages = paginateQuery(
      { client: this.#doc },
      { TableName: this.tableName, ConsistentRead: true, ...input },
    );
    for await (const page of pages) items.push(...(page.Items ?? []));
    return items;
  }

  /** Chunks of one batch call each, several at once (on-demand tables take bursts). */
  async #batchGet(keys: readonly Key[], projection?: string): Promise<Record<string, unknown>[]> {
    const unique = uniqueBy(keys, keyText);
    const results = await mapPool(
      chunks(unique, STATE_POLICY.batchGetMax),
      STATE_POLICY.concurrency,
      async (chunk) => {
        const items: Record<string, unknown>[] = [];
        let pending: Key[] = chunk;
        for (let attempt = 1; pending.length > 0; attempt++) {
          if (attempt > STATE_POLICY.batchAttempts) {
            throw new StateThrottledError('BatchGetItem', pending.length, STATE_POLICY.batchAttempts);
          }
          if (attempt > 1) await this.#backoff(attempt - 1);
          const out = await this.#doc.send(
            new BatchGetCommand({
              RequestItems: {
                [this.tableName]: {
                  Keys: pending,
                  ConsistentRead: true,
                  ...(projection ? { ProjectionExpression: projection } : {}),
                },
              },
            }),
          );
          items.push(...(out.Responses?.[this.tableName] ?? []));
          pending = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
        }
        return items;
      },
    );
    return settledValues(results).flat();
  }

  async #batchWrite(requests: readonly WriteRequest[]): Promise<void> {
    const keyOf = (r: WriteRequest): Key =>
      'PutRequest' in r
        ? { pk: String(r.PutRequest.Item.pk), sk: String(r.PutRequest.Item.sk) }
        : r.DeleteRequest.Key;
    const unique = uniqueBy(requests, (r) => keyText(keyOf(r)));
    const results = await mapPool(
      chunks(unique, STATE_POLICY.batchWriteMax),
      STATE_POLICY.concurrency,
      async (chunk) => {
        let pending: WriteRequest[] = chunk;
        for (let attempt = 1; pending.length > 0; attempt++) {
          if (attempt > STATE_POLICY.batchAttempts) {
            throw new StateThrottledError('BatchWriteItem', pending.length, STATE_POLICY.batchAttempts);
          }
          if (attempt > 1) await this.#backoff(attempt - 1);
          const out = await this.#doc.send(
            new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }),
          );
          pending = (out.UnprocessedItems?.[this.tableName] ?? []) as WriteRequest[];
        }
      },
    );
    settledValues(results);
  }

  #backoff(retry: number): Promise<void> {
    const ceiling = Math.min(STATE_POLICY.batchMaxDelayMs, STATE_POLICY.batchBaseDelayMs * 2 ** (retry - 1));
    return this.#clock.sleep(Math.floor(this.#random() * ceiling));
  }
}

/** The values of a pool's results; the first failure (or an item not started) is thrown. */
function settledValues<T>(results: Array<PromiseSettledResult<T> | undefined>): T[] {
  return results.map((result) => {
    if (result === undefined) throw new Error('internal: a state-table batch was not started');
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  });
}
