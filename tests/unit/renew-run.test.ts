/**
 * runRenewals over the in-memory state store (the DynamoDB store keeps the same contract, checked
 * in tests/integration/state-store.test.ts) and a stand-in for ApplyCertificate: each need is
 * applied for once, a claim left held is never applied over, failures are given back or held
 * according to what they mean for the quota.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import {
  applicationClaimKey,
  RENEWAL_POLICY,
  type RenewalPlanEntry,
  type RenewDeps,
  runRenewals,
} from '../../lib/renew.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { TencentApiError } from '../../lib/tencent/errors.js';
import type { ApplyCertificateParams } from '../../lib/tencent/ssl-api.js';
import { FakeClock } from '../helpers/fake-clock.js';

const MISSING: RenewalPlanEntry = {
  domain: 'new.example.com',
  state: 'missing',
  certificateId: null,
  expiresAt: null,
  dueAt: null,
  follows: 'new',
};
const DUE: RenewalPlanEntry = {
  domain: 'www.example.com',
  state: 'due',
  certificateId: 'Old1',
  expiresAt: '2026-02-01T00:00:00.000Z',
  dueAt: '2026-01-02T00:00:00.000Z',
  follows: 'Old1',
  oldCertificateId: 'Old1',
};

type Answer = string | Error;

function setup(answers: Answer[] = ['New1', 'New2', 'New3']) {
  const clock = new FakeClock();
  const state = new MemoryStateStore(clock);
  const sent: ApplyCertificateParams[] = [];
  const queue = [...answers];
  const deps: RenewDeps = {
    clock,
    state,
    logger: silentLogger,
    tencent: {
      async applyCertificate(params) {
        sent.push(params);
        const answer = queue.shift() ?? 'Extra';
        if (answer instanceof Error) throw answer;
        return { CertificateId: answer };
      },
    },
  };
  return { clock, state, sent, deps };
}

const tencentError = (code: string) =>
  new TencentApiError({
    code,
    message: `message of ${code}`,
    action: 'ApplyCertificate',
    requestId: 'rq-9',
    retryable: false,
  });

describe('runRenewals', () => {
  it('renews a due domain with DNS validation, naming the old certificate, and marks the claim done', async () => {
    const { deps, sent, state } = setup();

    const [report] = await runRenewals(deps, [DUE], { mode: 'apply', runId: 'run-a' });

    expect(sent).toEqual([
      {
        DvAuthMethod: 'DNS',
        DomainName: 'www.example.com',
        Alias: 'tencent-ssl-sync run-a',
        OldCertificateId: 'Old1',
      },
    ]);
    expect(report).toEqual({
      domain: 'www.example.com',
      state: 'applied',
      certificateId: 'Old1',
      expiresAt: DUE.expiresAt,
      dueAt: DUE.dueAt,
      newCertificateId: 'New1',
      appliedThisRun: true,
      reason: 'applied as New1, renewing Old1',
    });
    expect(await state.claimOf('apply#www.example.com#Old1')).toMatchObject({
      owner: 'run-a',
      done: { result: 'New1' },
    });
  });

  it('applies for a missing domain without an old certificate', async () => {
    const { deps, sent } = setup();

    await runRenewals(deps, [MISSING], { mode: 'apply' });

    expect(sent).toEqual([{ DvAuthMethod: 'DNS', DomainName: 'new.example.com', Alias: expect.any(String) }]);
  });

  it('applies once for a need: a later run, before Tencent lists the order, reports it applied', async () => {
    const { deps, sent } = setup();

    await runRenewals(deps, [DUE], { mode: 'apply' });
    const [later] = await runRenewals(deps, [DUE], { mode: 'apply' });

    expect(sent).toHaveLength(1);
    expect(later).toMatchObject({
      state: 'applied',
      newCertificateId: 'New1',
      reason: expect.stringMatching(/does not list/),
    });
    expect(later).not.toHaveProperty('appliedThisRun');
  });

  it('applies once when runs race for the same need', async () => {
    const { deps, sent } = setup();

    const reports = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        runRenewals(deps, [MISSING], { mode: 'apply', runId: `run-${i}` }),
      ),
    );

    expect(sent).toHaveLength(1);
    expect(reports.flat().map((r) => r.state)).toEqual(Array(10).fill('applied'));
  });

  it('never applies over a claim another run holds, and calls it blocked once it is stale', async () => {
    const { deps, sent, state, clock } = setup();
    const key = applicationClaimKey(MISSING);
    await state.claim(key, 'crashed-run', { ttlMs: RENEWAL_POLICY.claimTtlMs });

    const [fresh] = await runRenewals(deps, [MISSING], { mode: 'apply' });
    clock.time += RENEWAL_POLICY.staleClaimMs;
    const [stale] = await runRenewals(deps, [MISSING], { mode: 'apply' });

    expect(sent).toEqual([]);
    expect(fresh).toMatchObject({
      state: 'applied',
      reason: expect.stringMatching(/another run is applying/),
    });
    expect(stale).toMatchObject({
      state: 'blocked',
      claim: key,
      reason: expect.stringMatching(/earlier run claimed this application .* did not finish/),
    });
  });

  it('applies again once a claim left held has expired', async () => {
    const { deps, sent, state, clock } = setup();
    await state.claim(applicationClaimKey(MISSING), 'crashed-run', { ttlMs: RENEWAL_POLICY.claimTtlMs });

    clock.time += RENEWAL_POLICY.claimTtlMs;
    const [report] = await runRenewals(deps, [MISSING], { mode: 'apply' });

    expect(sent).toHaveLength(1);
    expect(report?.state).toBe('applied');
  });

  it('holds a quota refusal for a day: reported blocked with its code, not retried meanwhile', async () => {
    const { deps, sent, state, clock } = setup([tencentError('FailedOperation.ExceedsFreeLimit'), 'New1']);

    const [refused] = await runRenewals(deps, [MISSING], { mode: 'apply' });
    clock.time += RENEWAL_POLICY.refusedHoldMs - 1;
    const [held] = await runRenewals(deps, [MISSING], { mode: 'apply' });
    clock.time += 1;
    const [retried] = await runRenewals(deps, [MISSING], { mode: 'apply' });

    expect(sent).toHaveLength(2);
    expect(refused).toMatchObject({
      state: 'blocked',
      reason: expect.stringMatching(
        /^Tencent refused the application: FailedOperation.ExceedsFreeLimit: .* \(RequestId rq-9\)/,
      ),
    });
    expect(held).toMatchObject({ state: 'blocked', reason: expect.stringMatching(/Not tried again until/) });
    expect(retried).toMatchObject({ state: 'applied', newCertificateId: 'New1' });
    expect((await state.claimOf(applicationClaimKey(MISSING)))?.done?.result).toBe('New1');
  });

  it('gives a claim back after a refusal for now: the next run tries again', async () => {
    const { deps, sent } = setup([tencentError('RequestLimitExceeded'), 'New1']);

    const [failed] = await runRenewals(deps, [MISSING], { mode: 'apply' });
    const [next] = await runRenewals(deps, [MISSING], { mode: 'apply' });

    expect(sent).toHaveLength(2);
    expect(failed).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/the next run tries again/),
    });
    expect(next).toMatchObject({ state: 'applied', newCertificateId: 'New1' });
  });

  it('reports missing permission as blocked, and tries again next run', async () => {
    const { deps, sent } = setup([tencentError('UnauthorizedOperation'), 'New1']);

    const [denied] = await runRenewals(deps, [MISSING], { mode: 'apply' });
    await runRenewals(deps, [MISSING], { mode: 'apply' });

    expect(denied).toMatchObject({
      state: 'blocked',
      reason: expect.stringMatching(/allow ssl:ApplyCertificate/),
    });
    expect(sent).toHaveLength(2);
  });

  it('keeps the claim held when the answer is lost: the order may exist, so no second one', async () => {
    const reset = new TencentApiError({
      code: 'NetworkError',
      message: 'ECONNRESET: socket hang up',
      action: 'ApplyCertificate',
      retryable: true,
      cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    });
    const { deps, sent, state } = setup([reset, 'New1']);

    const [lost] = await runRenewals(deps, [MISSING], { mode: 'apply', runId: 'run-a' });
    const [next] = await runRenewals(deps, [MISSING], { mode: 'apply', runId: 'run-b' });

    expect(sent).toHaveLength(1);
    expect(lost).toMatchObject({
      state: 'blocked',
      reason: expect.stringMatching(/Tencent may have made the order/),
    });
    expect(next?.state).toBe('applied');
    const claim = await state.claimOf(applicationClaimKey(MISSING));
    expect(claim).toMatchObject({ owner: 'run-a' });
    expect(claim?.released).toBeUndefined();
    expect(claim?.done).toBeUndefined();
  });

  it('says what a dry run would do, claiming and applying nothing', async () => {
    const { deps, sent, state } = setup();

    const [report] = await runRenewals(deps, [DUE], { mode: 'dry-run' });

    expect(sent).toEqual([]);
    expect(report).toMatchObject({ state: 'due', reason: 'would apply for renewing Old1 (DNS validation)' });
    expect(await state.claimOf(applicationClaimKey(DUE))).toBeUndefined();
  });

  it('without a state table applies for nothing and says renewal is off', async () => {
    const { deps, sent } = setup();

    const [report] = await runRenewals({ ...deps, state: undefined }, [MISSING], { mode: 'apply' });

    expect(sent).toEqual([]);
    expect(report).toMatchObject({
      state: 'missing',
      reason: expect.stringMatching(/^renewal is off: STATE_TABLE is not set/),
    });
  });

  it('passes domains that need nothing through as planned', async () => {
    const { deps, sent } = setup();
    const notDue: RenewalPlanEntry = { ...DUE, state: 'not-due' };
    delete notDue.follows;
    delete notDue.oldCertificateId;

    const [report] = await runRenewals(deps, [notDue], { mode: 'apply' });

    expect(sent).toEqual([]);
    expect(report).toEqual({
      domain: DUE.domain,
      state: 'not-due',
      certificateId: 'Old1',
      expiresAt: DUE.expiresAt,
      dueAt: DUE.dueAt,
    });
  });
});
