import { Agent, type Dispatcher } from 'undici';
import type { z } from 'zod';
import { type Clock, systemClock } from '../clock.js';
import { type Logger, silentLogger } from '../logger.js';
import { Pacer } from '../pacer.js';
import { TencentApiError, TencentResponseError } from './errors.js';
import {
  backoffDelay,
  classifyApiError,
  classifyHttpStatus,
  classifyNetworkError,
  DEFAULT_RETRY_POLICY,
  mayResend,
  type RetryDecision,
  type RetryPolicy,
} from './retry-policy.js';
import { EnvelopeSchema } from './schemas.js';
import { signTc3 } from './signer.js';

const SSL_API_VERSION = '2019-12-05';
/** Tencent derives the service from the host's first label; for this API it is always `ssl`. */
const SSL_SERVICE = 'ssl';
export const DEFAULT_SSL_ENDPOINT = 'https://ssl.tencentcloudapi.com';

const CONTENT_TYPE = 'application/json';

export interface TencentCredentials {
  secretId: string;
  secretKey: string;
  /** Only with temporary credentials; sent as X-TC-Token (not signed). */
  sessionToken?: string | undefined;
}

export type TencentCredentialsProvider = () => Promise<TencentCredentials>;

export interface TencentTimeouts {
  connectMs: number;
  /** Until the response headers arrive. */
  headersMs: number;
  /** Between two chunks of the response body. */
  bodyMs: number;
}

const DEFAULT_TIMEOUTS: Readonly<TencentTimeouts> = {
  connectMs: 5_000,
  headersMs: 15_000,
  bodyMs: 15_000,
};

export interface TencentClientOptions {
  /** Base URL, e.g. `https://ssl.tencentcloudapi.com`; requests go to its `/`. */
  endpoint?: string;
  credentials: TencentCredentials | TencentCredentialsProvider;
  /** Requests per second per action (default 10), evenly spaced. */
  rateLimit?: number;
  rateLimitPerAction?: Readonly<Record<string, number>>;
  retry?: Partial<RetryPolicy>;
  timeouts?: Partial<TencentTimeouts>;
  /** Keep-alive sockets to the endpoint. */
  connections?: number;
  /** An undici dispatcher to use instead of the client's own pool (tests pass a MockAgent). */
  dispatcher?: Dispatcher;
  clock?: Clock;
  random?: () => number;
  logger?: Logger;
  /** Language of error messages. */
  language?: 'en-US' | 'zh-CN';
}

export interface CallOptions {
  /** Once aborted, no further attempt is sent and the one in flight is cut (the signal's reason is thrown). */
  signal?: AbortSignal;
  /**
   * False for an action that changes something at Tencent (ApplyCertificate): a failed attempt is
   * sent again only when the failure shows Tencent did not act on it (`mayResend`). Default true:
   * the reads may be sent as often as the retry policy allows.
   */
  idempotent?: boolean;
}

export interface TencentResult<T> {
  data: T;
  requestId: string | undefined;
}

interface AttemptFailure {
  decision: RetryDecision;
  error: TencentApiError | TencentResponseError;
  /** The credentials the attempt was signed with. */
  credentials: Promise<TencentCredentials>;
}

/**
 * Signed, paced and retried calls to the Tencent Cloud SSL API over a keep-alive pool. Every
 * attempt is paced and signed afresh; failures end as TencentApiError or TencentResponseError.
 */
export class TencentClient {
  readonly endpoint: URL;
  readonly #credentials: TencentCredentialsProvider;
  /** Credentials given as a provider can change (a rotated secret); a fixed pair cannot. */
  readonly #reloadable: boolean;
  readonly #pacer: Pacer;
  readonly #policy: RetryPolicy;
  readonly #timeouts: TencentTimeouts;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #logger: Logger;
  readonly #language: string | undefined;
  /** Server time minus local time, learned from a SignatureExpire answer. */
  #skewMs = 0;
  #cachedCredentials: Promise<TencentCredentials> | undefined;

  constructor(options: TencentClientOptions) {
    this.endpoint = new URL(options.endpoint ?? DEFAULT_SSL_ENDPOINT);
    if (this.endpoint.protocol !== 'https:' && this.endpoint.protocol !== 'http:') {
      throw new TypeError(`Tencent endpoint must be an http(s) URL, got ${this.endpoint.protocol}`);
    }
    const credentials = options.credentials;
    this.#credentials = typeof credentials === 'function' ? credentials : async () => credentials;
    this.#reloadable = typeof credentials === 'function';
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger;
    this.#language = options.language;
    this.#policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#pacer = new Pacer({
      rate: options.rateLimit ?? 10,
      perAction: options.rateLimitPerAction ?? {},
      clock: this.#clock,
    });
    this.#ownsDispatcher = !options.dispatcher;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        // More sockets than reads, exports and nudges can have in flight: a paced request never
        // waits for a socket, so it leaves when granted and the pacing holds on the wire.
        connections: options.connections ?? 64,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        connect: { timeout: this.#timeouts.connectMs },
        headersTimeout: this.#timeouts.headersMs,
        bodyTimeout: this.#timeouts.bodyMs,
      });
  }

  /** When a call of `action` made now would leave, about, given the calls already waiting for it. */
  nextSlot(action: string): number {
    return this.#pacer.nextSlot(action);
  }

  /** Calls `action` with `params` and parses the `Response` object with `schema`. */
  async call<S extends z.ZodType>(
    action: string,
    params: Record<string, unknown>,
    schema: S,
    options: CallOptions = {},
  ): Promise<TencentResult<z.output<S>>> {
    const body = JSON.stringify(params);
    const started = this.#clock.now();
    let resigned = false;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      await this.#pacer.acquire(action, options.signal);
      // Checked after the wait for a slot too: a call that is no longer wanted is dropped unsent.
      options.signal?.throwIfAborted();
      const outcome = await this.#attempt(action, body, schema, attempt, options.signal);
      if (!('decision' in outcome)) return outcome;
      const { decision, error, credentials } = outcome;
      const elapsed = this.#clock.now() - started;
      const attemptsLeft = attempt < this.#policy.maxAttempts;

      if (decision === 'resign' && !resigned && attemptsLeft) {
        resigned = true;
        this.#logger.warn('Tencent rejected the request timestamp; signing again', {
          action,
          requestId: error.requestId,
          clockSkewMs: this.#skewMs,
        });
        continue;
      }
      if (decision === 'refresh-credentials' && this.#reloadable && !refreshed && attemptsLeft) {
        refreshed = true;
        // A key rotated in Secrets Manager reaches a warm Lambda here.
        if (await this.#reloadCredentials(credentials)) {
          this.#logger.warn('Tencent refused the credentials; reloaded them and trying again', {
            action,
            code: 'code' in error ? error.code : undefined,
            requestId: error.requestId,
          });
          continue;
        }
      }
      if (decision === 'retry' && options.idempotent === false && !mayResend(failureFacts(error))) {
        throw this.#finalError(error, attempt, decision);
      }
      if (decision === 'retry' && attemptsLeft) {
        const wait = backoffDelay(this.#policy, attempt, this.#random);
        if (elapsed + wait < this.#policy.maxElapsedMs) {
          this.#logger.warn('Tencent call failed; retrying', {
            action,
            attempt,
            code: 'code' in error ? error.code : 'MalformedResponse',
            requestId: error.requestId,
            retryInMs: wait,
          });
          await this.#clock.sleep(wait);
          continue;
        }
      }
      throw this.#finalError(error, attempt, decision);
    }
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** The current credentials, loaded once and shared by every call; a failed load is retried next time. */
  #loadCredentials(): Promise<TencentCredentials> {
    if (!this.#cachedCredentials) {
      const loading = this.#credentials();
      this.#cachedCredentials = loading;
      loading.catch(() => {
        if (this.#cachedCredentials === loading) this.#cachedCredentials = undefined;
      });
    }
    return this.#cachedCredentials;
  }

  /**
   * Loads the credentials again after `used` was refused; false when they cannot be loaded. Calls
   * refused with the same credentials at once share a single load.
   */
  async #reloadCredentials(used: Promise<TencentCredentials>): Promise<boolean> {
    if (this.#cachedCredentials === used) this.#cachedCredentials = undefined;
    try {
      await this.#loadCredentials();
      return true;
    } catch (error) {
      this.#logger.warn('cannot reload the Tencent credentials', { error });
      return false;
    }
  }

  async #attempt<S extends z.ZodType>(
    action: string,
    body: string,
    schema: S,
    attempt: number,
    signal: AbortSignal | undefined,
  ): Promise<TencentResult<z.output<S>> | AttemptFailure> {
    const used = this.#loadCredentials();
    const credentials = await used;
    const timestamp = Math.floor((this.#clock.now() + this.#skewMs) / 1000);
    const host = this.endpoint.host;
    const { authorization } = signTc3({
      secretId: credentials.secretId,
      secretKey: credentials.secretKey,
      host,
      service: SSL_SERVICE,
      contentType: CONTENT_TYPE,
      body,
      timestamp,
    });
    const headers: Record<string, string> = {
      authorization,
      'content-type': CONTENT_TYPE,
      host,
      'x-tc-action': action,
      'x-tc-version': SSL_API_VERSION,
      'x-tc-timestamp': String(timestamp),
    };
    if (credentials.sessionToken) headers['x-tc-token'] = credentials.sessionToken;
    if (this.#language) headers['x-tc-language'] = this.#language;

    const sentAt = this.#clock.now();
    let statusCode: number;
    let text: string;
    let dateHeader: string | undefined;
    try {
      const response = await this.#dispatcher.request({
        origin: this.endpoint.origin,
        path: this.endpoint.pathname || '/',
        method: 'POST',
        headers,
        body,
        headersTimeout: this.#timeouts.headersMs,
        bodyTimeout: this.#timeouts.bodyMs,
        ...(signal ? { signal } : {}),
      });
      statusCode = response.statusCode;
      const date = response.headers.date;
      dateHeader = Array.isArray(date) ? date[0] : date;
      text = await response.body.text();
    } catch (cause) {
      // A call cut by its caller is not a network failure: it is neither retried nor wrapped.
      signal?.throwIfAborted();
      const code = (cause as { code?: unknown }).code;
      return {
        credentials: used,
        decision: classifyNetworkError(cause),
        error: new TencentApiError({
          code: 'NetworkError',
          message: `${typeof code === 'string' ? `${code}: ` : ''}${(cause as Error).message ?? String(cause)}`,
          action,
          retryable: classifyNetworkError(cause) === 'retry',
          attempts: attempt,
          cause,
        }),
      };
    }
    this.#logger.debug('Tencent call', {
      action,
      attempt,
      statusCode,
      durationMs: this.#clock.now() - sentAt,
    });

    if (statusCode !== 200) {
      const decision = classifyHttpStatus(statusCode);
      return {
        credentials: used,
        decision,
        error: new TencentApiError({
          code: 'HttpError',
          message: `HTTP ${statusCode} from ${this.endpoint.host}`,
          action,
          statusCode,
          retryable: decision === 'retry',
          attempts: attempt,
        }),
      };
    }

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      // A cut or garbled body says nothing about the request; asking again is safe for these idempotent actions.
      return {
        credentials: used,
        decision: 'retry',
        error: new TencentResponseError({
          action,
          path: '',
          problem: 'body is not JSON',
          retryable: true,
          cause,
        }),
      };
    }
    const envelope = EnvelopeSchema.safeParse(json);
    if (!envelope.success) {
      return {
        credentials: used,
        decision: 'fail',
        error: responseError(action, envelope.error, undefined),
      };
    }
    const response = envelope.data.Response;
    const requestId = response.RequestId ?? undefined;
    if (response.Error) {
      const code = response.Error.Code;
      const decision = classifyApiError(code);
      if (decision === 'resign') this.#learnSkew(dateHeader);
      return {
        credentials: used,
        decision,
        error: new TencentApiError({
          code,
          message: response.Error.Message ?? '',
          action,
          requestId,
          retryable: decision !== 'fail',
          attempts: attempt,
        }),
      };
    }
    const parsed = schema.safeParse(response);
    if (!parsed.success)
      return {
        credentials: used,
        decision: 'fail',
        error: responseError(action, parsed.error, requestId, 'Response'),
      };
    return { data: parsed.data, requestId };
  }

  #learnSkew(dateHeader: string | undefined): void {
    const serverTime = dateHeader ? Date.parse(dateHeader) : Number.NaN;
    if (Number.isFinite(serverTime)) this.#skewMs = serverTime - this.#clock.now();
  }

  #finalError(
    error: TencentApiError | TencentResponseError,
    attempts: number,
    decision: RetryDecision,
  ): TencentApiError | TencentResponseError {
    if (error instanceof TencentResponseError) return error;
    return new TencentApiError({
      code: error.code,
      message: error.reason,
      action: error.action,
      requestId: error.requestId,
      statusCode: error.statusCode,
      // Credentials refused again after reloading them stay refused.
      retryable: decision !== 'fail' && decision !== 'refresh-credentials',
      attempts,
      cause: error.cause,
    });
  }
}

/** What `mayResend` needs to know of a failed attempt. */
function failureFacts(error: TencentApiError | TencentResponseError): { code: string; networkCode?: string } {
  if (error instanceof TencentResponseError) return { code: 'MalformedResponse' };
  const networkCode = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof networkCode === 'string' ? { code: error.code, networkCode } : { code: error.code };
}

function responseError(
  action: string,
  error: z.ZodError,
  requestId: string | undefined,
  prefix?: string,
): TencentResponseError {
  const issue = error.issues[0];
  const path = [...(prefix ? [prefix] : []), ...(issue?.path ?? []).map(String)].join('.');
  return new TencentResponseError({
    action,
    path,
    problem: issue?.message ?? 'invalid',
    requestId,
    cause: error,
  });
}
