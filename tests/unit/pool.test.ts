import { describe, expect, it } from 'vitest';
import { mapPool } from '../../lib/pool.js';

describe('mapPool', () => {
  it('keeps the input order and never runs more than the limit at once', async () => {
    let active = 0;
    let peak = 0;
    const results = await mapPool([30, 10, 20, 5, 1], 2, async (ms) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, ms));
      active--;
      return ms * 2;
    });
    expect(results.map((r) => (r?.status === 'fulfilled' ? r.value : null))).toEqual([60, 20, 40, 10, 2]);
    expect(peak).toBe(2);
  });

  it('keeps going past a failing item', async () => {
    const results = await mapPool([1, 2, 3], 1, async (n) => {
      if (n === 2) throw new Error('two');
      return n;
    });
    expect(results.map((r) => r?.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('starts nothing more once told to stop and leaves the rest undefined', async () => {
    let started = 0;
    const results = await mapPool(
      [1, 2, 3, 4],
      1,
      async (n) => {
        started++;
        return n;
      },
      () => started < 2,
    );
    expect(started).toBe(2);
    expect(results.slice(2)).toEqual([undefined, undefined]);
  });
});
