/**
 * A real account answers in the shapes Tencent documents, with "--" for unset times and the
 * like (tests/fixtures/tencent/documented/SOURCES.md). Here the local server answers that way in
 * every time field the tool does not act on, and unreadably in the two it does: the run must
 * still write the validation records and export the issued certificate, warning about what it
 * could not read instead of dropping the certificate.
 */
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CertificateStore, type StoredCertificate } from '../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import type { CertificateReport, SyncReport } from '../../lib/sync-types.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';
import {
  certificatesInPlace,
  createZones,
  exportedCertificateId,
  syncOnce,
  validationRecordSets,
  type WantedRecord,
  wantedRecords,
} from '../helpers/sync-harness.js';

const CREDENTIALS = {
  secretId: 'AKIDquirks0000000000000000000000',
  secretKey: 'quirks-secret-key-000000000000000',
};

/** Every time field a list item or a detail can carry that the tool does not act on. */
const UNUSED_TIMES = [
  'CertBeginTime',
  'InsertTime',
  'ValidationPassedTime',
  'CertRevokedTime',
  'HostingCompleteTime',
];

let moto: MotoServer;
let tencent: LocalTencentServer;
let route53: Route53Client;
let secrets: SecretsManagerClient;
let zoneId: string;
let env: Record<string, string>;
let store: CertificateStore;
let counter = 0;

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, motoEnv(moto.endpoint));
  route53 = new Route53Client({});
  secrets = new SecretsManagerClient({});
  zoneId = (await createZones(route53, ['example.com']))['example.com'] as string;
}, 60_000);

beforeEach(async () => {
  await tencent?.close();
  store = new CertificateStore({ seed: 2019 + counter });
  tencent = await startTencentServer({ credentials: [CREDENTIALS], store, rateLimit: 0 });
  env = {
    ...motoEnv(moto.endpoint),
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    ALLOWED_DOMAINS: 'example.com',
    WAIT_FOR_INSYNC: 'false',
    LOG_LEVEL: 'warn',
  };
});

afterAll(async () => {
  route53?.destroy();
  secrets?.destroy();
  await tencent?.close();
  await moto?.stop();
});

/** A pending and an issued certificate under fresh names, stored with `fields` overwritten. */
async function certificates(fields: (certificate: StoredCertificate) => Record<string, unknown>) {
  counter += 1;
  const pending = store.addPending({ domain: `www${counter}.example.com` });
  const issued = await store.addIssued({ domain: `mail${counter}.example.com` });
  for (const certificate of [pending, issued]) {
    store.update(String(certificate.CertificateId), fields(certificate));
  }
  return {
    pendingId: String(pending.CertificateId),
    issuedId: String(issued.CertificateId),
    wanted: wantedRecords(pending) as WantedRecord[],
    secretName: `tencent-ssl/mail${counter}.example.com`,
  };
}

const reportOf = (report: SyncReport, id: string): CertificateReport | undefined =>
  report.certificates.find((c) => c.certificateId === id);

describe('a sync against answers in the documented shapes', () => {
  it('writes the records and exports when every time the tool does not act on is "--"', async () => {
    const { pendingId, issuedId, wanted, secretName } = await certificates(() =>
      Object.fromEntries(UNUSED_TIMES.map((field) => [field, '--'])),
    );
    expect(tencent.store.get(pendingId)).toMatchObject({ InsertTime: '--', CertBeginTime: '--' });

    const { report, logs } = await syncOnce(env);

    expect(reportOf(report, pendingId)).toMatchObject({ outcome: 'validating' });
    expect(reportOf(report, issuedId)).toMatchObject({ outcome: 'issued', export: { result: 'created' } });
    expect(certificatesInPlace(wanted, await validationRecordSets(route53, [zoneId]))).toEqual(
      new Set([pendingId]),
    );
    expect(await exportedCertificateId(secrets, secretName)).toBe(issuedId);
    expect(logs.filter((line) => line.includes('unreadable'))).toEqual([]);
  });

  it('still acts on a certificate whose deadline or expiry is unreadable, and warns about it', async () => {
    const { pendingId, issuedId, wanted, secretName } = await certificates((certificate) =>
      certificate.Status === 1 ? { CertEndTime: '2024-11-06 08:00:0' } : { DVAuthDeadline: 'abc' },
    );

    const { report, logs } = await syncOnce(env);

    expect(reportOf(report, pendingId)).toMatchObject({ outcome: 'validating', validationDeadline: null });
    expect(reportOf(report, issuedId)).toMatchObject({ outcome: 'issued', export: { result: 'created' } });
    expect(certificatesInPlace(wanted, await validationRecordSets(route53, [zoneId]))).toEqual(
      new Set([pendingId]),
    );
    expect(await exportedCertificateId(secrets, secretName)).toBe(issuedId);
    const warnings = logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.message === 'Tencent listed a certificate with an unreadable field');
    expect(warnings).toHaveLength(2);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ certificateId: pendingId, field: 'DVAuthDeadline' }),
        expect.objectContaining({ certificateId: issuedId, field: 'CertEndTime' }),
      ]),
    );
  });
});
