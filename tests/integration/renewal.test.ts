/**
 * Applying for and renewing CERTIFICATES against the local Tencent server (and its CA) and moto
 * (Route53, Secrets Manager, the DynamoDB state table), through the production wiring. Free
 * certificates are a quota, so every test counts the applications Tencent accepted: one per need,
 * under ten racing runs, after a run that stopped between claim and call, after refusals, and
 * after the CA rejected an order.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore, formatTencentTime } from '../../infra/local/certificate-store.js';
import { createLocalCa } from '../../infra/local/local-ca.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { type Clock, systemClock } from '../../lib/clock.js';
import { applicationClaimKey, RENEWAL_POLICY, type RenewalReport } from '../../lib/renew.js';
import { DynamoStateStore } from '../../lib/state/dynamo-store.js';
import { ensureStateTable } from '../../lib/state/setup.js';
import { hasFailures } from '../../lib/sync.js';
import type { SyncReport } from '../../lib/sync-types.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';
import { createZones, exportedCertificateId, syncOnce } from '../helpers/sync-harness.js';

const CREDENTIALS = {
  secretId: 'AKIDrenewal0000000000000000000000',
  secretKey: 'renewal-secret-key-0000000000000',
};
const ZONE = 'example.com';
const TABLE = 'tencent-ssl-sync-renewal';
const DAY = 86_400_000;
const FAST = { route53RateLimit: 50 };

let moto: MotoServer;
let route53: Route53Client;
let secrets: SecretsManagerClient;
const servers: LocalTencentServer[] = [];

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, motoEnv(moto.endpoint));
  route53 = new Route53Client({ endpoint: moto.endpoint });
  secrets = new SecretsManagerClient({ endpoint: moto.endpoint });
  await createZones(route53, [ZONE]);
  const dynamo = new DynamoDBClient({ endpoint: moto.endpoint });
  await ensureStateTable(dynamo, TABLE);
  dynamo.destroy();
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  route53?.destroy();
  secrets?.destroy();
  await moto?.stop();
});

/** A Tencent account of its own (server, store, CA seeing moto's Route53), and the env of runs against it. */
async function account(certificates: string, seed: number, options: { caLooksOnlyAtListing?: boolean } = {}) {
  const store = new CertificateStore({ seed });
  const ca = createLocalCa({ store, route53 });
  const tencent = await startTencentServer({
    credentials: [CREDENTIALS],
    store,
    rateLimit: 1000,
    // The CA looks when a listing is answered, and in the background after CompleteCertificate.
    onAction: (call) =>
      options.caLooksOnlyAtListing && call.action === 'CompleteCertificate' ? undefined : ca.onAction(call),
  });
  servers.push(tencent);
  const env: Record<string, string> = {
    ...motoEnv(moto.endpoint),
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    TENCENTCLOUD_RATE_LIMIT: '1000',
    ALLOWED_DOMAINS: ZONE,
    STATE_TABLE: TABLE,
    WAIT_FOR_INSYNC: 'false',
    LOG_LEVEL: 'error',
    CERTIFICATES: certificates,
  };
  /** ApplyCertificate calls Tencent accepted: each one a free certificate spent. */
  const accepted = () => tencent.stats.count('ApplyCertificate', 'success');
  const attempts = () => tencent.stats.count('ApplyCertificate');
  const ordersFor = (domain: string) =>
    store.list().filter((c) => c.Domain === domain && c.VerifyType === 'DNS');
  return { store, tencent, env, accepted, attempts, ordersFor };
}

const renewalOf = (report: SyncReport, domain: string): RenewalReport | undefined =>
  report.renewals?.find((r) => r.domain === domain);

/** The system clock moved forward, as the run sees it. */
const later = (ms: number): Clock => ({ now: () => Date.now() + ms, sleep: systemClock.sleep });

describe('a domain declared in CERTIFICATES with no certificate yet', () => {
  const DOMAIN = 'fresh.example.com';
  const RENEWED = 'renew.example.com';
  let a: Awaited<ReturnType<typeof account>>;
  let oldId: string;
  const runs: SyncReport[] = [];

  beforeAll(async () => {
    a = await account(`${DOMAIN},${RENEWED}`, 4101);
    oldId = String((await a.store.addIssued({ domain: RENEWED, validDays: 10 })).CertificateId);
    for (let i = 0; i < 3; i += 1) runs.push((await syncOnce(a.env, {}, FAST)).report);
  }, 120_000);

  it('is applied for once, with DNS validation, and validated in the same run', () => {
    const [order] = a.ordersFor(DOMAIN);
    expect(a.ordersFor(DOMAIN)).toHaveLength(1);
    expect(renewalOf(runs[0] as SyncReport, DOMAIN)).toMatchObject({
      state: 'applied',
      newCertificateId: order?.CertificateId,
    });
    const validated = runs[0]?.certificates.find((c) => c.certificateId === order?.CertificateId);
    expect(validated).toMatchObject({
      outcome: 'validating',
      records: [expect.objectContaining({ action: 'created' })],
    });
  });

  it('is issued by the CA once its record is in Route53, and exported', async () => {
    const id = String(a.ordersFor(DOMAIN)[0]?.CertificateId);
    expect(a.store.get(id)?.Status).toBe(1);
    expect(await exportedCertificateId(secrets, `tencent-ssl/${DOMAIN}`)).toBe(id);
    expect(renewalOf(runs[2] as SyncReport, DOMAIN)).toMatchObject({ state: 'not-due', certificateId: id });
  });

  it('renews a certificate due for renewal with OldCertificateId, and the secret moves to the new one', async () => {
    const [renewal] = a.ordersFor(RENEWED);
    expect(a.ordersFor(RENEWED)).toHaveLength(1);
    expect(renewal?.CertificateExtra).toMatchObject({ OriginCertificateId: oldId });
    expect(renewalOf(runs[0] as SyncReport, RENEWED)).toMatchObject({
      state: 'applied',
      certificateId: oldId,
      newCertificateId: renewal?.CertificateId,
      reason: `applied as ${renewal?.CertificateId}, renewing ${oldId}`,
    });
    expect(await exportedCertificateId(secrets, `tencent-ssl/${RENEWED}`)).toBe(renewal?.CertificateId);
  });

  it('costs two free certificates in all, and the last run needs nothing', () => {
    expect(a.accepted()).toBe(2);
    expect(a.attempts()).toBe(2);
    expect(runs[2]?.renewals?.map((r) => r.state)).toEqual(['not-due', 'not-due']);
    expect(hasFailures(runs[2] as SyncReport)).toBe(false);
  });
});

describe('ten runs at once', () => {
  const DOMAIN = 'www.example.com';
  let a: Awaited<ReturnType<typeof account>>;
  let oldId: string;
  let reports: SyncReport[];

  beforeAll(async () => {
    a = await account(DOMAIN, 4202);
    oldId = String((await a.store.addIssued({ domain: DOMAIN, validDays: 12 })).CertificateId);
    reports = (await Promise.all(Array.from({ length: 10 }, () => syncOnce(a.env, {}, FAST)))).map(
      (r) => r.report,
    );
  }, 120_000);

  it('apply for the renewal exactly once', () => {
    expect(a.accepted()).toBe(1);
    expect(a.attempts()).toBe(1);
    expect(a.ordersFor(DOMAIN)).toEqual([
      expect.objectContaining({ CertificateExtra: expect.objectContaining({ OriginCertificateId: oldId }) }),
    ]);
  });

  it('all report it applied, naming the one order wherever they name one', () => {
    const id = a.ordersFor(DOMAIN)[0]?.CertificateId;
    const renewals = reports.map((report) => renewalOf(report, DOMAIN));
    expect(renewals.map((r) => r?.state)).toEqual(Array(10).fill('applied'));
    expect(new Set(renewals.map((r) => r?.newCertificateId).filter(Boolean))).toEqual(new Set([id]));
    expect(renewals.filter((r) => r?.appliedThisRun)).toEqual([
      expect.objectContaining({ newCertificateId: id, reason: `applied as ${id}, renewing ${oldId}` }),
    ]);
  });

  it('apply for nothing more in the runs after', async () => {
    await syncOnce(a.env, {}, FAST);
    expect(a.accepted()).toBe(1);
  });
});

describe('a run that stopped between claim and call', () => {
  const DOMAIN = 'crash.example.com';
  let a: Awaited<ReturnType<typeof account>>;
  let report: SyncReport;
  const key = applicationClaimKey({ domain: DOMAIN, follows: 'new' });

  beforeAll(async () => {
    a = await account(DOMAIN, 4303);
    // The claim that run left, as old as a run that stopped quarter of an hour ago.
    const past = new DynamoStateStore({
      client: new DynamoDBClient({ endpoint: moto.endpoint }),
      tableName: TABLE,
      clock: later(-15 * 60_000),
    });
    expect(await past.claim(key, 'stopped-run', { ttlMs: RENEWAL_POLICY.claimTtlMs })).toBe(true);
    past.destroy();
    report = (await syncOnce(a.env, {}, FAST)).report;
  }, 60_000);

  it('leaves the need alone: no application', () => {
    expect(a.attempts()).toBe(0);
  });

  it('reports it blocked, naming the claim and what to do', () => {
    expect(renewalOf(report, DOMAIN)).toMatchObject({
      state: 'blocked',
      claim: key,
      reason: expect.stringMatching(
        /earlier run claimed this application .* check the Tencent console .* release the claim/,
      ),
    });
    expect(hasFailures(report)).toBe(true);
  });

  it('applies once the claim has expired', async () => {
    a.tencent.setClockOffset(RENEWAL_POLICY.claimTtlMs / 1000);
    try {
      const next = await syncOnce(a.env, {}, { ...FAST, clock: later(RENEWAL_POLICY.claimTtlMs) });
      expect(renewalOf(next.report, DOMAIN)?.state).toBe('applied');
      expect(a.accepted()).toBe(1);
    } finally {
      a.tencent.setClockOffset(0);
    }
  });
});

describe('an application Tencent refuses', () => {
  const QUOTA = 'quota.example.com';
  const BUSY = 'busy.example.com';
  let a: Awaited<ReturnType<typeof account>>;
  const runs: SyncReport[] = [];

  beforeAll(async () => {
    a = await account(`${QUOTA},${BUSY}`, 4404);
    // Domains are applied for in their declared order: the first call is the quota's, the second the busy one's.
    a.tencent.faults.inject({
      action: 'ApplyCertificate',
      times: 1,
      fault: { kind: 'error', code: 'FailedOperation.ExceedsFreeLimit' },
    });
    a.tencent.faults.inject({
      action: 'ApplyCertificate',
      times: 1,
      fault: { kind: 'error', code: 'ServiceUnavailable' },
    });
    runs.push((await syncOnce(a.env, {}, FAST)).report);
    runs.push((await syncOnce(a.env, {}, FAST)).report);
  }, 60_000);

  it('for good (quota) is reported blocked with its code, and counts as a failure', () => {
    expect(renewalOf(runs[0] as SyncReport, QUOTA)).toMatchObject({
      state: 'blocked',
      reason: expect.stringMatching(
        /^Tencent refused the application: FailedOperation\.ExceedsFreeLimit: .*RequestId/,
      ),
    });
    expect(hasFailures(runs[0] as SyncReport)).toBe(true);
  });

  it('for now is reported failed, and the next run applies', () => {
    expect(renewalOf(runs[0] as SyncReport, BUSY)).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/ServiceUnavailable.*the next run tries again/),
    });
    expect(renewalOf(runs[1] as SyncReport, BUSY)).toMatchObject({ state: 'applied' });
    expect(a.ordersFor(BUSY)).toHaveLength(1);
  });

  it('for good is not tried again within the day', () => {
    expect(renewalOf(runs[1] as SyncReport, QUOTA)).toMatchObject({
      state: 'blocked',
      reason: expect.stringMatching(/Not tried again until/),
    });
    const quotaCalls = a.tencent.stats.requests.filter(
      (r) => r.action === 'ApplyCertificate' && (r.params as { DomainName?: string }).DomainName === QUOTA,
    );
    expect(quotaCalls).toHaveLength(1);
  });

  it('for good is tried again once the day has passed', async () => {
    a.tencent.setClockOffset((RENEWAL_POLICY.refusedHoldMs + 60_000) / 1000);
    try {
      const next = await syncOnce(
        a.env,
        {},
        { ...FAST, clock: later(RENEWAL_POLICY.refusedHoldMs + 60_000) },
      );
      expect(renewalOf(next.report, QUOTA)?.state).toBe('applied');
      expect(a.ordersFor(QUOTA)).toHaveLength(1);
    } finally {
      a.tencent.setClockOffset(0);
    }
  });
});

describe('an order the CA rejects', () => {
  const DOMAIN = 'rejected.example.com';
  let a: Awaited<ReturnType<typeof account>>;
  const runs: SyncReport[] = [];
  let first: string;
  let statusesAfterSecondRun: unknown[];

  beforeAll(async () => {
    // The CA must not issue the first order before its deadline is moved into the past.
    a = await account(DOMAIN, 4505, { caLooksOnlyAtListing: true });
    runs.push((await syncOnce(a.env, {}, FAST)).report);
    first = String(a.ordersFor(DOMAIN)[0]?.CertificateId);
    // Its validation deadline passes: the CA closes it (status 2) when it next looks.
    a.store.update(first, { DVAuthDeadline: formatTencentTime(Date.now() - DAY) });
    runs.push((await syncOnce(a.env, {}, FAST)).report);
    statusesAfterSecondRun = a.ordersFor(DOMAIN).map((o) => o.Status);
    runs.push((await syncOnce(a.env, {}, FAST)).report);
  }, 90_000);

  it('makes the domain missing again, and one new application follows', () => {
    const orders = a.ordersFor(DOMAIN);
    expect(statusesAfterSecondRun).toEqual([2, 0]);
    expect(renewalOf(runs[1] as SyncReport, DOMAIN)).toMatchObject({
      state: 'applied',
      newCertificateId: orders[1]?.CertificateId,
      reason: `applied as ${orders[1]?.CertificateId}`,
    });
  });

  it('validates the new order in that run, which the CA then issues; nothing more is applied for', () => {
    const second = String(a.ordersFor(DOMAIN)[1]?.CertificateId);
    expect(runs[1]?.certificates.find((c) => c.certificateId === second)?.outcome).toBe('validating');
    expect(renewalOf(runs[2] as SyncReport, DOMAIN)).toMatchObject({
      state: 'not-due',
      certificateId: second,
    });
    expect(a.accepted()).toBe(2);
    expect(a.attempts()).toBe(2);
  });
});
