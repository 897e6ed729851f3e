import { TencentApiError } from '../../lib/tencent/errors.js';
import {
  type CertificateDetail,
  CertificateDetailSchema,
  type CertificateListItem,
  CertificateListItemSchema,
} from '../../lib/tencent/schemas.js';
import type { ListCertificatesOptions } from '../../lib/tencent/ssl-api.js';

export interface RawDvAuth {
  DvAuthKey?: string | null;
  DvAuthValue?: string | null;
  DvAuthDomain?: string | null;
  DvAuthSubDomain?: string | null;
  DvAuthPath?: string | null;
  DvAuthVerifyType?: string | null;
}

export interface FakeCertificate {
  id: string;
  domain: string;
  /** Without the main domain, as DescribeCertificateDetail has it. */
  altNames?: string[];
  status?: number;
  dvAuths?: RawDvAuth[];
  /** Make DescribeCertificate fail with this error code. */
  describeError?: string;
  /** `PackageType` and `ProductZhName` as listed (the brand). */
  packageType?: string;
  productName?: string;
  /** Make CompleteCertificate fail with this error code. */
  completeError?: string;
  /** `CertEndTime` and `InsertTime` as listed (Tencent's `YYYY-MM-DD HH:mm:ss`, UTC+8). */
  endTime?: string;
  insertTime?: string;
}

export const cname = (key: string, value: string, domain: string): RawDvAuth => ({
  DvAuthKey: key,
  DvAuthValue: value,
  DvAuthDomain: domain,
  DvAuthSubDomain: key.split('.')[0] ?? null,
  DvAuthVerifyType: 'CNAME',
});

export const txt = (value: string, domain: string): RawDvAuth => ({
  DvAuthKey: '_dnsauth',
  DvAuthValue: value,
  DvAuthDomain: domain,
  DvAuthSubDomain: '_dnsauth',
  DvAuthVerifyType: 'TXT',
});

/**
 * A stand-in for TencentSslApi over a list of certificates, answering as the real client does
 * (outputs of the same schemas) and recording every call.
 */
export class FakeTencent {
  readonly calls: Array<{ action: string; id?: string }> = [];
  constructor(readonly certificates: FakeCertificate[]) {}

  #item(cert: FakeCertificate): CertificateListItem {
    return CertificateListItemSchema.parse({
      CertificateId: cert.id,
      Domain: cert.domain,
      SubjectAltName: [cert.domain, ...(cert.altNames ?? [])],
      Status: cert.status ?? 4,
      StatusName: cert.status === 1 ? 'issued' : 'to be validated',
      DVAuthDeadline: '2026-12-01 12:00:00',
      PackageType: cert.packageType,
      ProductZhName: cert.productName,
      CertEndTime: cert.endTime,
      InsertTime: cert.insertTime,
    });
  }

  async listCertificates(options: ListCertificatesOptions = {}): Promise<CertificateListItem[]> {
    this.calls.push({ action: 'DescribeCertificates' });
    return this.certificates
      .filter((c) => !options.statuses || options.statuses.includes(c.status ?? 4))
      .filter((c) => !options.ids || options.ids.includes(c.id))
      .map((c) => this.#item(c));
  }

  async describeCertificate(id: string): Promise<CertificateDetail> {
    this.calls.push({ action: 'DescribeCertificate', id });
    const cert = this.certificates.find((c) => c.id === id);
    if (!cert) {
      throw new TencentApiError({
        code: 'FailedOperation.CertificateNotFound',
        message: 'nope',
        action: 'DescribeCertificate',
        retryable: false,
      });
    }
    if (cert.describeError) {
      throw new TencentApiError({
        code: cert.describeError,
        message: 'injected',
        action: 'DescribeCertificate',
        retryable: false,
        requestId: 'req-fake',
      });
    }
    return CertificateDetailSchema.parse({
      CertificateId: cert.id,
      Domain: cert.domain,
      SubjectAltName: cert.altNames ?? [],
      Status: cert.status ?? 4,
      DvAuthDetail: cert.status === 1 ? null : { DvAuths: cert.dvAuths ?? [] },
    });
  }

  /** The sync's read: answered as DescribeCertificate (the fake has a single budget). */
  describeValidation(id: string): Promise<CertificateDetail> {
    return this.describeCertificate(id);
  }

  async completeCertificate(id: string) {
    this.calls.push({ action: 'CompleteCertificate', id });
    const code = this.certificates.find((c) => c.id === id)?.completeError;
    if (code) {
      throw new TencentApiError({
        code,
        message: 'injected',
        action: 'CompleteCertificate',
        retryable: false,
        requestId: 'req-fake',
      });
    }
    return { CertificateId: id };
  }

  count(action: string): number {
    return this.calls.filter((c) => c.action === action).length;
  }
}
