import { z } from 'zod';

/** A Tencent certificate id as the API prints them (8 characters today; a little room for change). */
export const CertificateIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a Tencent certificate id');

/** EventBridge scheduled event (the sync schedule). */
const ScheduledEventSchema = z.object({
  'detail-type': z.literal('Scheduled Event'),
  source: z.literal('aws.events'),
  time: z.string().optional(),
  id: z.string().optional(),
});

/** Direct invoke of the sync function (the webhook's full-run hand-off, an operator's test). */
const SyncInvokeSchema = z.strictObject({
  certificateIds: z.array(CertificateIdSchema).min(1).max(1000).optional(),
  /** The owner of the webhook's full-run claim, given back when the run ends. */
  fullRunClaim: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/)
    .optional(),
});

const SyncEventSchema = z.union([ScheduledEventSchema, SyncInvokeSchema]);

/** What a sync event asks for: every pending certificate, or the ids named (and a claim to end). */
export function parseSyncEvent(event: unknown): { certificateIds?: string[]; fullRunClaim?: string } {
  const parsed = SyncEventSchema.safeParse(event ?? {});
  if (!parsed.success) {
    throw new TypeError(
      `unsupported sync event: expected an EventBridge scheduled event or {"certificateIds": [...]} (${parsed.error.issues
        .map((issue) => `${issue.path.join('.') || 'event'}: ${issue.message}`)
        .join('; ')})`,
    );
  }
  if ('source' in parsed.data) return {};
  const { certificateIds, fullRunClaim } = parsed.data;
  return { ...(certificateIds ? { certificateIds } : {}), ...(fullRunClaim ? { fullRunClaim } : {}) };
}

/** Direct invoke of the export function. */
export const ExportInvokeSchema = z.strictObject({
  certificateIds: z.array(CertificateIdSchema).min(1).max(1000),
});

/** The parts of an SQS record the export function reads. */
const SqsRecordSchema = z.object({
  messageId: z.string(),
  body: z.string(),
  eventSource: z.literal('aws:sqs'),
});

export const SqsEventSchema = z.object({ Records: z.array(SqsRecordSchema).min(1) });
export type SqsRecord = z.infer<typeof SqsRecordSchema>;

/** The parts of an API Gateway HTTP API (payload v2.0) event the webhook reads. */
export const HttpApiEventSchema = z.object({
  version: z.literal('2.0'),
  rawPath: z.string(),
  requestContext: z.object({ http: z.object({ method: z.string() }) }),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean(),
});
