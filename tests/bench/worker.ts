/**
 * One benchmark process: runs the real sync (with inline export) twice against the stand-ins
 * named in the environment and prints one JSON line of measurements. Run in its own process so
 * its peak memory is its own.
 */
import type { InitializeMiddleware } from '@smithy/types';
import { loadConfig } from '../../lib/config.js';
import { createRuntime } from '../../lib/runtime.js';
import { runSync } from '../../lib/sync.js';
import type { RunFigures, WorkerResult } from './figures.js';

const runtime = createRuntime(loadConfig(process.env), { write: () => {} });
const deps = runtime.syncDeps();
const counts: Record<string, number> = {};
const count = (name: string) => {
  counts[name] = (counts[name] ?? 0) + 1;
};
// Count commands as they are sent (initialize step: once per command, not per retry).
// biome-ignore lint/suspicious/noExplicitAny: one counter serves the clients of two services.
const counter: InitializeMiddleware<any, any> = (next, context) => async (args) => {
  count(String(context.commandName));
  return next(args);
};
deps.route53.middlewareStack.add(counter, { step: 'initialize', name: 'benchCounter' });
runtime.secrets.middlewareStack.add(counter, { step: 'initialize', name: 'benchCounter' });

let started = 0;
const lastFinished: Record<string, number> = {};
const traced =
  <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
  async (...args: A): Promise<R> => {
    try {
      return await fn(...args);
    } finally {
      lastFinished[name] = Math.round(performance.now() - started);
    }
  };
deps.tencent = {
  listCertificates: traced('DescribeCertificates', deps.tencent.listCertificates.bind(deps.tencent)),
  describeValidation: traced('describeValidation', deps.tencent.describeValidation.bind(deps.tencent)),
  completeCertificate: traced('CompleteCertificate', deps.tencent.completeCertificate.bind(deps.tencent)),
};
if (deps.onIssued) deps.onIssued = traced('export', deps.onIssued);

async function measure(): Promise<RunFigures> {
  for (const key of Object.keys(counts)) delete counts[key];
  for (const key of Object.keys(lastFinished)) delete lastFinished[key];
  started = performance.now();
  const report = await runSync(deps);
  const wallMs = performance.now() - started;
  const zones = new Set<string>();
  let recordWrites = 0;
  const exports: Record<string, number> = {};
  for (const certificate of report.certificates) {
    for (const record of certificate.records) {
      if ((record.action === 'created' || record.action === 'updated') && record.zone) {
        zones.add(record.zone.id);
        recordWrites++;
      }
    }
    if (certificate.export)
      exports[certificate.export.result] = (exports[certificate.export.result] ?? 0) + 1;
  }
  return {
    wallMs,
    lastFinished: { ...lastFinished },
    commands: { ...counts },
    zonesTouched: zones.size,
    changeBatches: counts.ChangeResourceRecordSetsCommand ?? 0,
    recordWrites,
    secretWrites: (counts.CreateSecretCommand ?? 0) + (counts.PutSecretValueCommand ?? 0),
    outcomes: report.totals.byOutcome,
    exports,
  };
}

const first = await measure();
const secondStartedAt = Date.now();
const second = await measure();
await runtime.close();
const result: WorkerResult = {
  first,
  second,
  secondStartedAt,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
