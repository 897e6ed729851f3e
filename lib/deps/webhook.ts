import { LambdaClient } from '@aws-sdk/client-lambda';
import { invokeAsync } from '../lambda/invoke.js';
import { readTextSecret } from '../secrets/credentials.js';
import { runSync } from '../sync.js';
import { ReplayGuard, type WebhookDeps } from '../webhook.js';
import type { BaseDeps } from './base.js';
import { createSyncDeps } from './sync.js';

/** The webhook key is read again after this long, so a rotated key takes effect without a deploy. */
const WEBHOOK_KEY_TTL_MS = 5 * 60 * 1000;
/** Time a webhook-started sync may take before it reports what it has. */
const WEBHOOK_SYNC_BUDGET_MS = 20_000;

export function createWebhookDeps(base: BaseDeps): WebhookDeps {
  const { config, clock, logger, redactor } = base;
  const syncDeps = createSyncDeps(base);
  let lambda: LambdaClient | undefined;
  let cachedKey: { value: string; until: number } | undefined;
  base.onClose(() => lambda?.destroy());
  return {
    clock,
    logger,
    replays: new ReplayGuard(),
    async getKey() {
      if (config.webhook.secret) return config.webhook.secret;
      const name = config.webhook.secretName;
      if (!name) return undefined;
      if (!cachedKey || cachedKey.until <= clock.now()) {
        const value = await readTextSecret(base.secrets, name);
        redactor.add(value);
        cachedKey = { value, until: clock.now() + WEBHOOK_KEY_TTL_MS };
      }
      return cachedKey.value;
    },
    // API Gateway gives up after 30 s: the run stops waiting (for INSYNC, for nudges) in time to answer.
    syncCertificates: (certificateIds) =>
      runSync(syncDeps, { certificateIds, deadline: clock.now() + WEBHOOK_SYNC_BUDGET_MS }),
    async startFullRun() {
      const functionName = config.webhook.syncFunctionName;
      if (!functionName)
        throw new Error('SYNC_FUNCTION_NAME is not set: the webhook cannot start a full run');
      lambda ??= new LambdaClient({});
      await invokeAsync(lambda, functionName, {});
    },
  };
}
