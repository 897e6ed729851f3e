import type { Logger } from '../logger.js';
import type { CertificateReport } from '../sync-types.js';
import { TencentApiError } from '../tencent/errors.js';
import type { CertificateListItem } from '../tencent/schemas.js';

/*
 * When to ask the CA to check at once (CompleteCertificate). Tencent documents the action as
 * "仅非DNSPod和Wotrus品牌证书支持使用此接口": only certificates that are neither DNSPod- nor
 * Wotrus-brand support it (tencentcloud-sdk-go ssl/v20191205/client.go). The brand shows in
 * `PackageType` (the SDK models' Certificates.PackageType: 25–41 are Wotrus products, 43–56 DNSPod
 * ones) and in the product name (`ProductZhName`, e.g. "DNSPod-域名型(DV)SSL证书"). The nudge is
 * best effort: the CA checks on its own schedule anyway.
 */

const WOTRUS_PACKAGE_TYPES = { from: 25, to: 41 };
const DNSPOD_PACKAGE_TYPES = { from: 43, to: 56 };
/** 沃通 is Wotrus's Chinese name. */
const BRAND_IN_NAME: ReadonlyArray<[RegExp, string]> = [
  [/dnspod/i, 'DNSPod'],
  [/wotrus|沃通/i, 'Wotrus'],
];

/**
 * Answers that say CompleteCertificate is not available at all here (API 3.0 common codes: the
 * action does not exist on this endpoint, or the operation is not supported). Tencent documents no
 * code of its own for an unsupported brand; such certificates are not sent in the first place.
 */
const UNSUPPORTED_NUDGE_CODES: ReadonlySet<string> = new Set(['UnsupportedOperation', 'InvalidAction']);

type BrandFields = Pick<CertificateListItem, 'PackageType' | 'ProductZhName'>;

/** `DNSPod` or `Wotrus` when the certificate is of a brand CompleteCertificate does not support. */
export function unsupportedBrand(certificate: BrandFields): string | undefined {
  const packageType = Number(certificate.PackageType ?? Number.NaN);
  const within = (range: { from: number; to: number }) =>
    packageType >= range.from && packageType <= range.to;
  if (within(DNSPOD_PACKAGE_TYPES)) return 'DNSPod';
  if (within(WOTRUS_PACKAGE_TYPES)) return 'Wotrus';
  const name = certificate.ProductZhName ?? '';
  return BRAND_IN_NAME.find(([pattern]) => pattern.test(name))?.[1];
}

type NudgeReport = Pick<CertificateReport, 'certificateId' | 'nudged' | 'nudgeNote'>;

/** The nudge rules of one run: which certificates get no nudge, and what the run has learnt. */
export class NudgePolicy {
  readonly #brands = new Map<string, string>();
  readonly #logger: Logger;
  #unsupported: TencentApiError | undefined;

  constructor(
    certificates: ReadonlyArray<BrandFields & Pick<CertificateListItem, 'CertificateId'>>,
    logger: Logger,
  ) {
    this.#logger = logger;
    for (const certificate of certificates) {
      const brand = unsupportedBrand(certificate);
      if (brand && certificate.CertificateId) this.#brands.set(certificate.CertificateId, brand);
    }
  }

  /** True, with the report saying why, when CompleteCertificate is not to be sent for this certificate. */
  skip(report: NudgeReport): boolean {
    const brand = this.#brands.get(report.certificateId);
    const unsupported = this.#unsupported;
    if (!brand && !unsupported) return false;
    report.nudged = false;
    report.nudgeNote = brand
      ? `not sent: Tencent does not support CompleteCertificate for ${brand}-brand certificates; the CA checks on its own`
      : `not sent: CompleteCertificate is not available here (${unsupported?.code}); the CA checks on its own`;
    return true;
  }

  /**
   * True when `error` says CompleteCertificate is not available at all: remembered, so the rest of
   * the run sends no more, and logged once instead of once per certificate.
   */
  isUnsupported(error: unknown): boolean {
    if (!(error instanceof TencentApiError) || !UNSUPPORTED_NUDGE_CODES.has(error.code)) return false;
    if (!this.#unsupported) {
      this.#unsupported = error;
      this.#logger.warn('CompleteCertificate is not available here: no more CA nudges this run', {
        code: error.code,
        requestId: error.requestId,
        reason: error.reason,
      });
    }
    return true;
  }
}
