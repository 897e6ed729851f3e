/**
 * Two syncs at once (the schedule and a webhook) over certificates whose TXT values share one
 * name: each reads the set and writes it back conditionally. Route53 refuses the write of the run
 * that read a set the other has changed since (the fault proxy enforces Route53's rule, which
 * moto does not); that run reads again and retries, so no value is ever lost: neither the other
 * run's nor the foreign value already there, which keeps its bytes and its TTL.
 */
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import type { SyncReport } from '../../lib/sync-types.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';
import { createZones, syncOnce } from '../helpers/sync-harness.js';

const CREDENTIALS = {
  secretId: 'AKIDconcurrent000000000000000000',
  secretKey: 'concurrent-secret-key-0000000000',
};
const ZONE = 'example.com';
const NAME = '_dnsauth.example.com';
const FOREIGN = '"v=spf1 -all" "second string"';
const FOREIGN_TTL = 3600;
const REPETITIONS = 20;

let moto: MotoServer;
let proxy: FaultProxy;
let tencent: LocalTencentServer;
let route53: Route53Client;
let zoneId: string;
let store: CertificateStore;
let env: Record<string, string>;
/** Both runs' validation reads are answered together, so both read Route53 at about the same time. */
let barrier: { waiting: number; release: () => void; released: Promise<void> };

function newBarrier() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  barrier = { waiting: 0, release, released };
}

async function txtSet(): Promise<{ ttl: number | undefined; values: string[] }> {
  const page = await route53.send(
    new ListResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      StartRecordName: NAME,
      StartRecordType: 'TXT',
    }),
  );
  const set = page.ResourceRecordSets?.find((s) => s.Name === `${NAME}.` && s.Type === 'TXT');
  return { ttl: set?.TTL, values: (set?.ResourceRecords ?? []).map((r) => String(r.Value)) };
}

function tokenOf(store: CertificateStore, id: string): string {
  const detail = store.get(id)?.DvAuthDetail as { DvAuths: Array<{ DvAuthValue: string }> } | undefined;
  return String(detail?.DvAuths[0]?.DvAuthValue);
}

interface Repetition {
  reports: SyncReport[];
  tokens: string[];
  after: { ttl: number | undefined; values: string[] };
}
const repetitions: Repetition[] = [];

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint });
  Object.assign(process.env, motoEnv(proxy.endpoint));
  route53 = new Route53Client({ endpoint: moto.endpoint });
  zoneId = String((await createZones(route53, [ZONE]))[ZONE]);
  await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: 'CREATE',
            ResourceRecordSet: {
              Name: NAME,
              Type: 'TXT',
              TTL: FOREIGN_TTL,
              ResourceRecords: [{ Value: FOREIGN }],
            },
          },
        ],
      },
    }),
  );
  store = new CertificateStore({ seed: 77 });
  newBarrier();
  tencent = await startTencentServer({
    credentials: [CREDENTIALS],
    store,
    rateLimit: 1000,
    onAction: async ({ action }) => {
      if (action !== 'DescribeCertificate' && action !== 'DescribeCertificateDetail') return undefined;
      const gate = barrier;
      gate.waiting += 1;
      if (gate.waiting === 2) gate.release();
      await gate.released;
      return undefined;
    },
  });
  env = {
    ...motoEnv(proxy.endpoint),
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    TENCENTCLOUD_RATE_LIMIT: '1000',
    ALLOWED_DOMAINS: ZONE,
    WAIT_FOR_INSYNC: 'false',
    LOG_LEVEL: 'error',
  };

  for (let i = 0; i < REPETITIONS; i++) {
    // Two orders for the apex, each validated by its own TXT value at the same name.
    const ids = [0, 1].map((n) =>
      String(
        store.addPending({ domain: ZONE, altNames: n === 1 ? [`*.${ZONE}`] : [], verifyType: 'TXT' })
          .CertificateId,
      ),
    );
    newBarrier();
    const runs = await Promise.all(
      ids.map((id) => syncOnce(env, { certificateIds: [id] }, { route53RateLimit: 50 })),
    );
    repetitions.push({
      reports: runs.map((run) => run.report),
      tokens: ids.map((id) => tokenOf(store, id)),
      after: await txtSet(),
    });
    // Done with this pair: the next repetition's orders are the only pending ones that matter.
    for (const id of ids) store.setStatus(id, 7);
  }
}, 180_000);

afterAll(async () => {
  route53?.destroy();
  await tencent?.close();
  await proxy?.close();
  await moto?.stop();
});

describe('two syncs writing the same TXT name at once', () => {
  it('loses no value in any repetition', () => {
    for (const { tokens, after } of repetitions) {
      const texts = after.values.map((v) => v.replace(/^"|"$/g, ''));
      for (const token of tokens) expect(texts).toContain(token);
    }
  });

  it('keeps the foreign value byte for byte and its TTL', () => {
    for (const { after } of repetitions) {
      expect(after.values).toContain(FOREIGN);
      expect(after.ttl).toBe(FOREIGN_TTL);
    }
  });

  it('reports every certificate as validating', () => {
    for (const { reports } of repetitions) {
      for (const report of reports) expect(report.certificates.map((c) => c.outcome)).toEqual(['validating']);
    }
  });

  it('met the concurrent writer: Route53 refused writes over a set changed since it was read', () => {
    expect(proxy.refused({ operation: 'ChangeResourceRecordSets' }).length).toBeGreaterThan(0);
  });

  it('never upserts: every change deletes a set exactly as read or creates one', () => {
    const bodies = proxy.forwarded({ operation: 'ChangeResourceRecordSets' }).map((r) => r.body);
    expect(bodies.length).toBeGreaterThan(0);
    for (const body of bodies) expect(body).not.toMatch(/<Action>UPSERT<\/Action>/);
  });
});
