import type { Clock } from '../clock.js';

export interface PacerOptions {
  /** Requests per second for every action without its own entry. */
  rate: number;
  /** Per-action overrides (e.g. CheckCertificateChain allows 20/s). */
  perAction?: Readonly<Record<string, number>>;
  /**
   * Extra spacing as a fraction of the interval. Requests leave evenly spaced but arrive with
   * network jitter; a few percent keeps a sliding one-second window on the server from ever
   * seeing rate + 1.
   */
  margin?: number;
  clock: Clock;
}

/**
 * Spaces the start of requests evenly, per action: at rate r, one slot every 1000/r ms. Callers
 * sharing an action share its budget; slots are handed out in call order. A long run therefore
 * never bursts past what a sliding one-second window allows.
 */
export class Pacer {
  readonly #next = new Map<string, number>();
  readonly #options: PacerOptions;

  constructor(options: PacerOptions) {
    if (!(options.rate > 0)) throw new RangeError('rate must be positive');
    this.#options = options;
  }

  intervalMs(action: string): number {
    const rate = this.#options.perAction?.[action] ?? this.#options.rate;
    return (1000 / rate) * (1 + (this.#options.margin ?? 0.03));
  }

  /** Resolves when the caller may send its request for `action`. */
  async acquire(action: string): Promise<void> {
    const now = this.#options.clock.now();
    const slot = Math.max(now, this.#next.get(action) ?? 0);
    this.#next.set(action, slot + this.intervalMs(action));
    if (slot > now) await this.#options.clock.sleep(slot - now);
  }
}
