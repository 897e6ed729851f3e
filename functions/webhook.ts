import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { createBaseDeps } from '../lib/deps/base.js';
import { createMetrics, flushMetrics } from '../lib/deps/metrics.js';
import { createWebhookDeps } from '../lib/deps/webhook.js';
import { HttpApiEventSchema } from '../lib/events.js';
import { handleWebhook, type WebhookResponse } from '../lib/webhook.js';

const base = createBaseDeps(loadConfig(process.env), { write: (line) => process.stdout.write(`${line}\n`) });
const metrics = createMetrics();
const deps = createWebhookDeps(base, { metrics });

/** API Gateway HTTP API `POST /sync`. */
export async function handler(
  event: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<WebhookResponse> {
  const parsed = HttpApiEventSchema.safeParse(event);
  if (!parsed.success) {
    base.logger.error('not an HTTP API v2 event');
    return {
      statusCode: 400,
      headers: { 'content-type': 'application/json' },
      body: '{"message":"unsupported event"}',
    };
  }
  const { requestContext, rawPath, headers, body, isBase64Encoded } = parsed.data;
  return handleWebhook(deps, {
    method: requestContext.http.method,
    path: rawPath,
    headers: headers ?? {},
    body,
    isBase64Encoded,
    remainingMs: context?.getRemainingTimeInMillis(),
  }).finally(() => flushMetrics(metrics));
}
