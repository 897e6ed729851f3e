import { createHash } from 'node:crypto';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '../../lib/logger.js';
import { runSync } from '../../lib/sync.js';
import type { CertificateReport } from '../../lib/sync-types.js';
import { TencentApiError } from '../../lib/tencent/errors.js';
import { CertificateListItemSchema, DescribeCertificatesResponseSchema } from '../../lib/tencent/schemas.js';
import { NudgePolicy, unsupportedBrand } from '../../lib/validation/nudge-policy.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { cname, type FakeCertificate, FakeTencent } from '../helpers/fake-tencent.js';
import { loadDocumented } from '../helpers/fixtures.js';

/** A logger that keeps what it is given. */
function recordingLogger() {
  const lines: Array<{ level: string; message: string; fields?: LogFields }> = [];
  const at =
    (level: string) =>
    (message: string, fields?: LogFields): void => {
      lines.push({ level, message, ...(fields ? { fields } : {}) });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return { logger, lines };
}

const unsupported = () =>
  new TencentApiError({
    code: 'UnsupportedOperation',
    message: 'Unsupported operation.',
    action: 'CompleteCertificate',
    retryable: false,
    requestId: 'req-1',
  });

const item = (fields: Record<string, unknown>) => CertificateListItemSchema.parse(fields);
const report = (certificateId: string): CertificateReport => ({
  certificateId,
  domains: [],
  status: 4,
  statusName: null,
  validationDeadline: null,
  outcome: 'ignored',
  records: [],
});

describe('unsupportedBrand', () => {
  it.each([
    ['describe-certificate-detail.pending', 'DNSPod'],
    ['describe-certificate-detail.pending-ov', 'DNSPod'],
    ['describe-certificate', undefined],
  ])('tells the brand of the documented %s: %s', (name, brand) => {
    const { PackageType, ProductZhName } = loadDocumented(name).response.Response;
    expect(unsupportedBrand(item({ PackageType, ProductZhName }))).toBe(brand);
  });

  it('tells DNSPod and Wotrus by PackageType, the documented ranges', () => {
    expect(
      ['24', '25', '33', '41', '42', '43', '48', '56', '57', '83'].map((p) =>
        unsupportedBrand(item({ PackageType: p })),
      ),
    ).toEqual([
      undefined,
      'Wotrus',
      'Wotrus',
      'Wotrus',
      undefined,
      'DNSPod',
      'DNSPod',
      'DNSPod',
      undefined,
      undefined,
    ]);
  });

  it('tells the brand by product name when PackageType says nothing', () => {
    expect(unsupportedBrand(item({ ProductZhName: 'Wotrus 域名型证书' }))).toBe('Wotrus');
    expect(unsupportedBrand(item({ ProductZhName: '沃通 DV' }))).toBe('Wotrus');
    expect(unsupportedBrand(item({ ProductZhName: 'DNSPod-域名型(DV)SSL证书' }))).toBe('DNSPod');
    expect(
      unsupportedBrand(item({ PackageType: 'company', ProductZhName: 'DigiCert Secure Site CN CA G3' })),
    ).toBe(undefined);
  });

  it('lets every certificate of the documented lists be nudged (TrustAsia, DigiCert)', () => {
    for (const name of ['describe-certificates', 'describe-certificates.search-domain']) {
      const page = DescribeCertificatesResponseSchema.parse(loadDocumented(name).response.Response);
      expect(page.Certificates.map(unsupportedBrand)).toEqual([undefined]);
    }
  });
});

describe('NudgePolicy', () => {
  it('skips a DNSPod-brand certificate, saying why', () => {
    const { logger } = recordingLogger();
    const policy = new NudgePolicy(
      [item({ CertificateId: 'd', PackageType: '48' }), item({ CertificateId: 't', PackageType: '83' })],
      logger,
    );
    const dnspod = report('d');

    expect(policy.skip(dnspod)).toBe(true);
    expect(policy.skip(report('t'))).toBe(false);
    expect(dnspod).toMatchObject({ nudged: false, nudgeNote: expect.stringContaining('DNSPod-brand') });
  });

  it('remembers an unsupported answer for the rest of the run and warns once', () => {
    const { logger, lines } = recordingLogger();
    const policy = new NudgePolicy([item({ CertificateId: 'a' }), item({ CertificateId: 'b' })], logger);
    expect(policy.skip(report('a'))).toBe(false);

    expect(policy.isUnsupported(unsupported())).toBe(true);
    expect(policy.isUnsupported(unsupported())).toBe(true);
    const later = report('b');

    expect(policy.skip(later)).toBe(true);
    expect(later.nudgeNote).toContain('UnsupportedOperation');
    expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1);
  });

  it('does not take other refusals for an unsupported action', () => {
    const { logger, lines } = recordingLogger();
    const policy = new NudgePolicy([item({ CertificateId: 'a' })], logger);
    const refusal = new TencentApiError({
      code: 'FailedOperation',
      message: 'x',
      action: 'CompleteCertificate',
      retryable: false,
    });

    expect(policy.isUnsupported(refusal)).toBe(false);
    expect(policy.isUnsupported(new Error('socket hang up'))).toBe(false);
    expect(policy.skip(report('a'))).toBe(false);
    expect(lines).toEqual([]);
  });
});

describe('runSync and CompleteCertificate', () => {
  const route53 = mockClient(Route53Client);
  const CA = 'a3108492878a2d98.cc7346307ff022fc.cmcdpcwca5iljv.trust-provider.com';

  beforeEach(() => {
    route53.reset();
    route53.on(ListHostedZonesCommand).resolves({
      HostedZones: [
        {
          Id: '/hostedzone/ZCOM',
          Name: 'example.com.',
          CallerReference: 'c',
          Config: { PrivateZone: false },
        },
        {
          Id: '/hostedzone/ZNET',
          Name: 'example.net.',
          CallerReference: 'n',
          Config: { PrivateZone: false },
        },
      ],
      IsTruncated: false,
      MaxItems: 100,
    });
    route53
      .on(ListResourceRecordSetsCommand)
      .resolves({ ResourceRecordSets: [], IsTruncated: false, MaxItems: 300 });
    let changes = 0;
    route53.on(ChangeResourceRecordSetsCommand).callsFake(async () => ({
      ChangeInfo: { Id: `/change/C${++changes}`, Status: 'PENDING', SubmittedAt: new Date() },
    }));
    route53.on(GetChangeCommand).callsFake(async (input: { Id: string }) => ({
      ChangeInfo: { Id: input.Id, Status: 'INSYNC', SubmittedAt: new Date() },
    }));
  });

  function run(certificates: FakeCertificate[]) {
    const tencent = new FakeTencent(certificates);
    const { logger, lines } = recordingLogger();
    const sync = runSync({
      tencent,
      route53: new Route53Client({ region: 'us-east-1' }),
      clock: new FakeClock(),
      logger,
      settings: {
        allowedDomains: ['example.com', 'example.net'],
        zoneOverrides: [],
        recordTtl: 60,
        waitForInsync: true,
        dryRun: false,
      },
    });
    return { sync, tencent, lines };
  }

  const pending = (id: string, domain: string, fields: Partial<FakeCertificate> = {}): FakeCertificate => ({
    id,
    domain,
    dvAuths: [cname(`_${createHash('md5').update(id).digest('hex')}.${domain}`, CA, domain)],
    ...fields,
  });

  it('does not send CompleteCertificate for a DNSPod-brand certificate, and still writes its records', async () => {
    const { sync, tencent } = run([
      pending('dnspod', 'www.example.com', { packageType: '48', productName: 'DNSPod-域名型(DV)SSL证书' }),
      pending('trustasia', 'api.example.com', { packageType: '83', productName: 'TrustAsia C1 DV Free' }),
    ]);

    const report = await sync;

    const byId = Object.fromEntries(report.certificates.map((c) => [c.certificateId, c]));
    expect(byId.dnspod).toMatchObject({ outcome: 'validating', insync: true, nudged: false });
    expect(byId.dnspod?.nudgeNote).toContain('DNSPod-brand');
    expect(byId.trustasia).toMatchObject({ outcome: 'validating', nudged: true });
    expect(tencent.calls.filter((c) => c.action === 'CompleteCertificate')).toEqual([
      { action: 'CompleteCertificate', id: 'trustasia' },
    ]);
  });

  it('warns once, not per certificate, when CompleteCertificate is not available', async () => {
    const { sync, lines } = run([
      pending('a', 'a.example.com', { completeError: 'UnsupportedOperation' }),
      pending('b', 'b.example.com', { completeError: 'UnsupportedOperation' }),
      pending('c', 'c.example.net', { completeError: 'UnsupportedOperation' }),
    ]);

    const report = await sync;

    expect(report.certificates.map((c) => [c.outcome, c.nudged])).toEqual([
      ['validating', false],
      ['validating', false],
      ['validating', false],
    ]);
    expect(lines.filter((line) => line.level === 'warn').map((line) => line.message)).toEqual([
      'CompleteCertificate is not available here: no more CA nudges this run',
    ]);
  });

  it('still warns per certificate about any other refusal', async () => {
    const { sync, lines } = run([
      pending('a', 'a.example.com', { completeError: 'FailedOperation' }),
      pending('b', 'b.example.net', { completeError: 'FailedOperation' }),
    ]);

    await sync;

    expect(lines.filter((line) => line.message === 'CompleteCertificate was not accepted')).toHaveLength(2);
  });
});
