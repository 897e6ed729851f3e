import { X509Certificate } from 'node:crypto';
import {
  CreateSecretCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  type SecretListEntry,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ArchiveLayout, buildCertificateArchive } from '../../infra/local/certificate-archive.js';
import { createTestPki, type IssuedLeaf, type TestPki } from '../../infra/local/pki.js';
import {
  type ExportDeps,
  type ExportReport,
  exportCertificates,
  exportViaQueue,
  planExports,
} from '../../lib/export.js';
import { exportSqsBatch } from '../../lib/export-batch.js';
import { silentLogger } from '../../lib/logger.js';
import { nameSetDigest } from '../../lib/secrets/naming.js';
import { trustAnchorsFrom } from '../../lib/secrets/trust.js';
import { enqueueExports } from '../../lib/sqs/export-queue.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { TencentApiError } from '../../lib/tencent/errors.js';
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

const secrets = mockClient(SecretsManagerClient);
const sqs = mockClient(SQSClient);
const NOW = new Date('2026-11-28T00:00:00Z');
const DAY = 24 * 3600 * 1000;
const ARN_PREFIX = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:';

let pki: TestPki;
/** A CA nobody trusts: what a certificate uploaded from elsewhere looks like. */
let otherPki: TestPki;

interface FakeIssued {
  id: string;
  domain: string;
  leaf: IssuedLeaf;
  /** Further names, as DescribeCertificates lists them (the main domain is added). */
  altNames?: string[];
  /** `CertificatePublicKey` holds the leaf only; the archive has the chain. */
  leafOnly?: boolean;
  /** DownloadCertificate's answer instead of the archive built from `leaf`. */
  download?: DownloadCertificateResponse | Error;
  layout?: ArchiveLayout;
  /** Overrides of the detail fields (keys of others, missing keys…). */
  detail?: Record<string, unknown>;
  /** DescribeCertificateDetail fails with this error. */
  detailError?: Error;
  status?: number;
}

/** Answers like TencentSslApi (outputs of the same schemas) and records the reads. */
class FakeTencent {
  detailCalls: string[] = [];
  downloadCalls: string[] = [];
  listCalls: ListCertificatesOptions[] = [];
  constructor(readonly certs: FakeIssued[]) {}
  item(c: FakeIssued): CertificateListItem {
    return CertificateListItemSchema.parse({
      CertificateId: c.id,
      Domain: c.domain,
      SubjectAltName: [c.domain, ...(c.altNames ?? [])],
      Status: c.status ?? 1,
      CertEndTime: formatTencentTime(c.leaf.notAfter),
    });
  }
  async listCertificates(options: ListCertificatesOptions = {}): Promise<CertificateListItem[]> {
    this.listCalls.push(options);
    return this.certs
      .filter((c) => !options.ids || options.ids.includes(c.id))
      .filter((c) => !options.statuses || options.statuses.includes(c.status ?? 1))
      .map((c) => this.item(c));
  }
  async describeCertificateDetail(id: string): Promise<CertificateDetail> {
    this.detailCalls.push(id);
    const c = this.cert(id);
    if (c.detailError) throw c.detailError;
    return CertificateDetailSchema.parse({
      CertificateId: c.id,
      Domain: c.domain,
      SubjectAltName: c.altNames ?? [],
      Status: 1,
      CertificatePublicKey: (c.leafOnly ? c.leaf.certificatePem : c.leaf.fullchainPem).replaceAll(
        '\n',
        '\r\n',
      ),
      CertificatePrivateKey: c.leaf.privateKeyPem,
      ...c.detail,
    });
  }
  async downloadCertificate(id: string): Promise<DownloadCertificateResponse> {
    this.downloadCalls.push(id);
    const c = this.cert(id);
    if (c.download instanceof Error) throw c.download;
    if (c.download) return c.download;
    const zip = buildCertificateArchive({
      domain: c.domain,
      certificatePem: c.leaf.certificatePem,
      chainPem: c.leaf.chainPem,
      privateKeyPem: c.leaf.privateKeyPem,
      layout: c.layout ?? 'server-folders',
    });
    return { Content: Buffer.from(zip).toString('base64'), ContentType: 'application/zip' };
  }
  cert(id: string): FakeIssued {
    const c = this.certs.find((x) => x.id === id);
    if (!c) throw new Error(`unknown certificate ${id}`);
    return c;
  }
}

async function leaf(
  domain: string,
  options: { daysLeft?: number; from?: TestPki; altNames?: string[] } = {},
) {
  const notAfter = new Date(NOW.getTime() + (options.daysLeft ?? 80) * DAY);
  return (options.from ?? pki).issueLeaf({
    commonName: domain,
    altNames: options.altNames ?? [domain],
    notBefore: new Date(notAfter.getTime() - 90 * DAY),
    notAfter,
  });
}

const fingerprintOf = (l: IssuedLeaf) =>
  new X509Certificate(l.certificatePem).fingerprint256.replaceAll(':', '').toLowerCase();

// Secrets Manager as a map, behind aws-sdk-client-mock: runs see what earlier runs wrote.
type AwsTag = { Key: string; Value: string };
interface StoredSecret {
  name: string;
  tags: Map<string, string>;
  versions: Array<{ id: string; value: string }>;
}
let stored: Map<string, StoredSecret>;

const arnOf = (name: string) => `${ARN_PREFIX}${name}-AbCdEf`;

function entryOf(secret: StoredSecret): SecretListEntry {
  const current = secret.versions.at(-1);
  return {
    Name: secret.name,
    ARN: arnOf(secret.name),
    Tags: [...secret.tags].map(([Key, Value]) => ({ Key, Value })),
    SecretVersionsToStages: current ? { [current.id]: ['AWSCURRENT'] } : {},
  };
}

function byArn(arn: string | undefined): StoredSecret {
  const secret = [...stored.values()].find((s) => arnOf(s.name) === arn);
  if (!secret) throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
  return secret;
}

/** A managed secret as this version writes it: verified, with its name-set digest. */
function givenSecret(
  name: string,
  held: { id: string; leaf: IssuedLeaf; names: string[] },
  overrides: { trusted?: boolean; namesDigest?: boolean } = {},
) {
  const tags = new Map([
    ['managed-by', 'tencent-ssl-sync'],
    ['tencent-ssl-sync:certificate-id', held.id],
    ['tencent-ssl-sync:not-after', held.leaf.notAfter.toISOString()],
    ['tencent-ssl-sync:fingerprint-sha256', fingerprintOf(held.leaf)],
  ]);
  if (overrides.namesDigest !== false) tags.set('tencent-ssl-sync:names-sha256', nameSetDigest(held.names));
  if (overrides.trusted !== false) tags.set('tencent-ssl-sync:trust', 'verified');
  stored.set(name, { name, tags, versions: [{ id: 'v-old', value: '{}' }] });
}

const storedValue = (name: string) =>
  JSON.parse(stored.get(name)?.versions.at(-1)?.value ?? 'null') as Record<string, unknown> | null;

function deps(tencent: FakeTencent, settings: Partial<ExportDeps['settings']> = {}): ExportDeps {
  return {
    tencent,
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    clock: new FakeClock(NOW.getTime()),
    logger: silentLogger,
    trust: () => trustAnchorsFrom([pki.rootPem], 'the test root'),
    settings: {
      nameTemplate: 'tencent-ssl/{domain}',
      dryRun: false,
      allowedDomains: ['example.com'],
      ...settings,
    },
  };
}

const resultsOf = (report: ExportReport) =>
  Object.fromEntries(report.certificates.map((c) => [c.certificateId, c.result]));

beforeAll(async () => {
  pki = await createTestPki();
  otherPki = await createTestPki({ fresh: true });
});

beforeEach(() => {
  secrets.reset();
  sqs.reset();
  stored = new Map();
  secrets.on(ListSecretsCommand).callsFake(async () => ({ SecretList: [...stored.values()].map(entryOf) }));
  secrets
    .on(CreateSecretCommand)
    .callsFake(
      async (input: { Name: string; SecretString: string; ClientRequestToken: string; Tags: AwsTag[] }) => {
        if (stored.has(input.Name))
          throw Object.assign(new Error('exists'), { name: 'ResourceExistsException' });
        stored.set(input.Name, {
          name: input.Name,
          tags: new Map(input.Tags.map((t) => [t.Key, t.Value])),
          versions: [{ id: input.ClientRequestToken, value: input.SecretString }],
        });
        return { VersionId: input.ClientRequestToken };
      },
    );
  secrets
    .on(PutSecretValueCommand)
    .callsFake(async (input: { SecretId: string; SecretString: string; ClientRequestToken: string }) => {
      byArn(input.SecretId).versions.push({ id: input.ClientRequestToken, value: input.SecretString });
      return { VersionId: input.ClientRequestToken };
    });
  secrets.on(TagResourceCommand).callsFake(async (input: { SecretId: string; Tags: AwsTag[] }) => {
    const secret = byArn(input.SecretId);
    for (const tag of input.Tags) secret.tags.set(tag.Key, tag.Value);
    return {};
  });
});

describe('exportCertificates', () => {
  it('creates the secret with the PEMs, metadata and tags of a newly issued certificate', async () => {
    const l = await leaf('www.example.com');
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'cert1', domain: 'www.example.com', leaf: l }])),
    );

    const fingerprint = fingerprintOf(l);
    const calls = secrets.commandCalls(CreateSecretCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input).toMatchObject({
      Name: 'tencent-ssl/www.example.com',
      ClientRequestToken: fingerprint,
      Tags: [
        { Key: 'managed-by', Value: 'tencent-ssl-sync' },
        { Key: 'tencent-ssl-sync:certificate-id', Value: 'cert1' },
        { Key: 'tencent-ssl-sync:domain', Value: 'www.example.com' },
        { Key: 'tencent-ssl-sync:not-after', Value: l.notAfter.toISOString() },
        { Key: 'tencent-ssl-sync:fingerprint-sha256', Value: fingerprint },
        { Key: 'tencent-ssl-sync:names-sha256', Value: nameSetDigest(['www.example.com']) },
        { Key: 'tencent-ssl-sync:trust', Value: 'verified' },
      ],
    });
    expect(input?.KmsKeyId).toBeUndefined();
    const value = JSON.parse(String(input?.SecretString));
    expect(value).toEqual({
      certificate: l.certificatePem,
      chain: l.chainPem,
      fullchain: `${l.certificatePem}${l.chainPem}`,
      privateKey: l.privateKeyPem.trim().concat('\n'),
      certificateId: 'cert1',
      domain: 'www.example.com',
      subjectAltNames: ['www.example.com'],
      notBefore: l.notBefore.toISOString(),
      notAfter: l.notAfter.toISOString(),
      serialNumber: expect.any(String),
      fingerprintSha256: fingerprint,
      issuer: expect.any(String),
    });
    expect(report.certificates[0]).toEqual({
      certificateId: 'cert1',
      domain: 'www.example.com',
      secretName: 'tencent-ssl/www.example.com',
      result: 'created',
      versionId: fingerprint,
      fingerprintSha256: fingerprint,
      notAfter: l.notAfter.toISOString(),
    });
    expect(JSON.stringify(report)).not.toContain('PRIVATE KEY');
  });

  it('passes the configured KMS key to a new secret', async () => {
    const l = await leaf('www.example.com');
    await exportCertificates(
      deps(new FakeTencent([{ id: 'cert1', domain: 'www.example.com', leaf: l }]), {
        kmsKeyId: 'alias/certificates',
      }),
    );
    expect(secrets.commandCalls(CreateSecretCommand)[0]?.args[0].input.KmsKeyId).toBe('alias/certificates');
  });

  it('names a wildcard certificate secret wildcard.<domain>', async () => {
    const l = await leaf('*.example.com');
    await exportCertificates(deps(new FakeTencent([{ id: 'w1', domain: '*.example.com', leaf: l }])));
    const input = secrets.commandCalls(CreateSecretCommand)[0]?.args[0].input;
    expect(input?.Name).toBe('tencent-ssl/wildcard.example.com');
    expect(input?.Tags).toContainEqual({ Key: 'tencent-ssl-sync:domain', Value: 'wildcard.example.com' });
  });

  it('puts a new version when the secret holds an older certificate', async () => {
    const old = await leaf('www.example.com', { daysLeft: 10 });
    const renewed = await leaf('www.example.com', { daysLeft: 85 });
    givenSecret('tencent-ssl/www.example.com', { id: 'old1', leaf: old, names: ['www.example.com'] });
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'new1', domain: 'www.example.com', leaf: renewed }])),
    );
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(secrets.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toMatchObject({
      SecretId: arnOf('tencent-ssl/www.example.com'),
      ClientRequestToken: fingerprintOf(renewed),
    });
    expect(secrets.commandCalls(TagResourceCommand)[0]?.args[0].input.Tags).toContainEqual({
      Key: 'tencent-ssl-sync:certificate-id',
      Value: 'new1',
    });
    expect(report.certificates[0]?.result).toBe('updated');
  });

  it('writes and reads nothing when the secret already holds the certificate', async () => {
    const l = await leaf('www.example.com');
    givenSecret('tencent-ssl/www.example.com', { id: 'cert1', leaf: l, names: ['www.example.com'] });
    const tencent = new FakeTencent([{ id: 'cert1', domain: 'www.example.com', leaf: l }]);
    const report = await exportCertificates(deps(tencent));
    expect(tencent.detailCalls).toEqual([]);
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(secrets.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(secrets.commandCalls(TagResourceCommand)).toHaveLength(0);
    expect(secrets.commandCalls(ListSecretsCommand)).toHaveLength(1);
    expect(report.certificates[0]).toMatchObject({ result: 'unchanged', versionId: 'v-old' });
  });

  it('retries a put with the same token, so a second attempt makes no second version', async () => {
    const old = await leaf('www.example.com', { daysLeft: 10 });
    const l = await leaf('www.example.com');
    givenSecret('tencent-ssl/www.example.com', { id: 'old', leaf: old, names: ['www.example.com'] });
    secrets
      .on(TagResourceCommand)
      .rejectsOnce(Object.assign(new Error('rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({});
    const d = deps(new FakeTencent([{ id: 'cert1', domain: 'www.example.com', leaf: l }]));

    const first = await exportCertificates(d);
    const second = await exportCertificates(d);

    expect(first.certificates[0]?.result).toBe('failed');
    expect(second.certificates[0]?.result).toBe('updated');
    const tokens = secrets.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input.ClientRequestToken);
    expect(tokens).toEqual([fingerprintOf(l), fingerprintOf(l)]);
    const values = secrets.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input.SecretString);
    expect(values[1]).toBe(values[0]);
  });

  it('lets the certificate that expires last win a shared secret', async () => {
    const older = await leaf('www.example.com', { daysLeft: 20 });
    const newer = await leaf('www.example.com', { daysLeft: 85 });
    const tencent = new FakeTencent([
      { id: 'newer', domain: 'www.example.com', leaf: newer },
      { id: 'older', domain: 'www.example.com', leaf: older },
    ]);
    const report = await exportCertificates(deps(tencent));
    expect(tencent.detailCalls).toEqual(['newer']);
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(1);
    expect(report.certificates.find((c) => c.certificateId === 'older')).toMatchObject({
      result: 'superseded',
      reason: expect.stringContaining('newer'),
    });
  });

  it('never moves a secret back to a certificate that expires earlier', async () => {
    const held = await leaf('www.example.com', { daysLeft: 85 });
    const older = await leaf('www.example.com', { daysLeft: 20 });
    givenSecret('tencent-ssl/www.example.com', { id: 'renewal', leaf: held, names: ['www.example.com'] });
    const tencent = new FakeTencent([{ id: 'older', domain: 'www.example.com', leaf: older }]);
    const report = await exportCertificates(deps(tencent));
    expect(tencent.detailCalls).toEqual([]);
    expect(secrets.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(report.certificates[0]).toMatchObject({ result: 'kept-newer' });
  });

  it('writes nothing in a dry run but says what it would write', async () => {
    const l = await leaf('www.example.com');
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'cert1', domain: 'www.example.com', leaf: l }])),
      { dryRun: true },
    );
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(report).toMatchObject({ dryRun: true, certificates: [{ result: 'created' }] });
  });

  it('reports ids that are not issued certificates', async () => {
    const l = await leaf('www.example.com');
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'pend', domain: 'www.example.com', leaf: l, status: 4 }])),
      { certificateIds: ['pend', 'gone'] },
    );
    expect(report.certificates.map((c) => [c.certificateId, c.result])).toEqual([
      ['gone', 'not-found'],
      ['pend', 'not-issued'],
    ]);
  });

  it('reports a certificate without a private key at Tencent and writes nothing', async () => {
    const l = await leaf('www.example.com');
    const report = await exportCertificates(
      deps(
        new FakeTencent([
          { id: 'nokey', domain: 'www.example.com', leaf: l, detail: { CertificatePrivateKey: null } },
        ]),
      ),
    );
    expect(stored.size).toBe(0);
    expect(report.certificates[0]).toMatchObject({ result: 'no-private-key', reason: /private key/ });
  });
});

describe('exportCertificates: leaf-only CertificatePublicKey', () => {
  it.each<ArchiveLayout>(['server-folders', 'domain-folders'])(
    'completes the chain from the DownloadCertificate archive (%s layout)',
    async (layout) => {
      const l = await leaf('www.example.com');
      const tencent = new FakeTencent([
        { id: 'lo1', domain: 'www.example.com', leaf: l, leafOnly: true, layout },
      ]);

      const report = await exportCertificates(deps(tencent));

      expect(tencent.downloadCalls).toEqual(['lo1']);
      expect(report.certificates[0]).toMatchObject({ result: 'created' });
      expect(storedValue('tencent-ssl/www.example.com')).toMatchObject({
        certificate: l.certificatePem,
        chain: pki.intermediatePem,
        fullchain: l.certificatePem + pki.intermediatePem,
      });
    },
  );

  it('does not download when CertificatePublicKey already chains to a trusted root', async () => {
    const l = await leaf('www.example.com');
    const tencent = new FakeTencent([{ id: 'full', domain: 'www.example.com', leaf: l }]);

    await exportCertificates(deps(tencent));

    expect(tencent.downloadCalls).toEqual([]);
  });

  it('refuses the certificate when the archive lacks the intermediate too', async () => {
    const l = await leaf('www.example.com');
    const zip = buildCertificateArchive({
      domain: 'www.example.com',
      certificatePem: l.certificatePem,
      chainPem: '',
      privateKeyPem: l.privateKeyPem,
      layout: 'server-folders',
    });
    const tencent = new FakeTencent([
      {
        id: 'lo2',
        domain: 'www.example.com',
        leaf: l,
        leafOnly: true,
        download: { Content: Buffer.from(zip).toString('base64'), ContentType: 'application/zip' },
      },
    ]);

    const report = await exportCertificates(deps(tencent));

    expect(stored.size).toBe(0);
    expect(report.certificates[0]).toMatchObject({
      result: 'refused',
      refusal: 'untrusted-chain',
      reason: expect.stringContaining('nor in CertificatePublicKey or the DownloadCertificate archive'),
    });
  });

  it('refuses the certificate, saying why, when the archive is not a ZIP', async () => {
    const l = await leaf('www.example.com');
    const tencent = new FakeTencent([
      {
        id: 'lo3',
        domain: 'www.example.com',
        leaf: l,
        leafOnly: true,
        download: { Content: Buffer.from('not a zip').toString('base64'), ContentType: 'application/zip' },
      },
    ]);

    const report = await exportCertificates(deps(tencent));

    expect(report.certificates[0]).toMatchObject({
      result: 'refused',
      refusal: 'untrusted-chain',
      reason: expect.stringContaining('the DownloadCertificate archive could not be used'),
    });
  });

  it('leaves the certificate for the next run when DownloadCertificate fails', async () => {
    const l = await leaf('www.example.com');
    const tencent = new FakeTencent([
      {
        id: 'lo4',
        domain: 'www.example.com',
        leaf: l,
        leafOnly: true,
        download: new TencentApiError({
          code: 'InternalError',
          message: 'busy',
          action: 'DownloadCertificate',
          retryable: true,
        }),
      },
    ]);

    const report = await exportCertificates(deps(tencent));

    expect(stored.size).toBe(0);
    expect(report.certificates[0]).toMatchObject({
      result: 'failed',
      reason: expect.stringContaining('busy'),
    });
  });
});

describe('exportCertificates: trust', () => {
  it('refuses an untrusted certificate that expires later and exports the trusted one', async () => {
    const genuine = await leaf('www.example.com', { daysLeft: 60 });
    const forged = await leaf('www.example.com', { daysLeft: 89, from: otherPki });
    const tencent = new FakeTencent([
      { id: 'forged', domain: 'www.example.com', leaf: forged },
      { id: 'genuine', domain: 'www.example.com', leaf: genuine },
    ]);

    const report = await exportCertificates(deps(tencent));

    expect(report.certificates.find((c) => c.certificateId === 'forged')).toMatchObject({
      result: 'refused',
      refusal: 'untrusted-chain',
      secretName: 'tencent-ssl/www.example.com',
    });
    expect(resultsOf(report).genuine).toBe('created');
    expect(storedValue('tencent-ssl/www.example.com')?.certificateId).toBe('genuine');
  });

  it('keeps the trusted certificate in its secret when an untrusted one that expires later appears', async () => {
    const genuine = await leaf('www.example.com', { daysLeft: 60 });
    const forged = await leaf('www.example.com', { daysLeft: 89, from: otherPki });
    givenSecret('tencent-ssl/www.example.com', { id: 'genuine', leaf: genuine, names: ['www.example.com'] });
    const tencent = new FakeTencent([
      { id: 'forged', domain: 'www.example.com', leaf: forged },
      { id: 'genuine', domain: 'www.example.com', leaf: genuine },
    ]);

    const report = await exportCertificates(deps(tencent));

    expect(resultsOf(report)).toEqual({ forged: 'refused', genuine: 'unchanged' });
    expect(secrets.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(secrets.commandCalls(TagResourceCommand)).toHaveLength(0);
  });

  it('still rolls a genuine renewal in after an untrusted certificate was refused', async () => {
    const genuine = await leaf('www.example.com', { daysLeft: 20 });
    const renewal = await leaf('www.example.com', { daysLeft: 85 });
    const forged = await leaf('www.example.com', { daysLeft: 89, from: otherPki });
    givenSecret('tencent-ssl/www.example.com', { id: 'genuine', leaf: genuine, names: ['www.example.com'] });
    const tencent = new FakeTencent([
      { id: 'forged', domain: 'www.example.com', leaf: forged },
      { id: 'genuine', domain: 'www.example.com', leaf: genuine },
    ]);
    await exportCertificates(deps(tencent));

    tencent.certs.push({ id: 'renewal', domain: 'www.example.com', leaf: renewal });
    const report = await exportCertificates(deps(tencent));

    expect(resultsOf(report)).toEqual({ forged: 'refused', renewal: 'updated', genuine: 'superseded' });
    expect(storedValue('tencent-ssl/www.example.com')?.certificateId).toBe('renewal');
  });

  it('replaces an untrusted certificate that an older version exported, though it expires later', async () => {
    const genuine = await leaf('www.example.com', { daysLeft: 60 });
    const forged = await leaf('www.example.com', { daysLeft: 89, from: otherPki });
    givenSecret(
      'tencent-ssl/www.example.com',
      { id: 'forged', leaf: forged, names: ['www.example.com'] },
      { trusted: false, namesDigest: false },
    );
    const tencent = new FakeTencent([
      { id: 'forged', domain: 'www.example.com', leaf: forged },
      { id: 'genuine', domain: 'www.example.com', leaf: genuine },
    ]);

    const report = await exportCertificates(deps(tencent));

    expect(resultsOf(report)).toEqual({ forged: 'refused', genuine: 'updated' });
    expect(storedValue('tencent-ssl/www.example.com')?.certificateId).toBe('genuine');
  });

  it('verifies once, and only tags, a secret an older version wrote with the same certificate', async () => {
    const l = await leaf('www.example.com');
    givenSecret(
      'tencent-ssl/www.example.com',
      { id: 'cert1', leaf: l, names: ['www.example.com'] },
      { trusted: false, namesDigest: false },
    );
    const tencent = new FakeTencent([{ id: 'cert1', domain: 'www.example.com', leaf: l }]);

    const first = await exportCertificates(deps(tencent));
    const second = await exportCertificates(deps(tencent));

    expect(resultsOf(first)).toEqual({ cert1: 'unchanged' });
    expect(resultsOf(second)).toEqual({ cert1: 'unchanged' });
    expect(tencent.detailCalls).toEqual(['cert1']);
    expect(secrets.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(stored.get('tencent-ssl/www.example.com')?.tags.get('tencent-ssl-sync:trust')).toBe('verified');
  });

  it('refuses a certificate with a name outside ALLOWED_DOMAINS', async () => {
    const l = await leaf('www.example.com', { altNames: ['www.example.com', 'www.example.org'] });
    const report = await exportCertificates(
      deps(
        new FakeTencent([{ id: 'wide', domain: 'www.example.com', leaf: l, altNames: ['www.example.org'] }]),
      ),
    );

    expect(stored.size).toBe(0);
    expect(report.certificates[0]).toMatchObject({
      result: 'refused',
      refusal: 'name-outside-allow-list',
      reason: expect.stringContaining('www.example.org'),
    });
  });

  it('refuses everything while ALLOWED_DOMAINS is unset', async () => {
    const l = await leaf('www.example.com');
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'cert1', domain: 'www.example.com', leaf: l }]), {
        allowedDomains: undefined,
      }),
    );

    expect(stored.size).toBe(0);
    expect(report.certificates[0]).toMatchObject({ result: 'refused', refusal: 'name-outside-allow-list' });
  });

  it('refuses a private key that belongs to another certificate', async () => {
    const l = await leaf('www.example.com');
    const other = await leaf('www.example.com');
    const report = await exportCertificates(
      deps(
        new FakeTencent([
          {
            id: 'mixed',
            domain: 'www.example.com',
            leaf: l,
            detail: { CertificatePrivateKey: other.privateKeyPem },
          },
        ]),
      ),
    );

    expect(stored.size).toBe(0);
    expect(report.certificates[0]).toMatchObject({
      result: 'refused',
      refusal: 'key-mismatch',
      reason: expect.stringMatching(/does not belong/),
    });
    expect(JSON.stringify(report)).not.toContain('PRIVATE KEY');
  });

  it('refuses an expired certificate', async () => {
    const l = await leaf('www.example.com', { daysLeft: -1 });
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'old', domain: 'www.example.com', leaf: l }])),
    );

    expect(report.certificates[0]).toMatchObject({ result: 'refused', refusal: 'expired' });
  });

  it('leaves the older certificates waiting when the one that expires last cannot be read', async () => {
    const newer = await leaf('www.example.com', { daysLeft: 85 });
    const older = await leaf('www.example.com', { daysLeft: 30 });
    const tencent = new FakeTencent([
      {
        id: 'newer',
        domain: 'www.example.com',
        leaf: newer,
        detailError: new TencentApiError({
          code: 'InternalError',
          message: 'busy',
          action: 'DescribeCertificateDetail',
          retryable: true,
        }),
      },
      { id: 'older', domain: 'www.example.com', leaf: older },
    ]);

    const report = await exportCertificates(deps(tencent));

    expect(resultsOf(report)).toEqual({ newer: 'failed', older: 'deferred' });
    expect(stored.size).toBe(0);
  });
});

describe('exportCertificates: one domain, several name sets', () => {
  const WWW = ['www.example.com'];
  const WWW_API = ['api.example.com', 'www.example.com'];
  const plain = 'tencent-ssl/www.example.com';
  const suffixed = `tencent-ssl/www.example.com+${nameSetDigest(WWW).slice(0, 8)}`;

  async function lines() {
    return {
      broad: {
        id: 'broad',
        domain: 'www.example.com',
        altNames: ['api.example.com'],
        leaf: await leaf('www.example.com', { altNames: WWW_API, daysLeft: 40 }),
      },
      narrow: {
        id: 'narrow',
        domain: 'www.example.com',
        leaf: await leaf('www.example.com', { daysLeft: 80 }),
      },
    };
  }

  function layout() {
    return Object.fromEntries([...stored.values()].map((s) => [s.name, storedValue(s.name)?.certificateId]));
  }

  it('gives the plain secret to the broader name set and the other its own secret', async () => {
    const { broad, narrow } = await lines();
    const report = await exportCertificates(deps(new FakeTencent([narrow, broad])));

    expect(layout()).toEqual({ [plain]: 'broad', [suffixed]: 'narrow' });
    expect(report.certificates.find((c) => c.certificateId === 'narrow')?.secretName).toBe(suffixed);
  });

  it('ends in the same secrets whichever certificate arrives first, and reruns write nothing', async () => {
    const { broad, narrow } = await lines();
    const tencent = new FakeTencent([narrow]);
    await exportCertificates(deps(tencent));
    expect(layout()).toEqual({ [plain]: 'narrow' });

    tencent.certs.push(broad);
    const moved = await exportCertificates(deps(tencent));
    expect(resultsOf(moved)).toEqual({ broad: 'updated', narrow: 'created' });
    expect(layout()).toEqual({ [plain]: 'broad', [suffixed]: 'narrow' });

    const writes = () =>
      secrets.commandCalls(PutSecretValueCommand).length + secrets.commandCalls(CreateSecretCommand).length;
    const before = writes();
    const rerun = await exportCertificates(deps(tencent));
    expect(resultsOf(rerun)).toEqual({ broad: 'unchanged', narrow: 'unchanged' });
    expect(writes()).toBe(before);

    // The other order of arrival.
    stored.clear();
    const reversed = new FakeTencent([broad]);
    await exportCertificates(deps(reversed));
    reversed.certs.push(narrow);
    await exportCertificates(deps(reversed));
    expect(layout()).toEqual({ [plain]: 'broad', [suffixed]: 'narrow' });
  });

  it('does not let an untrusted certificate with more names take the plain secret', async () => {
    const { narrow } = await lines();
    const forged = {
      id: 'forged',
      domain: 'www.example.com',
      altNames: ['api.example.com', 'pay.example.com'],
      leaf: await leaf('www.example.com', {
        altNames: ['www.example.com', 'api.example.com', 'pay.example.com'],
        from: otherPki,
      }),
    };
    const tencent = new FakeTencent([forged, narrow]);

    const first = await exportCertificates(deps(tencent));
    const second = await exportCertificates(deps(tencent));

    expect(layout()).toEqual({ [plain]: 'narrow' });
    expect(resultsOf(first)).toEqual({ forged: 'refused', narrow: 'created' });
    expect(resultsOf(second)).toEqual({ forged: 'refused', narrow: 'unchanged' });
  });

  it('lists every issued certificate before an export asked for one, so the secret names agree', async () => {
    const { broad, narrow } = await lines();
    const tencent = new FakeTencent([broad, narrow]);

    const report = await exportCertificates(deps(tencent), { certificateIds: ['narrow'] });

    expect(report.certificates).toEqual([
      expect.objectContaining({ certificateId: 'narrow', result: 'created', secretName: suffixed }),
    ]);
    expect(layout()).toEqual({ [suffixed]: 'narrow' });
  });
});

describe('planExports', () => {
  it('refreshes a secret whose tags name the same certificate but no fingerprint', () => {
    const item = CertificateListItemSchema.parse({ CertificateId: 'a', Domain: 'x.example.com', Status: 1 });
    const decisions = planExports(
      [item],
      new Map([
        [
          'tencent-ssl/x.example.com',
          { name: 'tencent-ssl/x.example.com', arn: 'arn', certificateId: 'a', trusted: true },
        ],
      ]),
      'tencent-ssl/{domain}',
    );
    expect(decisions[0]?.action).toBe('export');
  });
});

describe('export queue', () => {
  it('sends one message per certificate, ten to a batch', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(async (input: { Entries: Array<{ Id: string }> }) => ({
      Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `m${e.Id}`, MD5OfMessageBody: 'x' })),
      Failed: [],
    }));
    const ids = Array.from({ length: 12 }, (_, i) => `cert${i}`);
    const result = await enqueueExports(new SQSClient({ region: 'us-east-1' }), 'https://sqs.example/q', ids);
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 2]);
    expect(calls[0]?.args[0].input.Entries?.[0]).toEqual({
      Id: '0',
      MessageBody: '{"certificateId":"cert0"}',
    });
    expect(result.queued).toEqual(ids);
  });

  it('queues only the certificates whose secret is missing or stale', async () => {
    const fresh = await leaf('a.example.com');
    const held = await leaf('b.example.com');
    givenSecret('tencent-ssl/b.example.com', { id: 'b', leaf: held, names: ['b.example.com'] });
    const tencent = new FakeTencent([
      { id: 'a', domain: 'a.example.com', leaf: fresh },
      { id: 'b', domain: 'b.example.com', leaf: held },
    ]);
    const queued: string[][] = [];
    const handler = exportViaQueue(deps(tencent), async (ids) => {
      queued.push(ids);
      return { queued: ids, failed: [] };
    });
    const entries = await handler(await tencent.listCertificates(), { dryRun: false });
    expect(queued).toEqual([['a']]);
    expect(entries.map((e) => [e.certificateId, e.result])).toEqual([
      ['a', 'queued'],
      ['b', 'unchanged'],
    ]);
  });
});

describe('exportSqsBatch', () => {
  it('returns only the messages whose export failed for a reason a retry can fix', async () => {
    const good = await leaf('a.example.com');
    const bad = await leaf('b.example.com');
    secrets
      .on(CreateSecretCommand, { Name: 'tencent-ssl/b.example.com' })
      .rejects(Object.assign(new Error('service unavailable'), { name: 'InternalServiceError' }));
    const tencent = new FakeTencent([
      { id: 'good', domain: 'a.example.com', leaf: good },
      { id: 'bad', domain: 'b.example.com', leaf: bad },
      {
        id: 'nokey',
        domain: 'c.example.com',
        leaf: await leaf('c.example.com'),
        detail: { CertificatePrivateKey: null },
      },
      { id: 'forged', domain: 'd.example.com', leaf: await leaf('d.example.com', { from: otherPki }) },
    ]);
    const record = (messageId: string, body: string) => ({
      messageId,
      body,
      eventSource: 'aws:sqs' as const,
    });
    const { response, report } = await exportSqsBatch(deps(tencent), [
      record('m1', '{"certificateId":"good"}'),
      record('m2', '{"certificateId":"bad"}'),
      record('m3', '{"certificateId":"nokey"}'),
      record('m4', 'not json'),
      record('m5', '{"certificateId":"bad"}'),
      record('m6', '{"certificateId":"forged"}'),
    ]);
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: 'm4' },
      { itemIdentifier: 'm2' },
      { itemIdentifier: 'm5' },
    ]);
    expect(report.certificates.map((c) => [c.certificateId, c.result]).sort()).toEqual([
      ['bad', 'failed'],
      ['forged', 'refused'],
      ['good', 'created'],
      ['nokey', 'no-private-key'],
    ]);
  });
});

describe('exportCertificates: reading through the freer budget', () => {
  /** A FakeTencent whose DescribeCertificateDetail budget is busy (the sync's validation reads use it). */
  class BusyDetail extends FakeTencent {
    nextSlot(action: string): number {
      return action === 'DescribeCertificateDetail' ? NOW.getTime() + 5_000 : NOW.getTime();
    }
  }

  it('reads the certificate, its chain and its key from the archive when DownloadCertificate is freer', async () => {
    const l = await leaf('www.example.com');
    const tencent = new BusyDetail([{ id: 'a1', domain: 'www.example.com', leaf: l }]);

    const report = await exportCertificates(deps(tencent));

    expect(tencent.detailCalls).toEqual([]);
    expect(tencent.downloadCalls).toEqual(['a1']);
    expect(report.certificates[0]).toMatchObject({ result: 'created' });
    expect(storedValue('tencent-ssl/www.example.com')).toMatchObject({
      certificate: l.certificatePem,
      chain: pki.intermediatePem,
      privateKey: l.privateKeyPem,
    });
  });

  it('falls back to DescribeCertificateDetail when the archive holds no usable key', async () => {
    const l = await leaf('www.example.com');
    const zip = buildCertificateArchive({
      domain: 'www.example.com',
      certificatePem: l.certificatePem,
      chainPem: l.chainPem,
      privateKeyPem: '',
      layout: 'server-folders',
    });
    const tencent = new BusyDetail([
      {
        id: 'a2',
        domain: 'www.example.com',
        leaf: l,
        download: { Content: Buffer.from(zip).toString('base64'), ContentType: 'application/zip' },
      },
    ]);

    const report = await exportCertificates(deps(tencent));

    expect(tencent.detailCalls).toEqual(['a2']);
    expect(report.certificates[0]).toMatchObject({ result: 'created' });
  });

  it('never lets an archive leaf from an untrusted CA through', async () => {
    const l = await leaf('www.example.com', { from: otherPki });
    const tencent = new BusyDetail([{ id: 'a3', domain: 'www.example.com', leaf: l }]);

    const report = await exportCertificates(deps(tencent));

    expect(report.certificates[0]).toMatchObject({ result: 'refused', refusal: 'untrusted-chain' });
    expect(storedValue('tencent-ssl/www.example.com')).toBeNull();
  });
});

describe('exportCertificates: failures remembered in the state table', () => {
  function withState(tencent: FakeTencent) {
    const d = deps(tencent);
    const clock = d.clock as FakeClock;
    const state = new MemoryStateStore(clock);
    return { d: { ...d, state }, clock, state };
  }

  it('does not read a refused certificate again the next run, and says why from memory', async () => {
    const l = await leaf('www.example.com', { from: otherPki });
    const tencent = new FakeTencent([{ id: 'untrusted', domain: 'www.example.com', leaf: l }]);
    const { d } = withState(tencent);
    await exportCertificates(d);
    const readsAfterFirst = tencent.detailCalls.length;

    const report = await exportCertificates(d);

    expect(tencent.detailCalls).toHaveLength(readsAfterFirst);
    expect(report.certificates[0]).toMatchObject({
      result: 'refused',
      refusal: 'untrusted-chain',
      reason: expect.stringContaining('remembered since'),
    });
  });

  it('checks it again once a day has passed', async () => {
    const l = await leaf('www.example.com', { from: otherPki });
    const tencent = new FakeTencent([{ id: 'untrusted', domain: 'www.example.com', leaf: l }]);
    const { d, clock } = withState(tencent);
    await exportCertificates(d);
    const readsAfterFirst = tencent.detailCalls.length;
    clock.time += 24 * 3600 * 1000;

    await exportCertificates(d);

    expect(tencent.detailCalls.length).toBeGreaterThan(readsAfterFirst);
  });

  it('remembers a certificate without a private key', async () => {
    const l = await leaf('www.example.com');
    const tencent = new FakeTencent([
      { id: 'nokey', domain: 'www.example.com', leaf: l, detail: { CertificatePrivateKey: null } },
    ]);
    const { d, state } = withState(tencent);

    await exportCertificates(d);

    expect((await state.exportFailures()).get('nokey')).toMatchObject({ kind: 'no-private-key' });
  });

  it('queues no export that memory says cannot succeed', async () => {
    const l = await leaf('www.example.com', { from: otherPki });
    const tencent = new FakeTencent([{ id: 'untrusted', domain: 'www.example.com', leaf: l }]);
    const { d } = withState(tencent);
    await exportCertificates(d);
    const queued: string[][] = [];
    const handOff = exportViaQueue(d, async (ids) => {
      queued.push(ids);
      return { queued: ids, failed: [] };
    });

    const entries = await handOff(await tencent.listCertificates(), { dryRun: false });

    expect(queued).toEqual([]);
    expect(entries[0]).toMatchObject({ result: 'refused' });
  });
});
