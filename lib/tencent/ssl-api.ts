import type { CallOptions, TencentClient } from './client.js';
import { TencentApiError, TencentResponseError } from './errors.js';
import {
  APPLY_OUTCOME_UNKNOWN_CODES,
  APPLY_REFUSED_FOR_GOOD_CODES,
  isCredentialFailure,
  NOT_SENT_NETWORK_CODES,
} from './retry-policy.js';
import {
  type ApplyCertificateResponse,
  ApplyCertificateResponseSchema,
  type CertificateDetail,
  CertificateDetailSchema,
  type CertificateListItem,
  type CheckCertificateDomainVerificationResponse,
  CheckCertificateDomainVerificationResponseSchema,
  type CompleteCertificateResponse,
  CompleteCertificateResponseSchema,
  type DescribeCertificatesResponse,
  DescribeCertificatesResponseSchema,
  type DownloadCertificateResponse,
  DownloadCertificateResponseSchema,
  type InvalidListItem,
  type ListItemWarning,
} from './schemas.js';

/** DescribeCertificates accepts at most this many items per page. */
const MAX_PAGE_SIZE = 1000;

/** Certificate status codes (reference §4). */
export const CertificateStatus = {
  Pending: 0,
  Issued: 1,
  Failed: 2,
  Expired: 3,
  /** "DNS records added automatically": a DNS_AUTO order whose zone is not on DNSPod, still waiting. */
  AutoDnsPending: 4,
  ReissuePending: 11,
} as const;

export const PENDING_STATUSES: readonly number[] = [
  CertificateStatus.Pending,
  CertificateStatus.AutoDnsPending,
];

export interface DescribeCertificatesParams {
  Offset?: number;
  Limit?: number;
  CertificateStatus?: number[];
  CertIds?: string[];
  SearchKey?: string;
  CertificateType?: 'SVR' | 'CA';
}

export interface ListCertificatesOptions {
  /** Only certificates in these statuses. */
  statuses?: readonly number[];
  /** Only these certificate ids. */
  ids?: readonly string[];
  /** Items per page, 1 to 1000. */
  pageSize?: number;
  /** Called after each page, e.g. to show progress. */
  onPage?: (page: { offset: number; received: number; total: number }) => void;
  /** Called for each listed certificate that does not parse; it is left out of the result. */
  onInvalid?: (item: InvalidListItem) => void;
  /** Called for each field the tool acts on that was unreadable and read as not set (the certificate is kept). */
  onWarning?: (warning: ListItemWarning) => void;
}

/**
 * ApplyCertificate's request (free DV certificates), as the official SDK models and the API page
 * declare it (tencentcloud-sdk-nodejs `ssl_models.ts`; cloud.tencent.com/document/api/400/41678).
 */
export interface ApplyCertificateParams {
  /** `DNS` for manual DNS validation (Route53); `DNS_AUTO` only for zones on Tencent's DNSPod; `FILE`. */
  DvAuthMethod: 'DNS' | 'DNS_AUTO' | 'FILE';
  /** The one name of the certificate: free certificates cover a single name, never a wildcard. */
  DomainName: string;
  /** Default 0, the default project. */
  ProjectId?: number;
  /** Optional; `83` (TrustAsia C1 DV Free) is the only type the API accepts today. */
  PackageType?: string;
  ContactEmail?: string;
  ContactPhone?: string;
  /** Months; `3` (the default) is the only value accepted today. */
  ValidityPeriod?: string;
  /** `RSA` (default) or `ECC`. */
  CsrEncryptAlgo?: 'RSA' | 'ECC';
  /** `2048` for RSA, `prime256v1` for ECC (required with ECC). */
  CsrKeyParameter?: string;
  /** Only for the JKS and PFX downloads. */
  CsrKeyPassword?: string;
  Alias?: string;
  /**
   * The certificate this one renews. Accepted only while that one expires within 30 days and has
   * not expired; it links the two as a renewal (used by Tencent's certificate hosting).
   */
  OldCertificateId?: string;
  /** Only with `DNS_AUTO`: remove the validation records once issued. */
  DeleteDnsAutoRecord?: boolean;
  /** Further names; documented as not yet supported. */
  DnsNames?: string[];
}

/**
 * What a failed ApplyCertificate means for the need it was made for:
 * - `refused-for-good`: Tencent refused it and will again until a person acts (quota spent, no
 *   real-name verification, a wrong parameter);
 * - `not-permitted`: the credentials may not apply (CAM): a person must grant it;
 * - `refused`: refused for now (throttling, a service down for a moment): a later run may retry;
 * - `unknown`: the order may exist (no answer, a garbled one, an internal error): applying again
 *   could make a second order.
 */
type ApplyFailureKind = 'refused-for-good' | 'not-permitted' | 'refused' | 'unknown';

export interface ApplyFailure {
  kind: ApplyFailureKind;
  /** Tencent's error code, or `NetworkError`, `HttpError`, `MalformedResponse`. */
  code: string;
  message: string;
  requestId?: string | undefined;
}

/** Reads the failure of an ApplyCertificate call (anything it threw). */
export function applyFailureOf(error: unknown): ApplyFailure {
  if (error instanceof TencentResponseError) {
    return { kind: 'unknown', code: 'MalformedResponse', message: error.message, requestId: error.requestId };
  }
  if (!(error instanceof TencentApiError)) {
    return {
      kind: 'unknown',
      code: 'Error',
      message: error instanceof Error ? error.message : String(error),
    };
  }
  const facts = { code: error.code, message: error.reason, requestId: error.requestId };
  if (error.code === 'NetworkError') {
    const networkCode = (error.cause as { code?: unknown } | undefined)?.code;
    const notSent = typeof networkCode === 'string' && NOT_SENT_NETWORK_CODES.has(networkCode);
    return { kind: notSent ? 'refused' : 'unknown', ...facts };
  }
  if (error.code === 'HttpError' || APPLY_OUTCOME_UNKNOWN_CODES.has(error.code)) {
    return { kind: 'unknown', ...facts };
  }
  if (APPLY_REFUSED_FOR_GOOD_CODES.has(error.code) || error.code.startsWith('InvalidParameter')) {
    return { kind: 'refused-for-good', ...facts };
  }
  if (isCredentialFailure(error.code)) return { kind: 'not-permitted', ...facts };
  return { kind: 'refused', ...facts };
}

/** The Tencent Cloud SSL actions this project uses, named after the remote operations. */
export class TencentSslApi {
  constructor(readonly client: TencentClient) {}

  async describeCertificates(
    params: DescribeCertificatesParams,
    options: CallOptions = {},
  ): Promise<DescribeCertificatesResponse> {
    const { data } = await this.client.call(
      'DescribeCertificates',
      { ...params },
      DescribeCertificatesResponseSchema,
      options,
    );
    return data;
  }

  /** Every certificate matching the filters, following the pages to the end. */
  async listCertificates(
    options: ListCertificatesOptions = {},
    callOptions: CallOptions = {},
  ): Promise<CertificateListItem[]> {
    const limit = options.pageSize ?? MAX_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new RangeError(`pageSize must be between 1 and ${MAX_PAGE_SIZE}`);
    }
    if (options.ids && options.ids.length === 0) return [];
    const base: DescribeCertificatesParams = { Limit: limit };
    if (options.statuses?.length) base.CertificateStatus = [...options.statuses];
    if (options.ids?.length) base.CertIds = [...options.ids];

    const byId = new Map<string, CertificateListItem>();
    const anonymous: CertificateListItem[] = [];
    const invalid = new Map<string, InvalidListItem>();
    const warnings = new Map<string, ListItemWarning>();
    for (let offset = 0; ; offset += limit) {
      const page = await this.describeCertificates({ ...base, Offset: offset }, callOptions);
      const before = byId.size + anonymous.length + invalid.size;
      // A certificate that moves between pages while we read would otherwise appear twice.
      for (const item of page.Certificates) {
        if (item.CertificateId) byId.set(item.CertificateId, item);
        else anonymous.push(item);
      }
      page.invalid.forEach((item, index) => {
        invalid.set(item.certificateId ?? `${offset}:${index}`, item);
      });
      page.warnings.forEach((warning, index) => {
        warnings.set(`${warning.certificateId ?? `${offset}:${index}`}:${warning.field}`, warning);
      });
      const received = page.Certificates.length + page.invalid.length;
      const total = page.TotalCount;
      options.onPage?.({ offset, received, total: total ?? byId.size + anonymous.length + invalid.size });
      if (received < limit) break;
      if (total !== null && offset + limit >= total) break;
      // A server that ignores Offset would otherwise keep us here for ever.
      if (byId.size + anonymous.length + invalid.size === before) break;
    }
    for (const item of invalid.values()) options.onInvalid?.(item);
    for (const warning of warnings.values()) options.onWarning?.(warning);
    return [...byId.values(), ...anonymous];
  }

  /** One certificate with its validation records (DvAuthDetail) and without key material. */
  async describeCertificate(certificateId: string): Promise<CertificateDetail> {
    const { data } = await this.client.call(
      'DescribeCertificate',
      { CertificateId: certificateId },
      CertificateDetailSchema,
    );
    return data;
  }

  /** One certificate with everything, the PEMs and private key included. */
  async describeCertificateDetail(certificateId: string): Promise<CertificateDetail> {
    const { data } = await this.client.call(
      'DescribeCertificateDetail',
      { CertificateId: certificateId },
      CertificateDetailSchema,
    );
    return data;
  }

  /**
   * One certificate with its validation records, through whichever of DescribeCertificate and
   * DescribeCertificateDetail has the earlier free slot: both answer with DvAuthDetail and Tencent
   * budgets each action on its own, so reads spread over both go twice as fast as over one (the
   * export's DescribeCertificateDetail calls count against that budget and so steer reads away
   * from it). Ties go to DescribeCertificate, which carries no key; the key material of a
   * DescribeCertificateDetail answer is dropped here.
   */
  async describeValidation(certificateId: string, options: CallOptions = {}): Promise<CertificateDetail> {
    const action =
      this.nextSlot('DescribeCertificateDetail') < this.nextSlot('DescribeCertificate')
        ? 'DescribeCertificateDetail'
        : 'DescribeCertificate';
    const { data } = await this.client.call(
      action,
      { CertificateId: certificateId },
      CertificateDetailSchema,
      options,
    );
    return { ...data, CertificatePrivateKey: null };
  }

  /**
   * The certificate as Tencent's console offers it for download: a base64 ZIP with a folder per
   * server type (the chain and the private key included). Its own 10 requests/second budget:
   * the client paces every action separately.
   */
  async downloadCertificate(certificateId: string): Promise<DownloadCertificateResponse> {
    const { data } = await this.client.call(
      'DownloadCertificate',
      { CertificateId: certificateId },
      DownloadCertificateResponseSchema,
    );
    return data;
  }

  /** When a call of `action` made now would leave, about: for callers that can choose between actions. */
  nextSlot(action: string): number {
    return this.client.nextSlot(action);
  }

  /**
   * Applies for a free DV certificate; answers the new order's id. Each accepted call spends one
   * of the account's free certificates, so the call is sent again only after failures that show
   * Tencent did not act on it (throttling, no connection): see `applyFailureOf` for the rest.
   */
  async applyCertificate(
    params: ApplyCertificateParams,
    options: CallOptions = {},
  ): Promise<ApplyCertificateResponse> {
    const { data } = await this.client.call(
      'ApplyCertificate',
      { ...params },
      ApplyCertificateResponseSchema,
      { ...options, idempotent: false },
    );
    return data;
  }

  /** Asks the CA to check the domain validation now. */
  async completeCertificate(
    certificateId: string,
    options: CallOptions = {},
  ): Promise<CompleteCertificateResponse> {
    const { data } = await this.client.call(
      'CompleteCertificate',
      { CertificateId: certificateId },
      CompleteCertificateResponseSchema,
      options,
    );
    return data;
  }

  /** What the CA sees of each validation record. */
  async checkDomainVerification(certificateId: string): Promise<CheckCertificateDomainVerificationResponse> {
    const { data } = await this.client.call(
      'CheckCertificateDomainVerification',
      { CertificateId: certificateId },
      CheckCertificateDomainVerificationResponseSchema,
    );
    return data;
  }
}
