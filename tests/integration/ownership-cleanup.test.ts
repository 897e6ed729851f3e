/**
 * With the state table on, the sync changes and removes only what it wrote itself. A foreign
 * TXT value at a validation name keeps its bytes and its TTL through the writes and the cleanup;
 * a foreign CNAME at a wanted name is a conflict left as it is; once the certificates are issued
 * the next run removes exactly the owned values, says so per record, and the run after writes
 * nothing. Route53's DELETE check is enforced by the fault proxy in front of moto.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { ensureStateTable } from '../../lib/state/setup.js';
import type { SyncReport } from '../../lib/sync-types.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';
import { createZones, syncOnce } from '../helpers/sync-harness.js';

const CREDENTIALS = {
  secretId: 'AKIDownership00000000000000000000',
  secretKey: 'ownership-secret-key-00000000000',
};
const ZONE = 'example.com';
const TXT_NAME = '_dnsauth.example.com';
const FOREIGN_TXT = '"google-site-verification=abc" "and a second string"';
const FOREIGN_TTL = 900;
const TABLE = 'tencent-ssl-sync-state';

let moto: MotoServer;
let proxy: FaultProxy;
let tencent: LocalTencentServer;
let route53: Route53Client;
let zoneId: string;
let store: CertificateStore;
let env: Record<string, string>;
let txtId: string;
let cnameId: string;
let clashId: string;
let foreignCname: { name: string; target: string };
const runs: Record<string, SyncReport> = {};
const sets: Record<string, Array<{ name: string; type: string; ttl?: number; values: string[] }>> = {};

async function zoneSets() {
  const page = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  return (page.ResourceRecordSets ?? [])
    .filter((s) => s.Type === 'TXT' || s.Type === 'CNAME')
    .map((s) => ({
      name: String(s.Name).replace(/\.$/, ''),
      type: String(s.Type),
      ttl: s.TTL,
      values: (s.ResourceRecords ?? []).map((r) => String(r.Value)),
    }));
}

/** Each certificate's validation record as Tencent gave it while pending (issued ones have none). */
const pendingAuth = new Map<string, { DvAuthKey: string; DvAuthValue: string }>();
const dvAuth = (id: string) => pendingAuth.get(id) as { DvAuthKey: string; DvAuthValue: string };
function rememberAuth(id: string): void {
  const detail = store.get(id)?.DvAuthDetail as {
    DvAuths: Array<{ DvAuthKey: string; DvAuthValue: string }>;
  };
  pendingAuth.set(id, detail.DvAuths[0] as { DvAuthKey: string; DvAuthValue: string });
}

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint });
  Object.assign(process.env, motoEnv(proxy.endpoint));
  route53 = new Route53Client({ endpoint: moto.endpoint });
  zoneId = String((await createZones(route53, [ZONE]))[ZONE]);
  const dynamo = new DynamoDBClient({ endpoint: moto.endpoint });
  await ensureStateTable(dynamo, TABLE);
  dynamo.destroy();

  store = new CertificateStore({ seed: 1212 });
  txtId = String(store.addPending({ domain: ZONE, verifyType: 'TXT' }).CertificateId);
  cnameId = String(store.addPending({ domain: `www.${ZONE}`, verifyType: 'CNAME' }).CertificateId);
  clashId = String(store.addPending({ domain: `api.${ZONE}`, verifyType: 'CNAME' }).CertificateId);
  for (const id of [txtId, cnameId, clashId]) rememberAuth(id);
  foreignCname = { name: dvAuth(clashId).DvAuthKey.toLowerCase(), target: 'someone-else.example.net' };
  await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: 'CREATE',
            ResourceRecordSet: {
              Name: TXT_NAME,
              Type: 'TXT',
              TTL: FOREIGN_TTL,
              ResourceRecords: [{ Value: FOREIGN_TXT }],
            },
          },
          {
            Action: 'CREATE',
            ResourceRecordSet: {
              Name: foreignCname.name,
              Type: 'CNAME',
              TTL: 300,
              ResourceRecords: [{ Value: foreignCname.target }],
            },
          },
        ],
      },
    }),
  );

  tencent = await startTencentServer({ credentials: [CREDENTIALS], store, rateLimit: 1000 });
  env = {
    ...motoEnv(proxy.endpoint),
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    TENCENTCLOUD_RATE_LIMIT: '1000',
    ALLOWED_DOMAINS: ZONE,
    STATE_TABLE: TABLE,
    WAIT_FOR_INSYNC: 'false',
    LOG_LEVEL: 'error',
  };
  const fast = { route53RateLimit: 50 };

  runs.write = (await syncOnce(env, {}, fast)).report;
  sets.afterWrite = await zoneSets();
  for (const id of [txtId, cnameId, clashId]) await store.issue(id);
  runs.dry = (await syncOnce(env, { dryRun: true }, fast)).report;
  sets.afterDry = await zoneSets();
  runs.cleanup = (await syncOnce(env, {}, fast)).report;
  sets.afterCleanup = await zoneSets();
  proxy.resetRecords();
  runs.idle = (await syncOnce(env, {}, fast)).report;
}, 120_000);

afterAll(async () => {
  route53?.destroy();
  await tencent?.close();
  await proxy?.close();
  await moto?.stop();
});

const setAt = (which: string, name: string, type: string) =>
  sets[which]?.find((s) => s.name === name && s.type === type);

describe('writing with the state table on', () => {
  it('adds its TXT value beside the foreign one, which keeps its bytes and its TTL', () => {
    const txt = setAt('afterWrite', TXT_NAME, 'TXT');
    expect(txt?.values).toEqual([FOREIGN_TXT, `"${dvAuth(txtId).DvAuthValue}"`]);
    expect(txt?.ttl).toBe(FOREIGN_TTL);
  });

  it('leaves a foreign CNAME with another target untouched and reports the conflict', () => {
    expect(setAt('afterWrite', foreignCname.name, 'CNAME')?.values).toEqual([foreignCname.target]);
    const clash = runs.write?.certificates.find((c) => c.certificateId === clashId);
    expect(clash?.outcome).toBe('blocked');
    expect(clash?.records[0]).toMatchObject({
      action: 'conflict',
      reason: expect.stringMatching(/not written by this tool/),
    });
  });

  it('says that state is on', () => {
    expect(runs.write?.state).toBe('on');
  });
});

describe('cleanup once the certificates are issued', () => {
  it('shows the removals in a dry run and writes nothing', () => {
    expect(runs.dry?.cleanup.map((r) => [r.name, r.type, r.action])).toEqual(
      expect.arrayContaining([
        [TXT_NAME, 'TXT', 'removed'],
        [dvAuth(cnameId).DvAuthKey.toLowerCase(), 'CNAME', 'removed'],
      ]),
    );
    expect(sets.afterDry).toEqual(sets.afterWrite);
  });

  it('removes exactly the owned values, reported per record', () => {
    expect(runs.cleanup?.cleanup.map((r) => [r.certificateId, r.type, r.action]).sort()).toEqual(
      [
        [cnameId, 'CNAME', 'removed'],
        [txtId, 'TXT', 'removed'],
      ].sort(),
    );
    expect(setAt('afterCleanup', dvAuth(cnameId).DvAuthKey.toLowerCase(), 'CNAME')).toBeUndefined();
  });

  it('leaves the foreign TXT value and its TTL exactly as they were', () => {
    expect(setAt('afterCleanup', TXT_NAME, 'TXT')).toEqual({
      name: TXT_NAME,
      type: 'TXT',
      ttl: FOREIGN_TTL,
      values: [FOREIGN_TXT],
    });
  });

  it('never touches the foreign CNAME', () => {
    expect(setAt('afterCleanup', foreignCname.name, 'CNAME')?.values).toEqual([foreignCname.target]);
  });

  it('writes nothing on the run after', () => {
    expect(proxy.forwarded({ operation: 'ChangeResourceRecordSets' })).toEqual([]);
    expect(runs.idle?.cleanup).toEqual([]);
  });
});
