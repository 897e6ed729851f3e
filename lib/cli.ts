#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isAwsCredentialsError } from './aws-errors.js';
import { ConfigError, loadConfig } from './config.js';
import { exportCertificates, isExportFailure } from './export.js';
import { formatExportReport, formatStatusReport, formatSyncReport } from './report-format.js';
import { createRuntime, type Runtime } from './runtime.js';
import { SecretReadError } from './secrets/credentials.js';
import { collectStatus, hasFailures, runSync } from './sync.js';
import type { SyncReport } from './sync-types.js';
import { TencentApiError } from './tencent/errors.js';

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

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function parseCommandArgs(args: string[], withDryRun: boolean) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: {
        'certificate-id': { type: 'string', multiple: true },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (!withDryRun && values['dry-run'])
      throw new UsageError('--dry-run does not apply: this command writes nothing');
    const ids = values['certificate-id'] ?? [];
    const bad = ids.find((id) => !/^[A-Za-z0-9_-]{1,64}$/.test(id));
    if (bad !== undefined) throw new UsageError(`${JSON.stringify(bad)} is not a Tencent certificate id`);
    return { certificateIds: ids, dryRun: values['dry-run'] === true, json: values.json === true };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
}

/** Credentials rejected or missing: the run cannot do anything (exit 2). */
function isUnusable(error: unknown): boolean {
  if (error instanceof TencentApiError) return error.isAuthFailure;
  return error instanceof SecretReadError || isAwsCredentialsError(error);
}

/** Exit code of a sync or status report: 2 when a whole step failed on credentials, 1 when anything failed. */
function reportExitCode(report: SyncReport): number {
  if (report.fatal?.credentials) return ExitCode.Unusable;
  return hasFailures(report) ? ExitCode.PartialFailure : ExitCode.Ok;
}

/** Loads the configuration, runs `work` with a runtime, maps failures to the exit codes. */
async function withRuntime(io: CliIo, work: (runtime: Runtime) => Promise<number>): Promise<number> {
  let runtime: Runtime;
  try {
    runtime = createRuntime(loadConfig(io.env), { write: (line) => io.stderr(`${line}\n`) });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      return ExitCode.Unusable;
    }
    throw error;
  }
  try {
    return await work(runtime);
  } catch (error) {
    const message = runtime.redactor.redact(error instanceof Error ? error.message : String(error));
    io.stderr(`error: ${message}\n`);
    return isUnusable(error) ? ExitCode.Unusable : ExitCode.PartialFailure;
  } finally {
    await runtime.close();
  }
}

function print<R>(io: CliIo, json: boolean, report: R, format: (report: R) => string): void {
  io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : format(report));
}

const COMMANDS: Record<string, Command> = {
  sync: {
    summary: 'write the validation records of pending certificates into Route53',
    usage: `Usage: tencent-ssl-sync sync [--certificate-id ID]... [--dry-run] [--json]

Reads every certificate waiting for DNS validation (or only those named) and upserts its
validation records into the Route53 zones that hold them. Issued certificates are exported to
Secrets Manager (or queued for export when EXPORT_QUEUE_URL is set).

  --certificate-id ID  only this certificate (repeatable)
  --dry-run            plan and report; write nothing
  --json               print the report as one JSON document`,
    async run(args, io) {
      const options = parseCommandArgs(args, true);
      return withRuntime(io, async (runtime) => {
        const report = await runSync(runtime.syncDeps(), {
          ...(options.certificateIds.length ? { certificateIds: options.certificateIds } : {}),
          ...(options.dryRun ? { dryRun: true } : {}),
        });
        print(io, options.json, report, formatSyncReport);
        return reportExitCode(report);
      });
    },
  },
  export: {
    summary: 'write issued certificates into Secrets Manager when they changed',
    usage: `Usage: tencent-ssl-sync export [--certificate-id ID]... [--dry-run] [--json]

Reads every issued certificate (or only those named), verifies its PEMs and writes them to
Secrets Manager as a new secret version, only when the secret does not already hold it.

  --certificate-id ID  only this certificate (repeatable)
  --dry-run            verify and report; write nothing
  --json               print the report as one JSON document`,
    async run(args, io) {
      const options = parseCommandArgs(args, true);
      return withRuntime(io, async (runtime) => {
        const report = await exportCertificates(runtime.exportDeps(), {
          ...(options.certificateIds.length ? { certificateIds: options.certificateIds } : {}),
          ...(options.dryRun ? { dryRun: true } : {}),
        });
        print(io, options.json, report, formatExportReport);
        return report.certificates.some(isExportFailure) ? ExitCode.PartialFailure : ExitCode.Ok;
      });
    },
  },
  status: {
    summary: 'show every certificate, its validation records and whether they are in Route53',
    usage: `Usage: tencent-ssl-sync status [--certificate-id ID]... [--json]

Shows each certificate's Tencent status and, for those waiting for validation, every
validation record and whether it is in place in Route53, and the validation deadline; for
issued ones, what Secrets Manager holds (exported, stale, missing). Writes nothing.

  --certificate-id ID  only this certificate (repeatable)
  --json               print one JSON document`,
    async run(args, io) {
      const options = parseCommandArgs(args, false);
      return withRuntime(io, async (runtime) => {
        const report = await collectStatus(runtime.syncDeps(), {
          ...(options.certificateIds.length ? { certificateIds: options.certificateIds } : {}),
        });
        print(io, options.json, report, formatStatusReport);
        return reportExitCode(report);
      });
    },
  },
  sandbox: {
    summary: 'the whole cycle against local stand-ins (moto and a local Tencent SSL API); no account needed',
    usage: `Usage: tencent-ssl-sync sandbox [--keep]

Starts moto (Route53 and Secrets Manager) and a local Tencent SSL API whose CA issues a
certificate once its validation records are in Route53, seeds a sample account, and runs the
same sync and export as the Lambda functions until nothing is left to do. Needs Python 3 with
moto: python3 -m pip install 'moto[server]'. Reads no credentials and touches no cloud account.

  --keep  keep the stand-ins running after the run (until Ctrl-C) to try the CLI against them

Exit codes: 0 every certificate that should be issued and exported was; 1 some were not;
2 Python or moto missing; 130 interrupted.`,
    async run(args, io) {
      let keep: boolean;
      try {
        const { values, positionals } = parseArgs({
          args,
          options: { keep: { type: 'boolean' } },
          strict: true,
          allowPositionals: true,
        });
        if (positionals.length > 0)
          throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
        keep = values.keep === true;
      } catch (error) {
        if (error instanceof UsageError) throw error;
        throw new UsageError((error as Error).message);
      }
      // Loaded here so that sync, export and status never load the stand-ins.
      const { runSandbox } = await import('../infra/local/sandbox.js');
      const controller = new AbortController();
      const interrupt = () => controller.abort(new Error('interrupted'));
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
      try {
        return await runSandbox({
          write: (line) => io.stdout(`${line}\n`),
          error: (line) => io.stderr(`${line}\n`),
          signal: controller.signal,
          keep,
        });
      } finally {
        process.off('SIGINT', interrupt);
        process.off('SIGTERM', interrupt);
      }
    },
  },
};

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
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${error.message}\n\n${command.usage}\n`);
      return ExitCode.Unusable;
    }
    throw error;
  }
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
