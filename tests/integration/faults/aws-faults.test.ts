/**
 * AWS misbehaving: Route53 throttling, `PriorRequestNotComplete` and server errors, Secrets Manager
 * throttling, answered by a proxy in front of moto. The SDK's own retries (adaptive for Route53,
 * as lib/route53/client.ts configures it) must absorb what they can; what they cannot must be
 * reported per certificate, and the next run must finish it without writing anything twice.
 */
import { Route53Client } from '@aws-sdk/client-route-53';
import { ListSecretVersionIdsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../../infra/local/tencent-server.js';
import { ROUTE53_POLICY } from '../../../lib/route53/client.js';
import type { SyncReport } from '../../../lib/sync-types.js';
import { type AwsFault, type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.js';
import { type MotoServer, motoEnv, startMoto } from '../../helpers/moto.js';
import {
  acceptedBatchesPerZone,
  addPendingAcross,
  certificatesNotInPlace,
  createZones,
  exportedCertificateId,
  idsWithOutcome,
  type SyncRun,
  strayRecords,
  syncOnce,
  validationRecordSets,
  type WantedRecord,
  type ZoneRecordSet,
} from '../../helpers/sync-harness.js';

const CREDENTIALS = {
  secretId: 'AKIDawsfaults0000000000000000000',
  secretKey: 'aws-faults-secret-key-0000000000',
};
const ZONES = ['example.com', 'example.net', 'example.org'];
// Tencent is not the subject here: a generous rate keeps its part of each run short. Nor is
// Route53's pacing (5 requests per second, covered by the unit tests): at ten times that pace the
// SDK's retries and the reports are exercised all the same, in a fraction of the time.
const RATE_LIMIT = 40;
const FAST = { route53RateLimit: 50 };

let moto: MotoServer;
let proxy: FaultProxy;
let route53: Route53Client;
let secrets: SecretsManagerClient;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint, seed: 7 });
  // The product's clients read their endpoint from the environment and so go through the proxy.
  Object.assign(process.env, motoEnv(proxy.endpoint));
  route53 = new Route53Client({ endpoint: moto.endpoint });
  secrets = new SecretsManagerClient({ endpoint: moto.endpoint });
}, 60_000);

afterAll(async () => {
  route53?.destroy();
  secrets?.destroy();
  await proxy?.close();
  await moto?.stop();
});

interface Account {
  tencent: LocalTencentServer;
  store: CertificateStore;
  zoneIds: Record<string, string>;
  pendingIds: string[];
  wanted: WantedRecord[];
  env: Record<string, string>;
  recordSets(): Promise<ZoneRecordSet[]>;
}

/**
 * A clean moto, the three zones and `pending` certificates spread over them. Waiting for INSYNC
 * adds half a second and a GetChange per batch to a run, so only the scenario that faults every
 * operation, GetChange included, waits for it.
 */
async function arrangeAccount(pending = 6, waitForInsync = false): Promise<Account> {
  await moto.reset();
  proxy.clearFaults();
  proxy.resetRecords();
  const zoneIds = await createZones(route53, ZONES);
  const store = new CertificateStore({ seed: 99 });
  const { ids: pendingIds, wanted } = addPendingAcross(store, ZONES, pending);
  const tencent = await startTencentServer({ credentials: [CREDENTIALS], store, rateLimit: RATE_LIMIT });
  return {
    tencent,
    store,
    zoneIds,
    pendingIds,
    wanted,
    env: {
      ...motoEnv(proxy.endpoint),
      TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
      TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
      TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
      TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
      TENCENTCLOUD_RATE_LIMIT: String(RATE_LIMIT),
      ALLOWED_DOMAINS: ZONES.join(','),
      WAIT_FOR_INSYNC: String(waitForInsync),
      LOG_LEVEL: 'warn',
    },
    recordSets: () => validationRecordSets(route53, Object.values(zoneIds)),
  };
}

const outcomesOf = (report: SyncReport) =>
  Object.fromEntries(report.certificates.map((c) => [c.certificateId, c.outcome]));

/** A different transient answer for the first change batch of each zone. */
const FIRST_BATCH_FAULTS: Array<[string, AwsFault]> = [
  ['example.com', { kind: 'throttling' }],
  ['example.net', { kind: 'prior-request-not-complete' }],
  ['example.org', { kind: 'http', status: 503 }],
];

describe('when Route53 answers the first change batch of each zone with Throttling, PriorRequestNotComplete or 503', () => {
  let account: Account;
  let run: SyncRun;

  beforeAll(async () => {
    account = await arrangeAccount();
    for (const [zone, fault] of FIRST_BATCH_FAULTS) {
      const hostedZoneId = account.zoneIds[zone] as string;
      proxy.inject({ operation: 'ChangeResourceRecordSets', hostedZoneId, times: 1, fault });
    }
    run = await syncOnce(account.env, {}, FAST);
  }, 60_000);

  afterAll(async () => {
    await account?.tencent.close();
  });

  it('retries and finishes every certificate in the same run', () => {
    expect(Object.values(outcomesOf(run.report))).toEqual(account.pendingIds.map(() => 'validating'));
    expect(run.logs.filter((line) => line.includes('retrying Route53 request'))).toHaveLength(
      FIRST_BATCH_FAULTS.length,
    );
  });

  it.each(FIRST_BATCH_FAULTS)('has one batch for %s refused and then exactly one accepted', (zone, fault) => {
    const hostedZoneId = account.zoneIds[zone] as string;
    expect(proxy.faulted({ operation: 'ChangeResourceRecordSets', hostedZoneId })).toEqual([
      expect.objectContaining({ fault: fault.kind }),
    ]);
    expect(acceptedBatchesPerZone(proxy).get(hostedZoneId)).toBe(1);
  });

  it('leaves every wanted record in place and nothing else', async () => {
    const sets = await account.recordSets();
    expect(certificatesNotInPlace(account.wanted, sets)).toEqual(new Set());
    expect(strayRecords(account.wanted, sets)).toEqual([]);
  });
});

describe('when one Route53 request in three fails with HTTP 500, whatever the operation', () => {
  let account: Account;
  let run: SyncRun;

  beforeAll(async () => {
    account = await arrangeAccount(6, true);
    proxy.reseed(31);
    proxy.inject({ service: 'route53', probability: 1 / 3, fault: { kind: 'http', status: 500 } });
    run = await syncOnce(account.env, {}, FAST);
  }, 60_000);

  afterAll(async () => {
    await account?.tencent.close();
  });

  it('absorbs the failures in the SDK retries and finishes every certificate', async () => {
    expect(proxy.faulted({ service: 'route53' }).length).toBeGreaterThan(0);
    expect(Object.values(outcomesOf(run.report))).toEqual(account.pendingIds.map(() => 'validating'));
    expect(certificatesNotInPlace(account.wanted, await account.recordSets())).toEqual(new Set());
  });

  it('has exactly one change batch accepted per zone', () => {
    expect([...acceptedBatchesPerZone(proxy).values()]).toEqual(ZONES.map(() => 1));
  });
});

describe('when Route53 fails every change batch of one zone', () => {
  let account: Account;
  let failingZone: string;
  let first: SyncRun;
  let afterFirst: ZoneRecordSet[];
  let batchesAfterFirst: Map<string, number>;
  let second: SyncRun;

  beforeAll(async () => {
    account = await arrangeAccount();
    failingZone = account.zoneIds['example.net'] as string;
    // 503 rather than Throttling: the SDK backs off throttling from 1 s and doubling, so eight
    // attempts would take half a minute; server errors back off from 50 ms.
    const outage = proxy.inject({
      operation: 'ChangeResourceRecordSets',
      hostedZoneId: failingZone,
      fault: { kind: 'http', status: 503 },
    });
    first = await syncOnce(account.env, {}, FAST);
    afterFirst = await account.recordSets();
    batchesAfterFirst = new Map(acceptedBatchesPerZone(proxy));
    outage.remove();
    second = await syncOnce(account.env, {}, FAST);
  }, 60_000);

  afterAll(async () => {
    await account?.tencent.close();
  });

  const inZone = (zone: string) =>
    account.wanted.filter((record) => record.name.endsWith(`.${zone}`)).map((record) => record.certificateId);

  it('gives up after the configured number of attempts', () => {
    expect(proxy.faulted({ operation: 'ChangeResourceRecordSets', hostedZoneId: failingZone })).toHaveLength(
      ROUTE53_POLICY.maxAttempts,
    );
  });

  it("reports exactly that zone's certificates as failed, with Route53's error", () => {
    expect(idsWithOutcome(first.report, 'failed')).toEqual(new Set(inZone('example.net')));
    for (const id of inZone('example.net')) {
      const report = first.report.certificates.find((c) => c.certificateId === id);
      expect(report?.records.map((r) => [r.action, r.reason])).toEqual(
        report?.records.map(() => ['failed', expect.stringMatching(/ServiceUnavailable/)]),
      );
    }
    expect(certificatesNotInPlace(account.wanted, afterFirst)).toEqual(new Set(inZone('example.net')));
  });

  it("writes the other zones' records in the same run", () => {
    expect(Object.fromEntries(batchesAfterFirst)).toEqual({
      [account.zoneIds['example.com'] as string]: 1,
      [account.zoneIds['example.org'] as string]: 1,
    });
  });

  it('finishes the failed zone on the next run with one accepted batch and leaves the others alone', async () => {
    expect(Object.values(outcomesOf(second.report))).toEqual(account.pendingIds.map(() => 'validating'));
    expect([...acceptedBatchesPerZone(proxy).values()]).toEqual(ZONES.map(() => 1));
    const sets = await account.recordSets();
    expect(certificatesNotInPlace(account.wanted, sets)).toEqual(new Set());
    expect(strayRecords(account.wanted, sets)).toEqual([]);
  });
});

describe('when Route53 keeps failing the listing of hosted zones', () => {
  let account: Account;
  let issuedIds: string[];
  let outcome: { report: SyncReport } | { error: unknown };

  beforeAll(async () => {
    account = await arrangeAccount();
    issuedIds = [];
    for (const domain of ['www.example.com', 'api.example.net']) {
      issuedIds.push(String((await account.store.addIssued({ domain })).CertificateId));
    }
    proxy.inject({ operation: 'ListHostedZones', fault: { kind: 'http', status: 503 } });
    outcome = await syncOnce(account.env, {}, FAST).then(
      ({ report }) => ({ report }),
      (error: unknown) => ({ error }),
    );
  }, 60_000);

  afterAll(async () => {
    await account?.tencent.close();
  });

  /** The run's report; a thrown run fails the test with what it threw. */
  function reported(): SyncReport {
    if ('error' in outcome) {
      const error = outcome.error as Error;
      throw new Error(`runSync threw instead of reporting: ${error.name}: ${error.message}`);
    }
    return outcome.report;
  }

  // Without the zone list no record can be placed, but that is per-certificate news: the run must
  // still report (the CLI's exit code 1 and its JSON, the Lambda's summary) rather than throw.
  it('reports every pending certificate as failed instead of throwing the run away', () => {
    expect(idsWithOutcome(reported(), 'failed')).toEqual(new Set(account.pendingIds));
  });

  it('reports the exports it wrote for the issued certificates, which need no zone', async () => {
    const written = await Promise.all(
      ['www.example.com', 'api.example.net'].map((domain) =>
        exportedCertificateId(secrets, `tencent-ssl/${domain}`),
      ),
    );
    expect(written).toEqual(issuedIds);
    for (const id of issuedIds) {
      expect(reported().certificates.find((c) => c.certificateId === id)?.export).toMatchObject({
        result: 'created',
      });
    }
  });
});

describe('when Secrets Manager throttles', () => {
  let account: Account;

  async function versionCount(name: string): Promise<number> {
    const out = await secrets.send(
      new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }),
    );
    return out.Versions?.length ?? 0;
  }

  const exportOf = (run: SyncRun, id: string) =>
    run.report.certificates.find((c) => c.certificateId === id)?.export;

  beforeAll(async () => {
    account = await arrangeAccount(0);
  }, 60_000);

  afterAll(async () => {
    await account?.tencent.close();
  });

  it('retries a throttled CreateSecret and creates the secret once', async () => {
    const issued = String((await account.store.addIssued({ domain: 'www.example.com' })).CertificateId);
    proxy.inject({ operation: 'CreateSecret', times: 1, fault: { kind: 'throttling' } });

    const run = await syncOnce(account.env, {}, FAST);

    expect(exportOf(run, issued)).toMatchObject({ result: 'created' });
    expect(proxy.faulted({ operation: 'CreateSecret' })).toHaveLength(1);
    expect(proxy.forwarded({ operation: 'CreateSecret' })).toHaveLength(1);
    expect(await exportedCertificateId(secrets, 'tencent-ssl/www.example.com')).toBe(issued);
  });

  it('retries a throttled PutSecretValue and writes one new version', async () => {
    const renewal = String(
      (await account.store.addIssued({ domain: 'www.example.com', validDays: 120 })).CertificateId,
    );
    proxy.inject({ operation: 'PutSecretValue', times: 1, fault: { kind: 'throttling' } });

    const run = await syncOnce(account.env, {}, FAST);

    expect(exportOf(run, renewal)).toMatchObject({ result: 'updated' });
    expect(proxy.faulted({ operation: 'PutSecretValue' })).toHaveLength(1);
    expect(proxy.forwarded({ operation: 'PutSecretValue' })).toHaveLength(1);
    expect(await versionCount('tencent-ssl/www.example.com')).toBe(2);
    expect(await exportedCertificateId(secrets, 'tencent-ssl/www.example.com')).toBe(renewal);
  });

  it('reports the export as failed when throttling outlasts the retries', async () => {
    const issued = String((await account.store.addIssued({ domain: 'shop.example.com' })).CertificateId);
    const throttle = proxy.inject({ operation: 'CreateSecret', fault: { kind: 'throttling' } });

    const run = await syncOnce(account.env, {}, FAST);
    throttle.remove();

    expect(run.report.certificates.find((c) => c.certificateId === issued)).toMatchObject({
      outcome: 'failed',
      export: { result: 'failed', reason: expect.stringMatching(/Throttling/) },
    });
    expect(await exportedCertificateId(secrets, 'tencent-ssl/shop.example.com')).toBeUndefined();
  });

  it('exports the certificate left behind on the next run, writing it once', async () => {
    proxy.resetRecords();
    const run = await syncOnce(account.env, {}, FAST);

    expect(idsWithOutcome(run.report, 'failed')).toEqual(new Set());
    expect(proxy.forwarded({ operation: 'CreateSecret' })).toHaveLength(1);
    expect(proxy.forwarded({ operation: 'PutSecretValue' })).toHaveLength(0);
    expect(await versionCount('tencent-ssl/shop.example.com')).toBe(1);
  });
});
