import { loadConfig } from '../lib/config.js';
import { HttpApiEventSchema } from '../lib/events.js';
import { createRuntime } from '../lib/runtime.js';
import { handleWebhook, type WebhookResponse } from '../lib/webhook.js';

const runtime = createRuntime(loadConfig(process.env), { write: (line) => process.stdout.write(`${line}\n`) });

/** API Gateway HTTP API `POST /sync`. */
export async function handler(event: unknown): Promise<WebhookResponse> {
  const parsed = HttpApiEventSchema.safeParse(event);
  if (!parsed.success) {
    runtime.logger.error('not an HTTP API v2 event');
    return { statusCode: 400, headers: { 'content-type': 'application/json' }, body: '{"message":"unsupported event"}' };
  }
  const { requestContext, headers, body, isBase64Encoded } = parsed.data;
  return handleWebhook(runtime.webhookDeps(), {
    method: requestContext.http.method,
    headers: headers ?? {},
    body,
    isBase64Encoded,
  });
}
