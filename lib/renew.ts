import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from './clock.js';
import { normalizeName } from './domain.js';
import { errorMessage } from './error-text.js';
import type { Logger } from './logger.js';
import type { Claim, StateStore } from './state/types.js';
import type { CertificateListItem } from './tencent/schemas.js';
import {
  type ApplyCertificateParams,
  type ApplyFailure,
  applyFailureOf,
  type TencentSslApi,
} from './tencent/ssl-api.js';

/*
 * Applying for and renewing the certificates of CERTIFICATES, exactly once per need. Free
 * certificates are a quota (about 50 a year per account), so an application is made only under a
 * claim in the state table that names the need: the domain and the certificate the application
 * follows. Of racing runs one wins the claim; the claim is done with the new order's id once
 * Tencent answers, so no run applies again for that need even before Tencent lists the order.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

export const RENEWAL_POLICY = {
  /**
   * How long a claim stands. Done, it keeps its need applied for while Tencent comes to list the
   * new order; held and never finished (a run that stopped between claim and call, or lost
   * Tencent's answer), it blocks its need that long rather than risk a second order.
   */
  claimTtlMs: DAY_MS,
  /** A claim held longer than this, neither done nor given back, is an earlier run's that did not finish. */
  staleClaimMs: 10 * MINUTE_MS,
  /** After Tencent refused an application for good (quota, real name, parameters), it is not retried for this long. */
  refusedHoldMs: DAY_MS,
  /**
   * ApplyCertificate links a renewal to the old certificate (OldCertificateId) only while that one
   * expires within 30 days and has not expired (API page); earlier renewals apply as a new one.
   */
  oldCertificateWindowMs: 30 * DAY_MS,
} as const;

/** Statuses of an order Tencent is working on: validation (0, 4) or reissue (11). */
const IN_PROGRESS = new Set([0, 4, 11]);
/** Statuses of an order waiting for a person at Tencent: documents, confirmation letters. */
const WAITING_FOR_PERSON = new Set([5, 8, 12, 13]);
const ISSUED = 1;
const EXPIRED = 3;

/** What planning reads of a listed certificate. */
export type ListedCertificate = Pick<
  CertificateListItem,
  'CertificateId' | 'Domain' | 'SubjectAltName' | 'Status' | 'CertEndTime' | 'InsertTime'
>;

/**
 * - `not-due`: the newest issued certificate expires after the renewal window opens (`dueAt`);
 * - `due`: it expires within the window and nothing newer is pending: renew;
 * - `missing`: no issued certificate that is still valid, and none pending: apply;
 * - `applied`: an order is pending at Tencent, or was applied for by this or an earlier run;
 * - `blocked`: a person must act (`reason` says why and what to do);
 * - `failed`: the application failed for now; the next run tries again.
 */
type RenewalState = 'not-due' | 'due' | 'missing' | 'applied' | 'blocked' | 'failed';

/** One declared domain, as a run or `status` reports it. */
export interface RenewalReport {
  domain: string;
  state: RenewalState;
  /** The newest issued certificate covering the domain (still valid, else the last that expired). */
  certificateId: string | null;
  /** Its expiry, ISO 8601. */
  expiresAt: string | null;
  /** When the renewal window opens for it, ISO 8601. */
  dueAt: string | null;
  /** The order applied for: pending at Tencent, or applied for by this run or an earlier one. */
  newCertificateId?: string;
  /** Set when this very run made the order `newCertificateId` (a free certificate spent). */
  appliedThisRun?: true;
  /** The state-table claim of the application, when it is what holds the domain back. */
  claim?: string;
  reason?: string;
}

/** A planned domain: what `runRenewals` needs beyond the report. */
export interface RenewalPlanEntry extends RenewalReport {
  state: Exclude<RenewalState, 'failed'>;
  /**
   * `due` and `missing`: the newest certificate Tencent lists for the domain, in any state, or
   * `new`. It names the need: once an order made for it is rejected, that order is the newest and
   * the need is a new one.
   */
  follows?: string;
  /** `due`: the certificate to name as OldCertificateId (within Tencent's renewal window only). */
  oldCertificateId?: string;
}

function namesOf(certificate: ListedCertificate): Set<string> {
  const names = [certificate.Domain ?? '', ...certificate.SubjectAltName].map(normalizeName);
  return new Set(names.filter((name) => name !== ''));
}

const time = (date: Date | null | undefined): number => date?.getTime() ?? Number.NEGATIVE_INFINITY;
const iso = (ms: number): string => new Date(ms).toISOString();

/** Newest first: by order time, then expiry, then id (a fixed order whatever the listing's). */
function byNewest(a: ListedCertificate, b: ListedCertificate): number {
  return (
    time(b.InsertTime) - time(a.InsertTime) ||
    time(b.CertEndTime) - time(a.CertEndTime) ||
    String(b.CertificateId).localeCompare(String(a.CertificateId))
  );
}

/** Whether `order` was placed after `certificate`; when either time is unknown, taken as newer. */
function placedAfter(order: ListedCertificate, certificate: ListedCertificate): boolean {
  if (!order.InsertTime || !certificate.InsertTime) return true;
  return order.InsertTime.getTime() > certificate.InsertTime.getTime();
}

/**
 * What each declared domain needs (pure). A certificate covers a domain when its names include it
 * exactly (`*.example.com` covers `*.example.com` only). Failed, cancelled, revoked and expired
 * certificates cover nothing, but the newest of them still names the need (`follows`).
 */
export function planRenewals(
  domains: readonly string[],
  certificates: readonly ListedCertificate[],
  now: number,
  renewBeforeDays: number,
): RenewalPlanEntry[] {
  const windowMs = renewBeforeDays * DAY_MS;
  const listed = certificates.filter((c) => c.CertificateId);
  return domains.map((raw) => {
    const domain = normalizeName(raw);
    const covering = listed.filter((c) => namesOf(c).has(domain)).sort(byNewest);
    const issued = covering.filter((c) => c.Status === ISSUED);
    const byExpiry = covering
      .filter((c) => (c.Status === ISSUED || c.Status === EXPIRED) && c.CertEndTime)
      .sort((a, b) => time(b.CertEndTime) - time(a.CertEndTime) || byNewest(a, b));
    const valid = byExpiry.filter((c) => c.Status === ISSUED && time(c.CertEndTime) > now);
    // The one that expires last, still valid or not: what a person knows the domain by.
    const newest = byExpiry[0];
    const base: RenewalPlanEntry = {
      domain,
      state: 'missing',
      certificateId: newest?.CertificateId ?? null,
      expiresAt: newest?.CertEndTime?.toISOString() ?? null,
      dueAt: newest?.CertEndTime ? iso(newest.CertEndTime.getTime() - windowMs) : null,
    };
    const current = valid[0];
    if (current && time(current.CertEndTime) - windowMs > now) return { ...base, state: 'not-due' };
    // Only an order placed after the certificate being renewed answers the need.
    const later = (c: ListedCertificate) => !current || placedAfter(c, current);
    const pending = covering.find((c) => IN_PROGRESS.has(c.Status ?? -1) && later(c));
    if (pending) {
      return {
        ...base,
        state: 'applied',
        newCertificateId: pending.CertificateId as string,
        reason: `order ${pending.CertificateId} is pending at Tencent`,
      };
    }
    const waiting = covering.find((c) => WAITING_FOR_PERSON.has(c.Status ?? -1) && later(c));
    if (waiting) {
      return {
        ...base,
        state: 'blocked',
        reason: `order ${waiting.CertificateId} waits for a person at Tencent (status ${waiting.Status}: documents or a confirmation letter): complete or cancel it in the Tencent console; the tool applies again once it is neither`,
      };
    }
    const unknownExpiry = issued.find((c) => !c.CertEndTime);
    if (!current && unknownExpiry) {
      return {
        ...base,
        state: 'blocked',
        certificateId: unknownExpiry.CertificateId as string,
        reason: `certificate ${unknownExpiry.CertificateId} is issued but Tencent lists no readable expiry (CertEndTime), so whether it needs renewing is unknown: check it in the Tencent console`,
      };
    }
    const follows = (covering[0]?.CertificateId as string | undefined) ?? 'new';
    if (!current) return { ...base, state: 'missing', follows };
    const renewable = time(current.CertEndTime) - now <= RENEWAL_POLICY.oldCertificateWindowMs;
    return {
      ...base,
      state: 'due',
      follows,
      ...(renewable ? { oldCertificateId: current.CertificateId as string } : {}),
    };
  });
}

/**
 * Holds every application back while Tencent lists certificates this tool cannot read: one of
 * them may already cover the domain, and a free certificate spent on a guess is not given back.
 */
export function holdWhileUnreadable(
  plan: readonly RenewalPlanEntry[],
  unreadable: readonly (string | undefined)[],
): RenewalPlanEntry[] {
  if (unreadable.length === 0) return [...plan];
  const which = unreadable.map((id) => id ?? '(no id)').join(', ');
  return plan.map((entry) =>
    entry.state === 'due' || entry.state === 'missing'
      ? {
          ...reportOf(entry),
          state: 'blocked',
          reason: `Tencent lists certificates this tool cannot read (${which}); one of them may already cover ${entry.domain}, so nothing is applied for until they read well or are gone`,
        }
      : entry,
  );
}

/** The state-table claim of an application: the domain and what the application follows. */
export function applicationClaimKey(entry: Pick<RenewalPlanEntry, 'domain' | 'follows'>): string {
  return `apply#${entry.domain}#${entry.follows ?? 'new'}`;
}

/** Why a claim was given back, kept in its release reason so later runs can tell a refusal for good. */
const ReleaseSchema = z.object({
  kind: z.enum(['refused-for-good', 'not-permitted', 'refused']),
  code: z.string(),
  message: z.string(),
  requestId: z.string().optional(),
});
type Release = z.infer<typeof ReleaseSchema>;

function readRelease(reason: string): Release | undefined {
  try {
    const parsed = ReleaseSchema.safeParse(JSON.parse(reason));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const said = (failure: Pick<ApplyFailure, 'code' | 'message' | 'requestId'>): string =>
  `${failure.code}: ${failure.message}${failure.requestId ? ` (RequestId ${failure.requestId})` : ''}`;

export interface RenewDeps {
  tencent: Pick<TencentSslApi, 'applyCertificate'>;
  /** The state table; without it nothing is applied for (there is no way to apply exactly once). */
  state?: StateStore | undefined;
  clock: Clock;
  logger: Logger;
}

export interface RenewOptions {
  /** `apply` (a writing run), `dry-run` (say what would be done), `status` (say where each need stands). */
  mode: 'apply' | 'dry-run' | 'status';
  /** Who holds the claims this run makes; a fresh id by default. */
  runId?: string;
}

/** What a standing claim means for its need; undefined when it leaves the need open. */
function standing(
  claim: Claim | undefined,
  key: string,
  entry: RenewalPlanEntry,
  now: number,
): Partial<RenewalReport> | undefined {
  if (!claim) return undefined;
  if (claim.done) {
    return {
      state: 'applied',
      newCertificateId: claim.done.result,
      reason: `applied as ${claim.done.result} at ${iso(claim.done.at)}; Tencent does not list that order yet`,
    };
  }
  if (claim.released) {
    const release = readRelease(claim.released.reason);
    const until = claim.released.at + RENEWAL_POLICY.refusedHoldMs;
    if (release?.kind !== 'refused-for-good' || until <= now) return undefined;
    return {
      state: 'blocked',
      claim: key,
      reason: `Tencent refused the application at ${iso(claim.released.at)}: ${said(release)}. Not tried again until ${iso(until)}: free the quota (delete unused certificates in the Tencent console), or apply by hand; to retry sooner, release the claim (README, "Renewal")`,
    };
  }
  if (now - claim.at < RENEWAL_POLICY.staleClaimMs) {
    return {
      state: 'applied',
      claim: key,
      reason: `another run is applying for it (since ${iso(claim.at)})`,
    };
  }
  return {
    state: 'blocked',
    claim: key,
    reason: `an earlier run claimed this application at ${iso(claim.at)} and did not finish (it stopped, or lost Tencent's answer), so Tencent may have made the order: check the Tencent console for an order of ${entry.domain}. If there is none, release the claim (README, "Renewal") to apply again at once; it expires on its own at ${iso(claim.at + RENEWAL_POLICY.claimTtlMs)}`,
  };
}

function reportOf(entry: RenewalPlanEntry): RenewalReport {
  const { follows: _follows, oldCertificateId: _old, ...report } = entry;
  return report;
}

/**
 * Applies for every `due` and `missing` domain of `plan`, once per need across every run; the
 * other domains are reported as planned. In `dry-run` and `status` modes nothing is claimed or
 * applied for, and each need is reported as a writing run would find it.
 */
export async function runRenewals(
  deps: RenewDeps,
  plan: readonly RenewalPlanEntry[],
  options: RenewOptions,
): Promise<RenewalReport[]> {
  const runId = options.runId ?? randomUUID();
  const reports: RenewalReport[] = [];
  for (const entry of plan) {
    if (entry.state !== 'due' && entry.state !== 'missing') {
      reports.push(reportOf(entry));
      continue;
    }
    reports.push(await renewOne(deps, entry, options.mode, runId));
  }
  return reports;
}

async function renewOne(
  deps: RenewDeps,
  entry: RenewalPlanEntry,
  mode: RenewOptions['mode'],
  runId: string,
): Promise<RenewalReport> {
  const report = reportOf(entry);
  const what = entry.oldCertificateId ? `renewing ${entry.oldCertificateId}` : 'a new certificate';
  const { state } = deps;
  if (!state) {
    return {
      ...report,
      reason: `renewal is off: STATE_TABLE is not set, and without it an application cannot be made exactly once; set STATE_TABLE, or apply for ${what} in the Tencent console`,
    };
  }
  const key = applicationClaimKey(entry);
  try {
    const found = standing(await state.claimOf(key), key, entry, deps.clock.now());
    if (found) return { ...report, ...found };
    if (mode !== 'apply') {
      const when = mode === 'dry-run' ? 'would apply' : 'the next sync applies';
      return { ...report, reason: `${when} for ${what} (DNS validation)` };
    }
    if (!(await state.claim(key, runId, { ttlMs: RENEWAL_POLICY.claimTtlMs }))) {
      const now = deps.clock.now();
      const other = standing(await state.claimOf(key), key, entry, now);
      return { ...report, state: 'applied', reason: 'another run is applying for it', ...other };
    }
  } catch (error) {
    deps.logger.error('renewal: the state table could not be read or written', {
      domain: entry.domain,
      error: errorMessage(error),
    });
    return {
      ...report,
      state: 'failed',
      reason: `the state table could not be read or written (${errorMessage(error)}); the next run tries again`,
    };
  }
  return apply(deps, state, entry, key, runId);
}

async function apply(
  deps: RenewDeps,
  state: StateStore,
  entry: RenewalPlanEntry,
  key: string,
  runId: string,
): Promise<RenewalReport> {
  const report = reportOf(entry);
  const params: ApplyCertificateParams = {
    DvAuthMethod: 'DNS',
    DomainName: entry.domain,
    // Lets a person match the order in the console to this run's claim.
    Alias: `tencent-ssl-sync ${runId.slice(0, 8)}`,
    ...(entry.oldCertificateId ? { OldCertificateId: entry.oldCertificateId } : {}),
  };
  let created: string;
  try {
    created = (await deps.tencent.applyCertificate(params)).CertificateId;
  } catch (error) {
    return failed(deps, state, entry, key, runId, applyFailureOf(error), params.Alias as string);
  }
  deps.logger.info('renewal: certificate applied for', {
    domain: entry.domain,
    certificateId: created,
    renewing: entry.oldCertificateId ?? null,
  });
  const applied: RenewalReport = {
    ...report,
    state: 'applied',
    newCertificateId: created,
    appliedThisRun: true,
    reason: `applied as ${created}${entry.oldCertificateId ? `, renewing ${entry.oldCertificateId}` : ''}`,
  };
  try {
    await state.complete(key, runId, created);
  } catch (error) {
    // Still held by this run: no run applies for this need until it expires, which is what matters.
    deps.logger.error('renewal: cannot mark the claim done', { key, error: errorMessage(error) });
    applied.claim = key;
    applied.reason += `; marking the claim done failed (${errorMessage(error)}), so it stays held until it expires`;
  }
  return applied;
}

async function failed(
  deps: RenewDeps,
  state: StateStore,
  entry: RenewalPlanEntry,
  key: string,
  runId: string,
  failure: ApplyFailure,
  alias: string,
): Promise<RenewalReport> {
  const report = { ...reportOf(entry), claim: key };
  deps.logger.warn('renewal: ApplyCertificate failed', { domain: entry.domain, ...failure });
  if (failure.kind === 'unknown') {
    // Released, the next run would apply again and could make a second order.
    const until = iso(deps.clock.now() + RENEWAL_POLICY.claimTtlMs);
    return {
      ...report,
      state: 'blocked',
      reason: `ApplyCertificate got no usable answer (${said(failure)}), so Tencent may have made the order. The claim stays held until ${until} so that no second order is made: an order Tencent lists for ${entry.domain} meanwhile is validated as usual; if none appears, check the Tencent console for an order with the alias "${alias}" and release the claim (README, "Renewal") to apply again`,
    };
  }
  const release: Release = {
    kind: failure.kind,
    code: failure.code,
    message: failure.message,
    ...(failure.requestId ? { requestId: failure.requestId } : {}),
  };
  let note = '';
  try {
    await state.release(key, runId, JSON.stringify(release));
  } catch (error) {
    deps.logger.error('renewal: cannot give the claim back', { key, error: errorMessage(error) });
    note = `; giving the claim back failed (${errorMessage(error)}), so it stays held until it expires`;
  }
  switch (failure.kind) {
    case 'refused-for-good':
      return {
        ...report,
        state: 'blocked',
        reason: `Tencent refused the application: ${said(failure)}. Not tried again until ${iso(deps.clock.now() + RENEWAL_POLICY.refusedHoldMs)}: free the quota (delete unused certificates in the Tencent console), or apply by hand${note}`,
      };
    case 'not-permitted':
      return {
        ...report,
        state: 'blocked',
        reason: `the Tencent credentials may not apply for certificates: ${said(failure)}; allow ssl:ApplyCertificate (CAM), and the next run tries again${note}`,
      };
    case 'refused':
      return {
        ...report,
        state: 'failed',
        reason: `Tencent refused the application for now: ${said(failure)}; the next run tries again${note}`,
      };
  }
}
