import { setTimeout as delay } from 'node:timers/promises';

/** Time as the core sees it: passed in so tests and the signer never depend on the wall clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => (ms > 0 ? delay(ms) : Promise.resolve()),
};
