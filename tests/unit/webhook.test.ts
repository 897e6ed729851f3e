import { beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import type { SyncReport } from '../../lib/sync-types.js';
import {
  handleWebhook,
  ReplayGuard,
  type WebhookDeps,
  type WebhookRequest,
  webhookSignature,
} from '../../lib/webhook.js';
import { FakeClock } from '../helpers/fake-clock.js';

const KEY = 'webhook-test-key-0123456789';

let clock: FakeClock;
let synced: string[][];
let fullRuns: number;
let deps: WebhookDeps;

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
  clock = new FakeClock();
  synced = [];
  fullRuns = 0;
  deps = {
    clock,
    logger: silentLogger,
    replays: new ReplayGuard(),
    getKey: async () => KEY,
    syncCertificates: async (ids) => {
      synced.push(ids);
      return report(ids);
    },
    startFullRun: async () => {
      fullRuns++;
    },
  };
});

function signed(
  body: string,
  options: { timestamp?: number; key?: string; base64?: boolean; method?: string } = {},
): WebhookRequest {
  const timestamp = String(options.timestamp ?? Math.floor(clock.now() / 1000));
  const signature = webhookSignature(options.key ?? KEY, timestamp, Buffer.from(body));
  return {
    method: options.method ?? 'POST',
    headers: { 'X-Timestamp': timestamp, 'x-signature-256': `sha256=${signature}` },
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
  };
}

const bodyOf = (response: { body: string }) => JSON.parse(response.body) as Record<string, unknown>;

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
    expect(fullRuns).toBe(1);
    expect(synced).toEqual([]);
  });

  it('verifies a base64-encoded body over its raw bytes', async () => {
    const response = await handleWebhook(deps, signed('{"certificateIds":["K33dxkOk"]}', { base64: true }));
    expect(response.statusCode).toBe(200);
  });
});

describe('handleWebhook refuses, and runs nothing', () => {
  const cases: Array<[string, () => WebhookRequest | Promise<WebhookRequest>, number, RegExp]> = [
    ['another method', () => signed('{}', { method: 'GET' }), 405, /POST/],
    [
      'a missing signature',
      () => ({ method: 'POST', headers: {}, body: '{}', isBase64Encoded: false }),
      401,
      /X-Signature-256/,
    ],
    ['a signature made with another key', () => signed('{}', { key: 'someone-else' }), 401, /does not match/],
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
    expect(fullRuns).toBe(0);
  });

  it('refuses a replayed request', async () => {
    const request = signed('{"certificateIds":["K33dxkOk"]}');
    expect((await handleWebhook(deps, request)).statusCode).toBe(200);
    const replay = await handleWebhook(deps, request);
    expect(replay.statusCode).toBe(401);
    expect(bodyOf(replay).message).toMatch(/already received/);
    expect(synced).toHaveLength(1);
  });

  it('refuses every call when no key is configured', async () => {
    deps.getKey = async () => undefined;
    const response = await handleWebhook(deps, signed('{}'));
    expect(response.statusCode).toBe(401);
    expect(fullRuns).toBe(0);
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
