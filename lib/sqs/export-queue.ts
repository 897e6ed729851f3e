import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { CertificateIdSchema } from '../events.js';

/** One export request on the queue. */
export const ExportMessageSchema = z.strictObject({ certificateId: CertificateIdSchema });
type ExportMessage = z.infer<typeof ExportMessageSchema>;

/** SendMessageBatch takes at most 10 entries. */
const BATCH_SIZE = 10;

export interface EnqueueResult {
  queued: string[];
  failed: Array<{ certificateId: string; reason: string }>;
}

/** Sends one message per certificate id, ten to a SendMessageBatch call. */
export async function enqueueExports(
  client: SQSClient,
  queueUrl: string,
  certificateIds: readonly string[],
): Promise<EnqueueResult> {
  const result: EnqueueResult = { queued: [], failed: [] };
  const ids = [...new Set(certificateIds)];
  for (let start = 0; start < ids.length; start += BATCH_SIZE) {
    const batch = ids.slice(start, start + BATCH_SIZE);
    try {
      const output = await client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((certificateId, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify({ certificateId } satisfies ExportMessage),
          })),
        }),
      );
      for (const ok of output.Successful ?? []) {
        const id = batch[Number(ok.Id)];
        if (id !== undefined) result.queued.push(id);
      }
      for (const failure of output.Failed ?? []) {
        const id = batch[Number(failure.Id)];
        if (id !== undefined)
          result.failed.push({
            certificateId: id,
            reason: `${failure.Code}: ${failure.Message ?? ''}`.trim(),
          });
      }
    } catch (error) {
      const reason = `${(error as Error).name}: ${(error as Error).message}`;
      for (const id of batch) result.failed.push({ certificateId: id, reason });
    }
  }
  return result;
}
