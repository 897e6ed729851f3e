import { z } from 'zod';

/*
 * Response schemas of the actions this project calls. Tencent documents every field as possibly
 * null, so every field here accepts null or absence and comes out as `null`; arrays come out as
 * arrays (empty when null). Unknown fields are dropped, never rejected.
 *
 * Only the fields the tool acts on are checked strictly (ids, names, status, validation records,
 * PEMs): a wrong type there makes the answer unusable and is reported. Every other field is
 * tolerated in any shape, a wrong type reading as null, because Tencent's own documented answers
 * carry masked text where numbers belong, placeholders and fields that come and go
 * (tests/fixtures/tencent/documented/SOURCES.md).
 */

const orNull = <T extends z.ZodType>(schema: T) =>
  schema.nullish().transform((value): z.output<T> | null => value ?? null);

/** A field the tool does not act on: any value that does not fit reads as null. */
const tolerant = <T extends z.ZodType>(schema: T) => orNull(schema).catch(null);

const str = orNull(z.string());
const looseStr = tolerant(z.string());
const looseBool = tolerant(z.boolean());
/** Text that Tencent sometimes sends as a number (ProjectId, ValidityPeriod). */
const looseText = tolerant(z.union([z.string(), z.number().transform(String)]));

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
const looseInt = int.catch(null);

const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item.nullable())
    .nullish()
    .transform((items) => (items ?? []).filter((entry): entry is NonNullable<typeof entry> => entry != null));
/** A list the tool does not act on: anything that is not a list of such items reads as empty. */
const looseList = <T extends z.ZodType>(item: T) => list(item).catch([]);

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

/**
 * Reads a Tencent time field. Unset times come as null, `""`, `"--"` or the zero date
 * `"0000-00-00 00:00:00"`: all mean "not set". Anything else that is not `YYYY-MM-DD HH:mm:ss`
 * (the documented examples hold `"2024-11-06 08:00:0"` and `"abc"`) is unreadable: also null, and
 * flagged so that the fields the tool acts on can be reported.
 */
export function readTencentTime(raw: unknown): { instant: Date | null; unreadable: boolean } {
  if (raw == null) return { instant: null, unreadable: false };
  if (typeof raw !== 'string') return { instant: null, unreadable: true };
  const text = raw.trim();
  if (text === '' || /^-+$/.test(text) || text.startsWith('0000-00-00')) {
    return { instant: null, unreadable: false };
  }
  const instant = parseTencentTime(text);
  return instant ? { instant, unreadable: false } : { instant: null, unreadable: true };
}

/** A Tencent time string as a Date, null when unset or unreadable; never a reason to refuse the answer. */
const time = z
  .unknown()
  .optional()
  .transform((raw): Date | null => readTencentTime(raw).instant);

const DvAuthSchema = z.object({
  DvAuthKey: str,
  DvAuthValue: str,
  DvAuthDomain: str,
  DvAuthPath: str,
  DvAuthSubDomain: str,
  DvAuthVerifyType: str,
});
export type DvAuth = z.output<typeof DvAuthSchema>;

const DvAuthDetailSchema = z.object({
  DvAuthKey: str,
  DvAuthValue: str,
  DvAuthDomain: str,
  DvAuthPath: str,
  // Named differently from the array items' DvAuthSubDomain in the API itself.
  DvAuthKeySubDomain: str,
  DvAuths: list(DvAuthSchema),
});
export type DvAuthDetail = z.output<typeof DvAuthDetailSchema>;

const CertificateExtraSchema = z.object({
  DomainNumber: looseInt,
  OriginCertificateId: looseStr,
  ReplacedBy: looseStr,
  ReplacedFor: looseStr,
  RenewOrder: looseStr,
  SMCert: looseInt,
  CompanyType: looseInt,
});

const TagSchema = z.object({ TagKey: looseStr, TagValue: looseStr });

/**
 * Fields shared by the list items and the single-certificate answers. Read strictly: the id,
 * names and status, on which every decision rests. The rest is shown or passed on at most.
 */
const certificateCommon = {
  CertificateId: str,
  Domain: str,
  SubjectAltName: list(z.string()),
  Status: int,
  Alias: looseStr,
  StatusMsg: looseStr,
  StatusName: looseStr,
  VerifyType: looseStr,
  /** With ProductZhName, tells the brand (lib/validation/nudge-policy.ts). */
  PackageType: looseText,
  ProductZhName: looseStr,
  CertificateType: looseStr,
  ProjectId: looseText,
  From: looseStr,
  CertBeginTime: time,
  CertEndTime: time,
  InsertTime: time,
  IsDv: looseBool,
  IsVip: looseBool,
  IsWildcard: looseBool,
  CertificateExtra: tolerant(CertificateExtraSchema),
  Tags: looseList(TagSchema),
};

/** An item of DescribeCertificates. Its SubjectAltName includes the main domain. */
export const CertificateListItemSchema = z.object({
  ...certificateCommon,
  DVAuthDeadline: time,
  ValidationPassedTime: time,
  AwaitingValidationMsg: looseStr,
  IsDNSPODResolve: looseBool,
  AllowDownload: looseBool,
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

/** A field the tool acts on that held something unreadable, read as "not set" instead. */
export interface ListItemWarning {
  certificateId: string | undefined;
  field: string;
  problem: string;
}

/** The list's times the tool acts on: an unreadable one is worth a warning, never a dropped certificate. */
const READ_TIMES = ['CertEndTime', 'DVAuthDeadline'] as const;

function unreadableTimes(raw: Record<string, unknown>, certificateId: string | undefined): ListItemWarning[] {
  return READ_TIMES.filter((field) => readTencentTime(raw[field]).unreadable).map((field) => ({
    certificateId,
    field,
    problem: `unreadable time ${JSON.stringify(raw[field])} (expected "YYYY-MM-DD HH:mm:ss", UTC+8); read as not set`,
  }));
}

export const DescribeCertificatesResponseSchema = z
  .object({
    TotalCount: int,
    Certificates: z.array(z.unknown()).nullish(),
  })
  .transform(({ TotalCount, Certificates }) => {
    const valid: CertificateListItem[] = [];
    const invalid: InvalidListItem[] = [];
    const warnings: ListItemWarning[] = [];
    for (const raw of Certificates ?? []) {
      if (raw === null) continue;
      const parsed = CertificateListItemSchema.safeParse(raw);
      const id = (raw as { CertificateId?: unknown } | undefined)?.CertificateId;
      const certificateId = typeof id === 'string' && id !== '' ? id : undefined;
      if (parsed.success) {
        valid.push(parsed.data);
        warnings.push(...unreadableTimes(raw as Record<string, unknown>, certificateId));
        continue;
      }
      const issue = parsed.error.issues[0];
      invalid.push({
        certificateId,
        path: (issue?.path ?? []).map(String).join('.'),
        problem: issue?.message ?? 'invalid',
      });
    }
    return { TotalCount, Certificates: valid, invalid, warnings };
  });
export type DescribeCertificatesResponse = z.output<typeof DescribeCertificatesResponseSchema>;

/**
 * DescribeCertificateDetail, and DescribeCertificate (the same fields without the key material).
 * SubjectAltName here excludes the main domain.
 */
export const CertificateDetailSchema = z.object({
  ...certificateCommon,
  OwnerUin: looseStr,
  OrderId: looseStr,
  ValidityPeriod: looseText,
  CertificatePrivateKey: str,
  CertificatePublicKey: str,
  DvAuthDetail: orNull(DvAuthDetailSchema),
  CertFingerprint: looseStr,
  EncryptAlgorithm: looseStr,
  DVAuthDeadline: time,
  RenewAble: looseBool,
  Deployable: looseBool,
});
export type CertificateDetail = z.output<typeof CertificateDetailSchema>;

export const CompleteCertificateResponseSchema = z.object({ CertificateId: str });
export type CompleteCertificateResponse = z.output<typeof CompleteCertificateResponseSchema>;

/**
 * ApplyCertificate: the id of the new order, which Tencent then lists as pending with its DvAuths.
 * Read strictly: an answer without it leaves the order unknown, and is reported as such.
 */
export const ApplyCertificateResponseSchema = z.object({ CertificateId: z.string().min(1) });
export type ApplyCertificateResponse = z.output<typeof ApplyCertificateResponseSchema>;

/** DownloadCertificate: `Content` is a base64 ZIP with one folder per server type. */
export const DownloadCertificateResponseSchema = z.object({
  Content: str,
  /** `application/zip`. */
  ContentType: str,
});
export type DownloadCertificateResponse = z.output<typeof DownloadCertificateResponseSchema>;

const DomainVerificationResultSchema = z.object({
  Domain: str,
  VerifyType: str,
  /** 1 passed; negative values name what the local check missed (reference §5). */
  LocalCheck: int,
  /** 2 passed, -1 not passed. */
  CaCheck: int,
  LocalCheckFailReason: str,
  CheckValue: list(z.string()),
  Frequently: looseBool,
  Issued: looseBool,
});

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
