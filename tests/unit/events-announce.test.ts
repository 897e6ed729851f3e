import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { announce } from '../../lib/events/announce.js';
import { type BusEvent, type PutOutcome, putEvents } from '../../lib/events/event-bus.js';
import { createRunObserver, NO_STATE_FOR_EVENTS } from '../../lib/events/observer.js';
import { transitionsOf } from '../../lib/events/transitions.js';
import type { Transition } from '../../lib/events/types.js';
import { silentLogger } from '../../lib/logger.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { certificate, issued, NOW, record, syncReport } from '../helpers/reports.js';

/* Each transition announced once, through claims in the state table; what PutEvents refuses is sent again later. */

const eventBridge = mockClient(EventBridgeClient);
let clock: FakeClock;
let state: MemoryStateStore;

/** A PutEvents stand-in: records what it is given, and answers with `answer` (all sent by default). */
function bus(answer: (event: BusEvent, call: number) => PutOutcome = () => ({ ok: true, eventId: 'e' })) {
  const calls: BusEvent[][] = [];
  return {
    calls,
    sent: () => calls.flat().map((e) => e.detailType),
    send: async (events: BusEvent[]) => {
      calls.push(events);
      return events.map((event) => answer(event, calls.length));
    },
  };
}

const report = syncReport([
  certificate({ records: [record({ action: 'created' })] }),
  certificate({
    certificateId: 'WElhM1Z2',
    outcome: 'blocked',
    records: [record({ action: 'conflict', reason: 'not ours' })],
  }),
  issued('soon0001', 7, {}, { result: 'created', versionId: 'v1' }),
]);
const transitions = (): Transition[] => transitionsOf(report, { now: NOW, renewBeforeDays: 30 });

beforeEach(() => {
  clock = new FakeClock(NOW);
  state = new MemoryStateStore(clock);
  eventBridge.reset();
});

describe('announce', () => {
  it('sends every transition of a report, and completes its claim with the event id', async () => {
    const eventBus = bus((_, call) => ({ ok: true, eventId: `event-${call}` }));

    const announced = await announce({ state, send: eventBus.send, logger: silentLogger }, transitions());

    expect(eventBus.sent()).toEqual([
      'Validation Records Written',
      'Certificate Blocked',
      'Certificate Issued',
      'Certificate Exported',
      'Certificate Expiring',
    ]);
    expect(announced.every((a) => a.result === 'sent')).toBe(true);
    expect(await state.claimOf('announce#soon0001#certificate-expiring')).toMatchObject({
      done: { result: 'event-1' },
    });
  });

  it('sends nothing the second time it is given the same report', async () => {
    const eventBus = bus();
    await announce({ state, send: eventBus.send, logger: silentLogger }, transitions());

    const again = await announce({ state, send: eventBus.send, logger: silentLogger }, transitions());

    expect(again).toEqual([]);
    expect(eventBus.calls).toHaveLength(1);
  });

  it('gives back the claim of an event PutEvents refused, so the next run sends it', async () => {
    const failing = bus((event) =>
      event.detailType === 'Certificate Blocked'
        ? { ok: false, reason: 'InternalFailure: try again' }
        : { ok: true, eventId: 'e' },
    );
    const first = await announce({ state, send: failing.send, logger: silentLogger }, transitions());
    const next = bus();

    const second = await announce({ state, send: next.send, logger: silentLogger }, transitions());

    expect(first).toContainEqual({
      transition: 'certificate-blocked',
      certificateId: 'WElhM1Z2',
      result: 'failed',
      reason: 'InternalFailure: try again',
    });
    expect(next.sent()).toEqual(['Certificate Blocked']);
    expect(second).toEqual([
      { transition: 'certificate-blocked', certificateId: 'WElhM1Z2', result: 'sent', eventId: 'e' },
    ]);
  });

  it('leaves alone a transition whose claim another run holds', async () => {
    const [first] = transitions();
    await state.claim(first?.claimKey as string, 'another-run', { ttlMs: 60_000 });
    const eventBus = bus();

    await announce({ state, send: eventBus.send, logger: silentLogger }, transitions());

    expect(eventBus.sent()).not.toContain('Validation Records Written');
    expect(eventBus.sent()).toHaveLength(4);
  });

  it('reports a transition whose claim the state table could not take as failed, and sends nothing for it', async () => {
    const broken = Object.assign(Object.create(state) as MemoryStateStore, {
      claimOf: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    });
    const eventBus = bus();

    const announced = await announce(
      { state: broken, send: eventBus.send, logger: silentLogger },
      transitions(),
    );

    expect(eventBus.calls).toEqual([]);
    expect(announced).toHaveLength(5);
    expect(announced[0]).toMatchObject({ result: 'failed', reason: expect.stringMatching(/^state table: /) });
  });
});

describe('putEvents', () => {
  const events = (n: number): BusEvent[] =>
    Array.from({ length: n }, (_, i) => ({
      detailType: 'Certificate Issued',
      detail: { certificateId: `c${i}` },
    }));

  it('sends at most ten entries per call, on the named bus, with the source tencent-ssl-sync', async () => {
    eventBridge.on(PutEventsCommand).callsFake(async (input: { Entries: unknown[] }) => ({
      FailedEntryCount: 0,
      Entries: input.Entries.map((_, i) => ({ EventId: `id-${i}` })),
    }));

    const outcomes = await putEvents(
      new EventBridgeClient({ region: 'us-east-1' }),
      'certs',
      events(23),
      clock,
    );

    const calls = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(calls.map((entries) => entries.length)).toEqual([10, 10, 3]);
    expect(calls[0]?.[0]).toEqual({
      EventBusName: 'certs',
      Source: 'tencent-ssl-sync',
      DetailType: 'Certificate Issued',
      Detail: '{"certificateId":"c0"}',
      Time: new Date(NOW),
    });
    expect(outcomes.every((o) => o.ok)).toBe(true);
  });

  it('sends again the entries PutEvents failed with ThrottlingException or InternalFailure, and only those', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: 'ok-0' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
          { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed' },
        ],
      })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'ok-1' }] });

    const outcomes = await putEvents(
      new EventBridgeClient({ region: 'us-east-1' }),
      'certs',
      events(3),
      clock,
    );

    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input.Entries?.map((e) => e.Detail)).toEqual(['{"certificateId":"c1"}']);
    expect(clock.sleeps).toEqual([200]);
    expect(outcomes).toEqual([
      { ok: true, eventId: 'ok-0' },
      { ok: true, eventId: 'ok-1' },
      { ok: false, reason: 'MalformedDetail: Detail is malformed' },
    ]);
  });

  it('gives up on an entry after three attempts', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    });

    const [outcome] = await putEvents(
      new EventBridgeClient({ region: 'us-east-1' }),
      'certs',
      events(1),
      clock,
    );

    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
    expect(clock.sleeps).toEqual([200, 400]);
    expect(outcome).toEqual({ ok: false, reason: 'InternalFailure: try again' });
  });

  it('fails every entry of a call that failed as a whole, without rejecting', async () => {
    const denied = Object.assign(new Error('not authorized to perform: events:PutEvents'), {
      name: 'AccessDeniedException',
    });
    eventBridge.on(PutEventsCommand).rejects(denied);

    const outcomes = await putEvents(
      new EventBridgeClient({ region: 'us-east-1' }),
      'certs',
      events(2),
      clock,
    );

    expect(outcomes).toEqual([
      {
        ok: false,
        reason: 'PutEvents failed: AccessDeniedException: not authorized to perform: events:PutEvents',
      },
      {
        ok: false,
        reason: 'PutEvents failed: AccessDeniedException: not authorized to perform: events:PutEvents',
      },
    ]);
  });

  it('starts a new call before 256 KB', async () => {
    eventBridge.on(PutEventsCommand).callsFake(async (input: { Entries: unknown[] }) => ({
      Entries: input.Entries.map(() => ({ EventId: 'x' })),
    }));
    const big = (i: number): BusEvent => ({
      detailType: 'Validation Records Written',
      detail: { pad: 'x'.repeat(100_000), i },
    });

    await putEvents(new EventBridgeClient({ region: 'us-east-1' }), 'certs', [big(0), big(1), big(2)], clock);

    expect(eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([
      2, 1,
    ]);
  });
});

describe('the run observer', () => {
  it('sends no event without a state table, and says so in the report', async () => {
    const eventBus = bus();
    const observer = createRunObserver({
      clock,
      logger: silentLogger,
      renewBeforeDays: 30,
      events: { busName: 'certs', send: eventBus.send },
    });

    const events = await observer.afterSync(report, { partial: false });

    expect(events).toEqual({ bus: 'certs', announced: [], off: NO_STATE_FOR_EVENTS });
    expect(eventBus.calls).toEqual([]);
  });

  it('sends no event for an idle run', async () => {
    const eventBus = bus();
    const observer = createRunObserver({
      clock,
      logger: silentLogger,
      renewBeforeDays: 30,
      state,
      events: { busName: 'certs', send: eventBus.send },
    });
    const idle = syncReport([certificate({ records: [record()] }), issued('T28vl4nl', 80)]);

    const events = await observer.afterSync(idle, { partial: false });

    expect(events).toEqual({ bus: 'certs', announced: [] });
    expect(eventBus.calls).toEqual([]);
  });

  it('remembers since when a certificate is blocked, across runs', async () => {
    const observer = createRunObserver({ clock, logger: silentLogger, renewBeforeDays: 30, state });
    const blocked = () =>
      syncReport([
        certificate({ outcome: 'blocked', records: [record({ action: 'conflict', reason: 'x' })] }),
      ]);
    const first = blocked();
    await observer.afterSync(first, { partial: false });
    clock.time += 2 * 3600 * 1000;
    const later = blocked();

    await observer.afterSync(later, { partial: false });

    expect(first.certificates[0]?.blockedSince).toBe(new Date(NOW).toISOString());
    expect(later.certificates[0]?.blockedSince).toBe(new Date(NOW).toISOString());
  });
});
