import { X509Certificate } from 'node:crypto';
import {
  ACMClient,
  AddTagsToCertificateCommand,
  ImportCertificateCommand,
  ListCertificatesCommand,
  ListTagsForCertificateCommand,
  type Tag,
} from '@aws-sdk/client-acm';
import {
  CreateSecretCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  type SecretListEntry,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildCertificateArchive } from '../../infra/local/certificate-archive.js';
import { createTestPki, type IssuedLeaf, type TestPki } from '../../infra/local/pki.js';
import { AcmImporter } from '../../lib/acm/import.js';
import {
  type ExportDeps,
  exportCertificates,
  exportFailureText,
  exportViaQueue,
  isExportFailure,
} from '../../lib/export.js';
import { exportSqsBatch } from '../../lib/export-batch.js';
import { silentLogger } from '../../lib/logger.js';
import { formatExportReport } from '../../lib/report-format.js';
import { trustAnchorsFrom } from '../../lib/secrets/trust.js';
import {
  type CertificateDetail,
  CertificateDetailSchema,
  type CertificateListItem,
  CertificateListItemSchema,
  type DownloadCertificateResponse,
  formatTencentTime,
} from '../../lib/tencent/schemas.js';
import type { ListCertificatesOptions } from '../../lib/tencent/ssl-api.js';
import { FakeClock } from '../helpers/fake-clock.js';

/*
 * Export's ACM hook: ACM gets the certificate each secret holds, after the secret, through the
 * real AcmImporter over an ACM and a Secrets Manager kept in memory behind aws-sdk-client-mock.
 */

const secrets = mockClient(SecretsManagerClient);
const acm = mockClient(ACMClient);
const NOW = new Date('2026-11-28T00:00:00Z');
const DAY = 86_400_000;
const SECRET = 'tencent-ssl/www.example.com';

let pki: TestPki;
let first: IssuedLeaf;

interface Issued {
  id: string;
  leaf: IssuedLeaf;
}

/** DescribeCertificates and DescribeCertificateDetail of issued certificates of www.example.com. */
class FakeTencent {
  detailCalls: string[] = [];
  constructor(readonly certs: Issued[]) {}
  async listCertificates(options: ListCertificatesOptions = {}): Promise<CertificateListItem[]> {
    return this.certs
      .filter((c) => !options.ids || options.ids.includes(c.id))
      .map((c) =>
        CertificateListItemSchema.parse({
          CertificateId: c.id,
          Domain: 'www.example.com',
          SubjectAltName: ['www.example.com'],
          Status: 1,
          CertEndTime: formatTencentTime(c.leaf.notAfter),
        }),
      );
  }
  async describeCertificateDetail(id: string): Promise<CertificateDetail> {
    this.detailCalls.push(id);
    const c = this.certs.find((x) => x.id === id) as Issued;
    return CertificateDetailSchema.parse({
      CertificateId: c.id,
      Domain: 'www.example.com',
      Status: 1,
      CertificatePublicKey: c.leaf.fullchainPem,
      CertificatePrivateKey: c.leaf.privateKeyPem,
    });
  }
  async downloadCertificate(id: string): Promise<DownloadCertificateResponse> {
    const c = this.certs.find((x) => x.id === id) as Issued;
    const zip = buildCertificateArchive({
      domain: 'www.example.com',
      certificatePem: c.leaf.certificatePem,
      chainPem: c.leaf.chainPem,
      privateKeyPem: c.leaf.privateKeyPem,
      layout: 'server-folders',
    });
    return { Content: Buffer.from(zip).toString('base64'), ContentType: 'application/zip' };
  }
}

const fingerprintOf = (l: IssuedLeaf) =>
  new X509Certificate(l.certificatePem).fingerprint256.replaceAll(':', '').toLowerCase();

// Secrets Manager and ACM as maps: each run sees what the ones before it wrote.
let secretTags: Map<string, Map<string, string>>;
let acmCerts: Map<string, { certificate: string; tags: Map<string, string> }>;
const secretArn = (name: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`;
const tagList = (tags: Map<string, string>): Tag[] => [...tags].map(([Key, Value]) => ({ Key, Value }));

function deps(
  tencent: FakeTencent,
  options: { acm?: boolean; dryRun?: boolean; root?: string } = {},
): ExportDeps {
  return {
    tencent,
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    clock: new FakeClock(NOW.getTime()),
    logger: silentLogger,
    trust: () => trustAnchorsFrom([options.root ?? pki.rootPem], 'the test root'),
    ...(options.acm === false
      ? {}
      : {
          acm: new AcmImporter({
            client: new ACMClient({ region: 'us-east-1' }),
            clock: new FakeClock(NOW.getTime()),
            logger: silentLogger,
          }),
        }),
    settings: {
      nameTemplate: 'tencent-ssl/{domain}',
      dryRun: options.dryRun ?? false,
      allowedDomains: ['example.com'],
    },
  };
}

const acmWrites = () => [
  ...acm.commandCalls(ImportCertificateCommand),
  ...acm.commandCalls(AddTagsToCertificateCommand),
];
const secretWrites = () => [
  ...secrets.commandCalls(CreateSecretCommand),
  ...secrets.commandCalls(PutSecretValueCommand),
  ...secrets.commandCalls(TagResourceCommand),
];

beforeAll(async () => {
  pki = await createTestPki();
  first = await pki.issueLeaf({
    commonName: 'www.example.com',
    notBefore: new Date(NOW.getTime() - 10 * DAY),
    notAfter: new Date(NOW.getTime() + 80 * DAY),
  });
});

beforeEach(() => {
  secrets.reset();
  acm.reset();
  secretTags = new Map();
  acmCerts = new Map();
  secrets.on(ListSecretsCommand).callsFake(async () => ({
    SecretList: [...secretTags].map(
      ([name, tags]): SecretListEntry => ({
        Name: name,
        ARN: secretArn(name),
        Tags: tagList(tags),
        SecretVersionsToStages: { v1: ['AWSCURRENT'] },
      }),
    ),
  }));
  secrets.on(CreateSecretCommand).callsFake(async (input: { Name: string; Tags: Tag[] }) => {
    secretTags.set(input.Name, new Map(input.Tags.map((t) => [String(t.Key), String(t.Value)])));
    return { VersionId: 'v1' };
  });
  secrets.on(PutSecretValueCommand).resolves({ VersionId: 'v2' });
  secrets.on(TagResourceCommand).callsFake(async (input: { SecretId: string; Tags: Tag[] }) => {
    const name = [...secretTags.keys()].find((n) => secretArn(n) === input.SecretId) as string;
    for (const tag of input.Tags) secretTags.get(name)?.set(String(tag.Key), String(tag.Value));
    return {};
  });
  acm.on(ListCertificatesCommand).callsFake(async () => ({
    CertificateSummaryList: [...acmCerts.keys()].map((arn) => ({
      CertificateArn: arn,
      DomainName: 'www.example.com',
      Type: 'IMPORTED',
    })),
  }));
  acm.on(ListTagsForCertificateCommand).callsFake(async (input: { CertificateArn: string }) => ({
    Tags: tagList(acmCerts.get(input.CertificateArn)?.tags ?? new Map()),
  }));
  acm
    .on(ImportCertificateCommand)
    .callsFake(async (input: { CertificateArn?: string; Certificate: Uint8Array; Tags?: Tag[] }) => {
      const arn =
        input.CertificateArn ?? `arn:aws:acm:us-east-1:123456789012:certificate/${acmCerts.size + 1}`;
      const tags =
        acmCerts.get(arn)?.tags ?? new Map(input.Tags?.map((t) => [String(t.Key), String(t.Value)]));
      acmCerts.set(arn, { certificate: new TextDecoder().decode(input.Certificate), tags });
      return { CertificateArn: arn };
    });
  acm.on(AddTagsToCertificateCommand).callsFake(async (input: { CertificateArn: string; Tags: Tag[] }) => {
    for (const tag of input.Tags)
      acmCerts.get(input.CertificateArn)?.tags.set(String(tag.Key), String(tag.Value));
    return {};
  });
});

describe('export with ACM_IMPORT', () => {
  it('imports the certificate into ACM once the secret is written, with the leaf and the chain apart', async () => {
    const report = await exportCertificates(deps(new FakeTencent([{ id: 'cert1', leaf: first }])));

    expect(report.certificates).toEqual([
      expect.objectContaining({
        certificateId: 'cert1',
        result: 'created',
        acm: { result: 'imported', arn: 'arn:aws:acm:us-east-1:123456789012:certificate/1' },
      }),
    ]);
    const input = acm.commandCalls(ImportCertificateCommand)[0]?.args[0].input;
    expect(new TextDecoder().decode(input?.Certificate)).toBe(first.certificatePem);
    expect(new TextDecoder().decode(input?.CertificateChain)).toBe(first.chainPem);
    expect(new TextDecoder().decode(input?.PrivateKey)).toBe(first.privateKeyPem);
    expect(input?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'managed-by', Value: 'tencent-ssl-sync' },
        { Key: 'tencent-ssl-sync:secret', Value: SECRET },
        { Key: 'tencent-ssl-sync:certificate-id', Value: 'cert1' },
        { Key: 'tencent-ssl-sync:fingerprint-sha256', Value: fingerprintOf(first) },
      ]),
    );
  });

  it('reads nothing from Tencent and writes nothing when the secret and ACM hold the certificate', async () => {
    await exportCertificates(deps(new FakeTencent([{ id: 'cert1', leaf: first }])));
    acm.resetHistory();
    secrets.resetHistory();
    const tencent = new FakeTencent([{ id: 'cert1', leaf: first }]);

    const report = await exportCertificates(deps(tencent));

    expect(report.certificates).toEqual([
      expect.objectContaining({ result: 'unchanged', acm: { result: 'unchanged', arn: expect.any(String) } }),
    ]);
    expect(tencent.detailCalls).toEqual([]);
    expect(acmWrites()).toEqual([]);
    expect(secretWrites()).toEqual([]);
  });

  it('reads a certificate again for ACM when the secret is current but ACM lacks it, and leaves the secret alone', async () => {
    await exportCertificates(deps(new FakeTencent([{ id: 'cert1', leaf: first }]), { acm: false }));
    secrets.resetHistory();
    const tencent = new FakeTencent([{ id: 'cert1', leaf: first }]);

    const report = await exportCertificates(deps(tencent));

    expect(report.certificates).toEqual([
      expect.objectContaining({ result: 'unchanged', acm: expect.objectContaining({ result: 'imported' }) }),
    ]);
    expect(tencent.detailCalls).toEqual(['cert1']);
    expect(secretWrites()).toEqual([]);
  });

  it('refuses ACM a certificate read again that no longer passes the checks, and the secret stays as it is', async () => {
    await exportCertificates(deps(new FakeTencent([{ id: 'cert1', leaf: first }]), { acm: false }));
    secrets.resetHistory();
    const otherRoot = (await createTestPki({ fresh: true })).rootPem;

    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'cert1', leaf: first }]), { root: otherRoot }),
    );

    expect(report.certificates).toEqual([
      expect.objectContaining({
        result: 'unchanged',
        acm: {
          result: 'refused',
          reason: expect.stringMatching(/^the certificate read again for ACM is refused: /),
        },
      }),
    ]);
    expect(secretWrites()).toEqual([]);
    expect(acmWrites()).toEqual([]);
  });

  it('re-imports a renewal into the ARN of the certificate it renews', async () => {
    await exportCertificates(deps(new FakeTencent([{ id: 'cert1', leaf: first }])));
    const renewal = await pki.issueLeaf({
      commonName: 'www.example.com',
      notBefore: new Date(NOW.getTime() - DAY),
      notAfter: new Date(NOW.getTime() + 89 * DAY),
    });

    const report = await exportCertificates(
      deps(
        new FakeTencent([
          { id: 'cert1', leaf: first },
          { id: 'cert2', leaf: renewal },
        ]),
      ),
    );

    const arn = 'arn:aws:acm:us-east-1:123456789012:certificate/1';
    expect(report.certificates).toEqual([
      expect.objectContaining({
        certificateId: 'cert2',
        result: 'updated',
        acm: { result: 'reimported', arn },
      }),
      expect.not.objectContaining({ acm: expect.anything() }),
    ]);
    expect(acmCerts.size).toBe(1);
    expect(acmCerts.get(arn)?.certificate).toBe(renewal.certificatePem);
    expect(acmCerts.get(arn)?.tags.get('tencent-ssl-sync:certificate-id')).toBe('cert2');
  });

  it('keeps the secret written when ACM fails, and reports the run failed', async () => {
    acm
      .on(ImportCertificateCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    const report = await exportCertificates(deps(new FakeTencent([{ id: 'cert1', leaf: first }])));

    const [entry] = report.certificates;
    expect(entry).toMatchObject({
      result: 'created',
      acm: { result: 'failed', reason: 'ThrottlingException: Rate exceeded' },
    });
    expect(secretTags.has(SECRET)).toBe(true);
    expect(entry && isExportFailure(entry)).toBe(true);
    expect(entry && exportFailureText(entry)).toBe('acm failed: ThrottlingException: Rate exceeded');
    expect(formatExportReport(report)).toContain('acm: failed: ThrottlingException: Rate exceeded');
  });

  it('says in a dry run what it would import, and writes nothing', async () => {
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'cert1', leaf: first }]), { dryRun: true }),
    );

    expect(report.certificates).toEqual([
      expect.objectContaining({ result: 'created', acm: { result: 'imported' } }),
    ]);
    expect(acmWrites()).toEqual([]);
    expect(secretWrites()).toEqual([]);
  });

  it('imports nothing without ACM_IMPORT', async () => {
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'cert1', leaf: first }]), { acm: false }),
    );

    expect(report.certificates[0]).not.toHaveProperty('acm');
    expect(acm.calls()).toEqual([]);
  });

  it('queues a certificate whose secret is current when ACM lacks it, and the export function imports it', async () => {
    await exportCertificates(deps(new FakeTencent([{ id: 'cert1', leaf: first }]), { acm: false }));
    const tencent = new FakeTencent([{ id: 'cert1', leaf: first }]);
    const queued: string[] = [];
    const handOver = exportViaQueue(deps(tencent), async (ids) => {
      queued.push(...ids);
      return { queued: ids, failed: [] };
    });

    const entries = await handOver(await tencent.listCertificates(), { dryRun: false });
    const { response, report } = await exportSqsBatch(deps(tencent), [
      { messageId: 'm1', body: JSON.stringify({ certificateId: 'cert1' }), eventSource: 'aws:sqs' },
    ]);
    const idle = await handOver(await tencent.listCertificates(), { dryRun: false });

    expect(entries).toEqual([expect.objectContaining({ result: 'queued' })]);
    expect(queued).toEqual(['cert1']);
    expect(response.batchItemFailures).toEqual([]);
    expect(report.certificates).toEqual([
      expect.objectContaining({ result: 'unchanged', acm: expect.objectContaining({ result: 'imported' }) }),
    ]);
    expect(idle).toEqual([
      expect.objectContaining({ result: 'unchanged', acm: expect.objectContaining({ result: 'unchanged' }) }),
    ]);
    expect(queued).toEqual(['cert1']);
  });

  it('hands an SQS message back when its ACM import failed', async () => {
    acm
      .on(ImportCertificateCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    const { response } = await exportSqsBatch(deps(new FakeTencent([{ id: 'cert1', leaf: first }])), [
      { messageId: 'm1', body: JSON.stringify({ certificateId: 'cert1' }), eventSource: 'aws:sqs' },
    ]);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
  });
});
