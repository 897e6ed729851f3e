#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** Exit codes of the command line contract. */
export const ExitCode = {
  /** Everything done. */
  Ok: 0,
  /** Some certificates failed; the report says which and why. */
  PartialFailure: 1,
  /** Configuration or credentials unusable, or the command line itself is wrong. */
  Unusable: 2,
} as const;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
}

interface Command {
  summary: string;
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}

const COMMANDS: Record<string, Command> = {};

function helpText(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(8, ...names.map((name) => name.length));
  const list = names.length
    ? names.map((name) => `  ${name.padEnd(width)}  ${COMMANDS[name]?.summary}`).join('\n')
    : '  (none yet)';
  return `tencent-ssl-sync — validate Tencent Cloud SSL certificates through AWS Route53
and deliver the issued certificates to AWS Secrets Manager.

Usage: tencent-ssl-sync <command> [options]

Commands:
${list}

Options:
  -h, --help     show this help, or a command's help after its name
  -v, --version  print the version

Configuration comes from the environment (see README.md, "Configuration").
Exit codes: 0 all done; 1 some certificates failed; 2 configuration or credentials unusable.
`;
}

/** Runs the command line; returns the exit code instead of exiting so tests can call it. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.stdout(helpText());
    return name === undefined ? ExitCode.Unusable : ExitCode.Ok;
  }
  if (name === '-v' || name === '--version') {
    io.stdout(`${VERSION}\n`);
    return ExitCode.Ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`Unknown command ${JSON.stringify(name)}. Run with --help to see the commands.\n`);
    return ExitCode.Unusable;
  }
  const { values } = parseArgs({
    args: rest,
    options: { help: { type: 'boolean', short: 'h' } },
    strict: false,
  });
  if (values.help) {
    io.stdout(`${command.usage}\n`);
    return ExitCode.Ok;
  }
  return command.run(rest, io);
}

const VERSION = '0.1.0';

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  });
  process.exitCode = code;
}
