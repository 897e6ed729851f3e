import { describe, expect, it } from 'vitest';
import type { Clock } from '../../lib/clock.js';
import { Pacer } from '../../lib/pacer.js';

/** A clock whose sleeps can overshoot, like timers on a busy event loop. */
class LateClock implements Clock {
  time = 0;
  overshoot: number[] = [];
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.time += ms + (this.overshoot.shift() ?? 0);
  }
}

async function grantTimes(pacer: Pacer, clock: LateClock, action: string, n: number): Promise<number[]> {
  const times: number[] = [];
  await Promise.all(
    Array.from({ length: n }, () => pacer.acquire(action).then(() => times.push(clock.now()))),
  );
  return times;
}

function maxInAnyWindow(times: number[], windowMs = 1000): number {
  return Math.max(...times.map((t) => times.filter((u) => u >= t && u - t < windowMs).length));
}

describe('Pacer', () => {
  it('spaces grants of one action evenly at the rate', async () => {
    const clock = new LateClock();
    const times = await grantTimes(new Pacer({ rate: 10, clock }), clock, 'A', 5);
    expect(times).toEqual([0, 100, 200, 300, 400]);
  });

  it('never lets rate + 1 requests into one second, even when a wake-up comes late', async () => {
    const clock = new LateClock();
    // The second grant wakes 60 ms late; with fixed slots the twelfth would follow it by under a second.
    clock.overshoot = [0, 60];
    const times = await grantTimes(new Pacer({ rate: 10, clock, windowSafetyMs: 15 }), clock, 'A', 40);
    expect(maxInAnyWindow(times)).toBeLessThanOrEqual(10);
    for (let i = 10; i < times.length; i++) {
      expect((times[i] as number) - (times[i - 10] as number)).toBeGreaterThanOrEqual(1015);
    }
  });

  it('keeps close to the rate over a long run', async () => {
    const clock = new LateClock();
    const times = await grantTimes(new Pacer({ rate: 10, clock }), clock, 'A', 301);
    // 300 intervals at 10/s, plus the default 50 ms of safety per second of requests.
    expect(times.at(-1)).toBeLessThanOrEqual(30_000 * 1.05);
  });

  it('gives each action its own budget', async () => {
    const clock = new LateClock();
    const pacer = new Pacer({ rate: 10, clock });
    await grantTimes(pacer, clock, 'A', 3);
    const busy = clock.now();
    await pacer.acquire('B');
    expect(clock.now()).toBe(busy);
    await pacer.acquire('A');
    expect(clock.now()).toBe(busy + 100);
  });

  it('applies a per-action rate', async () => {
    const clock = new LateClock();
    const times = await grantTimes(new Pacer({ rate: 10, perAction: { Fast: 20 }, clock }), clock, 'Fast', 3);
    expect(times).toEqual([0, 50, 100]);
  });
});

describe('Pacer with an abort signal', () => {
  it('gives up waiting turns at once and spends no slot on them', async () => {
    const clock = new LateClock();
    const pacer = new Pacer({ rate: 10, clock });
    const controller = new AbortController();
    await pacer.acquire('A');
    const waiting = [pacer.acquire('A', controller.signal), pacer.acquire('A', controller.signal)];
    controller.abort(new Error('closed'));
    await expect(Promise.all(waiting)).rejects.toThrow('closed');
    const before = clock.now();
    await pacer.acquire('A');
    // The next caller is the second grant's successor: 100 ms after the first, not 300.
    expect(clock.now() - before).toBeLessThanOrEqual(100);
  });
});

describe('Pacer.nextSlot', () => {
  it('is now for an action nobody has asked for', () => {
    const clock = new LateClock();
    clock.time = 5_000;
    const pacer = new Pacer({ rate: 10, clock });

    expect(pacer.nextSlot('A')).toBe(5_000);
  });

  it('lies one interval after the last grant plus one per turn still waiting', async () => {
    const clock = new LateClock();
    const pacer = new Pacer({ rate: 10, clock });
    await pacer.acquire('A');
    const queued = [pacer.acquire('A'), pacer.acquire('A')];

    // Two turns wait (the first of them until 100 ms): the next would come at 300 ms.
    expect(pacer.nextSlot('A')).toBe(300);
    expect(pacer.nextSlot('B')).toBe(0);
    await Promise.all(queued);
    expect(pacer.nextSlot('A')).toBe(300);
  });
});

describe('Pacer and one signal shared by many turns', () => {
  it('adds one abort listener to the signal however many turns wait on it', async () => {
    const clock = new LateClock();
    const pacer = new Pacer({ rate: 10, clock });
    const controller = new AbortController();
    let listeners = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      if (args[0] === 'abort') listeners++;
      add(...args);
    }) as typeof add;

    const turns = Array.from({ length: 30 }, () => pacer.acquire('A', controller.signal));
    controller.abort(new Error('closed'));

    await expect(Promise.all(turns)).rejects.toThrow('closed');
    expect(listeners).toBe(1);
  });
});
