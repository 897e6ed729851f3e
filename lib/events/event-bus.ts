import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { Clock } from '../clock.js';
import { EVENT_SOURCE } from './types.js';

/**
 * How events are sent. PutEvents takes at most 10 entries and 256 KB per call, and answers 200
 * even when some entries failed: each failed entry carries its own ErrorCode. AWS names
 * `InternalFailure` and `ThrottlingException` as the ones worth sending again; the others
 * (AccessDeniedException, MalformedDetail, …) fail the same way every time. A call that fails as
 * a whole has already been retried by the SDK (standard mode, 3 attempts).
 */
const EVENT_POLICY = {
  maxEntriesPerCall: 10,
  maxBytesPerCall: 256 * 1024,
  /** Attempts per entry, the first included. */
  attempts: 3,
  /** Wait before the second attempt; doubled before each later one. */
  firstBackoffMs: 200,
  retryableCodes: new Set(['InternalFailure', 'ThrottlingException']) as ReadonlySet<string>,
} as const;

export interface BusEvent {
  detailType: string;
  /** Serialised as the event's `detail`: a JSON object. */
  detail: object;
}

export type PutOutcome = { ok: true; eventId: string } | { ok: false; reason: string };

/** The size AWS counts for an entry: its strings in UTF-8, the time as 14 bytes. */
function entrySize(entry: PutEventsRequestEntry): number {
  return (
    14 +
    [entry.Source, entry.DetailType, entry.Detail, entry.EventBusName, ...(entry.Resources ?? [])].reduce(
      (sum, text) => sum + (text ? Buffer.byteLength(text, 'utf8') : 0),
      0,
    )
  );
}

/** Positions of `entries` in calls of at most 10 entries and 256 KB each. */
function calls(entries: readonly PutEventsRequestEntry[], positions: readonly number[]): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const position of positions) {
    const size = entrySize(entries[position] as PutEventsRequestEntry);
    const full =
      current.length === EVENT_POLICY.maxEntriesPerCall || bytes + size > EVENT_POLICY.maxBytesPerCall;
    if (current.length > 0 && full) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(position);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * PutEvents for `events` on `busName` (source `tencent-ssl-sync`), in calls of at most 10
 * entries; entries failed for a reason a retry can fix are sent again, up to three attempts in
 * all. Answers one outcome per event, in order; never rejects.
 */
export async function putEvents(
  client: EventBridgeClient,
  busName: string,
  events: readonly BusEvent[],
  clock: Clock,
): Promise<PutOutcome[]> {
  const time = new Date(clock.now());
  const entries: PutEventsRequestEntry[] = events.map((event) => ({
    EventBusName: busName,
    Source: EVENT_SOURCE,
    DetailType: event.detailType,
    Detail: JSON.stringify(event.detail),
    Time: time,
  }));
  const outcomes: PutOutcome[] = events.map(() => ({ ok: false, reason: 'not sent' }));
  let pending = entries.map((_, position) => position);
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    const again: number[] = [];
    for (const batch of calls(entries, pending)) {
      let answer: PutEventsCommandOutput;
      try {
        answer = await client.send(
          new PutEventsCommand({ Entries: batch.map((p) => entries[p] as PutEventsRequestEntry) }),
        );
      } catch (error) {
        const reason = `PutEvents failed: ${(error as Error).name}: ${(error as Error).message}`;
        for (const position of batch) outcomes[position] = { ok: false, reason };
        continue;
      }
      batch.forEach((position, index) => {
        const result = answer.Entries?.[index];
        if (result?.EventId && !result.ErrorCode) {
          outcomes[position] = { ok: true, eventId: result.EventId };
          return;
        }
        const code = result?.ErrorCode ?? 'NoResult';
        outcomes[position] = {
          ok: false,
          reason: `${code}: ${result?.ErrorMessage ?? 'PutEvents gave no result for this entry'}`,
        };
        if (EVENT_POLICY.retryableCodes.has(code)) again.push(position);
      });
    }
    if (again.length === 0 || attempt >= EVENT_POLICY.attempts) break;
    await clock.sleep(EVENT_POLICY.firstBackoffMs * 2 ** (attempt - 1));
    pending = again;
  }
  return outcomes;
}
