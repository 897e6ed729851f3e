/* Command-line options for people: every mistake gets a plain message, a misspelt option a suggestion. */

/** The command line itself is wrong (exit code 2, with the command's usage). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface OptionSpec {
  type: 'string' | 'boolean';
  /** How the value is shown in messages (`ID`); string options only. */
  placeholder?: string;
  /** One letter, for `-h`. */
  short?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** String options collect every value given (they are repeatable); booleans are true when present. */
export type ParsedOptions = Record<string, string[] | true>;

/**
 * Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
 * neighbours each cost 1, so `--dryrun` is 1 from `--dry-run` and `--josn` 1 from `--json`.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      (rows[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate `given` most likely stands for: the nearest within a third of its length (at
 * least one edit), or one it abbreviates (three letters or more); undefined when none is close.
 */
export function closest(given: string, candidates: readonly string[]): string | undefined {
  const word = given.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    const near = distance <= Math.max(1, Math.floor(candidate.length / 3));
    const abbreviates = word.length >= 3 && candidate.startsWith(word);
    if ((near || abbreviates) && (best === undefined || distance < best.distance)) {
      best = { candidate, distance };
    }
  }
  return best?.candidate;
}

/** `unknown option --dryrun (did you mean --dry-run?)` */
export function unknownOptionMessage(written: string, names: readonly string[]): string {
  const suggestion = closest(written.replace(/^-+/, ''), names);
  return suggestion === undefined
    ? `unknown option ${written}`
    : `unknown option ${written} (did you mean --${suggestion}?)`;
}

/** The arguments before a `--`, where options can be. */
export function optionArgs(args: readonly string[]): readonly string[] {
  const end = args.indexOf('--');
  return end === -1 ? args : args.slice(0, end);
}

/**
 * Parses `args` against `specs`: `--name`, `--name value`, `--name=value`, and `-x` for a short
 * letter. No positional arguments are accepted. A string option's value never starts with `-`
 * unless given as `--name=value`, so `--certificate-id --json` is a missing id, not an id.
 */
export function parseOptions(args: readonly string[], specs: OptionSpecs): ParsedOptions {
  const names = Object.keys(specs);
  const values: ParsedOptions = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      const extra = args[i + 1];
      if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
      break;
    }
    if (!arg.startsWith('-') || arg === '-')
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const equals = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const written = equals === -1 ? arg : arg.slice(0, equals);
    const name = arg.startsWith('--')
      ? written.slice(2)
      : names.find((candidate) => `-${specs[candidate]?.short}` === written);
    const spec = name !== undefined && Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (name === undefined || spec === undefined) throw new UsageError(unknownOptionMessage(written, names));
    if (spec.type === 'boolean') {
      if (equals !== -1) throw new UsageError(`${written} takes no value`);
      values[name] = true;
      continue;
    }
    const value = equals === -1 ? args[i + 1] : arg.slice(equals + 1);
    if (value === undefined || value === '' || (equals === -1 && value.startsWith('-'))) {
      throw new UsageError(`${written} needs a value: ${written} ${spec.placeholder ?? 'VALUE'}`);
    }
    if (equals === -1) i++;
    const list = values[name];
    values[name] = Array.isArray(list) ? [...list, value] : [value];
  }
  return values;
}
