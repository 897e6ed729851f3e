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
import { createTestPki, type IssuedLeaf, type TestPki } from '../../infra/local/pki.js';
import { type ExportDeps, exportCertificates, exportViaQueue, planExports } from '../../lib/export.js';
import { exportSqsBatch } from '../../lib/export-batch.js';
import { silentLogger } from '../../lib/logger.js';
import { enqueueExports } from '../../lib/sqs/export-queue.js';
import {
  type CertificateDetail,
  CertificateDetailSchema,
  type CertificateListItem,
  CertificateListItemSchema,
  formatTencentTime,
} from '../../lib/tencent/schemas.js';
import type { ListCertificatesOptions } from '../../lib/tencent/ssl-api.js';
import { FakeClock } from '../helpers/fake-clock.js';

const secrets = mockClient(SecretsManagerClient);
const sqs = mockClient(SQSClient);
const NOW = new Date('2026-11-28T00:00:00Z');
const DAY = 24 * 3600 * 1000;

let pki: TestPki;
let otherPki: TestPki;

interface FakeIssued {
  id: string;
  domain: string;
  leaf: IssuedLeaf;
  /** Overrides of the detail fields (broken chains, missing keys…). */
  detail?: Record<string, unknown>;
  status?: number;
}

class FakeTencent {
  detailCalls: string[] = [];
  constructor(readonly certs: FakeIssued[]) {}
  item(c: FakeIssued): CertificateListItem {
    return CertificateListItemSchema.parse({
      CertificateId: c.id,
      Domain: c.domain,
      Status: c.status ?? 1,
      CertEndTime: formatTencentTime(c.leaf.notAfter),
    });
  }
  async listCertificates(options: ListCertificatesOptions = {}): Promise<CertificateListItem[]> {
    return this.certs
      .filter((c) => !options.ids || options.ids.includes(c.id))
      .filter((c) => !options.statuses || options.statuses.includes(c.status ?? 1))
      .map((c) => this.item(c));
  }
  async describeCertificateDetail(id: string): Promise<CertificateDetail> {
    this.detailCalls.push(id);
    const c = this.certs.find((x) => x.id === id);
    if (!c) throw new Error('unknown');
    return CertificateDetailSchema.parse({
      CertificateId: c.id,
      Domain: c.domain,
      Status: 1,
      CertificatePublicKey: c.leaf.fullchainPem.replaceAll('\n', '\r\n'),
      CertificatePrivateKey: c.leaf.privateKeyPem,
      ...c.detail,
    });
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

function managedEntry(name: string, tags: Record<string, string>, version = 'v-old'): SecretListEntry {
  return {
    Name: name,
    ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`,
    Tags: [
      { Key: 'managed-by', Value: 'tencent-ssl-sync' },
      ...Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    ],
    SecretVersionsToStages: { [version]: ['AWSCURRENT'] },
  };
}

function givenSecrets(...entries: SecretListEntry[]) {
  secrets.on(ListSecretsCommand).resolves({ SecretList: entries });
}

function deps(tencent: FakeTencent, settings: Partial<ExportDeps['settings']> = {}): ExportDeps {
  return {
    tencent,
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    clock: new FakeClock(NOW.getTime()),
    logger: silentLogger,
    settings: { nameTemplate: 'tencent-ssl/{domain}', dryRun: false, ...settings },
  };
}

beforeAll(async () => {
  pki = await createTestPki();
  otherPki = await createTestPki({ fresh: true });
});

beforeEach(() => {
  secrets.reset();
  sqs.reset();
  givenSecrets();
  secrets
    .on(CreateSecretCommand)
    .callsFake(async (input: { ClientRequestToken: string }) => ({ VersionId: input.ClientRequestToken }));
  secrets
    .on(PutSecretValueCommand)
    .callsFake(async (input: { ClientRequestToken: string }) => ({ VersionId: input.ClientRequestToken }));
  secrets.on(TagResourceCommand).resolves({});
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
    givenSecrets(
      managedEntry('tencent-ssl/www.example.com', {
        'tencent-ssl-sync:certificate-id': 'old1',
        'tencent-ssl-sync:not-after': old.notAfter.toISOString(),
        'tencent-ssl-sync:fingerprint-sha256': fingerprintOf(old),
      }),
    );
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'new1', domain: 'www.example.com', leaf: renewed }])),
    );
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(secrets.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toMatchObject({
      SecretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tencent-ssl/www.example.com-AbCdEf',
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
    givenSecrets(
      managedEntry(
        'tencent-ssl/www.example.com',
        {
          'tencent-ssl-sync:certificate-id': 'cert1',
          'tencent-ssl-sync:not-after': l.notAfter.toISOString(),
          'tencent-ssl-sync:fingerprint-sha256': fingerprintOf(l),
        },
        'v-current',
      ),
    );
    const tencent = new FakeTencent([{ id: 'cert1', domain: 'www.example.com', leaf: l }]);
    const report = await exportCertificates(deps(tencent));
    expect(tencent.detailCalls).toEqual([]);
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(secrets.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(secrets.commandCalls(ListSecretsCommand)).toHaveLength(1);
    expect(report.certificates[0]).toMatchObject({ result: 'unchanged', versionId: 'v-current' });
  });

  it('retries a put with the same token, so a second attempt makes no second version', async () => {
    const l = await leaf('www.example.com');
    givenSecrets(managedEntry('tencent-ssl/www.example.com', { 'tencent-ssl-sync:certificate-id': 'old' }));
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
    expect(secrets.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input.SecretString)).toEqual([
      secrets.commandCalls(PutSecretValueCommand)[0]?.args[0].input.SecretString,
      secrets.commandCalls(PutSecretValueCommand)[0]?.args[0].input.SecretString,
    ]);
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
    givenSecrets(
      managedEntry('tencent-ssl/www.example.com', {
        'tencent-ssl-sync:certificate-id': 'renewal',
        'tencent-ssl-sync:not-after': held.notAfter.toISOString(),
        'tencent-ssl-sync:fingerprint-sha256': fingerprintOf(held),
      }),
    );
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'older', domain: 'www.example.com', leaf: older }])),
    );
    expect(secrets.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(report.certificates[0]).toMatchObject({ result: 'kept-newer' });
  });

  it.each([
    ['a missing private key', { CertificatePrivateKey: null }, 'no-private-key', /private key/],
    ['a private key of another certificate', 'other-key', 'invalid', /does not belong/],
    ['a chain from another CA', 'other-chain', 'invalid', /not signed by/],
    ['an expired leaf', 'expired', 'invalid', /expired/],
  ])('reports %s and writes nothing', async (_label, broken, result, reason) => {
    const l = await leaf('www.example.com');
    let detail: Record<string, unknown> | undefined;
    let certLeaf = l;
    if (broken === 'other-key')
      detail = { CertificatePrivateKey: (await leaf('www.example.com')).privateKeyPem };
    else if (broken === 'other-chain') {
      detail = {
        CertificatePublicKey: `${l.certificatePem}${(await leaf('x.example.com', { from: otherPki })).chainPem}`,
      };
    } else if (broken === 'expired') certLeaf = await leaf('www.example.com', { daysLeft: -1 });
    else detail = broken as Record<string, unknown>;
    const report = await exportCertificates(
      deps(
        new FakeTencent([
          { id: 'bad', domain: 'www.example.com', leaf: certLeaf, ...(detail ? { detail } : {}) },
        ]),
      ),
    );
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(report.certificates[0]).toMatchObject({ result, reason: expect.stringMatching(reason as RegExp) });
    expect(JSON.stringify(report)).not.toContain('PRIVATE KEY');
  });

  it('writes nothing in a dry run but says what it would write', async () => {
    const l = await leaf('www.example.com');
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'cert1', domain: 'www.example.com', leaf: l }])),
      {
        dryRun: true,
      },
    );
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(report).toMatchObject({ dryRun: true, certificates: [{ result: 'created' }] });
  });

  it('reports ids that are not issued certificates', async () => {
    const l = await leaf('www.example.com');
    const report = await exportCertificates(
      deps(new FakeTencent([{ id: 'pend', domain: 'www.example.com', leaf: l, status: 4 }])),
      {
        certificateIds: ['pend', 'gone'],
      },
    );
    expect(report.certificates.map((c) => [c.certificateId, c.result])).toEqual([
      ['gone', 'not-found'],
      ['pend', 'not-issued'],
    ]);
  });
});

describe('planExports', () => {
  it('refreshes a secret whose tags name the same certificate but no fingerprint', () => {
    const item = CertificateListItemSchema.parse({ CertificateId: 'a', Domain: 'x.example.com', Status: 1 });
    const decisions = planExports(
      [item],
      new Map([
        ['tencent-ssl/x.example.com', { name: 'tencent-ssl/x.example.com', arn: 'arn', certificateId: 'a' }],
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
    givenSecrets(
      managedEntry('tencent-ssl/b.example.com', {
        'tencent-ssl-sync:certificate-id': 'b',
        'tencent-ssl-sync:not-after': held.notAfter.toISOString(),
        'tencent-ssl-sync:fingerprint-sha256': fingerprintOf(held),
      }),
    );
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
    ]);
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: 'm4' },
      { itemIdentifier: 'm2' },
      { itemIdentifier: 'm5' },
    ]);
    expect(report.certificates.map((c) => [c.certificateId, c.result]).sort()).toEqual([
      ['bad', 'failed'],
      ['good', 'created'],
      ['nokey', 'no-private-key'],
    ]);
  });
});
