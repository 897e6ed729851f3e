import { Route53Client } from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { Dispatcher } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../lib/clock.js';
import { ConfigError, loadConfig } from '../../lib/config.js';
import { createBaseDeps } from '../../lib/deps/base.js';
import { cancellable, createWebhookDeps } from '../../lib/deps/webhook.js';
import { parseSyncEvent } from '../../lib/events.js';
import { JsonLogger, silentLogger } from '../../lib/logger.js';
import { runSync } from '../../lib/sync.js';
import type { SyncDeps, SyncReport } from '../../lib/sync-types.js';
import { TencentClient } from '../../lib/tencent/client.js';
import { TencentSslApi } from '../../lib/tencent/ssl-api.js';
import {
  answerDeadline,
  endFullRunClaim,
  FULL_RUN_CLAIM,
  FULL_RUN_CLAIM_TTL_MS,
  handleWebhook,
  MAX_ANSWER_MS,
  MAX_SKEW_SECONDS,
  REPLAY_MEMORY_MS,
  ReplayGuard,
  WebhookDeadlineError,
  type WebhookDeps,
  type WebhookRequest,
  type WebhookState,
  type WebhookSyncCall,
  webhookSignature,
} from '../../lib/webhook.js';
import { FakeTencent } from '../helpers/fake-tencent.js';

const KEY = 'webhook-test-key-0123456789abcdef-0123';

/** A clock that stands still until told to move; sleepers wake as time passes their moment. */
class ManualClock implements Clock {
  readonly #sleepers: Array<{ at: number; wake: () => void }> = [];
  constructor(public time = Date.UTC(2026, 0, 15, 12, 0, 0)) {}
  now(): number {
    return this.time;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.#sleepers.push({ at: this.time + Math.max(0, ms), wake }));
  }
  /** Moves time forward by `ms`, waking each sleeper due on the way, in order, and letting the work they start run. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = this.#sleepers.filter((s) => s.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#sleepers.splice(this.#sleepers.indexOf(due), 1);
      this.time = Math.max(this.time, due.at);
      due.wake();
    }
    this.time = end;
    await settle();
  }
}

/** Lets every promise chain that can move, move. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The state table's webhook part as its contract says (conditional writes: the first caller wins),
 * in memory, expiring by the clock, recording what it was asked.
 */
class FakeState implements WebhookState {
  readonly sightings = new Map<string, { until: number; ttlMs: number }>();
  readonly claims = new Map<string, { owner: string; until: number; ttlMs: number; released?: string }>();
  failWith: Error | undefined;
  constructor(readonly clock: Clock) {}

  async firstSighting(signature: string, options: { ttlMs: number }): Promise<boolean> {
    if (this.failWith) throw this.failWith;
    const now = this.clock.now();
    const seen = this.sightings.get(signature);
    if (seen && seen.until > now) return false;
    this.sightings.set(signature, { until: now + options.ttlMs, ttlMs: options.ttlMs });
    return true;
  }

  async claim(key: string, owner: string, options: { ttlMs: number }): Promise<boolean> {
    if (this.failWith) throw this.failWith;
    const now = this.clock.now();
    const held = this.claims.get(key);
    if (held && !held.released && held.until > now && held.owner !== owner) return false;
    this.claims.set(key, { owner, until: now + options.ttlMs, ttlMs: options.ttlMs });
    return true;
  }

  async release(key: string, owner: string, reason: string): Promise<void> {
    const held = this.claims.get(key);
    if (!held || held.owner !== owner || held.released)
      throw new Error(`claim ${key} is not held by ${owner}`);
    held.released = reason;
  }
}

let clock: ManualClock;
let synced: string[][];
let syncCalls: WebhookSyncCall[];
let fullRuns: Array<string | undefined>;
let keyReads: number;
let deps: WebhookDeps;
let owners: number;

const report = (ids: string[]): SyncReport => ({
  dryRun: false,
  startedAt: '2026-11-28T00:00:00.000Z',
  finishedAt: '2026-11-28T00:00:01.000Z',
  state: 'off',
  cleanup: [],
  certificates: ids.map((certificateId) => ({
    certificateId,
    domains: ['www.example.com'],
    status: 4,
    statusName: 'to be validated',
    validationDeadline: null,
    outcome: 'validating',
    records: [
      {
        certificateId,
        name: '_a.www.example.com',
        type: 'CNAME',
        value: 'x.ca.test',
        action: 'created',
        zone: { id: 'Z1', name: 'example.com' },
      },
    ],
  })),
  totals: {
    certificates: ids.length,
    byOutcome: { validating: ids.length },
    records: { created: ids.length },
    route53ChangeBatches: 1,
  },
});

beforeEach(() => {
  clock = new ManualClock();
  synced = [];
  syncCalls = [];
  fullRuns = [];
  keyReads = 0;
  owners = 0;
  deps = {
    clock,
    logger: silentLogger,
    replays: new ReplayGuard(),
    getKey: async () => {
      keyReads++;
      return KEY;
    },
    syncCertificates: async (ids, call) => {
      synced.push(ids);
      syncCalls.push(call);
      return report(ids);
    },
    startFullRun: async (claim) => {
      fullRuns.push(claim);
    },
    newClaimOwner: () => `owner-${++owners}`,
  };
});

function signed(
  body: string,
  options: {
    timestamp?: number;
    key?: string;
    base64?: boolean;
    method?: string;
    path?: string;
    contentType?: string | null;
    remainingMs?: number;
  } = {},
): WebhookRequest {
  const timestamp = String(options.timestamp ?? Math.floor(clock.now() / 1000));
  const signature = webhookSignature(options.key ?? KEY, timestamp, Buffer.from(body));
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
  return {
    method: options.method ?? 'POST',
    path: options.path ?? '/sync',
    headers: {
      ...(contentType === null ? {} : { 'Content-Type': contentType }),
      'X-Timestamp': timestamp,
      'x-signature-256': `sha256=${signature}`,
    },
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
    ...(options.remainingMs !== undefined ? { remainingMs: options.remainingMs } : {}),
  };
}

const bodyOf = (response: { body: string }) => JSON.parse(response.body) as Record<string, unknown>;

function capturingLogger(): { logger: JsonLogger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new JsonLogger({ level: 'debug', write: (line) => lines.push(line) }), lines };
}

describe('handleWebhook accepts', () => {
  it('syncs the certificates named and answers 200 with their report', async () => {
    const response = await handleWebhook(deps, signed('{"certificateIds":["K33dxkOk","Jv8u7beI"]}'));
    expect(response.statusCode).toBe(200);
    expect(synced).toEqual([['K33dxkOk', 'Jv8u7beI']]);
    expect(bodyOf(response)).toMatchObject({
      certificates: [
        {
          certificateId: 'K33dxkOk',
          outcome: 'validating',
          records: [{ name: '_a.www.example.com', action: 'created', zone: 'example.com' }],
        },
        { certificateId: 'Jv8u7beI' },
      ],
    });
  });

  it('hands an empty object to a full run and answers 202', async () => {
    const response = await handleWebhook(deps, signed('{}'));
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toMatchObject({ accepted: true, coalesced: false });
    expect(fullRuns).toEqual([undefined]);
    expect(synced).toEqual([]);
  });

  it('verifies a base64-encoded body over its raw bytes', async () => {
    const response = await handleWebhook(deps, signed('{"certificateIds":["K33dxkOk"]}', { base64: true }));
    expect(response.statusCode).toBe(200);
  });

  it.each([
    ['application/json; charset=utf-8', 'application/json; charset=utf-8'],
    ['no content type', null],
  ])('accepts a body declared as %s', async (_label, contentType) => {
    const response = await handleWebhook(deps, signed('{"certificateIds":["K33dxkOk"]}', { contentType }));
    expect(response.statusCode).toBe(200);
  });

  it('accepts the route behind a stage or base path', async () => {
    const response = await handleWebhook(deps, signed('{}', { path: '/prod/sync' }));
    expect(response.statusCode).toBe(202);
  });
});

describe('handleWebhook refuses, and runs nothing', () => {
  const cases: Array<[string, () => WebhookRequest | Promise<WebhookRequest>, number, RegExp]> = [
    ['another method', () => signed('{}', { method: 'GET' }), 405, /POST/],
    ['another path', () => signed('{}', { path: '/sync/all' }), 404, /\/sync/],
    [
      'a form body',
      () => signed('{}', { contentType: 'application/x-www-form-urlencoded' }),
      415,
      /application\/json/,
    ],
    ['a text body', () => signed('{}', { contentType: 'text/plain' }), 415, /application\/json/],
    [
      'a missing signature',
      () => ({ method: 'POST', headers: {}, body: '{}', isBase64Encoded: false }),
      401,
      /X-Signature-256/,
    ],
    [
      'a signature made with another key',
      () => signed('{}', { key: 'someone-else-0123456789abcdef-0123' }),
      401,
      /does not match/,
    ],
    [
      'a timestamp six minutes old',
      () => signed('{}', { timestamp: Math.floor(clock.now() / 1000) - 360 }),
      401,
      /300 seconds/,
    ],
    [
      'a timestamp six minutes ahead',
      () => signed('{}', { timestamp: Math.floor(clock.now() / 1000) + 360 }),
      401,
      /300 seconds/,
    ],
    ['a body that is not JSON', () => signed('{"certificateIds":'), 400, /not JSON/],
    [
      'an unknown key',
      () => signed('{"certificateIds":["K33dxkOk"],"force":true}'),
      400,
      /force|Unrecognized/i,
    ],
    [
      'an id that is not a certificate id',
      () => signed('{"certificateIds":["../etc/passwd"]}'),
      400,
      /certificateIds\.0/,
    ],
    ['an empty id list', () => signed('{"certificateIds":[]}'), 400, /1 to 20/],
    [
      'more than 20 ids',
      () => signed(JSON.stringify({ certificateIds: Array.from({ length: 21 }, (_, i) => `id${i}`) })),
      400,
      /1 to 20/,
    ],
    ['a body over 16 KiB', () => signed(JSON.stringify({ pad: 'x'.repeat(17_000) })), 413, /16384/],
  ];

  it.each(cases)('%s', async (_label, make, status, message) => {
    const response = await handleWebhook(deps, await make());
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toBe('application/json');
    expect(String(bodyOf(response).message)).toMatch(message);
    expect(synced).toEqual([]);
    expect(fullRuns).toEqual([]);
  });

  const cheap: Array<[string, () => WebhookRequest]> = [
    ['another method', () => signed('{}', { method: 'PUT' })],
    ['another path', () => signed('{}', { path: '/' })],
    ['another content type', () => signed('{}', { contentType: 'text/plain' })],
    ['a body over 16 KiB', () => signed(JSON.stringify({ pad: 'x'.repeat(17_000) }))],
    [
      'a malformed signature header',
      () => ({ ...signed('{}'), headers: { 'x-timestamp': '1', 'x-signature-256': 'sha256=zz' } }),
    ],
    ['a malformed timestamp', () => ({ ...signed('{}'), headers: { 'x-timestamp': 'now' } })],
    ['a skewed timestamp', () => signed('{}', { timestamp: Math.floor(clock.now() / 1000) - 600 })],
  ];

  it.each(cheap)('refuses %s before the key is read', async (_label, make) => {
    const response = await handleWebhook(deps, make());
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(keyReads).toBe(0);
  });

  it('refuses a replayed request with 409 (one container, no state table)', async () => {
    const request = signed('{"certificateIds":["K33dxkOk"]}');
    expect((await handleWebhook(deps, request)).statusCode).toBe(200);
    const replay = await handleWebhook(deps, request);
    expect(replay.statusCode).toBe(409);
    expect(bodyOf(replay).message).toMatch(/already received/);
    expect(synced).toHaveLength(1);
  });

  it('refuses every call when no key is configured', async () => {
    deps.getKey = async () => undefined;
    const response = await handleWebhook(deps, signed('{}'));
    expect(response.statusCode).toBe(401);
    expect(fullRuns).toEqual([]);
  });

  it('answers 401 when the key cannot be read, logging the error by name only', async () => {
    const { logger, lines } = capturingLogger();
    deps.logger = logger;
    deps.getKey = async () => {
      throw Object.assign(
        new Error(
          'User: arn:aws:sts::123456789012:assumed-role/webhook/x is not authorized to perform: secretsmanager:GetSecretValue',
        ),
        { name: 'AccessDeniedException' },
      );
    };
    const response = await handleWebhook(deps, signed('{}'));
    expect(response.statusCode).toBe(401);
    expect(bodyOf(response)).toEqual({ message: 'the webhook is not accepting calls' });
    expect(fullRuns).toEqual([]);
    expect(lines.join('\n')).toContain('AccessDeniedException');
    expect(lines.join('\n')).not.toContain('123456789012');
  });

  it('refuses a key shorter than 32 bytes, whatever its source, with a configuration error in the log', async () => {
    const { logger, lines } = capturingLogger();
    deps.logger = logger;
    const short = 'short-key-0123456789abcdef-0123';
    deps.getKey = async () => short;
    const response = await handleWebhook(deps, signed('{}', { key: short }));
    expect(response.statusCode).toBe(401);
    expect(fullRuns).toEqual([]);
    expect(lines.join('\n')).toMatch(/at least 32 bytes, got 31/);
    expect(lines.join('\n')).not.toContain(short);
  });

  it('answers 502 without details when the sync itself fails', async () => {
    deps.syncCertificates = async () => {
      throw Object.assign(new Error(`signature ${KEY} rejected`), { code: 'AuthFailure.SignatureFailure' });
    };
    const response = await handleWebhook(deps, signed('{"certificateIds":["K33dxkOk"]}'));
    expect(response.statusCode).toBe(502);
    expect(response.body).toContain('AuthFailure.SignatureFailure');
    expect(response.body).not.toContain(KEY);
  });
});

describe('replays, with the state table', () => {
  let state: FakeState;
  beforeEach(() => {
    state = new FakeState(clock);
    deps.state = state;
  });

  /** Another Lambda container: its own memory, the same table. */
  const otherContainer = (): WebhookDeps => ({ ...deps, replays: new ReplayGuard() });

  it('refuses a request replayed to another container with 409 and runs nothing more', async () => {
    const request = signed('{"certificateIds":["K33dxkOk"]}');
    expect((await handleWebhook(deps, request)).statusCode).toBe(200);

    const replay = await handleWebhook(otherContainer(), request);

    expect(replay.statusCode).toBe(409);
    expect(bodyOf(replay)).toEqual({ message: 'this request was already received' });
    expect(synced).toHaveLength(1);
  });

  it('remembers a signature for the whole skew window on both sides of its timestamp', async () => {
    const request = signed('{}');
    await handleWebhook(deps, request);
    expect(REPLAY_MEMORY_MS).toBeGreaterThanOrEqual(2 * MAX_SKEW_SECONDS * 1000);
    expect([...state.sightings.values()].map((s) => s.ttlMs)).toEqual([REPLAY_MEMORY_MS]);

    await clock.advance(MAX_SKEW_SECONDS * 1000);
    expect((await handleWebhook(otherContainer(), request)).statusCode).toBe(409);
    expect(fullRuns).toHaveLength(1);
  });

  it('records no signature for a refused request', async () => {
    await handleWebhook(deps, signed('{}', { key: 'someone-else-0123456789abcdef-0123' }));
    await handleWebhook(deps, signed('{}', { contentType: 'text/plain' }));
    expect(state.sightings.size).toBe(0);
  });

  it('answers 503 and runs nothing when the table cannot say whether it is a replay', async () => {
    state.failWith = Object.assign(new Error('Rate exceeded for arn:aws:dynamodb:…'), {
      name: 'ProvisionedThroughputExceededException',
    });
    const response = await handleWebhook(deps, signed('{"certificateIds":["K33dxkOk"]}'));
    expect(response.statusCode).toBe(503);
    expect(synced).toEqual([]);
  });
});

describe('full runs, with the state table', () => {
  let state: FakeState;
  beforeEach(() => {
    state = new FakeState(clock);
    deps.state = state;
  });

  /** A new signed `{}` each time: a second apart, so each is a new request and no replay. */
  async function askFullRun() {
    await clock.advance(1000);
    return handleWebhook(deps, signed('{}'));
  }

  it('claims the full run before invoking, and passes the claim to the sync function', async () => {
    const response = await askFullRun();
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toMatchObject({ accepted: true, coalesced: false });
    expect(fullRuns).toEqual(['owner-1']);
    expect(state.claims.get(FULL_RUN_CLAIM)).toMatchObject({
      owner: 'owner-1',
      ttlMs: FULL_RUN_CLAIM_TTL_MS,
    });
  });

  it('coalesces requests while the run is queued or running: 202, coalesced, no second invoke', async () => {
    await askFullRun();
    const second = await askFullRun();
    const third = await askFullRun();
    expect(second.statusCode).toBe(202);
    expect(bodyOf(second)).toMatchObject({ accepted: true, coalesced: true });
    expect(bodyOf(third)).toMatchObject({ coalesced: true });
    expect(fullRuns).toEqual(['owner-1']);
  });

  it('starts a new run once the sync function gave the claim back', async () => {
    await askFullRun();
    await endFullRunClaim(state, 'owner-1', silentLogger);
    const next = await askFullRun();
    expect(bodyOf(next)).toMatchObject({ coalesced: false });
    expect(fullRuns).toEqual(['owner-1', 'owner-2']);
  });

  it('starts a new run once the claim expired (a run that never gave it back)', async () => {
    await askFullRun();
    await clock.advance(FULL_RUN_CLAIM_TTL_MS);
    const next = await askFullRun();
    expect(bodyOf(next)).toMatchObject({ coalesced: false });
    expect(fullRuns).toEqual(['owner-1', 'owner-2']);
  });

  it('gives the claim back when the invoke fails, so the next request tries again', async () => {
    deps.startFullRun = async () => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
    };
    const failed = await askFullRun();
    expect(failed.statusCode).toBe(502);
    expect(failed.body).toContain('TooManyRequestsException');
    expect(state.claims.get(FULL_RUN_CLAIM)?.released).toBeDefined();

    deps.startFullRun = async (claim) => {
      fullRuns.push(claim);
    };
    expect(bodyOf(await askFullRun())).toMatchObject({ coalesced: false });
    expect(fullRuns).toEqual(['owner-2']);
  });

  it('answers 503 and invokes nothing when the claim cannot be written', async () => {
    await clock.advance(1000);
    const request = signed('{}');
    // The sighting is written; the claim right after is not.
    state.claim = async () => {
      throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    };
    const response = await handleWebhook(deps, request);
    expect(response.statusCode).toBe(503);
    expect(fullRuns).toEqual([]);
  });

  it('without the state table, invokes for every request (nothing to coalesce on)', async () => {
    deps.state = undefined;
    await askFullRun();
    await askFullRun();
    expect(fullRuns).toEqual([undefined, undefined]);
  });
});

describe('endFullRunClaim', () => {
  it('gives back the claim the event names', async () => {
    const state = new FakeState(clock);
    await state.claim(FULL_RUN_CLAIM, 'owner-9', { ttlMs: FULL_RUN_CLAIM_TTL_MS });
    await endFullRunClaim(state, 'owner-9', silentLogger);
    expect(state.claims.get(FULL_RUN_CLAIM)?.released).toBe('the full run ended');
  });

  it('leaves a claim it no longer holds alone, with a warning and no failure', async () => {
    const state = new FakeState(clock);
    await state.claim(FULL_RUN_CLAIM, 'owner-2', { ttlMs: FULL_RUN_CLAIM_TTL_MS });
    const { logger, lines } = capturingLogger();
    await expect(endFullRunClaim(state, 'owner-1', logger)).resolves.toBeUndefined();
    expect(state.claims.get(FULL_RUN_CLAIM)?.released).toBeUndefined();
    expect(lines.join('\n')).toContain('ends when it expires');
  });

  it('reads the claim from the sync event the webhook sends', () => {
    expect(parseSyncEvent({ fullRunClaim: '0f8fad5b-d9cb-469f-a165-70867728950e' })).toEqual({
      fullRunClaim: '0f8fad5b-d9cb-469f-a165-70867728950e',
    });
    expect(() => parseSyncEvent({ fullRunClaim: 'not a claim!' })).toThrow(/unsupported sync event/);
  });
});

describe('the answer deadline', () => {
  it('is what the Lambda has left less a second, and never more than 28 s', () => {
    expect(answerDeadline(0, 29_000)).toBe(MAX_ANSWER_MS);
    expect(answerDeadline(0, 900_000)).toBe(MAX_ANSWER_MS);
    expect(answerDeadline(0, 10_000)).toBe(9_000);
    expect(answerDeadline(0, 500)).toBe(0);
    expect(answerDeadline(0, undefined)).toBe(MAX_ANSWER_MS);
    expect(MAX_ANSWER_MS).toBeLessThan(29_000);
  });

  it('gives the sync a deadline 8 s before the answer, and a signal not aborted when it finishes in time', async () => {
    const start = clock.now();
    const response = await handleWebhook(
      deps,
      signed('{"certificateIds":["K33dxkOk"]}', { remainingMs: 20_000 }),
    );
    expect(response.statusCode).toBe(200);
    expect(syncCalls[0]?.deadline).toBe(start + 19_000 - 8_000);
    expect(syncCalls[0]?.signal.aborted).toBe(false);
  });

  it('answers 503 by the deadline while Tencent never answers, and the call in flight is aborted', async () => {
    // The real client and sync, over a Tencent connection that never answers.
    const inFlight: AbortSignal[] = [];
    const dispatcher = {
      request: (options: Dispatcher.RequestOptions) => {
        const signal = options.signal as AbortSignal;
        inFlight.push(signal);
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    } as unknown as Dispatcher;
    const tencent = new TencentSslApi(
      new TencentClient({ credentials: { secretId: 'AKIDtest', secretKey: 'test-key' }, dispatcher, clock }),
    );
    const syncDeps: SyncDeps = {
      tencent,
      route53: new Route53Client({}),
      clock,
      logger: silentLogger,
      settings: {
        allowedDomains: ['example.com'],
        zoneOverrides: [],
        recordTtl: 60,
        waitForInsync: false,
        dryRun: false,
      },
    };
    deps.syncCertificates = (certificateIds, { deadline, signal }) =>
      runSync(cancellable(syncDeps, tencent, signal), { certificateIds, deadline });
    const start = clock.now();
    let answered = false;
    const pending = handleWebhook(
      deps,
      signed('{"certificateIds":["K33dxkOk"]}', { remainingMs: 60_000 }),
    ).then((response) => {
      answered = true;
      return response;
    });

    await clock.advance(MAX_ANSWER_MS - 1_500 - 1);
    expect(answered).toBe(false);
    expect(inFlight).toHaveLength(1);
    expect(inFlight[0]?.aborted).toBe(false);

    await clock.advance(MAX_ANSWER_MS - (clock.now() - start));
    expect(answered).toBe(true);
    const response = await pending;
    expect(clock.now() - start).toBeLessThanOrEqual(MAX_ANSWER_MS);
    expect(response.statusCode).toBe(503);
    expect(bodyOf(response)).toMatchObject({ partial: true, certificates: [] });
    expect(inFlight[0]?.aborted).toBe(true);
    expect(inFlight[0]?.reason).toBeInstanceOf(WebhookDeadlineError);
  });

  it('answers 503 with the partial report when Route53 hangs, its request aborted through the SDK', async () => {
    const aborted: unknown[] = [];
    const route53 = new Route53Client({
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
      requestHandler: {
        handle: (_request: unknown, options?: { abortSignal?: AbortSignal }) =>
          new Promise((_, reject) =>
            options?.abortSignal?.addEventListener('abort', () => {
              aborted.push(options.abortSignal?.reason);
              reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
            }),
          ),
      },
    });
    const fake = new FakeTencent([{ id: 'K33dxkOk', domain: 'www.example.com', status: 0 }]);
    const syncDeps: SyncDeps = {
      tencent: fake,
      route53,
      clock,
      logger: silentLogger,
      settings: {
        allowedDomains: ['example.com'],
        zoneOverrides: [],
        recordTtl: 60,
        waitForInsync: false,
        dryRun: false,
      },
    };
    deps.syncCertificates = (certificateIds, { deadline, signal }) =>
      runSync(cancellable(syncDeps, fake as unknown as TencentSslApi, signal), { certificateIds, deadline });
    const start = clock.now();
    const pending = handleWebhook(deps, signed('{"certificateIds":["K33dxkOk"]}', { remainingMs: 10_000 }));

    await clock.advance(9_000);
    const response = await pending;

    expect(clock.now() - start).toBeLessThanOrEqual(9_000);
    expect(response.statusCode).toBe(503);
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toBeInstanceOf(WebhookDeadlineError);
    expect(bodyOf(response)).toMatchObject({
      partial: true,
      certificates: [{ certificateId: 'K33dxkOk', outcome: 'failed' }],
    });
    route53.destroy();
  });

  it('stops waiting for the export hand-off at the deadline and reports its certificates failed', async () => {
    const fake = new FakeTencent([{ id: 'Issued01', domain: 'www.example.com', status: 1 }]);
    const syncDeps: SyncDeps = {
      tencent: fake,
      route53: new Route53Client({}),
      clock,
      logger: silentLogger,
      settings: {
        allowedDomains: ['example.com'],
        zoneOverrides: [],
        recordTtl: 60,
        waitForInsync: false,
        dryRun: false,
      },
      onIssued: () => new Promise(() => {}),
    };
    deps.syncCertificates = (certificateIds, { deadline, signal }) =>
      runSync(cancellable(syncDeps, fake as unknown as TencentSslApi, signal), { certificateIds, deadline });
    const pending = handleWebhook(deps, signed('{"certificateIds":["Issued01"]}', { remainingMs: 10_000 }));

    await clock.advance(9_000);
    const response = await pending;

    expect(response.statusCode).toBe(503);
    expect(bodyOf(response)).toMatchObject({
      partial: true,
      certificates: [
        { certificateId: 'Issued01', outcome: 'failed', error: expect.stringMatching(/cancelled/) },
      ],
    });
  });

  it('answers 503 by the deadline even when the sync ignores its signal', async () => {
    let signal: AbortSignal | undefined;
    deps.syncCertificates = (_ids, call) => {
      signal = call.signal;
      return new Promise<SyncReport>(() => {});
    };
    const pending = handleWebhook(deps, signed('{"certificateIds":["K33dxkOk"]}', { remainingMs: 5_000 }));
    await clock.advance(4_000);
    const response = await pending;
    expect(response.statusCode).toBe(503);
    expect(signal?.aborted).toBe(true);
  });
});

describe('the webhook key', () => {
  const secrets = mockClient(SecretsManagerClient);
  afterEach(() => secrets.reset());

  it('refuses WEBHOOK_SECRET shorter than 32 bytes at start, without printing it', () => {
    const key = 'k'.repeat(31);
    let problems: string[] = [];
    try {
      loadConfig({ TENCENTCLOUD_SECRET_ID: 'AKIDx', TENCENTCLOUD_SECRET_KEY: 'y', WEBHOOK_SECRET: key });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([expect.stringMatching(/WEBHOOK_SECRET .*at least 32 bytes, got 31/)]);
    expect(problems.join('\n')).not.toContain(key);
  });

  it('counts bytes, not characters', () => {
    const env = { TENCENTCLOUD_SECRET_ID: 'AKIDx', TENCENTCLOUD_SECRET_KEY: 'y' };
    expect(loadConfig({ ...env, WEBHOOK_SECRET: '密'.repeat(11) }).webhook.secret).toBe('密'.repeat(11));
    expect(() => loadConfig({ ...env, WEBHOOK_SECRET: 'é'.repeat(15) })).toThrow(ConfigError);
    expect(loadConfig({ ...env, WEBHOOK_SECRET: 'k'.repeat(32) }).webhook.secret).toBe('k'.repeat(32));
  });

  async function callWithSecret(): Promise<{ status: number; logs: string }> {
    const lines: string[] = [];
    const base = createBaseDeps(
      loadConfig({
        TENCENTCLOUD_SECRET_ID: 'AKIDx',
        TENCENTCLOUD_SECRET_KEY: 'y',
        WEBHOOK_SECRET_NAME: 'tencent-ssl-sync/test/webhook-key',
      }),
      { write: (line) => lines.push(line), clock },
    );
    try {
      const webhook = createWebhookDeps(base);
      const response = await handleWebhook(webhook, signed('{}', { key: 'tooshort-webhook-key' }));
      return { status: response.statusCode, logs: lines.join('\n') };
    } finally {
      await base.close();
    }
  }

  it('refuses a key from Secrets Manager shorter than 32 bytes, naming the secret, not the key', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'tooshort-webhook-key' });
    const { status, logs } = await callWithSecret();
    expect(status).toBe(401);
    expect(logs).toMatch(
      /secret tencent-ssl-sync\/test\/webhook-key \(WEBHOOK_SECRET_NAME\).*at least 32 bytes, got 20/,
    );
    expect(logs).not.toContain('tooshort-webhook-key');
  });

  it('answers 401, not 500, when Secrets Manager refuses, and logs no ARN', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(
        Object.assign(
          new Error(
            'User: arn:aws:sts::123456789012:assumed-role/webhook/x is not authorized to perform: secretsmanager:GetSecretValue',
          ),
          { name: 'AccessDeniedException' },
        ),
      );
    const { status, logs } = await callWithSecret();
    expect(status).toBe(401);
    expect(logs).toContain('AccessDeniedException');
    expect(logs).not.toContain('123456789012');
  });
});
