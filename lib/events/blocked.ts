import type { Clock } from '../clock.js';
import { mapPool } from '../pool.js';
import type { StateStore } from '../state/types.js';
import type { SyncReport } from '../sync-types.js';

/*
 * Since when a certificate has been blocked, for the BlockedForMoreThanAnHour metric: a claim
 * `blocked-since#<certificateId>` taken the first time a run sees it blocked, whose time is that
 * moment. The claim is never completed, and has one owner for every run, so it is read (never
 * re-taken, which would reset its time) while the certificate stays blocked. Nothing gives it
 * back once the certificate moves on (that would cost a read per certificate per run): it expires
 * after 30 days, longer than an order waits for validation. A certificate blocked again within
 * those days counts from the first time.
 */

const BLOCKED_SINCE_TTL_MS = 30 * 24 * 3600 * 1000;
const OWNER = 'blocked-since';

const blockedSinceKey = (certificateId: string): string => `blocked-since#${certificateId}`;

/** Sets `blockedSince` on every blocked certificate of the report; rejects when the table cannot be read or written. */
export async function trackBlocked(
  state: Pick<StateStore, 'claim' | 'claimOf'>,
  report: SyncReport,
  clock: Clock,
): Promise<void> {
  const blocked = report.certificates.filter((c) => c.outcome === 'blocked' && c.certificateId);
  const results = await mapPool(blocked, 10, async (c) => {
    const key = blockedSinceKey(c.certificateId);
    const held = await state.claimOf(key);
    if (held && !held.released) return held.at;
    const now = clock.now();
    await state.claim(key, OWNER, { ttlMs: BLOCKED_SINCE_TTL_MS });
    return now;
  });
  blocked.forEach((c, index) => {
    const result = results[index];
    if (result?.status === 'fulfilled') c.blockedSince = new Date(result.value).toISOString();
  });
  const failure = results.find((r) => r?.status === 'rejected');
  if (failure?.status === 'rejected') throw failure.reason;
}
