import {
  ACMClient,
  DescribeCertificateCommand,
  GetCertificateCommand,
  ImportCertificateCommand,
  ListTagsForCertificateCommand,
} from '@aws-sdk/client-acm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { createTestPki } from '../../infra/local/pki.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { main } from '../../lib/cli.js';
import type { ExportEntry, ExportReport } from '../../lib/export.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';

/*
 * Export with ACM_IMPORT against moto's ACM and the local Tencent server, through the CLI.
 *
 * What moto's ACM does not check (lib/acm/certificate.ts and the unit tests do): key algorithms
 * and sizes, the 5 KB key limit, whether the key is the certificate's own, the chain's order or a
 * leaf inside it, key usages kept on re-import, tags refused on re-import, and IAM conditions. It
 * lists every certificate in one page (no NextToken), gives no KeyUsages in summaries, and
 * forgets a certificate's tags when it is re-imported: the tool tags again after every
 * re-import, which real ACM needs too (it keeps the old values).
 */

const CREDENTIALS = {
  secretId: 'AKIDacm00000000000000000000000000',
  secretKey: 'acm-test-secret-key-0000000000000',
};
const DOMAIN = 'www.acm.example.com';
const SECRET = `tencent-ssl/${DOMAIN}`;

let moto: MotoServer;
let proxy: FaultProxy;
let tencent: LocalTencentServer;
let acm: ACMClient;
let env: Record<string, string>;
const store = new CertificateStore({ seed: 23 });

async function exportRun(
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; report: ExportReport }> {
  let stdout = '';
  const code = await main(['export', '--json'], {
    stdout: (t) => (stdout += t),
    stderr: () => {},
    env: { ...env, ...extraEnv },
  });
  return { code, report: JSON.parse(stdout) as ExportReport };
}

const entryOf = (report: ExportReport, id: unknown): ExportEntry | undefined =>
  report.certificates.find((c) => c.certificateId === id);

const acmWrites = () =>
  proxy
    .forwarded({ service: 'acm' })
    .filter((r) =>
      ['ImportCertificate', 'AddTagsToCertificate', 'RemoveTagsFromCertificate'].includes(r.operation),
    );

async function tagsOf(arn: string): Promise<Record<string, string>> {
  const out = await acm.send(new ListTagsForCertificateCommand({ CertificateArn: arn }));
  return Object.fromEntries((out.Tags ?? []).map((t) => [String(t.Key), String(t.Value ?? '')]));
}

async function serialOf(arn: string): Promise<string> {
  const out = await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }));
  return String(out.Certificate?.Serial);
}

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint });
  const aws = motoEnv(proxy.endpoint);
  // The AWS SDK reads its configuration from the process environment.
  Object.assign(process.env, aws);
  acm = new ACMClient({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  tencent = await startTencentServer({ credentials: [CREDENTIALS], store });
  env = {
    ...aws,
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    ALLOWED_DOMAINS: 'example.com',
    ACM_IMPORT: 'true',
    ACM_REGION: 'us-east-1',
    LOG_LEVEL: 'warn',
  };
}, 60_000);

afterAll(async () => {
  acm?.destroy();
  await tencent?.close();
  await proxy?.close();
  await moto?.stop();
});

beforeEach(() => {
  proxy.resetRecords();
});

describe('export with ACM_IMPORT against moto', () => {
  let arn: string;
  let firstId: string;
  let foreignArn: string;
  let foreignSerial: string;

  it('imports an exported certificate into ACM, tagged as the tool’s, next to a certificate of the same domain it leaves alone', async () => {
    const pki = await createTestPki();
    const foreign = await pki.issueLeaf({ commonName: DOMAIN });
    foreignArn = String(
      (
        await acm.send(
          new ImportCertificateCommand({
            Certificate: new TextEncoder().encode(foreign.certificatePem),
            PrivateKey: new TextEncoder().encode(foreign.privateKeyPem),
            CertificateChain: new TextEncoder().encode(foreign.chainPem),
            Tags: [{ Key: 'team', Value: 'web' }],
          }),
        )
      ).CertificateArn,
    );
    foreignSerial = await serialOf(foreignArn);
    const issued = await store.addIssued({ domain: DOMAIN, validDays: 60 });
    firstId = String(issued.CertificateId);

    const { code, report } = await exportRun();

    expect(code).toBe(0);
    const entry = entryOf(report, firstId);
    expect(entry).toMatchObject({ result: 'created', secretName: SECRET, acm: { result: 'imported' } });
    arn = String(entry?.acm?.arn);
    expect(arn).not.toBe(foreignArn);
    expect(await tagsOf(arn)).toMatchObject({
      'managed-by': 'tencent-ssl-sync',
      'tencent-ssl-sync:secret': SECRET,
      'tencent-ssl-sync:certificate-id': firstId,
      'tencent-ssl-sync:fingerprint-sha256': entry?.fingerprintSha256,
    });
    const held = await acm.send(new GetCertificateCommand({ CertificateArn: arn }));
    expect(held.Certificate?.trim()).toBe(
      String(issued.CertificatePublicKey)
        .split(/(?<=-----END CERTIFICATE-----)/)[0]
        ?.trim(),
    );
  });

  it('writes nothing to ACM, and reads no certificate from Tencent, on an idle run', async () => {
    tencent.stats.reset();

    const { code, report } = await exportRun();

    expect(code).toBe(0);
    expect(entryOf(report, firstId)).toMatchObject({
      result: 'unchanged',
      acm: { result: 'unchanged', arn },
    });
    expect(acmWrites()).toEqual([]);
    expect(proxy.forwarded({ service: 'acm', operation: 'ListCertificates' })).toHaveLength(1);
    expect(
      tencent.stats.count('DescribeCertificateDetail') + tencent.stats.count('DownloadCertificate'),
    ).toBe(0);
  });

  it('says in a dry run that a renewal would be re-imported into the same ARN, and writes nothing', async () => {
    const renewal = await store.addIssued({ domain: DOMAIN, validDays: 120 });

    const { report } = await exportRun({ DRY_RUN: 'true' });

    expect(entryOf(report, renewal.CertificateId)).toMatchObject({
      result: 'updated',
      acm: { result: 'reimported', arn },
    });
    expect(acmWrites()).toEqual([]);
  });

  it('re-imports a renewal into the same ARN: the serial changes, the ARN stays', async () => {
    const before = await serialOf(arn);
    const renewalId = store.ids().at(-1) as string;

    const { code, report } = await exportRun();

    expect(code).toBe(0);
    const entry = entryOf(report, renewalId);
    expect(entry).toMatchObject({ result: 'updated', acm: { result: 'reimported', arn } });
    expect(entryOf(report, firstId)?.result).toBe('superseded');
    expect(await serialOf(arn)).not.toBe(before);
    expect(await tagsOf(arn)).toMatchObject({
      'managed-by': 'tencent-ssl-sync',
      'tencent-ssl-sync:secret': SECRET,
      'tencent-ssl-sync:certificate-id': renewalId,
      'tencent-ssl-sync:fingerprint-sha256': entry?.fingerprintSha256,
    });
    expect(acmWrites().map((r) => r.operation)).toEqual(['ImportCertificate', 'AddTagsToCertificate']);
    expect(JSON.parse(acmWrites()[0]?.body ?? '{}')).toMatchObject({ CertificateArn: arn });
  });

  it('never touched the certificate of the same domain without the managed-by tag', async () => {
    expect(await serialOf(foreignArn)).toBe(foreignSerial);
    expect(await tagsOf(foreignArn)).toEqual({ team: 'web' });
  });
});
