import { Readable } from 'node:stream';
import { GetChangeCommand, ListHostedZonesCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../lib/clock.js';
import { Pacer } from '../../lib/pacer.js';
import { addRoute53Pacing, createRoute53Client, ROUTE53_POLICY } from '../../lib/route53/client.js';
import { FakeClock } from '../helpers/fake-clock.js';

const STATIC_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const NS = 'https://route53.amazonaws.com/doc/2013-04-01/';

const LIST_HOSTED_ZONES_XML = `<?xml version="1.0" encoding="UTF-8"?>
<ListHostedZonesResponse xmlns="${NS}"><HostedZones><HostedZone><Id>/hostedzone/Z1</Id><Name>example.com.</Name><CallerReference>ref</CallerReference><Config><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>4</ResourceRecordSetCount></HostedZone></HostedZones><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListHostedZonesResponse>`;

const GET_CHANGE_XML = `<?xml version="1.0" encoding="UTF-8"?>
<GetChangeResponse xmlns="${NS}"><ChangeInfo><Id>/change/C1</Id><Status>INSYNC</Status><SubmittedAt>2026-01-15T12:00:00.000Z</SubmittedAt></ChangeInfo></GetChangeResponse>`;

// What Route53 answers beyond 5 requests per second for the account (Throttling), or while an
// earlier change to the zone is still being applied (PriorRequestNotComplete); both HTTP 400.
const errorXml = (code: string, message: string) => `<?xml version="1.0"?>
<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>0f3c5e0a-${code}</RequestId></ErrorResponse>`;

const ASSUME_ROLE_XML = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIATEMPORARY</AccessKeyId><SecretAccessKey>temporary-secret</SecretAccessKey><SessionToken>temporary-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA:tencent-ssl-sync</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/dns/tencent-ssl-sync</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata></AssumeRoleResponse>`;

interface SeenRequest {
  at: number;
  hostname: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

type Answer = { status: number; body: string };

/**
 * A request handler that never touches the network: records each request (with the time on
 * `clock`) and answers from `answer`.
 */
function fakeHandler(clock: Clock, answer: (request: SeenRequest) => Answer) {
  const seen: SeenRequest[] = [];
  const handler = {
    async handle(request: {
      hostname: string;
      path: string;
      headers: Record<string, string>;
      body?: unknown;
    }) {
      const entry: SeenRequest = {
        at: clock.now(),
        hostname: request.hostname,
        path: request.path,
        headers: { ...request.headers },
        body: typeof request.body === 'string' ? request.body : '',
      };
      seen.push(entry);
      const { status, body } = answer(entry);
      return {
        response: {
          statusCode: status,
          reason: undefined,
          headers: { 'content-type': 'text/xml', 'x-amzn-requestid': `req-${seen.length}` },
          body: Readable.from([Buffer.from(body)]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  return { handler, seen };
}

/**
 * Virtual time for concurrent sleepers: `sleep` parks the caller, and once everything runnable
 * has run (a macrotask later) the earliest sleeper wakes with the time set to its wake-up time.
 */
class VirtualClock implements Clock {
  time = 0;
  readonly #sleepers: Array<{ at: number; wake: () => void }> = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#sleepers.push({ at: this.time + Math.max(0, ms), wake: resolve });
      setImmediate(() => this.#wakeEarliest());
    });
  }

  #wakeEarliest(): void {
    this.#sleepers.sort((a, b) => a.at - b.at);
    const next = this.#sleepers.shift();
    if (!next) return;
    this.time = Math.max(this.time, next.at);
    next.wake();
  }
}

const gaps = (times: number[]) => times.slice(1).map((time, index) => time - (times[index] as number));

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('addRoute53Pacing', () => {
  it('spaces concurrent requests at least 1000/rate ms apart', async () => {
    const clock = new VirtualClock();
    const { handler, seen } = fakeHandler(clock, () => ({ status: 200, body: LIST_HOSTED_ZONES_XML }));
    const client = new Route53Client({
      region: 'us-east-1',
      credentials: STATIC_CREDENTIALS,
      requestHandler: handler,
    });
    const rate = 5;
    addRoute53Pacing(client, new Pacer({ rate, clock }));

    await Promise.all(Array.from({ length: 6 }, () => client.send(new ListHostedZonesCommand({}))));

    expect(seen).toHaveLength(6);
    for (const gap of gaps(seen.map((request) => request.at)))
      expect(gap).toBeGreaterThanOrEqual(1000 / rate);
    expect(seen.at(-1)?.at).toBeLessThan((6 * 1000) / rate);
  });

  it('shares one budget between different operations', async () => {
    const clock = new VirtualClock();
    const { handler, seen } = fakeHandler(clock, (request) => ({
      status: 200,
      body: request.path.includes('/change/') ? GET_CHANGE_XML : LIST_HOSTED_ZONES_XML,
    }));
    const client = new Route53Client({
      region: 'us-east-1',
      credentials: STATIC_CREDENTIALS,
      requestHandler: handler,
    });
    addRoute53Pacing(client, new Pacer({ rate: 5, clock }));

    await Promise.all([
      client.send(new ListHostedZonesCommand({})),
      client.send(new GetChangeCommand({ Id: 'C1' })),
      client.send(new ListHostedZonesCommand({})),
    ]);

    expect(seen.map((request) => request.path)).toEqual([
      '/2013-04-01/hostedzone',
      '/2013-04-01/change/C1',
      '/2013-04-01/hostedzone',
    ]);
    for (const gap of gaps(seen.map((request) => request.at))) expect(gap).toBeGreaterThanOrEqual(200);
  });

  it('holds each request until the pacer grants its slot', async () => {
    const clock: Clock = {
      now: () => performance.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
    const { handler, seen } = fakeHandler(clock, () => ({ status: 200, body: LIST_HOSTED_ZONES_XML }));
    const client = new Route53Client({
      region: 'us-east-1',
      credentials: STATIC_CREDENTIALS,
      requestHandler: handler,
    });
    const pacer = new Pacer({ rate: 50, clock });
    const granted: number[] = [];
    const acquire = pacer.acquire.bind(pacer);
    pacer.acquire = async (action, signal) => {
      await acquire(action, signal);
      granted.push(clock.now());
    };
    addRoute53Pacing(client, pacer);

    await Promise.all(Array.from({ length: 8 }, () => client.send(new ListHostedZonesCommand({}))));

    // The n-th request to arrive left no earlier than the n-th grant: none went out unpaced.
    expect(granted).toHaveLength(8);
    seen.forEach((request, index) => {
      expect(request.at).toBeGreaterThanOrEqual(granted[index] as number);
    });
  });
});

describe('createRoute53Client', () => {
  it.each([
    ['Throttling', 'Rate exceeded'],
    [
      'PriorRequestNotComplete',
      'The request was rejected because Route 53 was still processing a prior request.',
    ],
  ])('retries %s, pacing every attempt, until the call succeeds', async (code, message) => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const clock = new FakeClock();
    let answered = 0;
    const { handler, seen } = fakeHandler(clock, () => {
      answered += 1;
      return answered <= 2
        ? { status: 400, body: errorXml(code, message) }
        : { status: 200, body: LIST_HOSTED_ZONES_XML };
    });
    const client = createRoute53Client({
      clock,
      clientConfig: { region: 'us-east-1', credentials: STATIC_CREDENTIALS, requestHandler: handler },
    });

    const sending = client.send(new ListHostedZonesCommand({}));
    // The SDK's backoff and adaptive rate limiter wait on setTimeout and Date: run virtual time
    // forward in steps (the limiter polls with sub-millisecond timeouts, so time must move).
    let settled = false;
    void sending.finally(() => {
      settled = true;
    });
    // Bounded so a broken retry fails the test instead of spinning: 2 virtual minutes.
    for (let step = 0; !settled && step < 2_400; step++) {
      await vi.advanceTimersByTimeAsync(50);
      // Response bodies are streams, read on real macrotasks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const output = await sending;

    expect(output.HostedZones?.[0]?.Id).toBe('/hostedzone/Z1');
    expect(output.$metadata.attempts).toBe(3);
    expect(seen.map((request) => request.headers['amz-sdk-request'])).toEqual([
      `attempt=1; max=${ROUTE53_POLICY.maxAttempts}`,
      `attempt=2; max=${ROUTE53_POLICY.maxAttempts}`,
      `attempt=3; max=${ROUTE53_POLICY.maxAttempts}`,
    ]);
    // Each attempt takes its own slot of the account's budget (the pacer runs after the retry middleware).
    for (const gap of gaps(seen.map((request) => request.at))) {
      expect(gap).toBeGreaterThanOrEqual(1000 / ROUTE53_POLICY.rateLimit);
    }
  });

  it('uses adaptive retries with the attempts of the policy', async () => {
    const client = createRoute53Client({
      clientConfig: { region: 'us-east-1', credentials: STATIC_CREDENTIALS },
    });

    expect(await client.config.maxAttempts()).toBe(ROUTE53_POLICY.maxAttempts);
    expect(await client.config.retryStrategy()).toMatchObject({ mode: 'adaptive' });
  });

  it('defaults to us-east-1 when neither the environment nor a profile sets a region', async () => {
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/aws-config');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/aws-credentials');

    const client = createRoute53Client({ clientConfig: { credentials: STATIC_CREDENTIALS } });

    expect(await client.config.region()).toBe('us-east-1');
  });

  it('takes the region from the environment when it is set', async () => {
    vi.stubEnv('AWS_REGION', 'cn-northwest-1');

    const client = createRoute53Client({ clientConfig: { credentials: STATIC_CREDENTIALS } });

    expect(await client.config.region()).toBe('cn-northwest-1');
  });

  it('assumes the configured role with the session name and external id, and signs with its credentials', async () => {
    const clock = new FakeClock();
    const { handler, seen } = fakeHandler(clock, (request) =>
      request.hostname.startsWith('sts.')
        ? { status: 200, body: ASSUME_ROLE_XML }
        : { status: 200, body: LIST_HOSTED_ZONES_XML },
    );
    const client = createRoute53Client({
      roleArn: 'arn:aws:iam::123456789012:role/dns',
      externalId: 'shared-external-id',
      clock,
      clientConfig: { region: 'us-east-1', credentials: STATIC_CREDENTIALS, requestHandler: handler },
    });

    await client.send(new ListHostedZonesCommand({}));

    const [assumeRole, listZones] = seen;
    expect(Object.fromEntries(new URLSearchParams(assumeRole?.body))).toEqual({
      Action: 'AssumeRole',
      Version: '2011-06-15',
      RoleArn: 'arn:aws:iam::123456789012:role/dns',
      RoleSessionName: 'tencent-ssl-sync',
      ExternalId: 'shared-external-id',
    });
    expect(assumeRole?.headers.authorization).toContain('Credential=AKIDEXAMPLE/');
    expect(listZones?.hostname).toBe('route53.amazonaws.com');
    expect(listZones?.headers.authorization).toContain('Credential=ASIATEMPORARY/');
    expect(listZones?.headers['x-amz-security-token']).toBe('temporary-token');
  });
});
