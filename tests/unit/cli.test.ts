import { describe, expect, it } from 'vitest';
import { main } from '../../lib/cli.js';
import { closest, editDistance } from '../../lib/cli-args.js';

/* The command line as people meet it: nothing here reaches a configuration or a network. */

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
  return { code, stdout, stderr };
}

describe('unknown and malformed options', () => {
  it('names a misspelt option with the one meant, exit 2 and the usage on stderr', async () => {
    const run = await cli(['sync', '--dryrun']);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toBe('error: unknown option --dryrun (did you mean --dry-run?)');
    expect(run.stderr).toContain(
      'Usage: tencent-ssl-sync sync [--certificate-id ID]... [--dry-run] [--json]',
    );
    expect(run.stderr).not.toMatch(/positional/);
  });

  it.each([
    [['sync', '--josn'], 'unknown option --josn (did you mean --json?)'],
    [['export', '--certificate', 'abc'], 'unknown option --certificate (did you mean --certificate-id?)'],
    [['status', '--jsn'], 'unknown option --jsn (did you mean --json?)'],
    [['sync', '-dry-run'], 'unknown option -dry-run (did you mean --dry-run?)'],
    [['sandbox', '--kep'], 'unknown option --kep (did you mean --keep?)'],
    [['sync', '--force'], 'unknown option --force'],
    [['sync', '-x'], 'unknown option -x'],
  ])('reports %j as %j', async (args, message) => {
    const run = await cli(args);

    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(`error: ${message}`);
  });

  it.each([
    [['sync', '--certificate-id'], '--certificate-id needs a value: --certificate-id ID'],
    [['sync', '--certificate-id', '--json'], '--certificate-id needs a value: --certificate-id ID'],
    [['sync', '--certificate-id='], '--certificate-id needs a value: --certificate-id ID'],
    [['sync', '--json=yes'], '--json takes no value'],
    [['sync', 'now'], 'unexpected argument "now"'],
    [['sync', '--', '--dry-run'], 'unexpected argument "--dry-run"'],
    [['sync', '--certificate-id', 'a b'], '"a b" is not a Tencent certificate id'],
    [['status', '--dry-run'], '--dry-run does not apply: this command writes nothing'],
  ])('refuses %j: %s', async (args, message) => {
    const run = await cli(args);

    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(`error: ${message}`);
    expect(run.stderr).toContain(`Usage: tencent-ssl-sync ${args[0]}`);
  });
});

describe('commands and help', () => {
  it.each(['sync', 'export', 'status', 'setup', 'sandbox'])(
    'prints the usage of %s for --help and -h, exit 0',
    async (name) => {
      for (const flag of ['--help', '-h']) {
        const run = await cli([name, flag]);

        expect(run.code).toBe(0);
        expect(run.stdout).toMatch(new RegExp(`^Usage: tencent-ssl-sync ${name}`));
        expect(run.stderr).toBe('');
      }
    },
  );

  it('prints a command’s usage for help <command>', async () => {
    const run = await cli(['help', 'status']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: tencent-ssl-sync status/);
  });

  it('prints the help with every command for --help, exit 0', async () => {
    const run = await cli(['--help']);

    expect(run.code).toBe(0);
    for (const name of ['sync', 'export', 'status', 'setup', 'sandbox'])
      expect(run.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('says a command is missing, with the help on stderr, exit 2', async () => {
    const run = await cli([]);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toBe('error: missing command');
    expect(run.stderr).toContain('Usage: tencent-ssl-sync <command> [options]');
  });

  it.each([
    [['stauts'], 'unknown command "stauts" (did you mean status?)'],
    [['expor'], 'unknown command "expor" (did you mean export?)'],
    [['deploy'], 'unknown command "deploy"'],
    [['help', 'snyc'], 'unknown command "snyc" (did you mean sync?)'],
    [['--dry-run', 'sync'], 'options go after the command: tencent-ssl-sync sync --dry-run'],
    [
      ['--certificate-id', 'x'],
      'missing command before --certificate-id: tencent-ssl-sync <command> [options]',
    ],
    [['--verison'], 'unknown option --verison (did you mean --version?)'],
  ])('refuses %j: %s', async (args, message) => {
    const run = await cli(args);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toBe(`error: ${message}`);
    expect(run.stderr).toContain('Commands:');
  });
});

describe('did-you-mean', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('josn', 'json')).toBe(1);
    expect(editDistance('dryrun', 'dry-run')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests only what is close, or what the word abbreviates', () => {
    expect(closest('DRY-RUN', ['dry-run', 'json'])).toBe('dry-run');
    expect(closest('cert', ['certificate-id', 'json'])).toBe('certificate-id');
    expect(closest('force', ['certificate-id', 'dry-run', 'json'])).toBeUndefined();
    expect(closest('js', ['json', 'sync'])).toBeUndefined();
  });
});

describe('a whole-run failure', () => {
  it('prints one JSON document with the reason on stdout for a bad command line with --json', async () => {
    const run = await cli(['sync', '--json', '--dryrun']);

    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      ok: false,
      command: 'sync',
      exitCode: 2,
      error: { kind: 'usage', message: 'unknown option --dryrun (did you mean --dry-run?)' },
    });
    expect(run.stderr).toContain('Usage: tencent-ssl-sync sync');
  });

  it('prints one JSON document listing every configuration problem with --json', async () => {
    const run = await cli(['status', '--json'], { RECORD_TTL: 'x' });

    expect(run.code).toBe(2);
    const document = JSON.parse(run.stdout);
    expect(document).toMatchObject({
      ok: false,
      command: 'status',
      exitCode: 2,
      error: { kind: 'configuration', message: expect.stringMatching(/^Configuration is not usable: /) },
    });
    expect(document.error.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Tencent credentials are missing/),
        expect.stringMatching(/RECORD_TTL/),
      ]),
    );
  });

  it('says on stderr, not stdout, why the configuration is unusable without --json', async () => {
    const run = await cli(['export'], { RECORD_TTL: 'x' });

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toBe('error: export could not run: Configuration is not usable:');
    expect(run.stderr).toMatch(/RECORD_TTL/);
  });

  it('prints one JSON document for a missing or unknown command with --json', async () => {
    const run = await cli(['snyc', '--json']);

    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      ok: false,
      command: null,
      exitCode: 2,
      error: { kind: 'usage', message: 'unknown command "snyc" (did you mean sync?)' },
    });
  });
});
