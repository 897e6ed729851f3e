import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { createBaseDeps } from '../lib/deps/base.js';
import { createExportDeps } from '../lib/deps/export.js';
import { createMetrics, flushMetrics } from '../lib/deps/metrics.js';
import { createObserver } from '../lib/deps/observer.js';
import { exportCertificates } from '../lib/export.js';
import { exportSqsBatch, parseExportEvent } from '../lib/export-batch.js';

const base = createBaseDeps(loadConfig(process.env), { write: (line) => process.stdout.write(`${line}\n`) });
const metrics = createMetrics();
const deps = createExportDeps(base, { observer: createObserver(base, { metrics }) });

/** Time kept back to answer once exports stop starting. */
const RESERVE_MS = 10_000;

/** SQS batch (partial batch failures) or direct invoke `{certificateIds}`. */
export async function handler(event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>) {
  const parsed = parseExportEvent(event);
  const remaining = context.getRemainingTimeInMillis();
  const deadline = Date.now() + remaining - Math.min(RESERVE_MS, remaining * 0.3);
  if (parsed.kind === 'sqs') {
    const { response, report } = await exportSqsBatch(deps, parsed.records, deadline).finally(() =>
      flushMetrics(metrics),
    );
    base.logger.info('export summary', {
      ...report.totals,
      batchItemFailures: response.batchItemFailures.length,
    });
    return response;
  }
  const report = await exportCertificates(deps, { certificateIds: parsed.certificateIds, deadline }).finally(
    () => flushMetrics(metrics),
  );
  base.logger.info('export summary', report.totals);
  return report;
}
