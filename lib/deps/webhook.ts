import { setTimeout as delay } from 'node:timers/promises';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Route53Client } from '@aws-sdk/client-route-53';
import { type Clock, systemClock } from '../clock.js';
import { MIN_WEBHOOK_KEY_BYTES, webhookKeyTooShort } from '../config.js';
import type { MetricsSink } from '../events/metrics.js';
import type { IssuedCertificateHandler } from '../export.js';
import { invokeAsync } from '../lambda/invoke.js';
import { readTextSecret } from '../secrets/credentials.js';
import { runSync } from '../sync.js';
import type { SyncDeps, SyncTencentApi } from '../sync-types.js';
import { ReplayGuard, type WebhookDeps, WebhookKeyError, type WebhookState } from '../webhook.js';
import type { BaseDeps } from './base.js';
import { createSyncDeps } from './sync.js';

/** The webhook key is read again after this long, so a rotated key takes effect without a deploy. */
const WEBHOOK_KEY_TTL_MS = 5 * 60 * 1000;

export interface WebhookOptions {
  /** The state table; by default the sync's own (none while STATE_TABLE is unset). */
  state?: WebhookState | undefined;
  /** Where the metrics of the syncs it runs go; none by default. */
  metrics?: MetricsSink | undefined;
}

export function createWebhookDeps(base: BaseDeps, options: WebhookOptions = {}): WebhookDeps {
  const { config, clock, logger, redactor } = base;
  const syncDeps = createSyncDeps(base, options.metrics ? { metrics: options.metrics } : {});
  let lambda: LambdaClient | undefined;
  let cachedKey: { value: string; until: number } | undefined;
  base.onClose(() => lambda?.destroy());
  return {
    clock: answerClock(clock),
    logger,
    state: options.state ?? syncDeps.state,
    replays: new ReplayGuard(),
    async getKey() {
      if (config.webhook.secret) return config.webhook.secret;
      const name = config.webhook.secretName;
      if (!name) return undefined;
      if (!cachedKey || cachedKey.until <= clock.now()) {
        const value = await readTextSecret(base.secrets, name);
        redactor.add(value);
        const bytes = Buffer.byteLength(value, 'utf8');
        if (bytes < MIN_WEBHOOK_KEY_BYTES)
          throw new WebhookKeyError(webhookKeyTooShort(`secret ${name} (WEBHOOK_SECRET_NAME)`, bytes));
        cachedKey = { value, until: clock.now() + WEBHOOK_KEY_TTL_MS };
      }
      return cachedKey.value;
    },
    syncCertificates: (certificateIds, { deadline, signal }) =>
      runSync(cancellable(syncDeps, base.tencent, signal), { certificateIds, deadline }),
    async startFullRun(claim) {
      const functionName = config.webhook.syncFunctionName;
      if (!functionName)
        throw new Error('SYNC_FUNCTION_NAME is not set: the webhook cannot start a full run');
      lambda ??= new LambdaClient({});
      await invokeAsync(lambda, functionName, claim ? { fullRunClaim: claim } : {});
    },
  };
}

/**
 * The sync's deps with every Tencent and Route53 call given `signal`: when it is aborted, the
 * calls still in flight are cut and those not yet sent are dropped (each fails its certificate or
 * zone in the report). The export hand-off (Secrets Manager, SQS) is not cut, but the run stops
 * waiting for it: its certificates are reported failed and the next run hands them over again.
 */
export function cancellable(deps: SyncDeps, tencent: SyncTencentApi, signal: AbortSignal): SyncDeps {
  return {
    ...deps,
    tencent: {
      listCertificates: (options) => tencent.listCertificates(options, { signal }),
      describeValidation: (certificateId) => tencent.describeValidation(certificateId, { signal }),
      completeCertificate: (certificateId, options = {}) =>
        tencent.completeCertificate(certificateId, {
          signal: options.signal ? AbortSignal.any([signal, options.signal]) : signal,
        }),
    },
    route53: cancellableRoute53(deps.route53, signal),
    ...(deps.onIssued ? { onIssued: untilAborted(deps.onIssued, signal) } : {}),
  };
}

/** `handler`, whose answer is given up (rejected with the signal's reason) once `signal` is aborted. */
function untilAborted(handler: IssuedCertificateHandler, signal: AbortSignal): IssuedCertificateHandler {
  return (items, options) => {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const abort = () => reject(signal.reason);
      signal.addEventListener('abort', abort, { once: true });
      handler(items, options)
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', abort));
    });
  };
}

/** `client` whose every `send` carries `signal` as the SDK's `abortSignal`; everything else is the client's own. */
function cancellableRoute53(client: Route53Client, signal: AbortSignal): Route53Client {
  const send = ((command: Parameters<Route53Client['send']>[0], options?: { abortSignal?: AbortSignal }) =>
    client.send(command, {
      ...options,
      abortSignal: options?.abortSignal ? AbortSignal.any([signal, options.abortSignal]) : signal,
    })) as Route53Client['send'];
  return Object.assign(Object.create(client) as Route53Client, { send });
}

/**
 * The clock that times the answer: the system clock's timers must not hold a process open once
 * the answer is out (a local run, a test); Lambda is unaffected.
 */
function answerClock(clock: Clock): Clock {
  if (clock !== systemClock) return clock;
  return { now: () => clock.now(), sleep: (ms) => delay(ms, undefined, { ref: false }) };
}
