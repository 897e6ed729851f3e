import {
  type Change,
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  InvalidChangeBatch,
  NoSuchHostedZone,
  Route53Client,
  Route53ServiceException,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { applyChanges, waitForInsync } from '../../lib/route53/apply.js';
import { FakeClock } from '../helpers/fake-clock.js';

const route53 = mockClient(Route53Client);
const client = new Route53Client({});

afterEach(() => {
  route53.reset();
});

const upsertTxt = (name: string, text: string): Change => ({
  Action: 'UPSERT',
  ResourceRecordSet: { Name: name, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: `"${text}"` }] },
});

const invalidChangeBatch = (messages: string[]) =>
  new InvalidChangeBatch({ message: messages.join(', '), messages, $metadata: { httpStatusCode: 400 } });

const changeInfo = (id: string, status: 'PENDING' | 'INSYNC' = 'PENDING') => ({
  ChangeInfo: { Id: `/change/${id}`, Status: status, SubmittedAt: new Date('2026-01-15T12:00:00Z') },
});

const sentBatches = () =>
  route53
    .commandCalls(ChangeResourceRecordSetsCommand)
    .map((call) => call.args[0].input.ChangeBatch?.Changes?.map((change) => change.ResourceRecordSet?.Name));

describe('applyChanges', () => {
  it('sends every change of the zone in one ChangeResourceRecordSets call', async () => {
    route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('C1'));
    const a = upsertTxt('_a.example.com', 'token-a');
    const b = upsertTxt('_b.example.com', 'token-b');

    const result = await applyChanges(
      client,
      'Z1',
      [
        { changes: [a], tag: 'record-a' },
        { changes: [b], tag: 'record-b' },
      ],
      { comment: 'tencent-ssl-sync: validation records' },
    );

    expect(route53.commandCalls(ChangeResourceRecordSetsCommand).map((call) => call.args[0].input)).toEqual([
      {
        HostedZoneId: 'Z1',
        ChangeBatch: { Comment: 'tencent-ssl-sync: validation records', Changes: [a, b] },
      },
    ]);
    expect(result).toEqual({ submitted: [{ changeId: 'C1', tags: ['record-a', 'record-b'] }], failed: [] });
  });

  it('omits the comment when none is given', async () => {
    route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('C1'));
    const a = upsertTxt('_a.example.com', 'token-a');

    await applyChanges(client, 'Z1', [{ changes: [a], tag: 1 }], {});

    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]?.args[0].input).toEqual({
      HostedZoneId: 'Z1',
      ChangeBatch: { Changes: [a] },
    });
  });

  it('makes no call when there is nothing to change', async () => {
    const result = await applyChanges(client, 'Z1', [], {});

    expect(result).toEqual({ submitted: [], failed: [] });
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
  });

  it('splits a rejected batch until the bad change is isolated and submits the good ones', async () => {
    const bad =
      "Tried to create resource record set [name='_bad.example.com.', type='CNAME'] but it already exists";
    let next = 0;
    route53.on(ChangeResourceRecordSetsCommand).callsFake((input: { ChangeBatch: { Changes: Change[] } }) => {
      const names = input.ChangeBatch.Changes.map((change) => change.ResourceRecordSet?.Name);
      if (names.includes('_bad.example.com')) throw invalidChangeBatch([bad]);
      next += 1;
      return changeInfo(`C${next}`);
    });

    const result = await applyChanges(
      client,
      'Z1',
      [
        { changes: [upsertTxt('_a.example.com', 'a')], tag: 'a' },
        { changes: [upsertTxt('_bad.example.com', 'x')], tag: 'bad' },
        { changes: [upsertTxt('_c.example.com', 'c')], tag: 'c' },
      ],
      {},
    );

    expect(sentBatches()).toEqual([
      ['_a.example.com', '_bad.example.com', '_c.example.com'],
      ['_a.example.com', '_bad.example.com'],
      ['_a.example.com'],
      ['_bad.example.com'],
      ['_c.example.com'],
    ]);
    expect(result).toEqual({
      submitted: [
        { changeId: 'C1', tags: ['a'] },
        { changeId: 'C2', tags: ['c'] },
      ],
      failed: [{ tag: 'bad', reason: `InvalidChangeBatch: ${bad}`, changed: true }],
    });
  });

  it('fails the whole batch without splitting on an error other than InvalidChangeBatch', async () => {
    route53
      .on(ChangeResourceRecordSetsCommand)
      .rejects(new NoSuchHostedZone({ message: 'No hosted zone found with ID: Z1', $metadata: {} }));

    const result = await applyChanges(
      client,
      'Z1',
      [
        { changes: [upsertTxt('_a.example.com', 'a')], tag: 'a' },
        { changes: [upsertTxt('_b.example.com', 'b')], tag: 'b' },
      ],
      {},
    );

    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(1);
    expect(result).toEqual({
      submitted: [],
      failed: [
        { tag: 'a', reason: 'NoSuchHostedZone: No hosted zone found with ID: Z1', changed: false },
        { tag: 'b', reason: 'NoSuchHostedZone: No hosted zone found with ID: Z1', changed: false },
      ],
    });
  });

  it('reports throttling that outlasted the retries as the reason', async () => {
    route53.on(ChangeResourceRecordSetsCommand).rejects(
      new Route53ServiceException({
        name: 'Throttling',
        $fault: 'client',
        message: 'Rate exceeded',
        $metadata: { httpStatusCode: 400, attempts: 8 },
      }),
    );

    const result = await applyChanges(
      client,
      'Z1',
      [{ changes: [upsertTxt('_a.example.com', 'a')], tag: 'a' }],
      {},
    );

    expect(result.failed).toEqual([{ tag: 'a', reason: 'Throttling: Rate exceeded', changed: false }]);
  });
});

describe('waitForInsync', () => {
  it('polls GetChange with growing delays until the change is INSYNC', async () => {
    route53
      .on(GetChangeCommand)
      .resolvesOnce(changeInfo('C1'))
      .resolvesOnce(changeInfo('C1'))
      .resolvesOnce(changeInfo('C1', 'INSYNC'));
    const clock = new FakeClock();

    const result = await waitForInsync(client, ['C1'], { clock, initialDelayMs: 1000, maxDelayMs: 10_000 });

    expect(result).toEqual({ insync: true, pending: [] });
    expect(clock.sleeps).toEqual([1000, 2000, 4000]);
    expect(route53.commandCalls(GetChangeCommand).map((call) => call.args[0].input)).toEqual([
      { Id: 'C1' },
      { Id: 'C1' },
      { Id: 'C1' },
    ]);
  });

  it('caps the delay between polls at maxDelayMs', async () => {
    route53.on(GetChangeCommand).resolves(changeInfo('C1'));
    const clock = new FakeClock();

    await waitForInsync(client, ['C1'], { clock, timeoutMs: 20_000, initialDelayMs: 1000, maxDelayMs: 4000 });

    expect(clock.sleeps).toEqual([1000, 2000, 4000, 4000, 4000, 4000, 1000]);
  });

  it('returns the changes still pending at the deadline without resubmitting anything', async () => {
    route53
      .on(GetChangeCommand, { Id: 'C1' })
      .resolves(changeInfo('C1', 'INSYNC'))
      .on(GetChangeCommand, { Id: 'C2' })
      .resolves(changeInfo('C2'));
    const clock = new FakeClock();
    const start = clock.now();

    const result = await waitForInsync(client, ['C1', 'C2'], { clock, timeoutMs: 30_000 });

    expect(result).toEqual({ insync: false, pending: ['C2'] });
    expect(clock.now() - start).toBe(30_000);
    expect(route53.commandCalls(GetChangeCommand, { Id: 'C1' })).toHaveLength(1);
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
  });

  it('returns at once with every change pending when no time is left', async () => {
    const clock = new FakeClock();

    const result = await waitForInsync(client, ['C1'], { clock, timeoutMs: 0 });

    expect(result).toEqual({ insync: false, pending: ['C1'] });
    expect(route53.commandCalls(GetChangeCommand)).toHaveLength(0);
  });

  it('stops polling a change whose GetChange fails and keeps it pending', async () => {
    route53.on(GetChangeCommand).rejects(
      new Route53ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        message: 'denied',
        $metadata: {},
      }),
    );
    const clock = new FakeClock();

    const result = await waitForInsync(client, ['C1'], { clock });

    expect(result).toEqual({ insync: false, pending: ['C1'] });
    expect(route53.commandCalls(GetChangeCommand)).toHaveLength(1);
  });

  it('is in sync at once when there are no changes', async () => {
    const clock = new FakeClock();

    expect(await waitForInsync(client, [], { clock })).toEqual({ insync: true, pending: [] });
    expect(clock.sleeps).toEqual([]);
  });
});

describe('applyChanges with grouped changes', () => {
  it('never splits a DELETE from the CREATE that replaces it when isolating a bad change', async () => {
    const deleteA: Change = {
      Action: 'DELETE',
      ResourceRecordSet: {
        Name: '_a.example.com',
        Type: 'TXT',
        TTL: 60,
        ResourceRecords: [{ Value: '"old"' }],
      },
    };
    const createA: Change = {
      Action: 'CREATE',
      ResourceRecordSet: {
        Name: '_a.example.com',
        Type: 'TXT',
        TTL: 60,
        ResourceRecords: [{ Value: '"new"' }],
      },
    };
    const createB = upsertTxt('_b.example.com', 'b');
    route53.on(ChangeResourceRecordSetsCommand).callsFake((input) => {
      const names = input.ChangeBatch.Changes.map((c: Change) => c.ResourceRecordSet?.Name);
      if (names.includes('_a.example.com') && names.includes('_b.example.com')) {
        throw new InvalidChangeBatch({ message: 'values do not match', $metadata: {} });
      }
      return { ChangeInfo: { Id: '/change/C9', Status: 'PENDING', SubmittedAt: new Date() } };
    });

    await applyChanges(client, 'Z1', [
      { changes: [deleteA, createA], tag: 'a' },
      { changes: [createB], tag: 'b' },
    ]);

    const sent = route53
      .commandCalls(ChangeResourceRecordSetsCommand)
      .map((call) => call.args[0].input.ChangeBatch?.Changes);
    expect(sent.at(-2)).toEqual([deleteA, createA]);
    expect(sent.at(-1)).toEqual([createB]);
  });
});
