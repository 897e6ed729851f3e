import { decodeRoute53Escapes } from './names.js';

/** One DNS character-string holds at most 255 bytes (RFC 1035 §3.3); longer text is split across several. */
const MAX_STRING_BYTES = 255;

function escapeByte(byte: number): string {
  if (byte === 0x22) return '\\"';
  if (byte === 0x5c) return '\\\\';
  if (byte >= 0x20 && byte <= 0x7e) return String.fromCharCode(byte);
  // Route53 wants any other byte as a three-digit octal escape.
  return `\\${byte.toString(8).padStart(3, '0')}`;
}

/**
 * Text → the Value of one Route53 TXT ResourceRecord: a quoted string with `"` and `\` escaped,
 * or several quoted strings separated by a space when the text exceeds 255 bytes.
 */
export function quoteTxt(text: string): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length === 0) return '""';
  const strings: string[] = [];
  for (let start = 0; start < bytes.length; start += MAX_STRING_BYTES) {
    const chunk = bytes.subarray(start, start + MAX_STRING_BYTES);
    strings.push(`"${Array.from(chunk, escapeByte).join('')}"`);
  }
  return strings.join(' ');
}

/**
 * The Value of a Route53 TXT ResourceRecord → its text. Several quoted strings are joined with
 * nothing between them (as resolvers hand them to a CA); `\"`, `\\` and `\DDD` are decoded.
 * A value that was stored without quotes is returned with its escapes decoded.
 */
export function unquoteTxt(value: string): string {
  const trimmed = value.trim();
  if (!trimmed.startsWith('"')) return decodeRoute53Escapes(trimmed);
  const parts: string[] = [];
  let i = 0;
  while (i < trimmed.length) {
    if (trimmed[i] !== '"') {
      // Whitespace between strings, or stray unquoted text: read up to the next space or quote.
      let end = i;
      while (end < trimmed.length && trimmed[end] !== '"' && !/\s/.test(trimmed[end] as string)) end += 1;
      if (end > i) parts.push(trimmed.slice(i, end));
      i = end === i ? i + 1 : end;
      continue;
    }
    let end = i + 1;
    while (end < trimmed.length && trimmed[end] !== '"') end += trimmed[end] === '\\' ? 2 : 1;
    // An unterminated string runs to the end of the value.
    parts.push(trimmed.slice(i + 1, Math.min(end, trimmed.length)));
    i = end + 1;
  }
  // Decode after joining: a multi-byte character may be split across two strings.
  return decodeRoute53Escapes(parts.join(''));
}
