/**
 * Bundles each Lambda handler in functions/ on its own (so no handler loads code it does not use)
 * and the command line, with esbuild. Output: dist/<function>/index.mjs and dist/cli.mjs.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const outdir = join(root, 'dist');

// ESM bundles of CommonJS dependencies (the AWS SDK among them) still call require().
const banner = {
  js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
};

const functionsDir = join(root, 'functions');
const handlers = (existsSync(functionsDir) ? readdirSync(functionsDir) : [])
  .filter((file) => file.endsWith('.ts') && statSync(join(functionsDir, file)).isFile())
  .map((file) => basename(file, '.ts'));

rmSync(outdir, { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: true,
  minify: true,
  legalComments: 'none',
  banner,
  metafile: true,
  logLevel: 'warning',
} as const;

const results = await Promise.all([
  ...handlers.map((name) =>
    build({
      ...common,
      entryPoints: [join(functionsDir, `${name}.ts`)],
      outfile: join(outdir, name, 'index.mjs'),
    }),
  ),
  build({
    ...common,
    minify: false,
    entryPoints: [join(root, 'lib', 'cli.ts')],
    outfile: join(outdir, 'cli.mjs'),
  }),
]);

for (const result of results) {
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.mjs'))
      console.log(`${file.replace(`${root}`, '')}  ${(output.bytes / 1024).toFixed(1)} KiB`);
  }
}
