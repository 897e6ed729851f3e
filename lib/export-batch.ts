import { ExportInvokeSchema, SqsEventSchema, type SqsRecord } from './events.js';
import { type ExportDeps, type ExportReport, exportCertificates } from './export.js';
import { ExportMessageSchema } from './sqs/export-queue.js';

export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/**
 * An SQS batch of export requests: exports the certificates once each and returns, for partial
 * batch failure reporting, only the messages whose export failed in a way a retry can fix (and
 * messages that could not be read, so they reach the dead-letter queue).
 */
export async function exportSqsBatch(
  deps: ExportDeps,
  records: SqsRecord[],
  deadline?: number,
): Promise<{ response: SqsBatchResponse; report: ExportReport }> {
  const failures: string[] = [];
  const messagesById = new Map<string, string[]>();
  for (const record of records) {
    let parsed: ReturnType<typeof ExportMessageSchema.safeParse>;
    try {
      parsed = ExportMessageSchema.safeParse(JSON.parse(record.body));
    } catch {
      parsed = ExportMessageSchema.safeParse(undefined);
    }
    if (!parsed.success) {
      deps.logger.error('unreadable export message', { messageId: record.messageId });
      failures.push(record.messageId);
      continue;
    }
    const id = parsed.data.certificateId;
    messagesById.set(id, [...(messagesById.get(id) ?? []), record.messageId]);
  }
  const ids = [...messagesById.keys()];
  const report = await exportCertificates(deps, {
    certificateIds: ids,
    ...(deadline !== undefined ? { deadline } : {}),
  });
  for (const entry of report.certificates) {
    // An ACM import that failed is retried too: the secret is then current, and only ACM is done again.
    if (entry.result === 'failed' || entry.result === 'deferred' || entry.acm?.result === 'failed') {
      failures.push(...(messagesById.get(entry.certificateId) ?? []));
    }
  }
  return { response: { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) }, report };
}

/** The export function's event: an SQS batch, or a direct invoke `{certificateIds}`. */
export function parseExportEvent(
  event: unknown,
): { kind: 'sqs'; records: SqsRecord[] } | { kind: 'invoke'; certificateIds: string[] } {
  const sqs = SqsEventSchema.safeParse(event);
  if (sqs.success) return { kind: 'sqs', records: sqs.data.Records };
  const invoke = ExportInvokeSchema.safeParse(event);
  if (invoke.success) return { kind: 'invoke', certificateIds: invoke.data.certificateIds };
  throw new TypeError('unsupported export event: expected an SQS batch or {"certificateIds": [...]}');
}
