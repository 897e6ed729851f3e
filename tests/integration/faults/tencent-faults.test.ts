/**
 * Tencent misbehaving under load: one response in five throttled, cut off, garbled or late, through
 * the local server's fault knobs, with fifteen pending certificates over three zones and two issued
 * ones exported inline. The contract under test: a run either finishes with every record right or
 * names exactly the certificates it could not finish, a clean run afterwards finishes them, and no
 * record is ever written twice or written wrong. The client retries the transport faults and
 * throttling, so those runs usually finish; a broken schema is not worth retrying, so that
 * scenario is the one that leaves certificates to name.
 */
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../../infra/local/certificate-store.js';
import {
  type FaultRule,
  type LocalTencentServer,
  startTencentServer,
} from '../../../infra/local/tencent-server.js';
import type { SyncReport } from '../../../lib/sync-types.js';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.js';
import { type MotoServer, motoEnv, startMoto } from '../../helpers/moto.js';
import {
  acceptedWritesPerName,
  addPendingAcross,
  certificatesNotInPlace,
  createZones,
  exportedCertificateId,
  idsWithOutcome,
  strayRecords,
  syncOnce,
  validationRecordSets,
  type WantedRecord,
  type ZoneRecordSet,
} from '../../helpers/sync-harness.js';

const CREDENTIALS = {
  secretId: 'AKIDtencentfaults000000000000000',
  secretKey: 'tencent-faults-secret-key-000000',
};
const ZONES = ['example.com', 'example.net', 'example.org'];
const ISSUED_DOMAINS = ['www.example.com', 'api.example.net'];
// Tencent's faults, not rate limits or backoff lengths, are the subject here: four times Tencent's
// 10/s on both sides, Route53 paced at ten times its 5/s (moto has no limit) and retries backing off
// from 20 ms instead of 250 ms keep six scenarios of two runs each within seconds. The number of
// attempts stays the product's.
const RATE_LIMIT = 40;
const FAST = { route53RateLimit: 50, tencentRetry: { baseDelayMs: 20 } };

/** Breaks only `Status`: the rest of the answer stays as Tencent sends it. */
const garbleStatus = (body: Record<string, unknown>) => ({
  Response: { ...(body.Response as Record<string, unknown>), Status: 'garbled' },
});

/** Label and fault rules, each applied to one request in five. */
const SCENARIOS: Array<[string, FaultRule[]]> = [
  ['throttled (RequestLimitExceeded)', [{ fault: { kind: 'error', code: 'RequestLimitExceeded' } }]],
  ['answered HTTP 502 by a gateway', [{ fault: { kind: 'http', status: 502 } }]],
  ['dropped without an answer', [{ fault: { kind: 'drop' } }]],
  ['answered with malformed JSON', [{ fault: { kind: 'malformed' } }]],
  ['slowed by 300 ms', [{ fault: { kind: 'latency', ms: 300 } }]],
  [
    'answered with a broken schema',
    [
      { action: 'DescribeCertificate', fault: { kind: 'schema', mutate: garbleStatus } },
      { action: 'DescribeCertificateDetail', fault: { kind: 'schema', mutate: garbleStatus } },
    ],
  ],
];

let moto: MotoServer;
let proxy: FaultProxy;
let route53: Route53Client;
let secrets: SecretsManagerClient;

beforeAll(async () => {
  moto = await startMoto();
  // The product talks to moto through the proxy, which records every ChangeResourceRecordSets.
  proxy = await startFaultProxy({ target: moto.endpoint });
  Object.assign(process.env, motoEnv(proxy.endpoint));
  // The test's own reads go straight to moto and stay out of the proxy's record.
  route53 = new Route53Client({ endpoint: moto.endpoint });
  secrets = new SecretsManagerClient({ endpoint: moto.endpoint });
}, 60_000);

afterAll(async () => {
  route53?.destroy();
  secrets?.destroy();
  await proxy?.close();
  await moto?.stop();
});

interface Observed {
  report: SyncReport;
  sets: ZoneRecordSet[];
  /** Issued certificate ids whose secret does not hold them. */
  unexported: Set<string>;
}

describe.each(SCENARIOS)('with one Tencent response in five %s', (_label, rules) => {
  let tencent: LocalTencentServer;
  let pendingIds: string[];
  let issuedIds: string[];
  let wanted: WantedRecord[];
  let faultsMet: number;
  let first: Observed;
  let second: Observed;

  async function observe(report: SyncReport, zoneIds: string[]): Promise<Observed> {
    const unexported = new Set<string>();
    for (const [index, id] of issuedIds.entries()) {
      const held = await exportedCertificateId(secrets, `tencent-ssl/${ISSUED_DOMAINS[index]}`);
      if (held !== id) unexported.add(id);
    }
    return { report, sets: await validationRecordSets(route53, zoneIds), unexported };
  }

  beforeAll(async () => {
    await moto.reset();
    proxy.resetRecords();
    const zoneIds = Object.values(await createZones(route53, ZONES));
    const store = new CertificateStore({ seed: 2026 });
    ({ ids: pendingIds, wanted } = addPendingAcross(store, ZONES, 15));
    issuedIds = [];
    for (const domain of ISSUED_DOMAINS)
      issuedIds.push(String((await store.addIssued({ domain })).CertificateId));
    tencent = await startTencentServer({
      credentials: [CREDENTIALS],
      store,
      rateLimit: RATE_LIMIT,
      seed: 17,
    });
    const env = {
      ...motoEnv(proxy.endpoint),
      TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
      TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
      TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
      TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
      TENCENTCLOUD_RATE_LIMIT: String(RATE_LIMIT),
      ALLOWED_DOMAINS: ZONES.join(','),
      // INSYNC polling is Route53's side; the AWS fault tests cover it.
      WAIT_FOR_INSYNC: 'false',
      LOG_LEVEL: 'warn',
    };
    const run = () => syncOnce(env, {}, FAST);

    const injected = rules.map((rule) => tencent.faults.inject({ probability: 0.2, ...rule }));
    first = await observe((await run()).report, zoneIds);
    faultsMet = injected.reduce((sum, fault) => sum + fault.hits, 0);

    tencent.faults.clear();
    second = await observe((await run()).report, zoneIds);
  }, 60_000);

  afterAll(async () => {
    await tencent?.close();
  });

  it('runs into the injected faults', () => {
    expect(faultsMet).toBeGreaterThan(0);
  });

  it('reports as not done exactly the pending certificates whose records are not in Route53', () => {
    const notDone = idsWithOutcome(first.report, 'failed', 'deferred', 'blocked');
    const reportedPending = new Set(pendingIds.filter((id) => notDone.has(id)));
    expect(reportedPending).toEqual(certificatesNotInPlace(wanted, first.sets));
    for (const id of pendingIds.filter((id) => !notDone.has(id))) {
      expect(first.report.certificates.find((c) => c.certificateId === id)?.outcome).toBe('validating');
    }
  });

  it('reports as failed exactly the issued certificates left unexported', () => {
    const failed = idsWithOutcome(first.report, 'failed');
    expect(new Set(issuedIds.filter((id) => failed.has(id)))).toEqual(first.unexported);
  });

  it('writes no record the validation data did not ask for', () => {
    expect(strayRecords(wanted, first.sets)).toEqual([]);
    expect(strayRecords(wanted, second.sets)).toEqual([]);
  });

  it('has every record in place and every certificate exported after a clean second run', () => {
    expect(
      second.report.certificates.filter((c) => c.outcome !== 'validating' && c.outcome !== 'issued'),
    ).toEqual([]);
    expect(certificatesNotInPlace(wanted, second.sets)).toEqual(new Set());
    expect(second.unexported).toEqual(new Set());
  });

  it('writes each record name exactly once across both runs', () => {
    const writes = acceptedWritesPerName(proxy);
    expect(new Set(writes.keys())).toEqual(new Set(wanted.map((record) => record.name)));
    expect([...writes].filter(([, count]) => count !== 1)).toEqual([]);
  });
});
