import { createHash } from 'node:crypto';

/** Secrets Manager's limit on a secret name. */
const MAX_SECRET_NAME_LENGTH = 512;

// Secrets Manager accepts ASCII letters, digits and /_+=.@- in a name. The `u` flag makes a
// character outside the BMP (an emoji) one replacement rather than two.
const DISALLOWED = /[^A-Za-z0-9/_+=.@-]/gu;

export interface SecretNameValues {
  domain: string;
  certificateId: string;
  /**
   * Set when the certificate does not get its domain's plain secret (another certificate of the
   * same domain with a broader name set has it): appended to `{domain}` as `+<nameSet>`.
   */
  nameSet?: string | undefined;
}

/** How many hex digits of the name-set digest a secret name carries. */
const NAME_SET_SUFFIX_LENGTH = 8;

/** A certificate's DNS names as a set: lower-case, without a trailing dot, each once, sorted. */
export function normalizeNameSet(names: readonly string[]): string[] {
  const normalized = names
    .map((name) => name.trim().toLowerCase().replace(/\.$/, ''))
    .filter((name) => name !== '');
  return [...new Set(normalized)].sort();
}

/** SHA-256 (hex) of a normalised name set, joined by commas: what tells two name sets apart. */
export function nameSetDigest(names: readonly string[]): string {
  return createHash('sha256').update(normalizeNameSet(names).join(',')).digest('hex');
}

/**
 * The secret name for a certificate: `{domain}` (lower-cased, `*.` written as `wildcard.`
 * because `*` is not allowed, and `+` and the first 8 hex digits of the name-set digest when
 * `nameSet` is given) and `{certificateId}` are filled in, then every character Secrets
 * Manager rejects becomes `-`. A name ending in `-` and six characters confuses Secrets
 * Manager's partial-ARN lookup, but it is a valid name, so it is left as it is.
 *
 * @throws TypeError when the name is empty or longer than 512 characters.
 */
export function secretNameFor(template: string, values: SecretNameValues): string {
  const lowered = values.domain.trim().toLowerCase();
  const plain = lowered.startsWith('*.') ? `wildcard.${lowered.slice(2)}` : lowered;
  const domain = values.nameSet ? `${plain}+${values.nameSet.slice(0, NAME_SET_SUFFIX_LENGTH)}` : plain;
  const name = template
    .replaceAll('{domain}', domain)
    .replaceAll('{certificateId}', values.certificateId)
    .replace(DISALLOWED, '-');
  if (name.length === 0) {
    throw new TypeError(`secret name template "${template}" produces an empty name`);
  }
  if (name.length > MAX_SECRET_NAME_LENGTH) {
    throw new TypeError(
      `secret name template "${template}" produces a name of ${name.length} characters; Secrets Manager allows at most ${MAX_SECRET_NAME_LENGTH}`,
    );
  }
  return name;
}
