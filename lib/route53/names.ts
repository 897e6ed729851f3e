import { normalizeName } from '../domain.js';

/**
 * Decodes Route53's presentation escapes (`\DDD` octal byte, `\X` literal character) into text.
 * Route53 writes every byte outside its safe set as a three-digit octal escape, in names
 * (`\052` for a wildcard `*`) and in TXT values alike; the bytes are UTF-8.
 */
export function decodeRoute53Escapes(text: string): string {
  if (!text.includes('\\')) return text;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i] as string;
    if (ch === '\\' && i + 1 < text.length) {
      const octal = /^[0-7]{3}/.exec(text.slice(i + 1, i + 4));
      if (octal && Number.parseInt(octal[0], 8) <= 0xff) {
        bytes.push(Number.parseInt(octal[0], 8));
        i += 3;
        continue;
      }
      i += 1;
    }
    const code = text.codePointAt(i) as number;
    const char = String.fromCodePoint(code);
    bytes.push(...encoder.encode(char));
    // A character outside the BMP takes two UTF-16 code units.
    if (char.length === 2) i += 1;
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/** A record or zone name as Route53 returns it → the form used everywhere here (`*`, lower-case, no trailing dot). */
export function decodeRoute53Name(name: string): string {
  return normalizeName(decodeRoute53Escapes(name));
}
