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
