import {
  type Change,
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { errorName } from '../aws-errors.js';
import type { Clock } from '../clock.js';
import { type Logger, silentLogger } from '../logger.js';

export interface TaggedChange<T> {
  /** Changes that stand or fall together (a DELETE as read and the CREATE that replaces it): never split. */
  changes: Change[];
  /** Carried through to the result so the caller knows which of its records each change belongs to. */
  tag: T;
}

export interface ApplyResult<T> {
  /** Accepted batches: Route53's change id (without `/change/`) and the tags of the changes in it. */
  submitted: Array<{ changeId: string; tags: T[] }>;
  /**
   * `changed`: Route53 refused the group because a record set is no longer as it was read (a
   * DELETE whose values differ or whose set is gone, a CREATE of a set that now exists): reading
   * it again and planning anew can succeed.
   */
  failed: Array<{ tag: T; reason: string; changed: boolean }>;
}

export interface ApplyOptions {
  /** ChangeBatch.Comment (Route53 allows up to 256 characters). */
  comment?: string;
  logger?: Logger;
}

/**
 * Sends `changes` to the zone in one ChangeResourceRecordSets call. Route53 applies a batch
 * atomically and rejects all of it with `InvalidChangeBatch` when any change is bad (a DELETE
 * whose set changed since it was read, a CREATE of a set that now exists), so a rejected batch
 * is split in halves, again and again, until the bad groups stand alone and every good one has
 * gone through; a group (one record set's DELETE and CREATE) is never split. Any other error
 * (AccessDenied, NoSuchHostedZone, throttling the SDK's retries did not overcome) fails the whole
 * batch it hit. An accepted change is never sent again.
 */
export async function applyChanges<T>(
  client: Route53Client,
  zoneId: string,
  changes: Array<TaggedChange<T>>,
  options: ApplyOptions = {},
): Promise<ApplyResult<T>> {
  const logger = options.logger ?? silentLogger;
  const result: ApplyResult<T> = { submitted: [], failed: [] };

  const submit = async (batch: Array<TaggedChange<T>>): Promise<void> => {
    try {
      const output = await client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: {
            ...(options.comment ? { Comment: options.comment } : {}),
            Changes: batch.flatMap((item) => item.changes),
          },
        }),
      );
      const changeId = bareChangeId(output.ChangeInfo?.Id ?? '');
      result.submitted.push({ changeId, tags: batch.map((item) => item.tag) });
      logger.info('Route53 accepted changes', { zoneId, changeId, changes: batch.length });
    } catch (error) {
      if (errorName(error) === 'InvalidChangeBatch' && batch.length > 1) {
        const middle = Math.ceil(batch.length / 2);
        logger.warn('Route53 rejected a change batch; splitting it to isolate the bad changes', {
          zoneId,
          changes: batch.length,
          reason: describeError(error),
        });
        await submit(batch.slice(0, middle));
        await submit(batch.slice(middle));
        return;
      }
      const reason = describeError(error);
      const changed = errorName(error) === 'InvalidChangeBatch' && CHANGED_SINCE_READ.test(reason);
      logger.warn('Route53 did not accept changes', { zoneId, changes: batch.length, reason });
      for (const item of batch) result.failed.push({ tag: item.tag, reason, changed });
    }
  };

  if (changes.length > 0) await submit(changes);
  return result;
}

/**
 * Route53's InvalidChangeBatch messages when a conditional change met a set that changed since
 * it was read: "Tried to delete resource record set [name='…', type='TXT'] but the values
 * provided do not match the current values" / "… but it was not found", and "Tried to create
 * resource record set […] but it already exists".
 */
const CHANGED_SINCE_READ =
  /Tried to (delete|create) resource record set .* but (the values provided do not match|it was not found|it already exists)/i;

/** `/change/C123` → `C123`; GetChange accepts either form. */
function bareChangeId(id: string): string {
  return id.replace(/^\/?change\//, '');
}

/**
 * `Name: message`, from the error Route53 returned. InvalidChangeBatch lists every problem in
 * `messages`. Only the name and message are used: nothing from the request or the credentials.
 */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `UnknownError: ${String(error)}`;
  const messages = (error as { messages?: unknown }).messages;
  const text =
    Array.isArray(messages) && messages.length > 0
      ? messages.filter((message) => typeof message === 'string').join('; ')
      : error.message;
  return `${error.name}: ${text || 'no message'}`;
}

export interface WaitOptions {
  clock: Clock;
  /** Give up after this long in all (default 2 minutes); Route53 usually reports INSYNC within 60 seconds. */
  timeoutMs?: number;
  /** Wait before the first GetChange (default 1 s), doubling after each round up to `maxDelayMs` (default 10 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  logger?: Logger;
}

const MIN_POLL_GAP_MS = 500;

const DEFAULT_WAIT = { timeoutMs: 120_000, initialDelayMs: 1_000, maxDelayMs: 10_000 } as const;

/**
 * Polls GetChange until every change is INSYNC or the time is up, waiting longer between rounds
 * (exponential backoff, bounded by `timeoutMs` in all). Only reads: nothing is resubmitted. A
 * change whose GetChange fails (after the SDK's retries) is no longer polled and stays pending.
 */
export async function waitForInsync(
  client: Route53Client,
  changeIds: string[],
  options: WaitOptions,
): Promise<{ insync: boolean; pending: string[] }> {
  const { clock } = options;
  const logger = options.logger ?? silentLogger;
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT.timeoutMs;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_WAIT.maxDelayMs;
  const deadline = clock.now() + timeoutMs;

  const ids = [...new Set(changeIds.filter((id) => id !== ''))];
  let pending = ids;
  const unreadable: string[] = [];
  let delay = Math.min(options.initialDelayMs ?? DEFAULT_WAIT.initialDelayMs, maxDelayMs);

  while (pending.length > 0) {
    const remaining = deadline - clock.now();
    if (remaining <= 0) break;
    await clock.sleep(Math.min(delay, remaining));
    // Back off, at least half a second apart even after an immediate first poll.
    delay = Math.min(Math.max(delay * 2, MIN_POLL_GAP_MS), maxDelayMs);

    const stillPending: string[] = [];
    for (const id of pending) {
      try {
        const output = await client.send(new GetChangeCommand({ Id: id }));
        if (output.ChangeInfo?.Status !== 'INSYNC') stillPending.push(id);
      } catch (error) {
        logger.warn('GetChange failed; no longer waiting for this change', {
          changeId: id,
          reason: describeError(error),
        });
        unreadable.push(id);
      }
    }
    pending = stillPending;
  }

  const notInsync = ids.filter((id) => unreadable.includes(id) || pending.includes(id));
  if (pending.length > 0)
    logger.warn('Route53 changes still pending at the deadline', { pending, timeoutMs });
  return { insync: notInsync.length === 0, pending: notInsync };
}
