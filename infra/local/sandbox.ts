/**
 * `npm start`: the whole cycle on a laptop. moto stands in for Route53, Secrets Manager, ACM,
 * DynamoDB and EventBridge, the local Tencent SSL server (with a local CA) for Tencent; the same
 * runSync and inline export as the Lambda functions run over HTTP against both until nothing is
 * left to do: applying for and renewing CERTIFICATES, validating, exporting, importing into ACM
 * and announcing each step on an event bus.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { getCACertificates } from 'node:tls';
import { ACMClient } from '@aws-sdk/client-acm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Route53Client } from '@aws-sdk/client-route-53';
import { listManagedCertificates, type ManagedAcmCertificate } from '../../lib/acm/acm-client.js';
import { type Clock, systemClock } from '../../lib/clock.js';
import { loadConfig } from '../../lib/config.js';
import { formatStatusReport } from '../../lib/report-format.js';
import { createRuntime } from '../../lib/runtime.js';
import { listManagedSecrets, type ManagedSecret } from '../../lib/secrets/secret-store.js';
import { trustAnchorsFrom } from '../../lib/secrets/trust.js';
import { ensureStateTable } from '../../lib/state/setup.js';
import { collectStatus, runSync } from '../../lib/sync.js';
import type { SyncReport } from '../../lib/sync-types.js';
import { CertificateStore, parseTencentTime, type StoredCertificate } from './certificate-store.js';
import { type CaCheck, createLocalCa } from './local-ca.js';
import { isMotoInstalled, MOTO_INSTALL_HINT, motoEnv, startMoto } from './moto.js';
import { createTestPki } from './pki.js';
import {
  SANDBOX_ALLOWED_DOMAINS,
  SANDBOX_DECLARED,
  SANDBOX_EVENT_BUS,
  SANDBOX_RENEW_BEFORE_DAYS,
  SANDBOX_STATE_TABLE,
  type SandboxCertificate,
  type SandboxZone,
  seedCertificates,
  seedZones,
} from './sandbox-account.js';
import {
  cycleHeadline,
  cycleLines,
  eventLines,
  isWaitingForCa,
  logLine,
  renewalLines,
  table,
  wroteSomething,
} from './sandbox-progress.js';
import { startTencentServer } from './tencent-server.js';

/** Exit codes of `sandbox`, on top of the command line's 0, 1 and 2. */
const SandboxExit = {
  /** Every certificate that should be issued, exported and imported into ACM was. */
  Ok: 0,
  /** Some were not, after every cycle. */
  Incomplete: 1,
  /** Python/moto missing, or a stand-in would not start. */
  Unusable: 2,
  /** Ctrl-C (128 + SIGINT), as shells report it. */
  Interrupted: 130,
} as const;

/** Fixed local credentials: the sandbox never reads the user's Tencent keys. */
const SANDBOX_TENCENT_CREDENTIALS = {
  secretId: 'AKIDLOCALSANDBOX0000000000000000',
  secretKey: 'local-sandbox-secret-key-00000000',
} as const;

// Fixed, so certificate ids and record names are the same on every run and in the README excerpt.
const STORE_SEED = 2019_12_05;
const DEFAULT_CYCLES = 5;
const DEFAULT_PAUSE_MS = 500;

export interface RunningSandbox {
  /** Everything the CLI needs to work against the sandbox: AWS (moto) and Tencent settings. */
  env: Record<string, string>;
  motoEndpoint: string;
  tencentUrl: string;
  store: CertificateStore;
  zones: SandboxZone[];
  certificates: SandboxCertificate[];
  /** Every sync run made, in order. */
  reports: SyncReport[];
  /** CERTIFICATES: the name with no certificate at the start, and the one due for renewal. */
  declared: typeof SANDBOX_DECLARED;
}

export interface SandboxOptions {
  /** One line of the story (stdout). */
  write(line: string): void;
  /** Why the sandbox cannot start (stderr). Default: `write`. */
  error?(line: string): void;
  /** Aborting stops the run and both stand-ins; the result is then 130. */
  signal?: AbortSignal;
  /** Most sync runs before giving up. Default 5; two or three are enough. */
  cycles?: number;
  /** Pause while only the CA is left to act. Default 500 ms. */
  pauseMs?: number;
  /** After the run, keep the stand-ins up until `signal` aborts, and say how to point the CLI at them. */
  keep?: boolean;
  /** Called after the run with the stand-ins still up (tests inspect moto and the store here). */
  beforeStop?(sandbox: RunningSandbox): Promise<void> | void;
  /** Default: `python3 -c "import moto.server"`. */
  motoInstalled?: () => Promise<boolean>;
}

/**
 * The SDK reads its endpoint, region and credentials from the process environment, and would
 * otherwise pick up the user's profile, SSO session or per-service endpoints: every `AWS_*`
 * variable is set aside for the run, the config files pointed at nothing, and all put back after.
 */
function pointAwsAt(vars: Record<string, string>): () => void {
  const saved = Object.entries(process.env).filter(([key]) => key.startsWith('AWS_'));
  const clear = () => {
    for (const key of Object.keys(process.env)) if (key.startsWith('AWS_')) delete process.env[key];
  };
  clear();
  Object.assign(process.env, vars);
  return () => {
    clear();
    for (const [key, value] of saved) process.env[key] = value;
  };
}

/** How long stopping waits for work abandoned on Ctrl-C to fail against the stopped stand-ins. */
const ABANDONED_WORK_LIMIT_MS = 5000;

/**
 * Races each piece of work against `signal`: on abort the sandbox moves on at once and the work,
 * left behind, fails against the stand-ins being stopped. `settled()` waits for it before the
 * user's AWS settings are put back, so that nothing left behind can reach a real account with
 * them (an SDK client first used after that would read them).
 */
function interruptible(signal: AbortSignal | undefined) {
  const started: Promise<unknown>[] = [];
  return {
    async run<T>(work: Promise<T>): Promise<T> {
      started.push(work.catch(() => {}));
      if (!signal) return work;
      signal.throwIfAborted();
      let onAbort: () => void = () => {};
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([work, aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    async settled(): Promise<void> {
      await Promise.race([Promise.all(started), sleep(ABANDONED_WORK_LIMIT_MS, undefined, { ref: false })]);
    },
  };
}

/**
 * The system clock, except that its sleeps end in an error once `signal` aborts: the retries,
 * pacing and INSYNC waits of an abandoned run then stop at once instead of keeping the process up.
 */
function abortableClock(signal: AbortSignal | undefined): Clock {
  if (!signal) return systemClock;
  return {
    now: () => Date.now(),
    sleep: (ms) => {
      signal.throwIfAborted();
      return ms > 0 ? sleep(ms, undefined, { signal }) : Promise.resolve();
    },
  };
}

function statusOf(record: StoredCertificate | undefined): string {
  return record ? `${String(record.Status)} ${String(record.StatusName ?? '')}`.trim() : '-';
}

/** `2026-12-11`: the UTC day a stored certificate expires (Tencent writes Beijing time). */
function expiryDay(record: StoredCertificate | undefined): string {
  const end = String(record?.CertEndTime);
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(end)
    ? parseTencentTime(end).toISOString().slice(0, 10)
    : '?';
}

function caLine(certificate: StoredCertificate, check: CaCheck): string {
  const found = check.records.length;
  const names = [certificate.Domain, ...((certificate.SubjectAltName as unknown[] | undefined) ?? [])];
  return `  CA: ${check.certificateId} ${names.join(', ')}: ${found} of ${found} validation record${
    found === 1 ? '' : 's'
  } found in Route53 -> issued`;
}

/** A certificate that must end issued, in its secret and in ACM. */
interface Delivery {
  /** Undefined for a declared name nothing was applied for. */
  id: string | undefined;
  domains: string[];
  /** Set when it did not get there: the first step it is missing. */
  missing?: string;
}

/** The orders the run applied for: certificates of a declared name that were not seeded. */
function appliedOrders(
  certificates: SandboxCertificate[],
  store: CertificateStore,
  domain: string,
): StoredCertificate[] {
  const seeded = new Set(certificates.map((c) => c.id));
  return store.list().filter((r) => r.Domain === domain && !seeded.has(String(r.CertificateId)));
}

/**
 * Every seeded certificate that should be exported, and for each name of CERTIFICATES the order
 * the run applied for (the renewal included): each issued, in its secret and in ACM.
 */
function verdictOf(
  certificates: SandboxCertificate[],
  store: CertificateStore,
  secrets: Map<string, ManagedSecret>,
  acm: ManagedAcmCertificate[],
): { done: Delivery[]; missing: Delivery[] } {
  const exported = new Set([...secrets.values()].map((secret) => secret.certificateId));
  const imported = new Set(acm.map((certificate) => certificate.certificateId));
  const wanted: Delivery[] = [
    ...certificates.filter((c) => c.expect === 'exported').map((c) => ({ id: c.id, domains: c.domains })),
    ...Object.values(SANDBOX_DECLARED).map((domain) => ({
      id: appliedOrders(certificates, store, domain).at(-1)?.CertificateId as string | undefined,
      domains: [domain],
    })),
  ];
  const checked = wanted.map((d): Delivery => {
    if (d.id === undefined) return { ...d, missing: 'nothing was applied for' };
    if (store.get(d.id)?.Status !== 1) return { ...d, missing: `not issued (${statusOf(store.get(d.id))})` };
    if (!exported.has(d.id)) return { ...d, missing: 'not in Secrets Manager' };
    if (!imported.has(d.id)) return { ...d, missing: 'not in ACM' };
    return d;
  });
  return { done: checked.filter((d) => !d.missing), missing: checked.filter((d) => d.missing) };
}

/** Runs the sandbox to the end; returns the exit code. Never throws for an expected failure. */
export async function runSandbox(options: SandboxOptions): Promise<number> {
  const { write, signal } = options;
  const error = options.error ?? write;
  const maxCycles = options.cycles ?? DEFAULT_CYCLES;
  const pauseMs = options.pauseMs ?? DEFAULT_PAUSE_MS;
  const startedAt = performance.now();

  const installed = await (options.motoInstalled ?? isMotoInstalled)();
  // Ctrl-C reaches the python3 of the check too, which then looks like a missing moto.
  if (signal?.aborted) return SandboxExit.Interrupted;
  if (!installed) {
    error(`The sandbox needs Python 3 with moto: ${MOTO_INSTALL_HINT}`);
    return SandboxExit.Unusable;
  }

  const cleanups: Array<() => unknown> = [];
  const work = interruptible(signal);
  let phase: 'starting' | 'running' = 'starting';
  try {
    write('tencent-ssl-sync sandbox: Tencent SSL -> Route53 -> Secrets Manager and ACM, all on this machine');
    write('');
    const store = new CertificateStore({ seed: STORE_SEED });
    // The store's CA: its root is trusted for export here, and by a CLI given NODE_EXTRA_CA_CERTS.
    const pki = await createTestPki();
    const caFile = join(tmpdir(), `tencent-ssl-sync-sandbox-ca-${process.pid}.pem`);
    writeFileSync(caFile, pki.rootPem);
    cleanups.push(() => rmSync(caFile, { force: true }));
    const [moto, certificates] = await Promise.all([
      startMoto(signal ? { signal } : {}),
      seedCertificates(store),
    ]);
    cleanups.push(() => moto.stop());
    const awsEnv = {
      ...motoEnv(moto.endpoint),
      AWS_CONFIG_FILE: devNull,
      AWS_SHARED_CREDENTIALS_FILE: devNull,
    };
    cleanups.push(pointAwsAt(awsEnv));
    cleanups.push(() => work.settled());

    const route53 = new Route53Client({});
    cleanups.push(() => route53.destroy());
    const zones = await work.run(seedZones(route53));
    const dynamo = new DynamoDBClient({});
    cleanups.push(() => dynamo.destroy());
    await work.run(ensureStateTable(dynamo, SANDBOX_STATE_TABLE));
    const eventBridge = new EventBridgeClient({});
    cleanups.push(() => eventBridge.destroy());
    await work.run(eventBridge.send(new CreateEventBusCommand({ Name: SANDBOX_EVENT_BUS })));
    const acm = new ACMClient({});
    cleanups.push(() => acm.destroy());

    const caEvents: string[] = [];
    const ca = createLocalCa({
      store,
      route53,
      onIssued: (certificate, check) => caEvents.push(caLine(certificate, check)),
    });
    const tencent = await startTencentServer({
      credentials: [SANDBOX_TENCENT_CREDENTIALS],
      store,
      onAction: ca.onAction,
    });
    cleanups.push(async () => {
      await tencent.close();
      await ca.idle();
    });
    const flushCa = () => {
      for (const line of caEvents.splice(0)) write(line);
    };

    const sandboxEnv = {
      TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
      TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
      TENCENTCLOUD_SECRET_ID: SANDBOX_TENCENT_CREDENTIALS.secretId,
      TENCENTCLOUD_SECRET_KEY: SANDBOX_TENCENT_CREDENTIALS.secretKey,
      ALLOWED_DOMAINS: SANDBOX_ALLOWED_DOMAINS.join(','),
      STATE_TABLE: SANDBOX_STATE_TABLE,
      CERTIFICATES: Object.values(SANDBOX_DECLARED).join(','),
      RENEW_BEFORE_DAYS: String(SANDBOX_RENEW_BEFORE_DAYS),
      // ACM_REGION unset: moto's region, as the SDK reads it.
      ACM_IMPORT: 'true',
      EVENT_BUS_NAME: SANDBOX_EVENT_BUS,
      // moto reports every change INSYNC at once, so waiting costs one poll.
      WAIT_FOR_INSYNC: 'true',
      // The story below is the output; only problems come through the logger.
      LOG_LEVEL: 'warn',
    };
    // Once interrupted, the abandoned run's complaints about the stand-ins going away are noise.
    const runtime = createRuntime(loadConfig(sandboxEnv), {
      write: (line) => {
        if (!signal?.aborted) write(logLine(line));
      },
      clock: abortableClock(signal),
      trust: () =>
        trustAnchorsFrom(
          [...getCACertificates('default'), pki.rootPem],
          "Node's trust store plus the sandbox's local CA",
        ),
    });
    cleanups.push(() => runtime.close());
    const deps = runtime.syncDeps();
    phase = 'running';

    for (const line of table(
      [
        ['moto (Route53, Secrets Manager, ACM, DynamoDB, EventBridge)', moto.endpoint],
        ['Tencent SSL API', `${tencent.url}  (signed requests, 10/s per action)`],
      ],
      '',
    ))
      write(line);
    write('Local CA: issues a certificate once its validation records are in public Route53 zones');
    write('');
    write('Route53 hosted zones');
    for (const line of table(zones.map((z) => [z.name, z.id, z.note]))) write(line);
    write('');
    write(`Tencent certificates (ALLOWED_DOMAINS=${sandboxEnv.ALLOWED_DOMAINS})`);
    for (const line of table(
      certificates.map((c) => [c.id, c.domains.join(', '), statusOf(store.get(c.id)), c.description]),
    ))
      write(line);
    write('');
    write(`Declared in CERTIFICATES (RENEW_BEFORE_DAYS=${SANDBOX_RENEW_BEFORE_DAYS})`);
    const due = certificates.find((c) => c.expect === 'renewed');
    const dueEnd = due ? expiryDay(store.get(due.id)) : '?';
    for (const line of table([
      [SANDBOX_DECLARED.fresh, 'no certificate yet: the sync applies for one'],
      [SANDBOX_DECLARED.due, `${due?.id ?? '?'} expires ${dueEnd}: the sync renews it`],
    ]))
      write(line);
    write(`ACM_IMPORT=true (moto's ACM); events on EventBridge bus ${SANDBOX_EVENT_BUS}`);

    const reports: SyncReport[] = [];
    const seen = new Set<string>();
    for (let cycle = 1; cycle <= maxCycles; cycle += 1) {
      const report = await work.run(runSync(deps));
      reports.push(report);
      write('');
      write(cycleHeadline(cycle, report));
      for (const line of renewalLines(report, seen)) write(line);
      for (const line of cycleLines(report, seen)) write(line);
      for (const line of eventLines(report, seen)) write(line);
      const waiting = isWaitingForCa(report);
      if (waiting && cycle < maxCycles) {
        write('  waiting for the CA...');
        await sleep(pauseMs, undefined, signal ? { signal } : {});
        await work.run(ca.idle());
      }
      // The CA acts in the background (after CompleteCertificate) or when the next run lists.
      flushCa();
      if (!waiting && !wroteSomething(report)) {
        write('  nothing changed: every allowed record is in place and every secret is current');
        break;
      }
    }

    const status = await work.run(collectStatus(deps));
    write('');
    write('Status (what `tencent-ssl-sync status` shows against the sandbox)');
    write('');
    for (const line of formatStatusReport(status).trimEnd().split('\n')) write(line);

    const secrets = await work.run(listManagedSecrets(runtime.secrets));
    write('');
    write(`Secrets in Secrets Manager (moto at ${moto.endpoint})`);
    const secretRows = [...secrets.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s) => [s.name, `certificate ${s.certificateId ?? '?'}`, `version ${s.currentVersionId ?? '?'}`]);
    for (const line of secretRows.length ? table(secretRows) : ['  (none)']) write(line);

    const acmCertificates = await work.run(listManagedCertificates(acm));
    write('');
    write(`Certificates in ACM (moto at ${moto.endpoint})`);
    const acmRows = [...acmCertificates]
      .sort((a, b) => a.secretName.localeCompare(b.secretName))
      .map((c) => [c.arn, c.secretName, `certificate ${c.certificateId ?? '?'}`]);
    for (const line of acmRows.length ? table(acmRows) : ['  (none)']) write(line);

    if (due) {
      const renewal = appliedOrders(certificates, store, SANDBOX_DECLARED.due).at(-1)?.CertificateId;
      const secret = [...secrets.values()].find((s) => s.certificateId === renewal);
      const arn = acmCertificates.find((c) => c.certificateId === renewal)?.arn;
      const holders = [secret?.name, arn && 'its ACM certificate'].filter(Boolean).join(' and ');
      write('');
      write('Renewed');
      write(
        `  ${due.id}  ${due.domains.join(', ')}  expires ${dueEnd}: ${
          renewal
            ? `renewed by ${String(renewal)}, held by ${holders || 'neither its secret nor ACM'}`
            : 'not renewed'
        }`,
      );
    }

    const byDesign = certificates.filter((c) => c.expect === 'blocked' || c.expect === 'failed');
    if (byDesign.length > 0) {
      write('');
      write('Left alone by design');
      for (const c of byDesign) {
        const record = store.get(c.id);
        const why =
          c.expect === 'blocked'
            ? `still ${statusOf(record)}: outside ALLOWED_DOMAINS, so no record was written`
            : `${statusOf(record)} (${String(record?.StatusMsg ?? 'no reason given')}): nothing to validate`;
        write(`  ${c.id}  ${c.domains.join(', ')}  ${why}`);
      }
    }

    const { done, missing } = verdictOf(certificates, store, secrets, acmCertificates);
    const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
    write('');
    const code = missing.length === 0 ? SandboxExit.Ok : SandboxExit.Incomplete;
    if (code === SandboxExit.Ok) {
      write(
        `Done in ${seconds} s, ${reports.length} sync runs: ${done.length} of ${done.length} certificates issued, exported and imported into ACM (one applied for, one renewed).`,
      );
    } else {
      write(`Not done after ${reports.length} sync runs (${seconds} s): not issued, exported and imported:`);
      for (const d of missing) write(`  ${d.id ?? '-'}  ${d.domains.join(', ')}  ${d.missing}`);
    }

    const running: RunningSandbox = {
      env: { ...awsEnv, ...sandboxEnv, NODE_EXTRA_CA_CERTS: caFile },
      motoEndpoint: moto.endpoint,
      tencentUrl: tencent.url,
      store,
      zones,
      certificates,
      reports,
      declared: SANDBOX_DECLARED,
    };
    await options.beforeStop?.(running);
    if (options.keep && signal) {
      write('');
      write('The stand-ins keep running until Ctrl-C. To use the CLI against them, in another terminal:');
      for (const [key, value] of Object.entries(running.env)) write(`  export ${key}=${value}`);
      write('  npm run cli -- status');
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      write('Stopping the stand-ins.');
      return code;
    }
    write(
      'The stand-ins stop now, and their data with them (npm start -- --keep keeps them up to try the CLI).',
    );
    return code;
  } catch (failure) {
    if (signal?.aborted) {
      write('');
      write('Interrupted: stopping the stand-ins.');
      return SandboxExit.Interrupted;
    }
    const message = failure instanceof Error ? failure.message : String(failure);
    if (phase === 'starting') {
      error(`The sandbox could not start: ${message}`);
      return SandboxExit.Unusable;
    }
    error(`error: ${message}`);
    return SandboxExit.Incomplete;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Stopping is best effort: one stand-in failing to stop must not keep the others up.
      }
    }
  }
}
