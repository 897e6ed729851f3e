/**
 * `npm run bench`: the sync against the local Tencent SSL server (strict 10 requests/second per
 * action, realistic latency) and moto, measured at several account sizes; then the function
 * bundles. Exits non-zero when a target is missed.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Route53Client } from '@aws-sdk/client-route-53';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { motoEnv, startMoto } from '../../infra/local/moto.js';
import { createTestPki } from '../../infra/local/pki.js';
import { startTencentServer } from '../../infra/local/tencent-server.js';
import { ensureStateTable } from '../../lib/state/setup.js';
import type { WorkerResult } from './figures.js';
import { seedScenario, zonesFor } from './scenario.js';

const run = promisify(execFile);

const USAGE = `usage: npm run bench -- [options]

Runs the sync twice (a first run that writes, a second with nothing new) against the local
Tencent SSL server and moto for each account size, then measures the function bundles.

options:
  --n LIST         pending certificates per scenario, comma separated (default 50,100,300,1000)
  --skip-memory    do not check peak memory
  --skip-bundles   do not build and measure the function bundles
  --results        rewrite the figures in tests/bench/RESULTS.md
  -h, --help       this text

targets, per size N: first-run wall <= 0.55 x N/10 s + 1 s (reads spread over the two
DescribeCertificate actions), Route53 change calls = zones touched, zero rate-limit rejections;
a second run with nothing new (state table on) makes <= 10 % of the first run's Tencent calls
and writes nothing, and takes <= 3 s up to N = 300; peak memory < 448 MiB at the largest N (the
sync function has 512 MB); two concurrent syncs over one TXT name, 20 times, lose no value.`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        n: { type: 'string', default: '50,100,300,1000' },
        'skip-memory': { type: 'boolean', default: false },
        'skip-bundles': { type: 'boolean', default: false },
        results: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
}

const values = parseOptions();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const SIZES = values.n.split(',').map((n) => Number(n.trim()));
if (SIZES.some((n) => !Number.isInteger(n) || n < 1)) {
  process.stderr.write(`--n takes positive whole numbers, comma separated: ${values.n}\n\n${USAGE}\n`);
  process.exit(2);
}
const RATE = 10;
const STATE_TABLE = 'tencent-ssl-sync-bench';
const LATENCY = { min: 40, max: 120 };
const CREDENTIALS = {
  secretId: 'AKIDbench0000000000000000000000000',
  secretKey: 'bench-secret-key-0000000000000000',
};

/** The target wall time of a first run at size n: reads spread over two 10/s budgets, plus a second. */
const targetMs = (n: number) => (0.55 * (n / RATE) + 1) * 1000;

interface Measured {
  pending: number;
  zones: number;
  worker: WorkerResult;
  rateLimited: number;
  /** Tencent calls per action, first and second run. */
  tencentCalls: [Record<string, number>, Record<string, number>];
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function measureSync(pending: number): Promise<Measured> {
  const moto = await startMoto();
  const store = new CertificateStore({ seed: 2026 });
  const env = motoEnv(moto.endpoint);
  const route53 = new Route53Client({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  const zones = zonesFor(pending);
  const dynamo = new DynamoDBClient({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  await ensureStateTable(dynamo, STATE_TABLE);
  dynamo.destroy();
  await seedScenario(route53, store, { pending, zones, issued: Math.round(pending / 2), other: pending });
  route53.destroy();
  const server = await startTencentServer({
    credentials: [CREDENTIALS],
    store,
    rateLimit: RATE,
    latencyMs: LATENCY,
  });
  // The worker exports only what chains to a root it trusts: the store's CA, given as Node's extra CA.
  const caFile = join(tmpdir(), `tencent-ssl-sync-bench-ca-${process.pid}.pem`);
  writeFileSync(caFile, (await createTestPki()).rootPem);
  try {
    const runEnv = {
      ...process.env,
      ...env,
      NODE_EXTRA_CA_CERTS: caFile,
      TENCENTCLOUD_SSL_ENDPOINT: server.url,
      TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
      TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
      TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
      TENCENTCLOUD_RATE_LIMIT: String(RATE),
      ALLOWED_DOMAINS: '*',
      STATE_TABLE,
      LOG_LEVEL: 'error',
    };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'tests/bench/worker.ts'], {
      env: runEnv,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 30 * 60_000,
    });
    const worker = JSON.parse(stdout.trim().split('\n').at(-1) as string) as WorkerResult;
    const requests = server.stats.requests;
    // The two runs are split where the worker started the second.
    const split = requests.findIndex((r) => r.at >= worker.secondStartedAt);
    const countActions = (part: typeof requests) => {
      const counts: Record<string, number> = {};
      for (const r of part) counts[String(r.action)] = (counts[String(r.action)] ?? 0) + 1;
      return counts;
    };
    const start = requests[0]?.at ?? 0;
    for (const r of requests.filter((x) => x.outcome === 'rate-limited')) {
      // The arrivals of the same action in the second before it: where the pace broke.
      const before = requests
        .filter((x) => x.action === r.action && x.at <= r.at && r.at - x.at < 1000)
        .map((x) => Math.round(x.at - start));
      log(`rate-limited: ${r.action} at ${r.at - start} ms; the second before it: ${before.join(' ')}`);
    }
    return {
      pending,
      zones,
      worker,
      rateLimited: server.stats.rateLimited,
      tencentCalls: [
        countActions(split < 0 ? requests : requests.slice(0, split)),
        countActions(split < 0 ? [] : requests.slice(split)),
      ],
    };
  } finally {
    rmSync(caFile, { force: true });
    await server.close();
    await moto.stop();
  }
}

interface BundleFigures {
  name: string;
  bytes: number;
  importMs: number;
}

async function measureBundles(): Promise<BundleFigures[]> {
  await run('npm', ['run', 'build', '--silent']);
  const env = {
    ...process.env,
    TENCENTCLOUD_SECRET_ID: 'AKIDbundle',
    TENCENTCLOUD_SECRET_KEY: 'bundle-check-key',
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const figures: BundleFigures[] = [];
  for (const name of ['sync', 'export', 'webhook']) {
    const file = `dist/${name}/index.mjs`;
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const { stdout } = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const t = performance.now(); await import(${JSON.stringify(`${process.cwd()}/${file}`)}); console.log(performance.now() - t);`,
        ],
        { env },
      );
      times.push(Number(stdout.trim()));
    }
    times.sort((a, b) => a - b);
    figures.push({
      name,
      bytes: statSync(file).size,
      importMs: times[Math.floor(times.length / 2)] as number,
    });
  }
  return figures;
}

interface Check {
  target: string;
  measured: string;
  ok: boolean;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const calls = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const reads = (calls: Record<string, number>) =>
  (calls.DescribeCertificate ?? 0) + (calls.DescribeCertificateDetail ?? 0);

log(`tencent-ssl-sync benchmark — node ${process.version}, ${cpus().length} cores, ${mib(totalmem())} RAM`);
log(
  `scenarios: N pending certificates (1–3 names), N/2 issued, N in other states; Tencent ${RATE} req/s per action, ${LATENCY.min}–${LATENCY.max} ms latency; N = ${SIZES.join(', ')}\n`,
);

const measured: Measured[] = [];
const checks: Check[] = [];
for (const n of SIZES) {
  const m = await measureSync(n);
  measured.push(m);
  const { first, second } = m.worker;
  log(`N = ${n}, ${m.zones} zones`);
  log(
    `  first   ${seconds(first.wallMs)} (target ${seconds(targetMs(n))}), Tencent ${JSON.stringify(m.tencentCalls[0])}`,
  );
  log(`  second  ${seconds(second.wallMs)}, Tencent ${JSON.stringify(m.tencentCalls[1])}`);
  log(`  Route53/Secrets Manager, first run: ${JSON.stringify(first.commands)}`);
  log(`  second run: ${JSON.stringify(second.commands)}`);
  log(`  last call finished (ms after start), first run: ${JSON.stringify(first.lastFinished)}`);
  log(
    `  exports, first run: ${JSON.stringify(first.exports)}; second run: ${JSON.stringify(second.exports)}`,
  );
  log(`  rate-limit rejections: ${m.rateLimited}; peak memory ${mib(m.worker.maxRssBytes)}\n`);
  const writesSecond =
    second.changeBatches + second.secretWrites + (second.commands.SendMessageBatchCommand ?? 0);
  checks.push(
    {
      target: `N=${n}: first-run wall ≤ ${seconds(targetMs(n))}`,
      measured: seconds(first.wallMs),
      ok: first.wallMs <= targetMs(n),
    },
    {
      target: `N=${n}: Route53 change calls = zones touched`,
      measured: `${first.changeBatches} calls, ${first.zonesTouched} zones`,
      ok: first.changeBatches === first.zonesTouched,
    },
    {
      target: `N=${n}: zero rate-limit rejections`,
      measured: String(m.rateLimited),
      ok: m.rateLimited === 0,
    },
    {
      target: `N=${n}: zero writes in the second run`,
      measured: String(writesSecond),
      ok: writesSecond === 0,
    },
    {
      target: `N=${n}: second run ≤ 10 % of the first's Tencent calls`,
      measured: `${calls(m.tencentCalls[1])} of ${calls(m.tencentCalls[0])}`,
      ok: calls(m.tencentCalls[1]) <= 0.1 * calls(m.tencentCalls[0]),
    },
    // The idle target is set at N = 300; larger accounts list more pages and read more memories.
    ...(n <= 300
      ? [
          {
            target: `N=${n}: second-run wall ≤ 3 s`,
            measured: seconds(second.wallMs),
            ok: second.wallMs <= 3000,
          },
        ]
      : []),
  );
}
const largest = measured.reduce((a, b) => (b.pending > a.pending ? b : a));
if (!values['skip-memory']) {
  // The sync function has 512 MB (serverless.yml): a run must stay well inside it.
  checks.push({
    target: `peak memory < 448 MiB at N = ${largest.pending}`,
    measured: mib(largest.worker.maxRssBytes),
    ok: largest.worker.maxRssBytes < 448 * 1024 * 1024,
  });
}

// Two syncs at once over one TXT name, twenty times, with Route53's DELETE check enforced in
// front of moto: the integration test asserts that no value is lost; here it is a target too.
const race = await run(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', 'tests/integration/concurrent-syncs.test.ts'],
  {
    maxBuffer: 16 * 1024 * 1024,
  },
).then(
  () => true,
  () => false,
);
checks.push({
  target: 'two concurrent syncs, 20 repetitions: zero lost values',
  measured: race ? 'none lost' : 'values lost (see tests/integration/concurrent-syncs.test.ts)',
  ok: race,
});

const bundles = values['skip-bundles'] ? [] : await measureBundles();
if (bundles.length > 0) {
  log('bundle    size        median import (fresh process)');
  for (const b of bundles)
    log(`${b.name.padEnd(9)} ${`${(b.bytes / 1024).toFixed(0)} KiB`.padEnd(11)} ${b.importMs.toFixed(0)} ms`);
}

log('\ntarget                                             measured                  result');
for (const c of checks) log(`${c.target.padEnd(50)} ${c.measured.padEnd(25)} ${c.ok ? 'ok' : 'MISSED'}`);

if (values.results) {
  const path = 'tests/bench/RESULTS.md';
  const previous = readFileSync(path, 'utf8');
  const marker = '<!-- figures -->';
  const table = [
    marker,
    `Measured ${new Date().toISOString().slice(0, 10)} on node ${process.version}, ${cpus().length} cores (\`npm run bench -- --results\`).`,
    '',
    '| N | zones | first run | target | reads (Describe + Detail) | exports | Route53 change calls | zones touched | writes | second run | second-run writes | rejections | peak memory |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...measured.map((m) => {
      const { first, second } = m.worker;
      const calls = m.tencentCalls[0];
      const writesSecond = second.changeBatches + second.secretWrites;
      return `| ${m.pending} | ${m.zones} | ${seconds(first.wallMs)} | ${seconds(targetMs(m.pending))} | ${calls.DescribeCertificate ?? 0} + ${calls.DescribeCertificateDetail ?? 0} = ${reads(calls)} | ${first.secretWrites} | ${first.changeBatches} | ${first.zonesTouched} | ${first.recordWrites} records, ${first.secretWrites} secrets | ${seconds(second.wallMs)} | ${writesSecond} | ${m.rateLimited} | ${mib(m.worker.maxRssBytes)} |`;
    }),
    '',
    ...(bundles.length > 0
      ? [
          '| bundle | size | median import |',
          '|---|---|---|',
          ...bundles.map(
            (b) => `| ${b.name} | ${(b.bytes / 1024).toFixed(0)} KiB | ${b.importMs.toFixed(0)} ms |`,
          ),
          '',
        ]
      : []),
    ...checks.map((c) => `- ${c.ok ? '✓' : '✗'} ${c.target}: ${c.measured}`),
    marker,
  ].join('\n');
  const [before, , after] = previous.split(marker);
  writeFileSync(path, `${before ?? ''}${table}${after ?? ''}`);
}

process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
