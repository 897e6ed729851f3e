/**
 * `npm run bench`: the sync against the local Tencent SSL server (strict 10 requests/second per
 * action, realistic latency) and moto, measured; then the function bundles. Exits non-zero when
 * a target is missed. Options: --n N (pending certificates, default 300), --memory-n N (default
 * 1000), --skip-memory, --results (rewrite tests/bench/RESULTS.md).
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Route53Client } from '@aws-sdk/client-route-53';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { motoEnv, startMoto } from '../../infra/local/moto.js';
import { createTestPki } from '../../infra/local/pki.js';
import { startTencentServer } from '../../infra/local/tencent-server.js';
import type { WorkerResult } from './figures.js';
import { seedScenario } from './scenario.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '300' },
    'memory-n': { type: 'string', default: '1000' },
    'skip-memory': { type: 'boolean', default: false },
    results: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const MEMORY_N = Number(values['memory-n']);
const RATE = 10;
const ZONES = 20;
const CREDENTIALS = {
  secretId: 'AKIDbench0000000000000000000000000',
  secretKey: 'bench-secret-key-0000000000000000',
};

interface Measured {
  pending: number;
  worker: WorkerResult;
  describeCalls: number[];
  rateLimited: number;
  tencentCalls: Record<string, number>;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function measureSync(
  pending: number,
  rate: number,
  latency: { min: number; max: number },
): Promise<Measured> {
  const moto = await startMoto();
  const store = new CertificateStore({ seed: 2026 });
  const env = motoEnv(moto.endpoint);
  const route53 = new Route53Client({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  await seedScenario(route53, store, {
    pending,
    zones: ZONES,
    issued: Math.round(pending / 2),
    other: pending,
  });
  route53.destroy();
  const server = await startTencentServer({
    credentials: [CREDENTIALS],
    store,
    rateLimit: rate,
    latencyMs: latency,
  });
  // The worker exports only what chains to a root it trusts: the store's CA, given as Node's extra CA.
  const caFile = join(tmpdir(), `tencent-ssl-sync-bench-ca-${process.pid}.pem`);
  writeFileSync(caFile, (await createTestPki()).rootPem);
  try {
    const describeCalls: number[] = [];
    const runEnv = {
      ...process.env,
      ...env,
      NODE_EXTRA_CA_CERTS: caFile,
      TENCENTCLOUD_SSL_ENDPOINT: server.url,
      TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
      TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
      TENCENTCLOUD_RATE_LIMIT: String(rate),
      ALLOWED_DOMAINS: '*',
      LOG_LEVEL: 'error',
    };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'tests/bench/worker.ts'], {
      env: runEnv,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 30 * 60_000,
    });
    const worker = JSON.parse(stdout.trim().split('\n').at(-1) as string) as WorkerResult;
    const requests = server.stats.requests;
    // The two runs are split where the second DescribeCertificates listing starts.
    const listings = requests
      .map((r, i) => (r.action === 'DescribeCertificates' ? i : -1))
      .filter((i) => i >= 0);
    const split = listings[1] ?? requests.length;
    describeCalls.push(
      requests.slice(0, split).filter((r) => r.action === 'DescribeCertificate').length,
      requests.slice(split).filter((r) => r.action === 'DescribeCertificate').length,
    );
    const start = requests[0]?.at ?? 0;
    for (const r of requests.filter((x) => x.outcome === 'rate-limited')) {
      log(`rate-limited: ${r.action} at ${r.at - start} ms`);
    }
    const tencentCalls: Record<string, number> = {};
    for (const r of requests) tencentCalls[String(r.action)] = (tencentCalls[String(r.action)] ?? 0) + 1;
    return { pending, worker, describeCalls, rateLimited: server.stats.rateLimited, tencentCalls };
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

log(`tencent-ssl-sync benchmark — node ${process.version}, ${cpus().length} cores, ${mib(totalmem())} RAM`);
log(
  `scenario: ${N} pending certificates (1–3 names) across ${ZONES} zones, ${Math.round(N / 2)} issued, ${N} in other states; Tencent ${RATE} req/s per action, 40–120 ms latency\n`,
);

const main = await measureSync(N, RATE, { min: 40, max: 120 });
const { first, second } = main.worker;
const floorMs = ((main.describeCalls[0] as number) / RATE) * 1000;
const ratio = first.wallMs / floorMs;
log(
  'run      wall       describe calls  floor      ratio  R53 change calls  zones touched  record writes  secret writes',
);
for (const [label, figures, describes] of [
  ['first', first, main.describeCalls[0] as number],
  ['second', second, main.describeCalls[1] as number],
] as const) {
  const floor = (describes / RATE) * 1000;
  log(
    `${label.padEnd(8)} ${seconds(figures.wallMs).padEnd(10)} ${String(describes).padEnd(15)} ${seconds(floor).padEnd(10)} ${(figures.wallMs / floor).toFixed(3).padEnd(6)} ${String(figures.changeBatches).padEnd(17)} ${String(figures.zonesTouched).padEnd(14)} ${String(figures.recordWrites).padEnd(14)} ${figures.secretWrites}`,
  );
}
log(
  `Tencent calls (both runs): ${JSON.stringify(main.tencentCalls)}; rate-limit rejections: ${main.rateLimited}`,
);
log(`Route53/Secrets Manager commands, first run: ${JSON.stringify(first.commands)}`);
log(`second run: ${JSON.stringify(second.commands)}`);
log(
  `last call finished (ms after start), first run: ${JSON.stringify(first.lastFinished)}; second run: ${JSON.stringify(second.lastFinished)}`,
);
log(`exports, first run: ${JSON.stringify(first.exports)}; second run: ${JSON.stringify(second.exports)}`);
log(`peak memory (N=${N}): ${mib(main.worker.maxRssBytes)}\n`);

let memory: Measured | undefined;
if (!values['skip-memory']) {
  // Memory does not depend on the pace: a fast limit keeps this part short.
  memory = await measureSync(MEMORY_N, 500, { min: 0, max: 5 });
  log(`peak memory (N=${MEMORY_N}, two runs): ${mib(memory.worker.maxRssBytes)}\n`);
}

const bundles = await measureBundles();
log('bundle    size        median import (fresh process)');
for (const b of bundles)
  log(`${b.name.padEnd(9)} ${`${(b.bytes / 1024).toFixed(0)} KiB`.padEnd(11)} ${b.importMs.toFixed(0)} ms`);

const writesSecond =
  second.changeBatches + second.secretWrites + (second.commands.SendMessageBatchCommand ?? 0);
const checks: Check[] = [
  { target: 'first-run wall ≤ 1.10 × floor', measured: `${ratio.toFixed(3)} × floor`, ok: ratio <= 1.1 },
  {
    target: 'Route53 change calls = zones touched',
    measured: `${first.changeBatches} calls, ${first.zonesTouched} zones`,
    ok: first.changeBatches === first.zonesTouched,
  },
  { target: 'zero rate-limit rejections', measured: String(main.rateLimited), ok: main.rateLimited === 0 },
  { target: 'zero writes in the second run', measured: String(writesSecond), ok: writesSecond === 0 },
];
if (memory) {
  checks.push({
    target: `peak memory < 256 MiB at N = ${MEMORY_N}`,
    measured: mib(memory.worker.maxRssBytes),
    ok: memory.worker.maxRssBytes < 256 * 1024 * 1024,
  });
}
log('\ntarget                                   measured                  result');
for (const c of checks) log(`${c.target.padEnd(40)} ${c.measured.padEnd(25)} ${c.ok ? 'ok' : 'MISSED'}`);

if (values.results) {
  const path = 'tests/bench/RESULTS.md';
  const previous = readFileSync(path, 'utf8');
  const marker = '<!-- figures -->';
  const table = [
    marker,
    `Measured ${new Date().toISOString().slice(0, 10)} on node ${process.version}, ${cpus().length} cores (\`npm run bench -- --results\`).`,
    '',
    '| run | wall | describe calls | floor | ratio | Route53 change calls | zones touched | writes |',
    '|---|---|---|---|---|---|---|---|',
    `| first | ${seconds(first.wallMs)} | ${main.describeCalls[0]} | ${seconds(floorMs)} | ${ratio.toFixed(3)} | ${first.changeBatches} | ${first.zonesTouched} | ${first.recordWrites} records, ${first.secretWrites} secrets |`,
    `| second | ${seconds(second.wallMs)} | ${main.describeCalls[1]} | ${seconds(((main.describeCalls[1] as number) / RATE) * 1000)} | ${(second.wallMs / (((main.describeCalls[1] as number) / RATE) * 1000)).toFixed(3)} | ${second.changeBatches} | ${second.zonesTouched} | ${writesSecond} |`,
    '',
    `Rate-limit rejections: ${main.rateLimited}. Peak memory: ${mib(main.worker.maxRssBytes)} at N = ${N}${memory ? `, ${mib(memory.worker.maxRssBytes)} at N = ${MEMORY_N}` : ''}.`,
    '',
    '| bundle | size | median import |',
    '|---|---|---|',
    ...bundles.map((b) => `| ${b.name} | ${(b.bytes / 1024).toFixed(0)} KiB | ${b.importMs.toFixed(0)} ms |`),
    '',
    ...checks.map((c) => `- ${c.ok ? '✓' : '✗'} ${c.target}: ${c.measured}`),
    marker,
  ].join('\n');
  const [before, , after] = previous.split(marker);
  writeFileSync(path, `${before ?? ''}${table}${after ?? ''}`);
}

process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
