import type { CallOptions, TencentClient } from './client.js';
import {
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
