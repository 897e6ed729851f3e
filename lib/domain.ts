/** Domain-name helpers shared by configuration, planning and export. All names are handled lower-case without a trailing dot. */

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Lower-cases and drops one trailing dot. Does not validate. */
export function normalizeName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Drops a leading `*.` (a wildcard certificate's domain validates at its base name). */
export function stripWildcard(name: string): string {
  return name.startsWith('*.') ? name.slice(2) : name;
}

/**
 * A DNS name as Route53 and the CAs accept it: ASCII labels of letters, digits, `-` and `_`,
 * 1–63 characters each, 253 in all, at least two labels. Internationalised names must arrive
 * in their `xn--` form.
 */
export function isValidDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  return labels.length >= 2 && labels.every((label) => LABEL.test(label));
}

/** True when `name` is `domain` or lies below it. */
export function isUnder(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}
