/**
 * `npm start`: the whole cycle on a laptop. moto stands in for Route53 and Secrets Manager, the
 * local Tencent SSL server (with a local CA) for Tencent; the same runSync and inline export as
 * the Lambda functions run over HTTP against both until nothing is left to do.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { getCACertificates } from 'node:tls';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Route53Client } from '@aws-sdk/client-route-53';
import { type Clock, systemClock } from '../../lib/clock.js';
import { loadConfig } from '../../lib/config.js';
import { formatStatusReport } from '../../lib/report-format.js';
import { createRuntime } from '../../lib/runtime.js';
import { listManagedSecrets, type ManagedSecret } from '../../lib/secrets/secret-store.js';
import { trustAnchorsFrom } from '../../lib/secrets/trust.js';
import { ensureStateTable } from '../../lib/state/setup.js';
import { collectStatus, runSync } from '../../lib/sync.js';
import type { SyncReport } from '../../lib/sync-types.js';
import { CertificateStore, type StoredCertificate } from './certificate-store.js';
import { type CaCheck, createLocalCa } from './local-ca.js';
import { isMotoInstalled, MOTO_INSTALL_HINT, motoEnv, startMoto } from './moto.js';
import { createTestPki } from './pki.js';
import {
  SANDBOX_ALLOWED_DOMAINS,
  SANDBOX_STATE_TABLE,
  type SandboxCertificate,
  type SandboxZone,
  seedCertificates,
  seedZones,
} from './sandbox-account.js';
import {
  cycleHeadline,
  cycleLines,
  isWaitingForCa,
  logLine,
  table,
  wroteSomething,
} from './sandbox-progress.js';
import { startTencentServer } from './tencent-server.js';

/** Exit codes of `sandbox`, on top of the command line's 0, 1 and 2. */
const SandboxExit = {
  /** Every certificate that should be issued and exported was. */
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

function caLine(certificate: StoredCertificate, check: CaCheck): string {
  const found = check.records.length;
  const names = [certificate.Domain, ...((certificate.SubjectAltName as unknown[] | undefined) ?? [])];
  return `  CA: ${check.certificateId} ${names.join(', ')}: ${found} of ${found} validation record${
    found === 1 ? '' : 's'
  } found in Route53 -> issued`;
}

function verdictOf(
  certificates: SandboxCertificate[],
  store: CertificateStore,
  secrets: Map<string, ManagedSecret>,
): { done: SandboxCertificate[]; missing: SandboxCertificate[] } {
  const exported = new Set([...secrets.values()].map((secret) => secret.certificateId));
  const wanted = certificates.filter((c) => c.expect === 'exported');
  const done = wanted.filter((c) => store.get(c.id)?.Status === 1 && exported.has(c.id));
  return { done, missing: wanted.filter((c) => !done.includes(c)) };
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
    write('tencent-ssl-sync sandbox: Tencent SSL -> Route53 -> Secrets Manager, all on this machine');
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

    write(`moto (Route53, Secrets Manager)  ${moto.endpoint}`);
    write(`Tencent SSL API                  ${tencent.url}  (signed requests, 10/s per action)`);
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

    const reports: SyncReport[] = [];
    const seen = new Set<string>();
    for (let cycle = 1; cycle <= maxCycles; cycle += 1) {
      const report = await work.run(runSync(deps));
      reports.push(report);
      write('');
      write(cycleHeadline(cycle, report));
      for (const line of cycleLines(report, seen)) write(line);
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

    const byDesign = certificates.filter((c) => c.expect !== 'exported');
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

    const { done, missing } = verdictOf(certificates, store, secrets);
    const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
    write('');
    const code = missing.length === 0 ? SandboxExit.Ok : SandboxExit.Incomplete;
    if (code === SandboxExit.Ok) {
      write(
        `Done in ${seconds} s, ${reports.length} sync runs: ${done.length} of ${done.length} certificates issued and exported.`,
      );
    } else {
      write(`Not done after ${reports.length} sync runs (${seconds} s): not issued and exported:`);
      for (const c of missing) write(`  ${c.id}  ${c.domains.join(', ')}  ${statusOf(store.get(c.id))}`);
    }

    const running: RunningSandbox = {
      env: { ...awsEnv, ...sandboxEnv, NODE_EXTRA_CA_CERTS: caFile },
      motoEndpoint: moto.endpoint,
      tencentUrl: tencent.url,
      store,
      zones,
      certificates,
      reports,
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
