const PRIVATE_KEY_BLOCK = /-----BEGIN ((?:[A-Z]+ )*PRIVATE KEY)-----[\s\S]*?(?:-----END \1-----|$)/g;

/** Secrets shorter than this are not searched for: masking every "a" would destroy the message, not protect it. */
const MIN_SECRET_LENGTH = 6;

/**
 * Removes known secret values (registered at start-up) and any PEM private key block from text
 * bound for logs, errors or reports.
 */
export class Redactor {
  readonly #secrets = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) this.add(secret);
  }

  add(secret: string | undefined): void {
    if (secret && secret.length >= MIN_SECRET_LENGTH) this.#secrets.add(secret);
  }

  redact(text: string): string {
    let out = text.replace(PRIVATE_KEY_BLOCK, '[REDACTED PRIVATE KEY]');
    for (const secret of this.#secrets) {
      if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
    }
    return out;
  }
}

/** Field names whose values are never logged, whatever they hold. */
const SENSITIVE_KEY =
  /(secret.?key|session.?token|password|private.?key|authorization|^x-tc-token$|signature|privatekey)/i;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}
