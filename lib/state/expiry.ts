/*
 * When claims and webhook sightings expire: the one definition both stores use. Expiry is judged
 * by the caller's clock, never by DynamoDB's TTL sweep, which deletes expired items only within
 * a day or two of their time (and not at all in moto): an item past its time still in the table
 * counts as gone.
 */

/** Epoch ms at which something recorded `now` for `ttlMs` expires; refuses a ttl that is not a positive number. */
export function expiryOf(now: number, ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  }
  return now + ttlMs;
}

/** Expired from the very millisecond it expires. */
export function isExpired(expiresAtMs: number, now: number): boolean {
  return expiresAtMs <= now;
}

/** The TTL attribute DynamoDB reads: epoch seconds, rounded up so the sweep never comes early. */
export function ttlSeconds(expiresAtMs: number): number {
  return Math.ceil(expiresAtMs / 1000);
}
