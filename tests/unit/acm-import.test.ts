import { createHash, X509Certificate } from 'node:crypto';
import {
  ACMClient,
  AddTagsToCertificateCommand,
  type CertificateSummary,
  ImportCertificateCommand,
  ListCertificatesCommand,
  ListTagsForCertificateCommand,
  type Tag,
} from '@aws-sdk/client-acm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestPki, type IssuedLeaf, type TestPki } from '../../infra/local/pki.js';
import { ACM_MANAGED_BY } from '../../lib/acm/acm-client.js';
import type { AcmCertificate } from '../../lib/acm/certificate.js';
import { AcmImporter, chooseHeld } from '../../lib/acm/import.js';
import { silentLogger } from '../../lib/logger.js';
import { FakeClock } from '../helpers/fake-clock.js';

const acm = mockClient(ACMClient);
const DAY = 86_400_000;
const NOW = new Date('2030-06-01T12:00:00Z');
const SECRET = 'tencent-ssl/www.example.com';
const NAMES = createHash('sha256').update('www.example.com').digest('hex');
const arn = (id: string) => `arn:aws:acm:us-east-1:123456789012:certificate/${id}`;

let pki: TestPki;
let current: IssuedLeaf;
let renewal: IssuedLeaf;

const fingerprint = (l: IssuedLeaf) =>
  new X509Certificate(l.certificatePem).fingerprint256.replaceAll(':', '').toLowerCase();

const record = (l: IssuedLeaf, certificateId: string): AcmCertificate => ({
  secretName: SECRET,
  certificateId,
  certificatePem: l.certificatePem,
  chainPem: l.chainPem,
  privateKeyPem: l.privateKeyPem,
  fingerprintSha256: fingerprint(l),
  notAfter: l.notAfter.toISOString(),
  namesSha256: NAMES,
});

const summary = (
  id: string,
  domain = 'www.example.com',
  extra: CertificateSummary = {},
): CertificateSummary => ({
  CertificateArn: arn(id),
  DomainName: domain,
  SubjectAlternativeNameSummaries: [domain],
  Type: 'IMPORTED',
  KeyUsages: ['DIGITAL_SIGNATURE'],
  ExtendedKeyUsages: ['TLS_WEB_SERVER_AUTHENTICATION', 'TLS_WEB_CLIENT_AUTHENTICATION'],
  ...extra,
});

const managedTags = (l: IssuedLeaf, certificateId: string): Tag[] => [
  { Key: 'managed-by', Value: ACM_MANAGED_BY },
  { Key: 'tencent-ssl-sync:secret', Value: SECRET },
  { Key: 'tencent-ssl-sync:certificate-id', Value: certificateId },
  { Key: 'tencent-ssl-sync:fingerprint-sha256', Value: fingerprint(l) },
  { Key: 'tencent-ssl-sync:not-after', Value: l.notAfter.toISOString() },
  { Key: 'tencent-ssl-sync:names-sha256', Value: NAMES },
];

/** ACM answering with these certificates and their tags. */
function account(certificates: Array<{ summary: CertificateSummary; tags: Tag[] }>): void {
  acm.on(ListCertificatesCommand).resolves({ CertificateSummaryList: certificates.map((c) => c.summary) });
  for (const c of certificates)
    acm
      .on(ListTagsForCertificateCommand, { CertificateArn: c.summary.CertificateArn })
      .resolves({ Tags: c.tags });
}

const importer = () =>
  new AcmImporter({ client: new ACMClient({}), clock: new FakeClock(NOW.getTime()), logger: silentLogger });

const writes = () => [
  ...acm.commandCalls(ImportCertificateCommand),
  ...acm.commandCalls(AddTagsToCertificateCommand),
];

beforeAll(async () => {
  pki = await createTestPki();
  [current, renewal] = await Promise.all([
    pki.issueLeaf({
      commonName: 'www.example.com',
      notBefore: new Date(NOW.getTime() - 60 * DAY),
      notAfter: new Date(NOW.getTime() + 30 * DAY),
    }),
    pki.issueLeaf({
      commonName: 'www.example.com',
      notBefore: new Date(NOW.getTime() - DAY),
      notAfter: new Date(NOW.getTime() + 89 * DAY),
    }),
  ]);
});

beforeEach(() => {
  acm.reset();
});

describe('ACM import', () => {
  it('imports a certificate ACM lacks as a new certificate, with the tool’s tags', async () => {
    account([]);
    acm.on(ImportCertificateCommand).resolves({ CertificateArn: arn('new') });

    const session = await importer().open(['www.example.com']);
    const outcome = await session.deliver(record(current, 'K33dxkOk'), false);

    expect(outcome).toEqual({ result: 'imported', arn: arn('new') });
    const [call] = acm.commandCalls(ImportCertificateCommand);
    const input = call?.args[0].input;
    expect(new TextDecoder().decode(input?.Certificate)).toBe(current.certificatePem);
    expect(new TextDecoder().decode(input?.CertificateChain)).toBe(current.chainPem);
    expect(new TextDecoder().decode(input?.PrivateKey)).toBe(current.privateKeyPem);
    expect(input?.CertificateArn).toBeUndefined();
    expect(input?.Tags).toEqual(managedTags(current, 'K33dxkOk'));
    expect(acm.commandCalls(AddTagsToCertificateCommand)).toEqual([]);
  });

  it('lists every key type in one paged listing, and reads tags only of imported certificates naming the run’s domains', async () => {
    acm
      .on(ListCertificatesCommand)
      .resolvesOnce({ CertificateSummaryList: [summary('a')], NextToken: 'page-2' })
      .resolvesOnce({
        CertificateSummaryList: [
          summary('b', 'other.example.org'),
          summary('c', 'www.example.com', { Type: 'AMAZON_ISSUED' }),
        ],
      });
    acm.on(ListTagsForCertificateCommand).resolves({ Tags: managedTags(current, 'K33dxkOk') });

    const session = await importer().open(['WWW.example.com.']);

    const listings = acm.commandCalls(ListCertificatesCommand).map((c) => c.args[0].input);
    expect(listings).toEqual([
      {
        Includes: {
          keyTypes: [
            'RSA_1024',
            'RSA_2048',
            'RSA_3072',
            'RSA_4096',
            'EC_prime256v1',
            'EC_secp384r1',
            'EC_secp521r1',
          ],
        },
        MaxItems: 1000,
      },
      expect.objectContaining({ NextToken: 'page-2' }),
    ]);
    expect(acm.commandCalls(ListTagsForCertificateCommand).map((c) => c.args[0].input)).toEqual([
      { CertificateArn: arn('a') },
    ]);
    expect(session.preview(record(current, 'K33dxkOk'))).toEqual({ result: 'unchanged', arn: arn('a') });
  });

  it('sends nothing when ACM holds the certificate', async () => {
    account([{ summary: summary('held'), tags: managedTags(current, 'K33dxkOk') }]);

    const session = await importer().open(['www.example.com']);
    const outcome = await session.deliver(record(current, 'K33dxkOk'), false);

    expect(outcome).toEqual({ result: 'unchanged', arn: arn('held') });
    expect(writes()).toEqual([]);
  });

  it('re-imports a changed certificate into the same ARN, then updates its tags', async () => {
    account([{ summary: summary('held'), tags: managedTags(current, 'K33dxkOk') }]);
    acm.on(ImportCertificateCommand).resolves({ CertificateArn: arn('held') });
    acm.on(AddTagsToCertificateCommand).resolves({});

    const session = await importer().open(['www.example.com']);
    expect(session.preview(record(renewal, 'Zq81mRkT'))).toBeUndefined();
    const outcome = await session.deliver(record(renewal, 'Zq81mRkT'), false);

    expect(outcome).toEqual({ result: 'reimported', arn: arn('held') });
    const [call] = acm.commandCalls(ImportCertificateCommand);
    expect(call?.args[0].input.CertificateArn).toBe(arn('held'));
    expect(call?.args[0].input.Tags).toBeUndefined();
    expect(new TextDecoder().decode(call?.args[0].input.Certificate)).toBe(renewal.certificatePem);
    expect(acm.commandCalls(AddTagsToCertificateCommand).map((c) => c.args[0].input)).toEqual([
      { CertificateArn: arn('held'), Tags: managedTags(renewal, 'Zq81mRkT') },
    ]);
    expect(session.preview(record(renewal, 'Zq81mRkT'))).toEqual({ result: 'unchanged', arn: arn('held') });
  });

  it('never touches an ACM certificate of the same domain without the managed-by tag', async () => {
    account([
      {
        summary: summary('theirs'),
        tags: [
          { Key: 'tencent-ssl-sync:secret', Value: SECRET },
          { Key: 'team', Value: 'web' },
        ],
      },
      { summary: summary('labelled'), tags: [{ Key: 'managed-by', Value: 'terraform' }] },
    ]);
    acm.on(ImportCertificateCommand).resolves({ CertificateArn: arn('ours') });

    const session = await importer().open(['www.example.com']);
    const outcome = await session.deliver(record(current, 'K33dxkOk'), false);

    expect(outcome).toEqual({ result: 'imported', arn: arn('ours') });
    expect(acm.commandCalls(ImportCertificateCommand).map((c) => c.args[0].input.CertificateArn)).toEqual([
      undefined,
    ]);
    expect(acm.commandCalls(AddTagsToCertificateCommand)).toEqual([]);
  });

  it('keeps a certificate that expires later: the ARN is never moved back', async () => {
    account([{ summary: summary('held'), tags: managedTags(renewal, 'Zq81mRkT') }]);

    const session = await importer().open(['www.example.com']);
    const outcome = await session.deliver(record(current, 'K33dxkOk'), false);

    expect(outcome).toEqual({
      result: 'kept-newer',
      arn: arn('held'),
      reason: `ACM holds certificate Zq81mRkT, which expires later (${renewal.notAfter.toISOString()})`,
    });
    expect(writes()).toEqual([]);
  });

  it('refuses, without a call, a certificate ACM would not import', async () => {
    account([]);

    const session = await importer().open(['www.example.com']);
    const outcome = await session.deliver(
      { ...record(current, 'K33dxkOk'), chainPem: current.fullchainPem },
      false,
    );

    expect(outcome).toEqual({
      result: 'refused',
      reason: 'the chain holds the certificate itself; ACM takes the chain without it',
    });
    expect(writes()).toEqual([]);
  });

  it('refuses, without a call, a renewal that drops a key usage the ARN’s certificate has', async () => {
    account([
      {
        summary: summary('held', 'www.example.com', { KeyUsages: ['DIGITAL_SIGNATURE', 'NON_REPUDIATION'] }),
        tags: managedTags(current, 'K33dxkOk'),
      },
    ]);

    const session = await importer().open(['www.example.com']);
    const outcome = await session.deliver(record(renewal, 'Zq81mRkT'), false);

    expect(outcome).toMatchObject({
      result: 'refused',
      arn: arn('held'),
      reason: expect.stringContaining('NON_REPUDIATION'),
    });
    expect(writes()).toEqual([]);
  });

  it('reports what ACM answers with as failed', async () => {
    account([]);
    acm
      .on(ImportCertificateCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    const session = await importer().open(['www.example.com']);
    const outcome = await session.deliver(record(current, 'K33dxkOk'), false);

    expect(outcome).toEqual({ result: 'failed', reason: 'ThrottlingException: Rate exceeded' });
  });

  it('reports a re-import whose tags could not be updated as failed, with its ARN', async () => {
    account([{ summary: summary('held'), tags: managedTags(current, 'K33dxkOk') }]);
    acm.on(ImportCertificateCommand).resolves({ CertificateArn: arn('held') });
    acm
      .on(AddTagsToCertificateCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));

    const session = await importer().open(['www.example.com']);
    const outcome = await session.deliver(record(renewal, 'Zq81mRkT'), false);

    expect(outcome).toEqual({
      result: 'failed',
      arn: arn('held'),
      reason: expect.stringMatching(
        /^re-imported, but its tags were not updated .*AccessDeniedException: denied$/,
      ),
    });
  });

  it('reports every certificate failed, and sends nothing, when ACM cannot be listed', async () => {
    acm
      .on(ListCertificatesCommand)
      .rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));

    const session = await importer().open(['www.example.com']);

    const failed = {
      result: 'failed',
      reason: 'cannot list the ACM certificates: AccessDeniedException: no',
    };
    expect(session.preview(record(current, 'K33dxkOk'))).toEqual(failed);
    expect(await session.deliver(record(current, 'K33dxkOk'), false)).toEqual(failed);
    expect(writes()).toEqual([]);
  });

  it('says in a dry run what it would do, and does nothing', async () => {
    account([{ summary: summary('held'), tags: managedTags(current, 'K33dxkOk') }]);

    const session = await importer().open(['www.example.com']);
    const outcome = await session.deliver(record(renewal, 'Zq81mRkT'), true);

    expect(outcome).toEqual({ result: 'reimported', arn: arn('held') });
    expect(writes()).toEqual([]);
  });
});

describe('chooseHeld', () => {
  const held = (id: string, extra: { fingerprint?: string; inUse?: boolean; importedAt?: Date } = {}) => ({
    arn: arn(id),
    secretName: SECRET,
    inUse: false,
    ...extra,
  });

  it('keeps, of several ACM certificates tagged for one secret, the one holding the certificate, then one in use, then the first imported', () => {
    const early = held('b', { importedAt: new Date(1) });
    const late = held('a', { importedAt: new Date(2) });
    const used = held('c', { inUse: true, importedAt: new Date(3) });
    const holding = held('d', { fingerprint: 'f', importedAt: new Date(4) });

    expect(chooseHeld([late, early])?.arn).toBe(arn('b'));
    expect(chooseHeld([late, early, used])?.arn).toBe(arn('c'));
    expect(chooseHeld([late, early, used, holding], 'f')?.arn).toBe(arn('d'));
  });
});
