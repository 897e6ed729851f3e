/**
 * The domain lists of the configuration (ALLOWED_DOMAINS, ROUTE53_ZONES), read by loadConfig and,
 * when the stack is packaged, by infra/cloudformation/stack-parameters.cjs, so the IAM condition
 * and the functions apply one reading. Kept free of clients: the packager loads it on its own.
 */
import { parse as parseHostname } from 'tldts';
import { isUnder, isValidDnsName, normalizeName, stripWildcard } from './domain.js';
import type { ZoneOverride } from './route53/types.js';

/**
 * True for a name under which unrelated parties register their own domains: `com`, `co.uk`,
 * `github.io`. Allowing one would let the tool validate certificates for every domain below it.
 * The Public Suffix List (ICANN and private sections) comes bundled with tldts: no network.
 */
function isPublicSuffix(domain: string): boolean {
  const { publicSuffix, isIcann, isPrivate } = parseHostname(domain, {
    allowPrivateDomains: true,
    extractHostname: false,
  });
  // A name no rule lists (`internal`) falls to the list's implicit `*` rule: not a listed suffix.
  return publicSuffix === domain && Boolean(isIcann || isPrivate);
}

/** A parsed list variable with the problems found in it, one message per bad entry. */
export interface Parsed<T> {
  value: T;
  problems: string[];
}

/**
 * ALLOWED_DOMAINS as the tool applies it: lower case, no trailing dot, no `*.`, no duplicates;
 * `*` alone for every zone; undefined when unset. `name` says which setting is wrong.
 */
export function parseAllowedDomains(
  value: string | undefined,
  name = 'ALLOWED_DOMAINS',
): Parsed<string[] | '*' | undefined> {
  if (value === undefined || value.trim() === '') return { value: undefined, problems: [] };
  if (value.trim() === '*') return { value: '*', problems: [] };
  const domains: string[] = [];
  const problems: string[] = [];
  for (const raw of value.split(',')) {
    const domain = stripWildcard(normalizeName(raw));
    if (domain === '') continue;
    if (isPublicSuffix(domain)) {
      problems.push(
        `${name}: ${JSON.stringify(raw.trim())} is a public suffix, under which anyone can register a domain; list your own domains instead (such as example.${domain})`,
      );
    } else if (!isValidDnsName(domain)) {
      problems.push(`${name}: ${JSON.stringify(raw.trim())} is not a domain name`);
    } else {
      domains.push(domain);
    }
  }
  return { value: [...new Set(domains)], problems };
}

/** ROUTE53_ZONES: `domain=HOSTEDZONEID` pairs, the `/hostedzone/` prefix of an id dropped. */
export function parseRoute53Zones(value: string | undefined, name = 'ROUTE53_ZONES'): Parsed<ZoneOverride[]> {
  const zones: ZoneOverride[] = [];
  const problems: string[] = [];
  if (value === undefined || value.trim() === '') return { value: zones, problems };
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const [rawDomain, rawId, ...rest] = pair.split('=');
    const domain = normalizeName(rawDomain ?? '');
    const hostedZoneId = (rawId ?? '').trim().replace(/^\/?hostedzone\//, '');
    if (isPublicSuffix(domain)) {
      problems.push(`${name}: ${domain} is a public suffix, not a domain of yours`);
    } else if (rest.length > 0 || !isValidDnsName(domain) || !/^[A-Z0-9]{1,32}$/.test(hostedZoneId)) {
      problems.push(`${name}: ${JSON.stringify(pair.trim())} is not of the form domain=HOSTEDZONEID`);
    } else if (zones.some((zone) => zone.domain === domain)) {
      problems.push(`${name}: ${domain} is listed twice`);
    } else {
      zones.push({ domain, hostedZoneId });
    }
  }
  return { value: zones, problems };
}

/**
 * CERTIFICATES: the names that must always have a certificate, read like ALLOWED_DOMAINS (lower
 * case, no trailing dot, each once). Each is one host name: ApplyCertificate makes free DV
 * certificates (TrustAsia C1 DV Free), which cover a single name and never a wildcard (Tencent,
 * "支持绑定 IP 的 SSL 证书说明": 免费证书仅支持申请单域名类型，不支持泛域名、多域名).
 */
export function parseCertificateDomains(value: string | undefined, name = 'CERTIFICATES'): Parsed<string[]> {
  const domains: string[] = [];
  const problems: string[] = [];
  if (value === undefined || value.trim() === '') return { value: domains, problems };
  for (const raw of value.split(',')) {
    const domain = normalizeName(raw);
    if (domain === '') continue;
    if (domain.startsWith('*.')) {
      problems.push(
        `${name}: ${JSON.stringify(raw.trim())} is a wildcard, and Tencent's free certificates (the only ones the tool applies for) cover a single name, never a wildcard: list the names you need, or buy a wildcard certificate (the tool validates and exports it like any other)`,
      );
    } else if (isPublicSuffix(domain)) {
      problems.push(`${name}: ${JSON.stringify(raw.trim())} is a public suffix, not a domain of yours`);
    } else if (!isValidDnsName(domain) || domain.includes('_')) {
      problems.push(`${name}: ${JSON.stringify(raw.trim())} is not a host name`);
    } else {
      domains.push(domain);
    }
  }
  return { value: [...new Set(domains)], problems };
}

/** The CERTIFICATES entries that lie outside ALLOWED_DOMAINS (all of them when it is unset). */
export function certificateDomainsOutside(
  certificates: readonly string[],
  allowed: readonly string[] | '*' | undefined,
): string[] {
  if (allowed === '*') return [];
  return certificates.filter((domain) => !(allowed ?? []).some((base) => isUnder(domain, base)));
}
