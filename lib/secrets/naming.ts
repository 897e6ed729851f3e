/** Secrets Manager's limit on a secret name. */
export const MAX_SECRET_NAME_LENGTH = 512;

// Secrets Manager accepts ASCII letters, digits and /_+=.@- in a name. The `u` flag makes a
// character outside the BMP (an emoji) one replacement rather than two.
const DISALLOWED = /[^A-Za-z0-9/_+=.@-]/gu;

export interface SecretNameValues {
  domain: string;
  certificateId: string;
}

/**
 * The secret name for a certificate: `{domain}` (lower-cased, `*.` written as `wildcard.`
 * because `*` is not allowed) and `{certificateId}` are filled in, then every character Secrets
 * Manager rejects becomes `-`. A name ending in `-` and six characters confuses Secrets
 * Manager's partial-ARN lookup, but it is a valid name, so it is left as it is.
 *
 * @throws TypeError when the name is empty or longer than 512 characters.
 */
export function secretNameFor(template: string, values: SecretNameValues): string {
  const lowered = values.domain.trim().toLowerCase();
  const domain = lowered.startsWith('*.') ? `wildcard.${lowered.slice(2)}` : lowered;
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
