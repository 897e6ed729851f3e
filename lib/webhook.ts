import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from './clock.js';
import { CertificateIdSchema } from './events.js';
import type { Logger } from './logger.js';
import type { CertificateReport, SyncReport } from './sync-types.js';

/** Bodies above this are refused before anything else is done with them. */
export const MAX_BODY_BYTES = 16 * 1024;
/** Signed timestamps older or newer than this are refused (and replays are remembered this long). */
export const MAX_SKEW_SECONDS = 300;
export const MAX_CERTIFICATE_IDS = 20;

/** `{}` asks for a full run; `{"certificateIds": [...]}` (1–20 ids) syncs those now. */
export const WebhookBodySchema = z.strictObject({
  certificateIds: z.array(CertificateIdSchema).min(1).max(MAX_CERTIFICATE_IDS).optional(),
});

export interface WebhookRequest {
  method: string;
  /** Header names in any case. */
  headers: Readonly<Record<string, string | undefined>>;
  body: string | undefined;
  isBase64Encoded: boolean;
}

export interface WebhookResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface WebhookDeps {
  clock: Clock;
  logger: Logger;
  /** The HMAC key; undefined when none is configured (every call is then refused). */
  getKey(): Promise<string | undefined>;
  /** Runs a sync for these certificates and returns its report. */
  syncCertificates(certificateIds: string[]): Promise<SyncReport>;
  /** Hands a full run to the sync function without waiting for it. */
  startFullRun(): Promise<void>;
  replays: ReplayGuard;
}

/**
 * Remembers the signatures seen within the skew window so a captured request cannot be sent
 * again. It lives as long as the Lambda container: a replay reaching another container within
 * five minutes is not caught, which the short window bounds.
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

/**
 * `POST /sync`, authenticated by HMAC. Every refusal happens before anything is read from
 * Tencent or written anywhere.
 */
export async function handleWebhook(deps: WebhookDeps, request: WebhookRequest): Promise<WebhookResponse> {
  if (request.method.toUpperCase() !== 'POST') return refuse(405, 'only POST is accepted', { allow: 'POST' });

  const raw = Buffer.from(request.body ?? '', request.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > MAX_BODY_BYTES) return refuse(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);

  const key = await deps.getKey();
  if (!key) {
    deps.logger.error('webhook called but no key is configured: set WEBHOOK_SECRET_NAME or WEBHOOK_SECRET');
    return refuse(401, 'the webhook is not accepting calls');
  }
  const timestamp = header(request.headers, 'x-timestamp') ?? '';
  const signature = /^sha256=([0-9a-f]{64})$/i
    .exec(header(request.headers, 'x-signature-256') ?? '')?.[1]
    ?.toLowerCase();
  if (!/^\d{1,12}$/.test(timestamp) || !signature) {
    return refuse(
      401,
      'missing or malformed X-Timestamp (unix seconds) or X-Signature-256 (sha256=<hex>) header',
    );
  }
  const now = Math.floor(deps.clock.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > MAX_SKEW_SECONDS) {
    return refuse(401, `X-Timestamp is more than ${MAX_SKEW_SECONDS} seconds from the server's clock`);
  }
  if (!sameSignature(webhookSignature(key, timestamp, raw), signature))
    return refuse(401, 'the signature does not match');
  if (!deps.replays.admit(signature, now)) return refuse(401, 'this request was already received');

  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8') || 'null');
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
  try {
    if (!ids) {
      await deps.startFullRun();
      deps.logger.info('webhook started a full sync');
      return answer(202, { accepted: true, message: 'a full sync was started' });
    }
    const report = await deps.syncCertificates([...new Set(ids)]);
    if (report.fatal) {
      deps.logger.error('webhook sync could not run', { reason: report.fatal.reason });
      return refuse(502, "the sync could not run (Route53); see the function's logs");
    }
    deps.logger.info('webhook sync finished', { certificateIds: ids.length, ...report.totals });
    return answer(200, { certificates: report.certificates.map(publicCertificate), totals: report.totals });
  } catch (error) {
    deps.logger.error('webhook sync failed', { error });
    const code = (error as { code?: unknown; name?: unknown }).code ?? (error as { name?: unknown }).name;
    return refuse(
      502,
      `the sync could not run${typeof code === 'string' ? ` (${code})` : ''}; see the function's logs`,
    );
  }
}
