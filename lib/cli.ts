#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAwsCredentialsError } from './aws-errors.js';
import {
  closest,
  type OptionSpecs,
  optionArgs,
  type ParsedOptions,
  parseOptions,
  UsageError,
  unknownOptionMessage,
} from './cli-args.js';
import { ConfigError, loadConfig, loadStateTableName } from './config.js';
import { createDynamoDBClient, regionOf } from './deps/state.js';
import { errorMessage } from './error-text.js';
import { exportCertificates, isExportFailure } from './export.js';
import { Redactor } from './redact.js';
import { formatExportReport, formatStatusReport, formatSyncReport } from './report-format.js';
import { createRuntime, type Runtime } from './runtime.js';
import { SecretReadError } from './secrets/credentials.js';
import { ensureStateTable, formatStateTableSetup, StateTableShapeError } from './state/setup.js';
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
  options: OptionSpecs;
  run(options: ParsedOptions, io: CliIo): Promise<number>;
}

const HELP_OPTION: OptionSpecs = { help: { type: 'boolean', short: 'h' } };
const REPORT_OPTIONS: OptionSpecs = {
  'certificate-id': { type: 'string', placeholder: 'ID' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  ...HELP_OPTION,
};

/** The options `sync`, `export` and `status` share, checked. */
function reportOptions(values: ParsedOptions, withDryRun: boolean) {
  if (!withDryRun && values['dry-run'])
    throw new UsageError('--dry-run does not apply: this command writes nothing');
  const given = values['certificate-id'];
  const ids = Array.isArray(given) ? given : [];
  const bad = ids.find((id) => !/^[A-Za-z0-9_-]{1,64}$/.test(id));
  if (bad !== undefined) throw new UsageError(`${JSON.stringify(bad)} is not a Tencent certificate id`);
  return { certificateIds: ids, dryRun: values['dry-run'] === true, json: values.json === true };
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

/**
 * Why a command produced no report:
 * - `usage`: the command line is wrong (exit 2);
 * - `configuration`: the environment is unusable, every problem listed (exit 2);
 * - `credentials`: Tencent or AWS credentials missing or rejected (exit 2);
 * - `run`: anything else stopped the run, e.g. Tencent unreachable or answering what the tool cannot read (exit 1).
 */
export type FailureKind = 'usage' | 'configuration' | 'credentials' | 'run';

/** What `--json` prints instead of a report when the command could not produce one. */
export interface FailureDocument {
  ok: false;
  /** The command asked for; null when there was none or it is unknown. */
  command: string | null;
  exitCode: number;
  error: { kind: FailureKind; message: string; problems?: string[] };
}

/** The command being run, and whether its output is JSON. */
interface Invocation {
  command: string | null;
  json: boolean;
}

const FAILURE_EXIT: Record<FailureKind, number> = {
  usage: ExitCode.Unusable,
  configuration: ExitCode.Unusable,
  credentials: ExitCode.Unusable,
  run: ExitCode.PartialFailure,
};

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();

/**
 * Tells why the command produced no report: with `--json`, one failure document on stdout; as
 * text, the reason on stderr (stdout carries reports only). Returns the exit code.
 */
function failRun(io: CliIo, invocation: Invocation, error: FailureDocument['error'], text: string): number {
  const exitCode = FAILURE_EXIT[error.kind];
  if (invocation.json) {
    const document: FailureDocument = { ok: false, command: invocation.command, exitCode, error };
    io.stdout(`${JSON.stringify(document, null, 2)}\n`);
  }
  io.stderr(`error: ${text}\n`);
  return exitCode;
}

/** Loads the configuration, runs `work` with a runtime, maps failures to the exit codes. */
async function withRuntime(
  io: CliIo,
  invocation: Invocation & { command: string },
  work: (runtime: Runtime) => Promise<number>,
): Promise<number> {
  const { command } = invocation;
  let runtime: Runtime;
  try {
    runtime = createRuntime(loadConfig(io.env), { write: (line) => io.stderr(`${line}\n`) });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const message = `Configuration is not usable: ${error.problems.join('; ')}`;
    const error_ = { kind: 'configuration' as const, message, problems: error.problems };
    return failRun(io, invocation, error_, `${command} could not run: ${error.message}`);
  }
  try {
    return await work(runtime);
  } catch (error) {
    const message = oneLine(runtime.redactor.redact(errorMessage(error)));
    if (isUnusable(error)) {
      const text = `${command} could not run: credentials missing or rejected: ${message}`;
      return failRun(io, invocation, { kind: 'credentials', message }, text);
    }
    return failRun(io, invocation, { kind: 'run', message }, `${command} could not run: ${message}`);
  } finally {
    await runtime.close();
  }
}

function print<R>(io: CliIo, json: boolean, report: R, format: (report: R) => string): void {
  io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : format(report));
}

/** `setup`: needs STATE_TABLE and AWS credentials only, so it reads no other configuration. */
async function setupStateTable(io: CliIo, json: boolean): Promise<number> {
  const invocation = { command: 'setup', json };
  let tableName: string | undefined;
  try {
    tableName = loadStateTableName(io.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const message = `Configuration is not usable: ${error.problems.join('; ')}`;
    const error_ = { kind: 'configuration' as const, message, problems: error.problems };
    return failRun(io, invocation, error_, `setup could not run: ${error.message}`);
  }
  if (tableName === undefined) {
    const problem = 'STATE_TABLE is not set: name the DynamoDB table to create';
    const error_ = { kind: 'configuration' as const, message: problem, problems: [problem] };
    return failRun(io, invocation, error_, `setup could not run: ${problem}`);
  }
  const client = createDynamoDBClient();
  try {
    if ((await regionOf(client)) === undefined) {
      const problem = 'no AWS region: set AWS_REGION, or a region in the AWS profile';
      const error_ = { kind: 'configuration' as const, message: problem, problems: [problem] };
      return failRun(io, invocation, error_, `setup could not run: ${problem}`);
    }
    const setup = await ensureStateTable(client, tableName);
    print(io, json, setup, formatStateTableSetup);
    return setup.ready ? ExitCode.Ok : ExitCode.PartialFailure;
  } catch (error) {
    const message = oneLine(errorMessage(error));
    if (isAwsCredentialsError(error)) {
      const text = `setup could not run: credentials missing or rejected: ${message}`;
      return failRun(io, invocation, { kind: 'credentials', message }, text);
    }
    if (error instanceof StateTableShapeError) {
      const error_ = { kind: 'configuration' as const, message, problems: [message] };
      return failRun(io, invocation, error_, `setup could not run: ${message}`);
    }
    return failRun(io, invocation, { kind: 'run', message }, `setup could not run: ${message}`);
  } finally {
    client.destroy();
  }
}

const COMMANDS: Record<string, Command> = {
  sync: {
    summary: 'write the validation records of pending certificates into Route53',
    usage: `Usage: tencent-ssl-sync sync [--certificate-id ID]... [--dry-run] [--json]

Reads every certificate waiting for DNS validation (or only those named) and upserts its
validation records into the Route53 zones that hold them. Issued certificates are exported to
Secrets Manager (or queued for export when EXPORT_QUEUE_URL is set).
With CERTIFICATES and STATE_TABLE set, a run without --certificate-id first applies for the
certificates of CERTIFICATES that are missing or due for renewal, once per need.

  --certificate-id ID  only this certificate (repeatable)
  --dry-run            plan and report; write nothing
  --json               print the report as one JSON document`,
    options: REPORT_OPTIONS,
    async run(values, io) {
      const options = reportOptions(values, true);
      return withRuntime(io, { command: 'sync', json: options.json }, async (runtime) => {
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
    options: REPORT_OPTIONS,
    async run(values, io) {
      const options = reportOptions(values, true);
      return withRuntime(io, { command: 'export', json: options.json }, async (runtime) => {
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
issued ones, what Secrets Manager holds (exported, stale, missing); with CERTIFICATES set,
each declared domain's certificate, expiry and renewal state. Writes nothing.

  --certificate-id ID  only this certificate (repeatable)
  --json               print one JSON document`,
    // --dry-run is known here only to say that it does not apply.
    options: REPORT_OPTIONS,
    async run(values, io) {
      const options = reportOptions(values, false);
      return withRuntime(io, { command: 'status', json: options.json }, async (runtime) => {
        const report = await collectStatus(runtime.syncDeps(), {
          ...(options.certificateIds.length ? { certificateIds: options.certificateIds } : {}),
        });
        print(io, options.json, report, formatStatusReport);
        return reportExitCode(report);
      });
    },
  },
  setup: {
    summary: 'create the DynamoDB state table named by STATE_TABLE when it is missing',
    usage: `Usage: tencent-ssl-sync setup [--json]

Creates the DynamoDB table named by STATE_TABLE when it does not exist (on-demand billing,
string keys pk and sk), waits until it is ACTIVE, and turns on TTL (attribute expiresAt) and
point-in-time recovery. On a table that is ready it changes nothing. Needs AWS credentials
allowed dynamodb:DescribeTable, CreateTable, TagResource, DescribeTimeToLive, UpdateTimeToLive,
DescribeContinuousBackups and UpdateContinuousBackups on that table.

  --json  print the result as one JSON document

Exit codes: 0 the table is ready with TTL and point-in-time recovery on; 1 the table is there
but one of them could not be turned on (the output says why); 2 STATE_TABLE unset or invalid,
the table exists with other keys, or AWS credentials missing or rejected.`,
    options: { json: { type: 'boolean' }, ...HELP_OPTION },
    run: (values, io) => setupStateTable(io, values.json === true),
  },
  sandbox: {
    summary: 'the whole cycle against local stand-ins (moto and a local Tencent SSL API); no account needed',
    usage: `Usage: tencent-ssl-sync sandbox [--keep]

Starts moto (Route53, Secrets Manager, DynamoDB, ACM, EventBridge) and a local Tencent SSL API
whose CA issues a certificate once its validation records are in Route53, seeds a sample account
with a name to apply for and a certificate due for renewal, and runs the same sync, renewal,
export, ACM import and events as the Lambda functions until nothing is left to do. Needs Python 3 with
moto: python3 -m pip install 'moto[server]'. Reads no credentials and touches no cloud account.

  --keep  keep the stand-ins running after the run (until Ctrl-C) to try the CLI against them

Exit codes: 0 every certificate that should be issued, exported and imported was; 1 some were not;
2 Python or moto missing; 130 interrupted.`,
    options: { keep: { type: 'boolean' }, ...HELP_OPTION },
    async run(values, io) {
      const keep = values.keep === true;
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
  const list = names.map((name) => `  ${name.padEnd(width)}  ${COMMANDS[name]?.summary}`).join('\n');
  return `tencent-ssl-sync — validate Tencent Cloud SSL certificates through AWS Route53
and deliver the issued certificates to AWS Secrets Manager.

Usage: tencent-ssl-sync <command> [options]

Commands:
${list}

Options:
  -h, --help     show this help, or a command's help after its name (or: help <command>)
  -v, --version  print the version

Configuration comes from the environment (see README.md, "Configuration").
Exit codes: 0 all done (a certificate outside ALLOWED_DOMAINS is left alone, no failure);
1 some certificates failed or are blocked; 2 configuration or credentials unusable, or a bad
command line.
`;
}

const GLOBAL_OPTIONS = ['help', 'version'];

function commandNamed(name: string): Command | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

function unknownCommandMessage(name: string): string {
  const suggestion = closest(name, Object.keys(COMMANDS));
  return `unknown command ${JSON.stringify(name)}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`;
}

/** An option where the command should be. */
function optionFirstMessage(written: string, rest: readonly string[]): string {
  if (closest(written.replace(/^-+/, ''), GLOBAL_OPTIONS))
    return unknownOptionMessage(written, GLOBAL_OPTIONS);
  const command = rest.find((arg) => commandNamed(arg) !== undefined);
  if (command) return `options go after the command: tencent-ssl-sync ${command} ${written}`;
  return `missing command before ${written}: tencent-ssl-sync <command> [options]`;
}

/** A bad command line: the reason and the usage that applies on stderr (and the document with --json), exit 2. */
function usageFailure(io: CliIo, invocation: Invocation, message: string, usage: string): number {
  return failRun(io, invocation, { kind: 'usage', message }, `${message}\n\n${usage.trimEnd()}`);
}

/** `help [command]`: the general help, or one command's. */
function help(rest: readonly string[], io: CliIo, invocation: Invocation): number {
  const [name, ...extra] = rest;
  if (name === undefined) {
    io.stdout(helpText());
    return ExitCode.Ok;
  }
  const command = commandNamed(name);
  if (!command) return usageFailure(io, invocation, unknownCommandMessage(name), helpText());
  if (extra.length > 0)
    return usageFailure(io, invocation, `unexpected argument ${JSON.stringify(extra[0])}`, helpText());
  io.stdout(`${command.usage}\n`);
  return ExitCode.Ok;
}

/** Runs the command line; returns the exit code instead of exiting so tests can call it. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  // --json asks for one JSON document on stdout whatever happens, a bad command line included.
  const nowhere: Invocation = { command: null, json: optionArgs(argv).includes('--json') };
  if (name === undefined) return usageFailure(io, nowhere, 'missing command', helpText());
  if (name === '-h' || name === '--help') {
    io.stdout(helpText());
    return ExitCode.Ok;
  }
  if (name === 'help') return help(rest, io, nowhere);
  if (name === '-v' || name === '--version') {
    io.stdout(`${VERSION}\n`);
    return ExitCode.Ok;
  }
  if (name.startsWith('-')) return usageFailure(io, nowhere, optionFirstMessage(name, rest), helpText());
  const command = commandNamed(name);
  if (!command) return usageFailure(io, nowhere, unknownCommandMessage(name), helpText());
  const words = optionArgs(rest);
  if (words.includes('-h') || words.includes('--help')) {
    io.stdout(`${command.usage}\n`);
    return ExitCode.Ok;
  }
  try {
    return await command.run(parseOptions(rest, command.options), io);
  } catch (error) {
    const invocation = { ...nowhere, command: name };
    if (error instanceof UsageError) return usageFailure(io, invocation, error.message, command.usage);
    // Whatever escaped the command still ends as one reason (and one document with --json).
    const redactor = new Redactor([
      io.env.TENCENTCLOUD_SECRET_KEY,
      io.env.TENCENTCLOUD_SESSION_TOKEN,
      io.env.WEBHOOK_SECRET,
    ]);
    const message = oneLine(redactor.redact(errorMessage(error)));
    return failRun(io, invocation, { kind: 'run', message }, `${name} could not run: ${message}`);
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
