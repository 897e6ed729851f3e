import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { createBaseDeps } from '../lib/deps/base.js';
import { createMetrics, flushMetrics } from '../lib/deps/metrics.js';
import { createSyncDeps } from '../lib/deps/sync.js';
import { parseSyncEvent } from '../lib/events.js';
import { runSync, summarizeSyncReport } from '../lib/sync.js';
import { endFullRunClaim } from '../lib/webhook.js';

// Built once per cold start; a configuration problem fails the init, loudly.
const base = createBaseDeps(loadConfig(process.env), { write: (line) => process.stdout.write(`${line}\n`) });
const metrics = createMetrics();
const deps = createSyncDeps(base, { metrics });

/** Time kept back for writing records, waiting for INSYNC and answering, once reading stops. */
const RESERVE_MS = 60_000;
const RESERVE_SHARE = 0.3;

/** EventBridge schedule or direct invoke `{certificateIds?}`: one sync run. */
export async function handler(event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>) {
  const { fullRunClaim, ...request } = parseSyncEvent(event);
  const remaining = context.getRemainingTimeInMillis();
  const deadline = Date.now() + remaining - Math.min(RESERVE_MS, remaining * RESERVE_SHARE);
  // A full run the webhook started gives its claim back, so the next webhook call starts another.
  const report = await runSync(deps, { ...request, deadline }).finally(() => {
    flushMetrics(metrics);
    return fullRunClaim && endFullRunClaim(deps.state, fullRunClaim, base.logger);
  });
  const summary = summarizeSyncReport(report);
  base.logger.info('sync summary', summary);
  // A step that stopped every certificate fails the invocation, so the errors alarm sees it.
  if (report.fatal) throw new Error(`sync could not run: ${report.fatal.reason}`);
  return summary;
}
