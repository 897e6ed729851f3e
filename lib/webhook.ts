import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from './clock.js';
import { MIN_WEBHOOK_KEY_BYTES, webhookKeyTooShort } from './config.js';
import { CertificateIdSchema } from './events.js';
import type { Logger } from './logger.js';
import type { StateStore } from './state/types.js';
import type { CertificateReport, SyncReport } from './sync-types.js';

/** Bodies above this are refused before anything else is done with them. */
export const MAX_BODY_BYTES = 16 * 1024;
/** Signed timestamps older or newer than this are refused. */
export const MAX_SKEW_SECONDS = 300;
const MAX_CERTIFICATE_IDS = 20;
/** The route of the HTTP API (`POST /sync`); a stage or a custom domain's base path may precede it. */
const WEBHOOK_PATH = '/sync';

/**
 * How long the state table remembers a signature: its timestamp is accepted from five minutes
 * before to five minutes after the receiving clock, so ten minutes cover every moment a replay
 * could still pass the skew check, and one more minute covers the clocks of other containers.
 */
export const REPLAY_MEMORY_MS = (2 * MAX_SKEW_SECONDS + 60) * 1000;

/** The claim a full run holds from the webhook's invoke until the sync function ends it. */
export const FULL_RUN_CLAIM = 'full-run';
/**
 * Twice the sync function's timeout (300 s, serverless.yml): with reserved concurrency 1 the run
 * may wait behind one already running, then run its own course. A run that dies without giving the
 * claim back (a Lambda timeout) holds it this long at most; scheduled runs go on meanwhile.
 */
export const FULL_RUN_CLAIM_TTL_MS = 2 * 300_000;

/**
 * API Gateway gives up on an integration after 30 s and answers 503 itself: the webhook answers by
 * this long after it started, whatever the function's timeout.
 */
export const MAX_ANSWER_MS = 28_000;
/** Kept back from the Lambda's remaining time to serialise and return the answer. */
const ANSWER_RESERVE_MS = 1_000;
/**
 * Calls still in flight are cancelled this long before the answer: the sync then unwinds (each
 * cancelled call fails its certificate or zone) and hands back its report in time.
 */
const CANCEL_LEAD_MS = 1_500;
/**
 * The sync stops starting certificates and waiting for INSYNC this long before the answer, so
 * reads already made still reach Route53 before anything is cancelled.
 */
const SYNC_RESERVE_MS = 8_000;

/** `{}` asks for a full run; `{"certificateIds": [...]}` (1–20 ids) syncs those now. */
const WebhookBodySchema = z.strictObject({
  certificateIds: z.array(CertificateIdSchema).min(1).max(MAX_CERTIFICATE_IDS).optional(),
});

export interface WebhookRequest {
  method: string;
  /** The request path (the HTTP API's `rawPath`); checked when given. */
  path?: string | undefined;
  /** Header names in any case. */
  headers: Readonly<Record<string, string | undefined>>;
  body: string | undefined;
  isBase64Encoded: boolean;
  /** What the Lambda has left (`context.getRemainingTimeInMillis()`); the answer leaves before it runs out. */
  remainingMs?: number | undefined;
}

export interface WebhookResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** What an id-limited sync started by the webhook is given. */
export interface WebhookSyncCall {
  /** Epoch ms after which the sync starts no certificate and stops waiting for INSYNC. */
  deadline: number;
  /** Aborted shortly before the answer is due: Tencent and Route53 calls still in flight are cut. */
  signal: AbortSignal;
}

/** The state table's part in the webhook: signatures seen, and the full-run claim. */
export type WebhookState = Pick<StateStore, 'firstSighting' | 'claim' | 'release'>;

export interface WebhookDeps {
  /** Its `sleep` times the answer's deadline. */
  clock: Clock;
  logger: Logger;
  /** The HMAC key; undefined when none is configured. Throws when it cannot be read. */
  getKey(): Promise<string | undefined>;
  /** Runs a sync for these certificates and returns its report. */
  syncCertificates(certificateIds: string[], call: WebhookSyncCall): Promise<SyncReport>;
  /** Hands a full run to the sync function without waiting for it; `claim` is the full-run claim's owner. */
  startFullRun(claim?: string): Promise<void>;
  /**
   * The state table (STATE_TABLE): replays are refused by every container and full runs are
   * coalesced. Absent: `replays` remembers signatures in this container only, and every full-run
   * request invokes the sync function.
   */
  state?: WebhookState | undefined;
  replays: ReplayGuard;
  /** The owner id of a new full-run claim (random by default). */
  newClaimOwner?: () => string;
}

/** The webhook key cannot be used: it is shorter than MIN_WEBHOOK_KEY_BYTES. */
export class WebhookKeyError extends Error {
  override readonly name = 'WebhookKeyError';
  readonly retryable = false;
}

/** The reason the signal of a webhook-started sync is aborted with: the answer is due. */
export class WebhookDeadlineError extends Error {
  override readonly name = 'WebhookDeadlineError';
  readonly retryable = true;
  constructor() {
    super("cancelled: the webhook's answer was due; the next run continues");
  }
}

/**
 * Remembers the signatures seen within the skew window so a captured request cannot be sent
 * again. It lives as long as the Lambda container: without a state table, a replay reaching
 * another container within five minutes is not caught, which the short window bounds.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>();

  /** True the first time a signature is seen (within the window), false after. */
  admit(signature: string, nowSeconds: number): boolean {
    for (const [key, expires] of this.#seen) if (expires <= nowSeconds) this.#seen.delete(key);
    if (this.#seen.has(signature)) return false;
    this.#seen.set(signature, nowSeconds + 2 * MAX_SKEW_SECONDS);
    return true;
  }
}

/**
 * Gives the full-run claim back when the run the webhook started ends (the sync function calls
 * this), so the next full-run request starts a new run. A claim already expired, taken by another
 * run, or given back by an earlier attempt of the same event is left as it is.
 */
export async function endFullRunClaim(
  state: Pick<StateStore, 'release'> | undefined,
  owner: string,
  logger: Logger,
): Promise<void> {
  if (!state) return;
  try {
    await state.release(FULL_RUN_CLAIM, owner, 'the full run ended');
  } catch (error) {
    logger.warn('the full-run claim could not be given back; it ends when it expires', {
      error: (error as Error).name,
    });
  }
}

/**
 * When the answer is due: within what the Lambda has left (less a reserve to answer) and never
 * later than MAX_ANSWER_MS after `now`.
 */
export function answerDeadline(now: number, remainingMs: number | undefined): number {
  const left = remainingMs === undefined ? MAX_ANSWER_MS : remainingMs - ANSWER_RESERVE_MS;
  return now + Math.max(0, Math.min(MAX_ANSWER_MS, left));
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

function answer(statusCode: number, payload: unknown, headers: Record<string, string> = {}): WebhookResponse {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(payload) };
}

const refuse = (statusCode: number, message: string, headers: Record<string, string> = {}) =>
  answer(statusCode, { message }, headers);

function header(headers: WebhookRequest['headers'], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** HMAC-SHA256 of `"<timestamp>.<raw body>"`, hex: what a caller puts after `sha256=`. */
export function webhookSignature(key: string, timestamp: string, rawBody: Buffer | string): string {
  return createHmac('sha256', key).update(`${timestamp}.`).update(rawBody).digest('hex');
}

function sameSignature(expectedHex: string, givenHex: string): boolean {
  const expected = Buffer.from(expectedHex, 'hex');
  const given = Buffer.from(givenHex, 'hex');
  return given.length === expected.length && timingSafeEqual(expected, given);
}

/** The per-certificate part of a sync report, as the webhook answers it. */
function publicCertificate(certificate: CertificateReport) {
  return {
    certificateId: certificate.certificateId,
    domains: certificate.domains,
    status: certificate.status,
    outcome: certificate.outcome,
    validationDeadline: certificate.validationDeadline,
    records: certificate.records.map((r) => ({
      name: r.name,
      type: r.type,
      zone: r.zone?.name,
      action: r.action,
      ...(r.reason ? { reason: r.reason } : {}),
    })),
    ...(certificate.export
      ? { export: { result: certificate.export.result, secretName: certificate.export.secretName } }
      : {}),
    ...(certificate.error ? { error: certificate.error } : {}),
  };
}

/** A declared content type must be JSON (with any parameters); none declared is read as JSON. */
function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined || value.trim() === '') return true;
  return /^application\/json\s*(;|$)/i.test(value.trim());
}

function isWebhookPath(path: string | undefined): boolean {
  return path === undefined || path.replace(/\/+$/, '').endsWith(WEBHOOK_PATH);
}

/** What is logged of a key that cannot be used: our own reason, or the names of the SDK's error and its cause (never its message, which carries ARNs). */
function keyFailure(error: unknown): string {
  if (error instanceof WebhookKeyError) return error.message;
  const cause = (error as { cause?: unknown }).cause;
  const names = [(error as Error)?.name, (cause as Error | undefined)?.name].filter(Boolean);
  return names.join(': ') || 'unknown error';
}

type Checked = { key: string; signature: string; raw: Buffer; now: number } | { refused: WebhookResponse };

/**
 * Everything that comes before the work: the cheap checks (method, path, content type, size, the
 * headers' form, skew), and only then the key and the signature.
 */
async function authenticate(deps: WebhookDeps, request: WebhookRequest): Promise<Checked> {
  if (request.method.toUpperCase() !== 'POST')
    return { refused: refuse(405, 'only POST is accepted', { allow: 'POST' }) };
  if (!isWebhookPath(request.path)) return { refused: refuse(404, `only ${WEBHOOK_PATH} is served`) };
  if (!isJsonContentType(header(request.headers, 'content-type')))
    return { refused: refuse(415, 'the body must be application/json') };

  const raw = Buffer.from(request.body ?? '', request.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > MAX_BODY_BYTES)
    return { refused: refuse(413, `the body is larger than ${MAX_BODY_BYTES} bytes`) };

  const timestamp = header(request.headers, 'x-timestamp') ?? '';
  const signature = /^sha256=([0-9a-f]{64})$/i
    .exec(header(request.headers, 'x-signature-256') ?? '')?.[1]
    ?.toLowerCase();
  if (!/^\d{1,12}$/.test(timestamp) || !signature) {
    return {
      refused: refuse(
        401,
        'missing or malformed X-Timestamp (unix seconds) or X-Signature-256 (sha256=<hex>) header',
      ),
    };
  }
  const now = Math.floor(deps.clock.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > MAX_SKEW_SECONDS) {
    return {
      refused: refuse(401, `X-Timestamp is more than ${MAX_SKEW_SECONDS} seconds from the server's clock`),
    };
  }

  // Only now is the key read (Secrets Manager): junk never costs a call.
  let key: string | undefined;
  try {
    key = await deps.getKey();
    if (key && Buffer.byteLength(key, 'utf8') < MIN_WEBHOOK_KEY_BYTES)
      throw new WebhookKeyError(webhookKeyTooShort('the webhook key', Buffer.byteLength(key, 'utf8')));
  } catch (error) {
    deps.logger.error('the webhook key cannot be used: every call is refused until it is fixed', {
      reason: keyFailure(error),
    });
    return { refused: refuse(401, 'the webhook is not accepting calls') };
  }
  if (!key) {
    deps.logger.error('webhook called but no key is configured: set WEBHOOK_SECRET_NAME or WEBHOOK_SECRET');
    return { refused: refuse(401, 'the webhook is not accepting calls') };
  }
  if (!sameSignature(webhookSignature(key, timestamp, raw), signature))
    return { refused: refuse(401, 'the signature does not match') };
  return { key, signature, raw, now };
}

/** True the first time a signature is seen, by any container when the state table is on. */
async function firstSighting(
  deps: WebhookDeps,
  signature: string,
  nowSeconds: number,
): Promise<boolean | 'unknown'> {
  if (!deps.state) return deps.replays.admit(signature, nowSeconds);
  try {
    return await deps.state.firstSighting(signature, { ttlMs: REPLAY_MEMORY_MS });
  } catch (error) {
    deps.logger.error('cannot record the webhook signature in the state table', {
      error: (error as Error).name,
    });
    return 'unknown';
  }
}

/**
 * `POST /sync`, authenticated by HMAC. Every refusal happens before anything is read from
 * Tencent or written anywhere (a signature seen is the one thing remembered).
 */
export async function handleWebhook(deps: WebhookDeps, request: WebhookRequest): Promise<WebhookResponse> {
  const answerBy = answerDeadline(deps.clock.now(), request.remainingMs);
  const checked = await authenticate(deps, request);
  if ('refused' in checked) return checked.refused;

  const sighting = await firstSighting(deps, checked.signature, checked.now);
  if (sighting === 'unknown') return refuse(503, 'the webhook cannot check for replays right now; try again');
  if (!sighting) return refuse(409, 'this request was already received');

  let json: unknown;
  try {
    json = JSON.parse(checked.raw.toString('utf8') || 'null');
  } catch {
    return refuse(400, 'the body is not JSON');
  }
  const parsed = WebhookBodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    return refuse(
      400,
      `expected {} or {"certificateIds": [1 to ${MAX_CERTIFICATE_IDS} certificate ids]}: ${issue?.message ?? 'invalid'}${where}`,
    );
  }

  const ids = parsed.data.certificateIds;
  if (!ids) return startFullRun(deps);
  return syncNamed(deps, [...new Set(ids)], answerBy);
}

/**
 * `{}`: a full run of the sync function, answered 202. With the state table, one claim stands for
 * the run from the invoke until the sync function gives it back (or it expires): requests meanwhile
 * join that run (`coalesced: true`) and invoke nothing.
 */
async function startFullRun(deps: WebhookDeps): Promise<WebhookResponse> {
  const { state, logger } = deps;
  let owner: string | undefined;
  if (state) {
    owner = (deps.newClaimOwner ?? randomUUID)();
    let claimed: boolean;
    try {
      claimed = await state.claim(FULL_RUN_CLAIM, owner, { ttlMs: FULL_RUN_CLAIM_TTL_MS });
    } catch (error) {
      logger.error('cannot claim the full run in the state table', { error: (error as Error).name });
      return refuse(503, 'the webhook cannot start a full run right now; try again');
    }
    if (!claimed) {
      logger.info('webhook full sync joined the one queued or running');
      return answer(202, {
        accepted: true,
        coalesced: true,
        message: 'a full sync is already queued or running; this request is part of it',
      });
    }
  }
  try {
    await deps.startFullRun(owner);
  } catch (error) {
    logger.error('webhook could not start a full sync', { error });
    if (state && owner) await endFullRunClaim(state, owner, logger);
    return refuse(502, `the full sync could not be started${codeOf(error)}; see the function's logs`);
  }
  logger.info('webhook started a full sync');
  return answer(202, { accepted: true, coalesced: false, message: 'a full sync was started' });
}

type SyncOutcome = { report: SyncReport } | { error: unknown } | { running: true };

/**
 * Runs the sync for `ids` and answers by `answerBy` whatever the sync is doing: shortly before,
 * calls still in flight are cancelled and the sync hands back what it has.
 */
async function syncNamed(deps: WebhookDeps, ids: string[], answerBy: number): Promise<WebhookResponse> {
  const { clock, logger } = deps;
  const start = clock.now();
  const cancel = new AbortController();
  const run: Promise<SyncOutcome> = deps
    .syncCertificates(ids, { deadline: Math.max(start, answerBy - SYNC_RESERVE_MS), signal: cancel.signal })
    .then(
      (report) => ({ report }),
      (error: unknown) => ({ error }),
    );
  const until = (at: number) =>
    clock.sleep(Math.max(0, at - clock.now())).then((): SyncOutcome => ({ running: true }));

  const outcome = await Promise.race([run, until(answerBy - CANCEL_LEAD_MS)]);
  if ('running' in outcome) {
    cancel.abort(new WebhookDeadlineError());
    const last = await Promise.race([run, until(answerBy)]);
    const report = 'report' in last ? last.report : undefined;
    logger.warn('webhook sync cut at its deadline: calls in flight were cancelled', {
      certificateIds: ids.length,
      reported: report !== undefined,
      afterMs: clock.now() - start,
    });
    return answer(503, {
      message: report
        ? 'the answer was due before the sync finished: calls still in flight were cancelled; the report shows what was done, and the next run continues'
        : 'the answer was due before the sync finished: calls still in flight were cancelled before any certificate was reported; the next run continues',
      partial: true,
      certificates: report ? report.certificates.map(publicCertificate) : [],
      ...(report ? { totals: report.totals } : {}),
    });
  }
  if ('error' in outcome) {
    logger.error('webhook sync failed', { error: outcome.error });
    return refuse(502, `the sync could not run${codeOf(outcome.error)}; see the function's logs`);
  }
  const { report } = outcome;
  if (report.fatal) {
    logger.error('webhook sync could not run', { reason: report.fatal.reason });
    return refuse(502, "the sync could not run; see the function's logs");
  }
  logger.info('webhook sync finished', { certificateIds: ids.length, ...report.totals });
  return answer(200, { certificates: report.certificates.map(publicCertificate), totals: report.totals });
}

/** ` (<code>)` of an error with a string `code` or `name`, else nothing: never its message. */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown }).code ?? (error as { name?: unknown }).name;
  return typeof code === 'string' ? ` (${code})` : '';
}
