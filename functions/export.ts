import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { exportCertificates } from '../lib/export.js';
import { exportSqsBatch, parseExportEvent } from '../lib/export-batch.js';
import { createRuntime } from '../lib/runtime.js';

const runtime = createRuntime(loadConfig(process.env), {
  write: (line) => process.stdout.write(`${line}\n`),
});

/** Time kept back to answer once exports stop starting. */
const RESERVE_MS = 10_000;

/** SQS batch (partial batch failures) or direct invoke `{certificateIds}`. */
export async function handler(event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>) {
  const parsed = parseExportEvent(event);
  const remaining = context.getRemainingTimeInMillis();
  const deadline = Date.now() + remaining - Math.min(RESERVE_MS, remaining * 0.3);
  if (parsed.kind === 'sqs') {
    const { response, report } = await exportSqsBatch(runtime.exportDeps(), parsed.records, deadline);
    runtime.logger.info('export summary', {
      ...report.totals,
      batchItemFailures: response.batchItemFailures.length,
    });
    return response;
  }
  const report = await exportCertificates(runtime.exportDeps(), {
    certificateIds: parsed.certificateIds,
    deadline,
  });
  runtime.logger.info('export summary', report.totals);
  return report;
}
