import { describe, expect, it } from 'vitest';
import {
  CertificateDetailSchema,
  CertificateListItemSchema,
  CheckCertificateDomainVerificationResponseSchema,
  DescribeCertificatesResponseSchema,
  formatTencentTime,
  parseTencentTime,
  readTencentTime,
} from '../../lib/tencent/schemas.js';
import { loadFixture } from '../helpers/fixtures.js';

const pending = loadFixture<{ Response: Record<string, unknown> }>(
  'tencent/describe-certificate-detail-pending.json',
).Response;

describe('Tencent time strings', () => {
  it('reads them as UTC+8', () => {
    expect(parseTencentTime('2024-12-02 19:12:46')?.toISOString()).toBe('2024-12-02T11:12:46.000Z');
  });

  it('crosses the date line back into the previous UTC day', () => {
    expect(parseTencentTime('2025-01-01 03:00:00')?.toISOString()).toBe('2024-12-31T19:00:00.000Z');
  });

  it('refuses impossible dates instead of rolling them over', () => {
    expect(parseTencentTime('2024-02-31 00:00:00')).toBeUndefined();
    expect(parseTencentTime('2024-01-01 24:00:00')).toBeUndefined();
    expect(parseTencentTime('yesterday')).toBeUndefined();
  });

  it('formats an instant back the way Tencent writes it', () => {
    expect(formatTencentTime(new Date('2024-12-02T11:12:46Z'))).toBe('2024-12-02 19:12:46');
  });
});

describe('CertificateDetailSchema', () => {
  it('parses the documented pending example', () => {
    const detail = CertificateDetailSchema.parse(pending);
    expect(detail).toMatchObject({
      CertificateId: 'K33dxkOk',
      Domain: 'ninghhuang.online',
      Status: 4,
      ProjectId: '0',
      CertificatePublicKey: null,
      CertBeginTime: null,
      SubjectAltName: [],
    });
    expect(detail.InsertTime?.toISOString()).toBe('2024-12-02T11:12:46.000Z');
    expect(detail.DvAuthDetail?.DvAuths).toEqual([
      {
        DvAuthKey: '_875bed25cf9e03596931d91cb0a52bd9.ninghhuang.online',
        DvAuthValue:
          'a3108492878a2d989949fa50522dd2b0.cc7346307ff022fcfa68e025f6dbf6ad.cmcdpcwca5iljv.trust-provider.com',
        DvAuthDomain: 'ninghhuang.online',
        DvAuthPath: null,
        DvAuthSubDomain: '_875bed25cf9e03596931d91cb0a52bd9',
        DvAuthVerifyType: 'CNAME',
      },
    ]);
    expect(detail.DvAuthDetail?.DvAuthKeySubDomain).toBe('_875bed25cf9e03596931d91cb0a52bd9');
  });

  it('accepts null in every field it knows', () => {
    const allNull = Object.fromEntries(Object.keys(CertificateDetailSchema.shape).map((key) => [key, null]));
    const detail = CertificateDetailSchema.parse(allNull);
    expect(detail.DvAuthDetail).toBeNull();
    expect(detail.SubjectAltName).toEqual([]);
    expect(detail.Tags).toEqual([]);
    expect(detail.Status).toBeNull();
  });

  it('accepts an empty object, every field absent', () => {
    expect(CertificateDetailSchema.parse({}).CertificateId).toBeNull();
  });

  it('ignores fields it does not know', () => {
    const detail = CertificateDetailSchema.parse({ ...pending, BrandNewField: { nested: true } });
    expect(detail).not.toHaveProperty('BrandNewField');
  });

  it('accepts null items inside DvAuths and SubjectAltName and drops them', () => {
    const detail = CertificateDetailSchema.parse({
      SubjectAltName: ['www.example.com', null],
      DvAuthDetail: { DvAuths: [null, { DvAuthKey: null, DvAuthVerifyType: 'TXT' }] },
    });
    expect(detail.SubjectAltName).toEqual(['www.example.com']);
    expect(detail.DvAuthDetail?.DvAuths).toHaveLength(1);
  });

  it('reads a status sent as a numeric string', () => {
    expect(CertificateDetailSchema.parse({ Status: '1' }).Status).toBe(1);
  });

  it('names the path of a field of the wrong type', () => {
    const result = CertificateDetailSchema.safeParse({ DvAuthDetail: { DvAuths: [{ DvAuthValue: 7 }] } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['DvAuthDetail', 'DvAuths', 0, 'DvAuthValue']);
  });

  it('reads a time that is not a Tencent time string as not set, keeping the certificate', () => {
    const detail = CertificateDetailSchema.parse({ CertificateId: 'a', CertEndTime: '2025-13-01 00:00:00' });
    expect(detail).toMatchObject({ CertificateId: 'a', CertEndTime: null });
  });

  it('treats an empty, dashed or zero time as not set', () => {
    const detail = CertificateDetailSchema.parse({
      CertBeginTime: '',
      CertEndTime: '0000-00-00 00:00:00',
      InsertTime: '--',
    });
    expect(detail.CertBeginTime).toBeNull();
    expect(detail.CertEndTime).toBeNull();
    expect(detail.InsertTime).toBeNull();
  });

  it('tolerates any shape in the fields it does not act on', () => {
    const detail = CertificateDetailSchema.parse({
      CertificateId: 'a',
      Status: 4,
      ProjectId: { masked: true },
      IsVip: 'yes',
      Tags: 'none',
      CertificateExtra: { DomainNumber: 'abc', CompanyType: [] },
      StatusName: 7,
      OwnerUin: 815836472,
    });
    expect(detail).toMatchObject({
      CertificateId: 'a',
      Status: 4,
      ProjectId: null,
      IsVip: null,
      Tags: [],
      CertificateExtra: { DomainNumber: null, CompanyType: null },
      StatusName: null,
      OwnerUin: null,
    });
  });

  it('still refuses a wrong type in a field it acts on', () => {
    expect(CertificateDetailSchema.safeParse({ Status: 'four' }).error?.issues[0]?.path).toEqual(['Status']);
    expect(CertificateDetailSchema.safeParse({ CertificatePublicKey: 42 }).success).toBe(false);
    expect(CertificateDetailSchema.safeParse({ SubjectAltName: 'www.example.com' }).success).toBe(false);
  });
});

describe('readTencentTime', () => {
  it.each([null, undefined, '', '  ', '--', '0000-00-00 00:00:00'])('reads %j as not set', (raw) => {
    expect(readTencentTime(raw)).toEqual({ instant: null, unreadable: false });
  });

  it.each(['2024-11-06 08:00:0', 'abc', '2025-13-01 00:00:00', 1733137966])(
    'flags %j as unreadable',
    (raw) => {
      expect(readTencentTime(raw)).toEqual({ instant: null, unreadable: true });
    },
  );

  it('reads a well-formed time as UTC+8', () => {
    expect(readTencentTime('2024-12-02 19:12:46').instant?.toISOString()).toBe('2024-12-02T11:12:46.000Z');
  });
});

describe('DescribeCertificatesResponseSchema', () => {
  it('parses the list with deadlines as instants', () => {
    const page = DescribeCertificatesResponseSchema.parse({
      TotalCount: 2,
      Certificates: [
        { CertificateId: 'a', Status: 4, DVAuthDeadline: '2024-12-05 19:12:46', IsDNSPODResolve: false },
        { CertificateId: 'b', Status: 1, SubjectAltName: ['example.com', 'www.example.com'] },
      ],
      RequestId: 'r',
    });
    expect(page.TotalCount).toBe(2);
    expect(page.Certificates[0]?.DVAuthDeadline?.toISOString()).toBe('2024-12-05T11:12:46.000Z');
    expect(page.Certificates[1]?.SubjectAltName).toEqual(['example.com', 'www.example.com']);
  });

  it('treats a null certificate list as empty', () => {
    expect(
      DescribeCertificatesResponseSchema.parse({ TotalCount: 0, Certificates: null }).Certificates,
    ).toEqual([]);
  });

  it('keeps a certificate whose deadline or expiry is unreadable, with a warning per field', () => {
    const page = DescribeCertificatesResponseSchema.parse({
      TotalCount: 1,
      Certificates: [
        {
          CertificateId: 'a',
          Status: 4,
          CertEndTime: 'abc',
          DVAuthDeadline: '--',
          ValidationPassedTime: 'abc',
        },
      ],
    });
    expect(page.invalid).toEqual([]);
    expect(page.Certificates[0]).toMatchObject({
      CertificateId: 'a',
      CertEndTime: null,
      DVAuthDeadline: null,
    });
    // "--" is Tencent's "not set"; ValidationPassedTime is not acted on, so neither is worth a warning.
    expect(page.warnings).toEqual([
      { certificateId: 'a', field: 'CertEndTime', problem: expect.stringContaining('"abc"') },
    ]);
  });

  it('keeps list items tolerant of nulls too', () => {
    const allNull = Object.fromEntries(
      Object.keys(CertificateListItemSchema.shape).map((key) => [key, null]),
    );
    expect(CertificateListItemSchema.parse(allNull).CertificateId).toBeNull();
  });
});

describe('CheckCertificateDomainVerificationResponseSchema', () => {
  it('parses verification results', () => {
    const parsed = CheckCertificateDomainVerificationResponseSchema.parse({
      VerificationResults: [
        {
          Domain: 'example.com',
          VerifyType: 'DNS',
          LocalCheck: -6,
          CaCheck: -1,
          LocalCheckFailReason: 'CNAME not found',
          CheckValue: null,
          Frequently: false,
          Issued: false,
        },
      ],
    });
    expect(parsed.VerificationResults[0]).toMatchObject({ LocalCheck: -6, CheckValue: [] });
  });
});
