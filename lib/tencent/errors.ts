import { isCredentialFailure } from './retry-policy.js';

export interface TencentApiErrorDetails {
  /** Tencent error code (`RequestLimitExceeded`, `AuthFailure.SignatureFailure`, …), or `HttpError` / `NetworkError` for transport failures. */
  code: string;
  message: string;
  action: string;
  /** What Tencent support asks for; absent when no response came back. */
  requestId?: string | undefined;
  /** Whether a later attempt could succeed (the policy already retried as far as it allows). */
  retryable: boolean;
  /** HTTP status when the failure was at the transport level. */
  statusCode?: number | undefined;
  attempts?: number | undefined;
  cause?: unknown;
}

/** A failure reported by the Tencent API or on the way to it. Callers branch on `code` and `retryable`. */
export class TencentApiError extends Error {
  override readonly name = 'TencentApiError';
  readonly code: string;
  readonly action: string;
  readonly requestId: string | undefined;
  readonly retryable: boolean;
  readonly statusCode: number | undefined;
  readonly attempts: number;
  /** The message as Tencent (or the transport) gave it, without the context this error adds. */
  readonly reason: string;

  constructor(details: TencentApiErrorDetails) {
    const where = details.requestId ? ` (RequestId ${details.requestId})` : '';
    const tries = details.attempts && details.attempts > 1 ? ` after ${details.attempts} attempts` : '';
    super(`${details.action}: ${details.code}: ${details.message}${tries}${where}`, { cause: details.cause });
    this.code = details.code;
    this.action = details.action;
    this.requestId = details.requestId;
    this.retryable = details.retryable;
    this.statusCode = details.statusCode;
    this.attempts = details.attempts ?? 1;
    this.reason = details.message;
  }

  /** Credentials or permissions are wrong: nothing else in the run can succeed either. */
  get isAuthFailure(): boolean {
    return isCredentialFailure(this.code);
  }
}

/** A response that is not what the API documents: names the field path that failed. */
export class TencentResponseError extends Error {
  override readonly name = 'TencentResponseError';
  readonly action: string;
  /** Dotted path of the offending field, e.g. `Response.Certificates.3.Status`; empty for the body itself. */
  readonly path: string;
  readonly requestId: string | undefined;
  readonly retryable: boolean;

  constructor(details: {
    action: string;
    path: string;
    problem: string;
    requestId?: string | undefined;
    retryable?: boolean;
    cause?: unknown;
  }) {
    const where = details.requestId ? ` (RequestId ${details.requestId})` : '';
    const field = details.path ? ` at ${details.path}` : '';
    super(`${details.action}: malformed response${field}: ${details.problem}${where}`, {
      cause: details.cause,
    });
    this.action = details.action;
    this.path = details.path;
    this.requestId = details.requestId;
    this.retryable = details.retryable ?? false;
  }
}
