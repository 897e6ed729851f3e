import type { Clock } from '../clock.js';
import { ClaimNotHeldError } from './errors.js';
import { expiryOf, isExpired } from './expiry.js';
import type { CertificateMemory, Claim, ExportFailure, OwnedValue, StateStore } from './types.js';

type ValueKey = Pick<OwnedValue, 'name' | 'type' | 'value'>;

interface HeldClaim extends Claim {
  expiresAtMs: number;
}

const valueKey = (v: ValueKey): string => JSON.stringify([v.name, v.type, v.value]);

/**
 * The state store of one process: for unit tests, and for a run without a table. Same rules as
 * the DynamoDB store (claims are exclusive, expiry follows `clock`, what goes in and comes out
 * is copied), but nothing is shared with other processes.
 */
export class MemoryStateStore implements StateStore {
  readonly #clock: Clock;
  readonly #owned = new Map<string, OwnedValue>();
  readonly #memories = new Map<string, CertificateMemory>();
  readonly #claims = new Map<string, HeldClaim>();
  readonly #sightings = new Map<string, number>();
  readonly #exportFailures = new Map<string, ExportFailure>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  async ownedAt(names: readonly string[]): Promise<OwnedValue[]> {
    const wanted = new Set(names);
    return [...this.#owned.values()].filter((v) => wanted.has(v.name)).map((v) => ({ ...v }));
  }

  async allOwned(): Promise<OwnedValue[]> {
    return [...this.#owned.values()].map((v) => ({ ...v }));
  }

  async own(values: readonly OwnedValue[]): Promise<void> {
    for (const value of values) {
      const key = valueKey(value);
      if (!this.#owned.has(key)) this.#owned.set(key, { ...value });
    }
  }

  async disown(values: readonly ValueKey[]): Promise<void> {
    for (const value of values) this.#owned.delete(valueKey(value));
  }

  async memories(certificateIds: readonly string[]): Promise<Map<string, CertificateMemory>> {
    const found = new Map<string, CertificateMemory>();
    for (const id of certificateIds) {
      const memory = this.#memories.get(id);
      if (memory) found.set(id, { ...memory });
    }
    return found;
  }

  async remember(memories: readonly CertificateMemory[]): Promise<void> {
    for (const memory of memories) this.#memories.set(memory.certificateId, { ...memory });
  }

  async forget(certificateIds: readonly string[]): Promise<void> {
    for (const id of certificateIds) this.#memories.delete(id);
  }

  async claim(key: string, owner: string, options: { ttlMs: number }): Promise<boolean> {
    const now = this.#clock.now();
    const expiresAtMs = expiryOf(now, options.ttlMs);
    const held = this.#claims.get(key);
    if (held && !held.released && !isExpired(held.expiresAtMs, now)) {
      // The holder asking again (a retried call) keeps it; anyone else, or a done claim, is refused.
      if (held.owner !== owner || held.done) return false;
    }
    this.#claims.set(key, { key, owner, at: now, expiresAtMs });
    return true;
  }

  async complete(key: string, owner: string, result: string): Promise<void> {
    const held = this.#claims.get(key);
    if (!held || held.owner !== owner || held.released) {
      throw new ClaimNotHeldError(key, owner, 'complete');
    }
    held.done = { at: this.#clock.now(), result };
  }

  async release(key: string, owner: string, reason: string): Promise<void> {
    const held = this.#claims.get(key);
    if (!held || held.owner !== owner || held.done) throw new ClaimNotHeldError(key, owner, 'release');
    held.released = { at: this.#clock.now(), reason };
  }

  async claimOf(key: string): Promise<Claim | undefined> {
    const held = this.#claims.get(key);
    if (!held || isExpired(held.expiresAtMs, this.#clock.now())) return undefined;
    const { expiresAtMs: _, ...claim } = held;
    return {
      ...claim,
      ...(claim.done ? { done: { ...claim.done } } : {}),
      ...(claim.released ? { released: { ...claim.released } } : {}),
    };
  }

  async firstSighting(signature: string, options: { ttlMs: number }): Promise<boolean> {
    const now = this.#clock.now();
    const expiresAtMs = expiryOf(now, options.ttlMs);
    for (const [seen, until] of this.#sightings) if (isExpired(until, now)) this.#sightings.delete(seen);
    if (this.#sightings.has(signature)) return false;
    this.#sightings.set(signature, expiresAtMs);
    return true;
  }

  async exportFailures(): Promise<Map<string, ExportFailure>> {
    return new Map([...this.#exportFailures].map(([id, failure]) => [id, { ...failure }]));
  }

  async recordExportFailure(failure: ExportFailure): Promise<void> {
    this.#exportFailures.set(failure.certificateId, { ...failure });
  }

  async clearExportFailure(certificateId: string): Promise<void> {
    this.#exportFailures.delete(certificateId);
  }
}
