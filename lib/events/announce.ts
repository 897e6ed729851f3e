import { randomUUID } from 'node:crypto';
import { errorMessage } from '../error-text.js';
import type { Logger } from '../logger.js';
import { mapPool } from '../pool.js';
import type { StateStore } from '../state/types.js';
import type { BusEvent, PutOutcome } from './event-bus.js';
import type { Announcement, Transition } from './types.js';

/** State-table calls in flight at once (DynamoDB takes far more; this keeps a run's burst small). */
const STATE_CONCURRENCY = 10;

export interface AnnounceDeps {
  state: Pick<StateStore, 'claim' | 'complete' | 'release' | 'claimOf'>;
  /** PutEvents for these events, one outcome each, in order (event-bus.ts). */
  send: (events: BusEvent[]) => Promise<PutOutcome[]>;
  logger: Logger;
  /** The owner of this run's claims (random by default). */
  newOwner?: () => string;
}

/**
 * Announces each transition once across every run: a claim on its key in the state table, the
 * event sent, the claim completed with the event id. A transition whose claim another run holds
 * or completed is left alone. An event PutEvents did not take gives its claim back, so a later
 * run that sees the same transition sends it. Never rejects: what failed is in the answer.
 */
export async function announce(
  deps: AnnounceDeps,
  transitions: readonly Transition[],
): Promise<Announcement[]> {
  const unique = [...new Map(transitions.map((t) => [t.claimKey, t])).values()];
  if (unique.length === 0) return [];
  const owner = (deps.newOwner ?? randomUUID)();
  const failedToClaim: Announcement[] = [];
  const claims = await mapPool(unique, STATE_CONCURRENCY, async (t) => {
    // A read first: "done long ago" is the common answer, and a refused conditional write costs more.
    const held = await deps.state.claimOf(t.claimKey);
    if (held && !held.released) return false;
    return deps.state.claim(t.claimKey, owner, { ttlMs: t.ttlMs });
  });
  const claimed = unique.filter((t, index) => {
    const outcome = claims[index];
    if (outcome?.status === 'rejected') {
      const reason = `state table: ${errorMessage(outcome.reason)}`;
      failedToClaim.push({ ...about(t), result: 'failed', reason });
      deps.logger.warn('event not sent: its claim could not be read or written', {
        claimKey: t.claimKey,
        error: reason,
      });
    }
    return outcome?.status === 'fulfilled' && outcome.value;
  });
  if (claimed.length === 0) return failedToClaim;

  const outcomes = await deps.send(claimed.map((t) => ({ detailType: t.detailType, detail: t.detail })));
  const announced = claimed.map((t, index): Announcement => {
    const outcome = outcomes[index] ?? { ok: false, reason: 'not sent' };
    return outcome.ok
      ? { ...about(t), result: 'sent', eventId: outcome.eventId }
      : { ...about(t), result: 'failed', reason: outcome.reason };
  });
  await mapPool(claimed, STATE_CONCURRENCY, async (t, index) => {
    const a = announced[index] as Announcement;
    try {
      if (a.result === 'sent') await deps.state.complete(t.claimKey, owner, a.eventId ?? '');
      else await deps.state.release(t.claimKey, owner, a.reason ?? 'not sent');
    } catch (error) {
      // A claim left held stands until it expires: the event was sent (complete failed) or will
      // not be sent again before then (release failed). The log line is the trace of either.
      deps.logger.warn(`event claim could not be ${a.result === 'sent' ? 'completed' : 'given back'}`, {
        claimKey: t.claimKey,
        error: errorMessage(error),
      });
    }
  });
  for (const a of announced) {
    if (a.result === 'failed')
      deps.logger.warn('event not sent; a later run that sees it again sends it', {
        transition: a.transition,
        certificateId: a.certificateId,
        error: a.reason,
      });
  }
  return [...announced, ...failedToClaim];
}

function about(t: Transition): Pick<Announcement, 'transition' | 'certificateId'> {
  return { transition: t.detail.transition, certificateId: t.detail.certificateId };
}
