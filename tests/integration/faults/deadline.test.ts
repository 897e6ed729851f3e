/**
 * A Lambda running out of time: the sync function passes `runSync` a deadline some way before its
 * own timeout. The deadline passes while the first certificates are being read: it must stop new
 * certificates from starting, report them as deferred, and leave them for the next run, which
 * must finish them without writing anything twice. Export runs alongside validation from the start
 * of the run, so it is not cut short.
 *
 * The run's clock is the test's: it jumps past the deadline once the export writes its first
 * secret, and the local Tencent server holds the answers to the validation reads until then,
 * so the certificates started before the deadline are exactly the first pool of reads, however
 * loaded the machine is.
 */
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../../infra/local/tencent-server.js';
import type { Clock } from '../../../lib/clock.js';
import { summarizeSyncReport } from '../../../lib/sync.js';
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
  secretId: 'AKIDdeadline00000000000000000000',
  secretKey: 'deadline-secret-key-000000000000',
};
const ZONES = ['example.com', 'example.net', 'example.org'];
const ISSUED_DOMAINS = ['www.example.com', 'api.example.org'];
const PENDING = 30;
const HOUR_MS = 3_600_000;
const VALIDATION_READS = new Set(['DescribeCertificate', 'DescribeCertificateDetail']);

/** The system clock, moved forward by `offset`. */
class JumpClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

let moto: MotoServer;
let proxy: FaultProxy;
let tencent: LocalTencentServer;
let route53: Route53Client;
let secrets: SecretsManagerClient;
let pendingIds: string[];
let issuedIds: string[];
let wanted: WantedRecord[];
let first: SyncReport;
/** Certificate ids the first run asked DescribeCertificate about (retries counted once). */
let describedInFirst: Set<string>;
let afterFirst: ZoneRecordSet[];
let exportedAfterFirst: Array<string | undefined>;
let second: SyncReport;
let afterSecond: ZoneRecordSet[];

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint });
  Object.assign(process.env, motoEnv(proxy.endpoint));
  route53 = new Route53Client({ endpoint: moto.endpoint });
  secrets = new SecretsManagerClient({ endpoint: moto.endpoint });
  const zoneIds = Object.values(await createZones(route53, ZONES));

  const store = new CertificateStore({ seed: 404 });
  ({ ids: pendingIds, wanted } = addPendingAcross(store, ZONES, PENDING));
  issuedIds = [];
  for (const domain of ISSUED_DOMAINS)
    issuedIds.push(String((await store.addIssued({ domain })).CertificateId));
  const clock = new JumpClock();
  // The deadline passes once the export writes its first secret: every export has started by then.
  const passed = new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (proxy.forwarded({ service: 'secretsmanager', operation: 'CreateSecret' }).length === 0) return;
      clearInterval(poll);
      clock.offset = HOUR_MS;
      resolve();
    }, 5);
  });
  tencent = await startTencentServer({
    credentials: [CREDENTIALS],
    store,
    onAction: async ({ action, params }) => {
      const id = String(params.CertificateId);
      if (VALIDATION_READS.has(action) && !issuedIds.includes(id) && clock.offset === 0) await passed;
      return undefined;
    },
  });
  const env = {
    ...motoEnv(proxy.endpoint),
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    ALLOWED_DOMAINS: ZONES.join(','),
    WAIT_FOR_INSYNC: 'false',
    LOG_LEVEL: 'warn',
  };
  const exported = () =>
    Promise.all(ISSUED_DOMAINS.map((domain) => exportedCertificateId(secrets, `tencent-ssl/${domain}`)));

  ({ report: first } = await syncOnce(env, { deadline: clock.now() + HOUR_MS / 2 }, { clock }));
  describedInFirst = new Set(
    tencent.stats.requests
      .filter((request) => VALIDATION_READS.has(String(request.action)))
      .map((request) => String((request.params as { CertificateId?: unknown }).CertificateId))
      .filter((id) => pendingIds.includes(id)),
  );
  afterFirst = await validationRecordSets(route53, zoneIds);
  exportedAfterFirst = await exported();

  // The next run is not racing a deadline: a faster pace on both sides only shortens the test.
  tencent.setRateLimit(40);
  ({ report: second } = await syncOnce(
    { ...env, TENCENTCLOUD_RATE_LIMIT: '40' },
    {},
    { route53RateLimit: 50 },
  ));
  afterSecond = await validationRecordSets(route53, zoneIds);
}, 60_000);

afterAll(async () => {
  route53?.destroy();
  secrets?.destroy();
  await tencent?.close();
  await proxy?.close();
  await moto?.stop();
});

describe('a sync run whose deadline passes partway', () => {
  it('reports the certificates it had no time to start as deferred, with the reason', () => {
    const deferred = idsWithOutcome(first, 'deferred');
    expect(deferred.size).toBeGreaterThan(0);
    expect(deferred.size).toBeLessThan(PENDING);
    for (const report of first.certificates.filter((c) => c.outcome === 'deferred')) {
      expect(report.error).toMatch(/ran out of time/);
      expect(report.records).toEqual([]);
    }
  });

  it('finishes every pending certificate it started', () => {
    const started = pendingIds.filter((id) => !idsWithOutcome(first, 'deferred').has(id));
    expect(new Set(started)).toEqual(idsWithOutcome(first, 'validating'));
  });

  it('sends no request for a deferred certificate', () => {
    const started = pendingIds.filter((id) => !idsWithOutcome(first, 'deferred').has(id));
    expect(describedInFirst).toEqual(new Set(started));
  });

  it('has in Route53 exactly the records of the certificates it started', () => {
    expect(certificatesNotInPlace(wanted, afterFirst)).toEqual(idsWithOutcome(first, 'deferred'));
    expect(strayRecords(wanted, afterFirst)).toEqual([]);
  });

  it('exports the issued certificates, whose export starts with the run, before the deadline', () => {
    for (const id of issuedIds) {
      expect(first.certificates.find((c) => c.certificateId === id)?.export).toMatchObject({
        result: 'created',
      });
    }
    expect(exportedAfterFirst).toEqual(issuedIds);
  });

  it('names the deferred certificates in the summary the Lambda returns', () => {
    expect(new Set(summarizeSyncReport(first).deferred)).toEqual(idsWithOutcome(first, 'deferred'));
  });
});

describe('the next run', () => {
  it('completes the deferred certificates', () => {
    expect(idsWithOutcome(second, 'validating')).toEqual(new Set(pendingIds));
    expect(certificatesNotInPlace(wanted, afterSecond)).toEqual(new Set());
    expect(strayRecords(wanted, afterSecond)).toEqual([]);
  });

  it('leaves the secrets written by the first run as they are', () => {
    for (const id of issuedIds) {
      expect(second.certificates.find((c) => c.certificateId === id)?.export).toMatchObject({
        result: 'unchanged',
      });
    }
  });

  it('writes only what the first run left, each record name once in all', () => {
    const writes = acceptedWritesPerName(proxy);
    expect(new Set(writes.keys())).toEqual(new Set(wanted.map((record) => record.name)));
    expect([...writes].filter(([, count]) => count !== 1)).toEqual([]);
  });
});
