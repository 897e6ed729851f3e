import { z } from 'zod';

/*
 * Response schemas of the actions this project calls. Tencent documents every field as possibly
 * null, so every field here accepts null or absence and comes out as `null`; arrays come out as
 * arrays (empty when null). Unknown fields are dropped, never rejected.
 */

const orNull = <T extends z.ZodType>(schema: T) =>
  schema.nullish().transform((value): z.output<T> | null => value ?? null);

const str = orNull(z.string());
const bool = orNull(z.boolean());
/** Text that Tencent sometimes sends as a number (ProjectId, ValidityPeriod). */
const text = orNull(z.union([z.string(), z.number().transform(String)]));

/** Tencent sends most integers as numbers, some (ProjectId, DomainNumber) as strings. */
const int = orNull(
  z.union([
    z.number().int(),
    z
      .string()
      .regex(/^-?\d+$/, 'expected an integer')
      .transform((value) => Number(value)),
  ]),
);

const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item.nullable())
    .nullish()
    .transform((items) => (items ?? []).filter((entry): entry is NonNullable<typeof entry> => entry != null));

const TENCENT_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
/** Tencent's wall-clock strings are China Standard Time (UTC+8) with no offset in the text. */
const UTC8_OFFSET_MS = 8 * 3600 * 1000;

/** `YYYY-MM-DD HH:mm:ss` in UTC+8 → the instant it denotes. Undefined for anything else. */
export function parseTencentTime(text: string): Date | undefined {
  const m = TENCENT_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const utc = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(utc);
  // Reject impossible dates rather than let Date roll 2024-02-31 over into March.
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59)
    return undefined;
  return new Date(utc - UTC8_OFFSET_MS);
}

/** Formats an instant as Tencent writes it (UTC+8, no offset). */
export function formatTencentTime(instant: Date): string {
  return new Date(instant.getTime() + UTC8_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** A Tencent time string as a Date; empty strings and the zero date mean "not set". */
const time = z
  .string()
  .nullish()
  .transform((text, ctx): Date | null => {
    if (text == null || text.trim() === '' || text.startsWith('0000-00-00')) return null;
    const instant = parseTencentTime(text);
    if (!instant) {
      ctx.addIssue({
        code: 'custom',
        message: `expected "YYYY-MM-DD HH:mm:ss" (UTC+8), got ${JSON.stringify(text)}`,
      });
      return z.NEVER;
    }
    return instant;
  });

export const DvAuthVerifyTypeSchema = z.string();

export const DvAuthSchema = z.object({
  DvAuthKey: str,
  DvAuthValue: str,
  DvAuthDomain: str,
  DvAuthPath: str,
  DvAuthSubDomain: str,
  DvAuthVerifyType: str,
});
export type DvAuth = z.output<typeof DvAuthSchema>;

export const DvAuthDetailSchema = z.object({
  DvAuthKey: str,
  DvAuthValue: str,
  DvAuthDomain: str,
  DvAuthPath: str,
  // Named differently from the array items' DvAuthSubDomain in the API itself.
  DvAuthKeySubDomain: str,
  DvAuths: list(DvAuthSchema),
});
export type DvAuthDetail = z.output<typeof DvAuthDetailSchema>;

export const CertificateExtraSchema = z.object({
  DomainNumber: int,
  OriginCertificateId: str,
  ReplacedBy: str,
  ReplacedFor: str,
  RenewOrder: str,
  SMCert: int,
  CompanyType: int,
});

export const TagSchema = z.object({ TagKey: str, TagValue: str });

/** Fields shared by the list items and the single-certificate answers. */
const certificateCommon = {
  CertificateId: str,
  Domain: str,
  Alias: str,
  Status: int,
  StatusMsg: str,
  StatusName: str,
  VerifyType: str,
  PackageType: str,
  ProductZhName: str,
  CertificateType: str,
  ProjectId: text,
  From: str,
  CertBeginTime: time,
  CertEndTime: time,
  InsertTime: time,
  IsDv: bool,
  IsVip: bool,
  IsWildcard: bool,
  CertificateExtra: orNull(CertificateExtraSchema),
  Tags: list(TagSchema),
  SubjectAltName: list(z.string()),
};

/** An item of DescribeCertificates. Its SubjectAltName includes the main domain. */
export const CertificateListItemSchema = z.object({
  ...certificateCommon,
  DVAuthDeadline: time,
  ValidationPassedTime: time,
  AwaitingValidationMsg: str,
  IsDNSPODResolve: bool,
  AllowDownload: bool,
});
export type CertificateListItem = z.output<typeof CertificateListItemSchema>;

/**
 * A certificate of the list that does not parse. One bad item must not hide the others, so
 * items are checked one by one and the bad ones reported with the field that failed.
 */
export interface InvalidListItem {
  /** The item's CertificateId when that much is readable. */
  certificateId: string | undefined;
  /** Field path within the item, e.g. `Status`. */
  path: string;
  problem: string;
}

export const DescribeCertificatesResponseSchema = z
  .object({
    TotalCount: int,
    Certificates: z.array(z.unknown()).nullish(),
  })
  .transform(({ TotalCount, Certificates }) => {
    const valid: CertificateListItem[] = [];
    const invalid: InvalidListItem[] = [];
    for (const raw of Certificates ?? []) {
      if (raw === null) continue;
      const parsed = CertificateListItemSchema.safeParse(raw);
      if (parsed.success) {
        valid.push(parsed.data);
        continue;
      }
      const id = (raw as { CertificateId?: unknown } | undefined)?.CertificateId;
      const issue = parsed.error.issues[0];
      invalid.push({
        certificateId: typeof id === 'string' && id !== '' ? id : undefined,
        path: (issue?.path ?? []).map(String).join('.'),
        problem: issue?.message ?? 'invalid',
      });
    }
    return { TotalCount, Certificates: valid, invalid };
  });
export type DescribeCertificatesResponse = z.output<typeof DescribeCertificatesResponseSchema>;

/**
 * DescribeCertificateDetail, and DescribeCertificate (the same fields without the key material).
 * SubjectAltName here excludes the main domain.
 */
export const CertificateDetailSchema = z.object({
  ...certificateCommon,
  OwnerUin: str,
  OrderId: str,
  ValidityPeriod: text,
  CertificatePrivateKey: str,
  CertificatePublicKey: str,
  DvAuthDetail: orNull(DvAuthDetailSchema),
  CertFingerprint: str,
  EncryptAlgorithm: str,
  DVAuthDeadline: time,
  RenewAble: bool,
  Deployable: bool,
});
export type CertificateDetail = z.output<typeof CertificateDetailSchema>;

export const CompleteCertificateResponseSchema = z.object({ CertificateId: str });
export type CompleteCertificateResponse = z.output<typeof CompleteCertificateResponseSchema>;

/** DownloadCertificate: `Content` is a base64 ZIP with one folder per server type. */
export const DownloadCertificateResponseSchema = z.object({
  Content: str,
  /** `application/zip`. */
  ContentType: str,
});
export type DownloadCertificateResponse = z.output<typeof DownloadCertificateResponseSchema>;

export const DomainVerificationResultSchema = z.object({
  Domain: str,
  VerifyType: str,
  /** 1 passed; negative values name what the local check missed (reference §5). */
  LocalCheck: int,
  /** 2 passed, -1 not passed. */
  CaCheck: int,
  LocalCheckFailReason: str,
  CheckValue: list(z.string()),
  Frequently: bool,
  Issued: bool,
});
export type DomainVerificationResult = z.output<typeof DomainVerificationResultSchema>;

export const CheckCertificateDomainVerificationResponseSchema = z.object({
  VerificationResults: list(DomainVerificationResultSchema),
});
export type CheckCertificateDomainVerificationResponse = z.output<
  typeof CheckCertificateDomainVerificationResponseSchema
>;

/** The envelope every action answers with, success and failure alike (both with HTTP 200). */
export const EnvelopeSchema = z.object({
  Response: z.looseObject({
    RequestId: z.string().nullish(),
    Error: z.object({ Code: z.string(), Message: z.string().nullish() }).nullish(),
  }),
});
