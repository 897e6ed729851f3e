import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * The layout of DESIGN.md as rules (.dependency-cruiser.json), checked over the real tree; and
 * each rule shown to fire on a small tree that breaks it, so a rule that matches nothing (a typo
 * in a path) cannot pass unnoticed.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const config = join(root, '.dependency-cruiser.json');
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const run = promisify(execFile);

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

async function cruise(
  cwd: string,
  paths: string[],
): Promise<{ violations: Violation[]; totalCruised: number }> {
  const { stdout } = await run(
    process.execPath,
    [depcruise, '--config', config, '--output-type', 'json', ...paths],
    { cwd, maxBuffer: 64 * 1024 * 1024 },
  ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  const result = JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  return result.summary;
}

async function violations(cwd: string, paths: string[]): Promise<Violation[]> {
  return (await cruise(cwd, paths)).violations;
}

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A tree of `files` (path → source) with a tsconfig like the project's. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'architecture-'));
  scratch.push(dir);
  const all = {
    'tsconfig.json': JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
    }),
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('the layout', () => {
  it('holds in the project', async () => {
    const result = await cruise(root, ['lib', 'functions', 'infra']);

    expect(result.violations).toEqual([]);
    // The whole tree was read, not an empty or unparsable one.
    expect(result.totalCruised).toBeGreaterThan(60);
  }, 60_000);
});

describe('each layout rule fires when broken', () => {
  const cases: Array<{ rule: string; files: Record<string, string> }> = [
    {
      rule: 'no-circular',
      files: {
        'lib/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
        'lib/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      },
    },
    {
      rule: 'not-to-unresolvable',
      files: { 'lib/a.ts': "import { gone } from './gone.js';\nexport const a = gone;\n" },
    },
    {
      rule: 'sinks-not-to-tencent',
      files: {
        'lib/tencent/schemas.ts': 'export type Detail = { id: string };\n',
        'lib/route53/plan.ts':
          "import type { Detail } from '../tencent/schemas.js';\nexport const f = (d: Detail) => d;\n",
      },
    },
    {
      rule: 'tencent-not-to-aws',
      files: {
        'lib/route53/client.ts': 'export const client = 1;\n',
        'lib/tencent/ssl-api.ts':
          "import { client } from '../route53/client.js';\nexport const c = client;\n",
      },
    },
    {
      rule: 'validation-is-pure',
      files: {
        'lib/route53/apply.ts': 'export const apply = () => 1;\n',
        'lib/validation/plan.ts': "import { apply } from '../route53/apply.js';\nexport const p = apply;\n",
      },
    },
    {
      rule: 'lib-not-to-functions',
      files: {
        'functions/sync.ts': 'export const handler = () => 1;\n',
        'lib/sync.ts': "import { handler } from '../functions/sync.js';\nexport const s = handler;\n",
      },
    },
    {
      rule: 'only-the-cli-reaches-local-stand-ins',
      files: {
        'infra/local/sandbox.ts': 'export const sandbox = () => 1;\n',
        'lib/sync.ts': "import { sandbox } from '../infra/local/sandbox.js';\nexport const s = sandbox;\n",
      },
    },
    {
      rule: 'production-not-to-tests',
      files: {
        'tests/helpers/fake.ts': 'export const fake = 1;\n',
        'lib/sync.ts': "import { fake } from '../tests/helpers/fake.js';\nexport const s = fake;\n",
      },
    },
    {
      rule: 'handlers-not-to-each-other',
      files: {
        'functions/export.ts': 'export const handler = () => 1;\n',
        'functions/sync.ts': "import { handler } from './export.js';\nexport const h = handler;\n",
      },
    },
  ];

  it.each(cases)(
    '$rule',
    async ({ rule, files }) => {
      const dir = tree(files);
      const found = await violations(
        dir,
        ['lib', 'functions', 'infra', 'tests'].filter((p) =>
          Object.keys(files).some((f) => f.startsWith(`${p}/`)),
        ),
      );
      expect(found.map((v) => v.rule.name)).toContain(rule);
    },
    60_000,
  );

  it('lets the CLI alone reach the local stand-ins', async () => {
    const dir = tree({
      'infra/local/sandbox.ts': 'export const sandbox = () => 1;\n',
      'lib/cli.ts': "import { sandbox } from '../infra/local/sandbox.js';\nexport const c = sandbox;\n",
    });
    expect(await violations(dir, ['lib', 'infra'])).toEqual([]);
  }, 60_000);
});
