import type { Clock } from '../../lib/clock.js';

/** A clock whose sleeps return at once and move time forward, recording each wait. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(public time = Date.UTC(2026, 0, 15, 12, 0, 0)) {}
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += Math.max(0, ms);
  }
}
