/**
 * The one retry policy of the Tencent client. Limits (reference §3): every action the tool uses is
 * limited to 10 requests per second per account; throttling comes back as `RequestLimitExceeded*`
 * inside an HTTP 200. Timestamps must be within 5 minutes of Tencent's clock.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** No new attempt starts once this much time has passed since the first. */
  maxElapsedMs: number;
  /** Exponential backoff base and cap; the wait is drawn uniformly from [0, min(cap, base × 2^n)] ("full jitter"). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  maxAttempts: 6,
  maxElapsedMs: 60_000,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
};

export type RetryDecision =
  /** Back off, then try again. */
  | 'retry'
  /** Try again at once with a fresh signature (the timestamp was stale); only once per call. */
  | 'resign'
  /**
   * The credentials were refused: reload them (a key rotated in Secrets Manager, temporary ones
   * expired) and try again when they changed; only once per call.
   */
  | 'refresh-credentials'
  /** Retrying cannot help. */
  | 'fail';

/** Error codes worth retrying: throttling and transient back-end failures. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'RequestLimitExceeded.IPLimitExceeded',
  'RequestLimitExceeded.UinLimitExceeded',
  'RequestLimitExceeded.GlobalRegionUinLimitExceeded',
  'LimitExceeded.RateLimitExceeded',
  'InternalError',
  'InternalError.BackendResponseEmpty',
  'InternalError.BackendResponseError',
  // A common API 3.0 code: the service is down for a moment.
  'ServiceUnavailable',
  // The CA's systems are busy, fail for a moment or the order is not readable yet.
  'FailedOperation.NetworkError',
  'FailedOperation.SystemError',
  'FailedOperation.CannotGetOrder',
]);

/**
 * Codes that say the credentials, or what CAM lets them do, are wrong (errors.go of the ssl
 * service and the API 3.0 common codes). Nothing else in a run can succeed either: the CLI exits 2.
 */
const CREDENTIAL_FAILURE_CODES: ReadonlySet<string> = new Set([
  'UnauthorizedOperation',
  'FailedOperation.AuthError',
  'FailedOperation.CAMAuthorizedFail',
]);

export function isCredentialFailure(code: string): boolean {
  return (
    code === 'AuthFailure' ||
    code.startsWith('AuthFailure.') ||
    code.startsWith('UnauthorizedOperation.') ||
    CREDENTIAL_FAILURE_CODES.has(code)
  );
}

/** Tencent's answers for a request refused before it was handled: too many at once. */
const THROTTLING_CODES: ReadonlySet<string> = new Set(
  [...RETRYABLE_CODES].filter(
    (code) => code.startsWith('RequestLimitExceeded') || code.startsWith('LimitExceeded'),
  ),
);

/** Network failures of undici and Node that say nothing about the request itself. */
const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Network failures that happen before a request leaves: no connection was made, so nothing was
 * sent. Every other network failure (a reset or timed-out connection) may come after Tencent
 * received the request and acted on it.
 */
export const NOT_SENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Whether a failed request that changes something (ApplyCertificate: each accepted call spends a
 * free certificate) may be sent again within the call: only when the failure shows that Tencent
 * did not act on it. Throttling refuses a request before it is handled, and a connection never
 * made carried nothing. A 5xx from a gateway, a body cut short, `InternalError` or a reset
 * connection may all come after the order was made, so they are not resent.
 */
export function mayResend(failure: { code: string; networkCode?: string | undefined }): boolean {
  if (failure.code === 'NetworkError') {
    return failure.networkCode !== undefined && NOT_SENT_NETWORK_CODES.has(failure.networkCode);
  }
  return THROTTLING_CODES.has(failure.code);
}

/**
 * ApplyCertificate answers that refuse the application until a person acts: the free quota is
 * spent (about 50 a year per account, and a cap per main domain), the account has no real-name
 * verification, or the request itself is wrong (a parameter, the old certificate of a renewal).
 * Codes from the action's list in tencentcloud-sdk-go `ssl/v20191205/client.go` and their
 * meaning in `errors.go`; every `InvalidParameter*` code counts too.
 */
export const APPLY_REFUSED_FOR_GOOD_CODES: ReadonlySet<string> = new Set([
  'FailedOperation.ExceedsFreeLimit',
  'FailedOperation.MainDomainCertificateCountLimit',
  'FailedOperation.PackageCountLimit',
  'FailedOperation.PackageExpired',
  'FailedOperation.NoRealNameAuth',
  'FailedOperation.NoProjectPermission',
  'FailedOperation.InvalidParam',
  'FailedOperation.CertificateNotFound',
  'FailedOperation.InvalidCertificateStatusCode',
  'FailedOperation.OrderAlreadyReplaced',
  'MissingParameter',
]);

/**
 * ApplyCertificate answers after which the order may exist all the same: Tencent failed inside,
 * or the CA's side failed after the order was taken. Like a lost answer, they are not taken for a
 * refusal, so that a second order is never made for one need.
 */
export const APPLY_OUTCOME_UNKNOWN_CODES: ReadonlySet<string> = new Set([
  'InternalError',
  'InternalError.BackendResponseEmpty',
  'InternalError.BackendResponseError',
  'FailedOperation.NetworkError',
  'FailedOperation.SystemError',
  'FailedOperation.CannotGetOrder',
  'FailedOperation.OrderReplaceFailed',
]);

export function classifyApiError(code: string): RetryDecision {
  if (RETRYABLE_CODES.has(code)) return 'retry';
  if (code === 'AuthFailure.SignatureExpire') return 'resign';
  if (isCredentialFailure(code)) return 'refresh-credentials';
  return 'fail';
}

export function classifyHttpStatus(status: number): RetryDecision {
  return status >= 500 || status === 429 ? 'retry' : 'fail';
}

export function classifyNetworkError(error: unknown): RetryDecision {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code) ? 'retry' : 'fail';
}

/** Full-jitter exponential backoff before attempt `attempt + 1` (attempt counts from 1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}
