import type { Clock } from './clock.js';

export interface PacerOptions {
  /** Requests per second for every action without its own entry. */
  rate: number;
  /** Per-action overrides (e.g. CheckCertificateChain allows 20/s). */
  perAction?: Readonly<Record<string, number>>;
  /**
   * Extra time, in ms, between a request and the one `rate` places after it. Requests arrive
   * with network jitter; this keeps a sliding one-second window on the server from ever seeing
   * rate + 1.
   */
  windowSafetyMs?: number;
  clock: Clock;
}

interface ActionState {
  /** When the last request of this action actually left. */
  last: number;
  /** When the last `rate` requests actually left, oldest first. */
  window: number[];
  /** Grants are handed out one after another, in call order. */
  tail: Promise<void>;
  /** Turns asked for and not granted yet. */
  waiting: number;
}

const WINDOW_MS = 1000;
const DEFAULT_WINDOW_SAFETY_MS = 50;

/**
 * Spaces requests evenly, per action: at rate r, one every 1000/r ms, in call order; callers
 * sharing an action share its budget. Each grant also waits until the request r places earlier
 * left more than a second ago, measured on the times requests really left: a caller woken late
 * by a busy event loop therefore never squeezes r + 1 requests into one second, which even
 * spacing alone does not guarantee.
 */
export class Pacer {
  readonly #states = new Map<string, ActionState>();
  readonly #options: PacerOptions;

  constructor(options: PacerOptions) {
    if (!(options.rate > 0)) throw new RangeError('rate must be positive');
    this.#options = options;
  }

  rate(action: string): number {
    return this.#options.perAction?.[action] ?? this.#options.rate;
  }

  intervalMs(action: string): number {
    return 1000 / this.rate(action);
  }

  /**
   * When a request for `action` asked for now would be granted, about: after the turns already
   * waiting, one interval apart. Lets a caller with a choice of actions take the freer budget.
   */
  nextSlot(action: string): number {
    const now = this.#options.clock.now();
    const state = this.#states.get(action);
    if (!state) return now;
    const interval = this.intervalMs(action);
    return Math.max(now, state.last + interval) + state.waiting * interval;
  }

  /**
   * Resolves when the caller may send its request for `action`. With `signal`, an abort rejects
   * at once, and a turn not yet reached is given up without using a slot.
   */
  acquire(action: string, signal?: AbortSignal): Promise<void> {
    let state = this.#states.get(action);
    if (!state) {
      state = { last: Number.NEGATIVE_INFINITY, window: [], tail: Promise.resolve(), waiting: 0 };
      this.#states.set(action, state);
    }
    const current = state;
    current.waiting++;
    const turn = current.tail
      .then(() => (signal?.aborted ? undefined : this.#grant(action, current)))
      .finally(() => {
        current.waiting--;
      });
    current.tail = turn;
    if (!signal) return turn;
    if (signal.aborted) return Promise.reject(signal.reason);
    // A queue of turns may all wait on one signal: a single listener per signal serves them all.
    return new Promise<void>((resolve, reject) => {
      const unsubscribe = onAbort(signal, reject);
      turn.then(() => {
        unsubscribe();
        resolve();
      }, reject);
    });
  }

  async #grant(action: string, state: ActionState): Promise<void> {
    const { clock } = this.#options;
    const capacity = Math.max(1, Math.floor(this.rate(action)));
    const now = clock.now();
    let slot = Math.max(now, state.last + this.intervalMs(action));
    const oldest = state.window.length >= capacity ? state.window[state.window.length - capacity] : undefined;
    if (oldest !== undefined)
      slot = Math.max(slot, oldest + WINDOW_MS + (this.#options.windowSafetyMs ?? DEFAULT_WINDOW_SAFETY_MS));
    if (slot > now) await clock.sleep(slot - now);
    const sent = clock.now();
    state.last = sent;
    state.window.push(sent);
    if (state.window.length > capacity) state.window.shift();
  }
}

/** The rejections waiting on each signal, so a signal carries one abort listener however many turns wait on it. */
const aborters = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>();

function onAbort(signal: AbortSignal, reject: (reason: unknown) => void): () => void {
  let waiting = aborters.get(signal);
  if (!waiting) {
    const set = new Set<(reason: unknown) => void>();
    waiting = set;
    aborters.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        for (const fail of set) fail(signal.reason);
        set.clear();
      },
      { once: true },
    );
  }
  waiting.add(reject);
  const own = waiting;
  return () => {
    own.delete(reject);
  };
}
