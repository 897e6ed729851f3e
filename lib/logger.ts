import { isSensitiveKey, Redactor } from './redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface JsonLoggerOptions {
  level?: LogLevel;
  /** Where each JSON line goes; stderr by default so stdout stays free for command output. */
  write?: (line: string) => void;
  redactor?: Redactor;
  fields?: LogFields;
  now?: () => number;
}

/** One JSON object per line; sensitive keys dropped and secret values masked before anything is written. */
export class JsonLogger implements Logger {
  readonly #level: number;
  readonly #write: (line: string) => void;
  readonly #redactor: Redactor;
  readonly #fields: LogFields;
  readonly #now: () => number;
  readonly #options: JsonLoggerOptions;

  constructor(options: JsonLoggerOptions = {}) {
    this.#options = options;
    this.#level = LEVELS[options.level ?? 'info'];
    this.#write = options.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.#redactor = options.redactor ?? new Redactor();
    this.#fields = options.fields ?? {};
    this.#now = options.now ?? Date.now;
  }

  debug(message: string, fields?: LogFields): void {
    this.#log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#log('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.#log('error', message, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger({ ...this.#options, fields: { ...this.#fields, ...fields } });
  }

  #log(level: LogLevel, message: string, fields?: LogFields): void {
    if (LEVELS[level] < this.#level) return;
    const entry = { level, time: new Date(this.#now()).toISOString(), message, ...this.#fields, ...fields };
    const line = JSON.stringify(entry, (key, value: unknown) => {
      if (key && isSensitiveKey(key)) return '[REDACTED]';
      if (value instanceof Error) return serializeError(value);
      return value;
    });
    this.#write(this.#redactor.redact(line));
  }
}

function serializeError(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  for (const [key, value] of Object.entries(error)) out[key] = value;
  if (error.cause !== undefined)
    out.cause = error.cause instanceof Error ? serializeError(error.cause) : error.cause;
  return out;
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
