import { isUnder, isValidDnsName, normalizeName, stripWildcard } from '../domain.js';
import type { RecordOutcome, ValidationRecord, ValidationRecordType } from '../route53/types.js';
import type { CertificateDetail } from '../tencent/schemas.js';

/** The parts of a certificate (DescribeCertificate / DescribeCertificateDetail) the planner reads. */
export interface PlanInput {
  CertificateId: string;
  Domain: string | null;
  SubjectAltName: string[];
  DvAuthDetail: CertificateDetail['DvAuthDetail'];
}

export interface PlanResult {
  /** Records that passed every rule, ready for the diff. */
  records: ValidationRecord[];
  /** Only what was not planned: `refused` or `skipped`, each with a reason. */
  outcomes: RecordOutcome[];
}

/** One validation entry, from a DvAuths item or from DvAuthDetail's top level. */
interface AuthEntry {
  key: string | null;
  value: string | null;
  domain: string | null;
  path: string | null;
  subDomain: string | null;
  verifyType: string | null;
}

export const ALLOWED_DOMAINS_UNSET_REASON =
  'ALLOWED_DOMAINS is not set: nothing is written until it lists the domains this tool may validate, e.g. ALLOWED_DOMAINS=example.com (or * for every zone)';

const NO_RECORDS_REASON = 'no validation records at Tencent (DvAuthDetail is empty)';

/**
 * The only names Tencent's CAs validate at, one label above a certificate domain `<d>`: a CNAME at
 * `_<32 hex digits>.<d>` and a TXT at `_dnsauth.<d>`. Every other underscore name is somebody
 * else's (`_acme-challenge`, `_dmarc`, `_domainkey`, `_mta-sts`, SRV services) and is refused.
 */
const CNAME_LABEL = /^_[0-9a-f]{32}$/;
const TXT_LABEL = '_dnsauth';
const CNAME_SHAPE = '_<32 hex digits>';

/** Underscore labels whose records other systems trust, named in refusals so the risk is plain. */
const SERVICE_LABELS: Record<string, string> = {
  '_acme-challenge': 'ACME certificate validation: a record there lets its holder obtain certificates',
  _dmarc: 'the DMARC e-mail policy',
  _domainkey: 'DKIM e-mail signing keys',
  '_mta-sts': 'MTA-STS mail transport security',
  _tcp: 'service (SRV) records',
  _udp: 'service (SRV) records',
  _tls: 'TLS services and SMTP TLS reporting',
};

/** One DNS character-string (RFC 1035 §3.3): a validation token always fits in one. */
const MAX_TXT_BYTES = 255;
const NON_PRINTABLE = /[^\x20-\x7e]/u;
const NON_ASCII = /[\u0080-\u{10ffff}]/u;
/** A host name label (RFC 952/1123): letters, digits and inner hyphens. No underscore. */
const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** The certificate's domains (Domain plus SubjectAltName), lower-case, no trailing dot, `*.` stripped, each once. */
export function certificateDomains(certificate: Pick<PlanInput, 'Domain' | 'SubjectAltName'>): string[] {
  const names = [certificate.Domain ?? '', ...certificate.SubjectAltName].map((name) =>
    stripWildcard(normalizeName(name)),
  );
  return [...new Set(names.filter((name) => name !== ''))];
}

/**
 * The certificate domains a record may be placed under: those written in ASCII before
 * lower-casing (the Kelvin sign `K` lower-cases to an ASCII `k`) that are host names. A CA issues
 * no certificate for a name with an underscore, so such a "domain" is never a place to write.
 */
function ownDomains(certificate: Pick<PlanInput, 'Domain' | 'SubjectAltName'>): string[] {
  const names = [certificate.Domain ?? '', ...certificate.SubjectAltName]
    .filter((raw) => !NON_ASCII.test(raw))
    .map((raw) => stripWildcard(normalizeName(raw)));
  return [...new Set(names.filter((name) => hostNameProblem(name) === undefined))];
}

/**
 * Turns a certificate's DvAuthDetail into the DNS records it needs, refusing every record that
 * breaks a security rule and reporting it instead of throwing.
 *
 * `allowedDomains`: `'*'` allows any name; `undefined` (or an empty list) refuses everything.
 */
export function planValidationRecords(
  certificate: PlanInput,
  allowedDomains: string[] | '*' | undefined,
): PlanResult {
  const certificateId = certificate.CertificateId;
  const entries = authEntries(certificate.DvAuthDetail);
  if (entries.length === 0) {
    return { records: [], outcomes: [{ certificateId, action: 'skipped', reason: NO_RECORDS_REASON }] };
  }

  const context: CheckContext = {
    ownDomains: ownDomains(certificate),
    allowed:
      allowedDomains === '*' ? '*' : (allowedDomains ?? []).map((d) => stripWildcard(normalizeName(d))),
  };
  const outcomes: RecordOutcome[] = [];
  const candidates: ValidationRecord[] = [];
  for (const entry of entries) {
    const result = planEntry(certificateId, entry, context);
    if ('record' in result) candidates.push(result.record);
    else outcomes.push(result.outcome);
  }

  const records = refuseConflictingCnames(collapseDuplicates(candidates), outcomes);
  return { records, outcomes };
}

/**
 * DvAuths is the authoritative list. When it is empty but the top level carries a record, the
 * top level is used once: it has no DvAuthVerifyType, so the type is inferred (see inferType).
 */
function authEntries(detail: PlanInput['DvAuthDetail']): AuthEntry[] {
  if (detail === null) return [];
  if (detail.DvAuths.length > 0) {
    return detail.DvAuths.map((item) => ({
      key: item.DvAuthKey,
      value: item.DvAuthValue,
      domain: item.DvAuthDomain,
      path: item.DvAuthPath,
      subDomain: item.DvAuthSubDomain,
      verifyType: item.DvAuthVerifyType,
    }));
  }
  if (!isSet(detail.DvAuthKey) && !isSet(detail.DvAuthValue) && !isSet(detail.DvAuthPath)) return [];
  const top = {
    key: detail.DvAuthKey,
    value: detail.DvAuthValue,
    domain: detail.DvAuthDomain,
    path: detail.DvAuthPath,
    subDomain: detail.DvAuthKeySubDomain,
  };
  return [{ ...top, verifyType: inferType(top.path, top.value) }];
}

/**
 * The top level has no DvAuthVerifyType. A path means FILE. Otherwise a value that is a valid
 * host name (at least two labels, DNS characters only) means CNAME: a CA's CNAME target always
 * is one, while the TXT token Tencent documents is a single dot-less random string.
 */
function inferType(path: string | null, value: string | null): string | null {
  if (isSet(path)) return 'FILE';
  if (!isSet(value)) return null;
  return isValidDnsName(normalizeName(value)) ? 'CNAME' : 'TXT';
}

interface CheckContext {
  /** Where records may go: see ownDomains. */
  ownDomains: string[];
  allowed: string[] | '*';
}

type EntryResult = { record: ValidationRecord } | { outcome: RecordOutcome };

function planEntry(certificateId: string, entry: AuthEntry, context: CheckContext): EntryResult {
  const rawType = entry.verifyType?.trim() ?? '';
  const type = rawType.toUpperCase();
  const value = entry.value ?? undefined;
  const refuse = (reason: string, known: Partial<RecordOutcome> = {}): EntryResult => ({
    outcome: { certificateId, type: rawType || undefined, value, ...known, action: 'refused', reason },
  });

  if (type === 'FILE') {
    const where = isSet(entry.path) ? ` (path ${entry.path})` : '';
    return {
      outcome: {
        certificateId,
        type: 'FILE',
        action: 'skipped',
        reason: `FILE validation cannot be served from DNS${where}`,
      },
    };
  }
  if (rawType === '')
    return refuse('DvAuthVerifyType is missing: cannot tell whether a CNAME or a TXT is wanted');
  if (type !== 'CNAME' && type !== 'TXT') {
    return refuse(
      `unsupported validation type ${JSON.stringify(rawType)} (only CNAME and TXT can be written)`,
    );
  }
  const recordType: ValidationRecordType = type;

  const derived = deriveName(entry, context.ownDomains);
  if ('reason' in derived) return refuse(derived.reason, { type: recordType });
  const { name } = derived;
  const known = { name, type: recordType };

  const placed = checkName(name, recordType, context);
  if ('reason' in placed) return refuse(placed.reason, known);

  if (entry.value === null) return refuse('DvAuthValue is missing', known);
  const checked =
    recordType === 'CNAME' ? checkCnameValue(entry.value, name, context) : checkTxtValue(entry.value);
  if ('reason' in checked) return refuse(checked.reason, known);

  return { record: { certificateId, domain: placed.domain, name, type: recordType, value: checked.value } };
}

type Derived = { name: string } | { reason: string };

/**
 * Reference §5: the record name from DvAuthKey / DvAuthSubDomain / DvAuthDomain, never from masked
 * text. DvAuthDomain only helps build the name: where the name may go is decided by checkName,
 * against the certificate's own domains.
 */
function deriveName(entry: AuthEntry, certDomains: string[]): Derived {
  if (!isSet(entry.domain))
    return { reason: 'DvAuthDomain is missing: cannot tell which domain the record is for' };
  const fields: Array<[string, string | null]> = [
    ['DvAuthKey', entry.key],
    ['DvAuthSubDomain', entry.subDomain],
    ['DvAuthDomain', entry.domain],
  ];
  for (const [field, raw] of fields) {
    const problem = raw === null ? undefined : rawNameProblem(raw);
    if (problem) return { reason: `${field} ${JSON.stringify(raw)} ${problem}` };
  }
  const key = isSet(entry.key) ? normalizeName(entry.key) : undefined;
  const sub = isSet(entry.subDomain) ? normalizeName(entry.subDomain) : undefined;
  if (key === undefined && sub === undefined) {
    return { reason: 'DvAuthKey and DvAuthSubDomain are missing: cannot build the record name' };
  }
  if ((key !== undefined && isMasked(key)) || (sub !== undefined && isMasked(sub))) {
    const field = key !== undefined && isMasked(key) ? 'DvAuthKey' : 'DvAuthSubDomain';
    return { reason: `${field} is masked (contains "*"): masked data is never used to build a record name` };
  }

  const domain = stripWildcard(normalizeName(entry.domain));
  if (isMasked(domain)) {
    // Only a key that is already a full name under one of the certificate's own domains is usable.
    if (key !== undefined && certDomains.some((own) => isUnder(key, own))) return { name: key };
    return {
      reason: `DvAuthDomain ${JSON.stringify(entry.domain)} is masked and DvAuthKey is not a full name under the certificate's domains: masked data is never used to build a record name`,
    };
  }

  if (key !== undefined && isUnder(key, domain)) return { name: key };
  if (sub !== undefined) return { name: `${sub}.${domain}` };
  return { name: `${key}.${domain}` };
}

/**
 * Why a name as Tencent sent it cannot be read literally, before lower-casing: lower-casing maps
 * some non-ASCII letters onto ASCII ones, and a backslash is a DNS escape (`\052` is `*`,
 * `\137` is `_`) that Route53 would decode into a different name than the one checked.
 */
function rawNameProblem(raw: string): string | undefined {
  if (NON_ASCII.test(raw)) {
    return 'contains non-ASCII characters: internationalised names must be given in their punycode (xn--) form, and look-alike letters are never folded into ASCII';
  }
  if (raw.includes('\\')) {
    return 'contains a backslash (a DNS escape such as \\052): escapes are never decoded into a record name';
  }
  return undefined;
}

/** `*` anywhere but a leading `*.` is redaction (as in Tencent's documentation), not a name. */
function isMasked(name: string): boolean {
  return stripWildcard(name).includes('*');
}

type Placed = { domain: string } | { reason: string };

/**
 * The name must be exactly one label above one of the certificate's own domains, that label must
 * be the one of its type (CNAME `_<32 hex digits>`, TXT `_dnsauth`), and that domain must lie
 * under ALLOWED_DOMAINS. Returns the domain the record validates.
 */
function checkName(name: string, type: ValidationRecordType, context: CheckContext): Placed {
  const problem = rawNameProblem(name) ?? dnsNameProblem(name);
  if (problem) return { reason: `record name ${JSON.stringify(name)} ${problem}` };

  const dot = name.indexOf('.');
  const label = name.slice(0, dot);
  const domain = name.slice(dot + 1);
  if (!context.ownDomains.includes(domain)) return { reason: placementProblem(name, context.ownDomains) };

  const shape = type === 'CNAME' ? cnameLabelProblem(label, domain) : txtLabelProblem(label, domain);
  if (shape) return { reason: `${type} at ${name} is refused: ${shape}` };

  if (context.allowed === '*') return { domain };
  if (context.allowed.length === 0) return { reason: ALLOWED_DOMAINS_UNSET_REASON };
  if (!context.allowed.some((allowed) => isUnder(domain, allowed))) {
    return {
      reason: `record name ${name} is outside ALLOWED_DOMAINS (${context.allowed.join(', ')}); add its domain to ALLOWED_DOMAINS to have it written`,
    };
  }
  return { domain };
}

/** Why a name that is not one label above a certificate domain is refused. */
function placementProblem(name: string, own: string[]): string {
  if (own.length === 0) {
    return `record name ${name} cannot be placed: the certificate names no usable domain of its own (Domain and SubjectAltName)`;
  }
  const closest = own.filter((domain) => isUnder(name, domain)).sort((a, b) => b.length - a.length)[0];
  if (closest === undefined) {
    return `record name ${name} is not under any of the certificate's domains (${own.join(', ')})`;
  }
  const shapes = `${TXT_LABEL}.${closest} or ${CNAME_SHAPE}.${closest}`;
  if (name === closest) {
    return `record name ${name} is the certificate's domain itself, not a validation name (${shapes})`;
  }
  const above = name.slice(0, -closest.length - 1).split('.');
  return `record name ${name} is ${above.length} labels above the certificate's domain ${closest}: a validation record is exactly one label above it (${shapes})${serviceNote(above)}`;
}

function cnameLabelProblem(label: string, domain: string): string | undefined {
  if (CNAME_LABEL.test(label)) return undefined;
  if (label === TXT_LABEL) {
    return `${TXT_LABEL} holds TXT validation, a CNAME is validated at ${CNAME_SHAPE}.${domain}`;
  }
  const hex = /^_([0-9a-f]+)$/.exec(label)?.[1];
  if (hex !== undefined) {
    return `${label} has ${hex.length} hex digit${hex.length === 1 ? '' : 's'} after "_", not 32`;
  }
  return `a CNAME is validated only at ${CNAME_SHAPE}.${domain}${serviceNote([label])}`;
}

function txtLabelProblem(label: string, domain: string): string | undefined {
  if (label === TXT_LABEL) return undefined;
  if (CNAME_LABEL.test(label)) {
    return `a ${CNAME_SHAPE} name holds CNAME validation, a TXT is validated at ${TXT_LABEL}.${domain}`;
  }
  return `a TXT is validated only at ${TXT_LABEL}.${domain}${serviceNote([label])}`;
}

/** Names the service an underscore label belongs to, when it is a well-known one. */
function serviceNote(labels: string[]): string {
  const known = labels.find((label) => Object.hasOwn(SERVICE_LABELS, label));
  return known === undefined ? '' : ` (${known} is for ${SERVICE_LABELS[known]})`;
}

/** Why `name` is not a DNS name Route53 and the CAs accept, or undefined when it is. */
function dnsNameProblem(name: string): string | undefined {
  if (NON_ASCII.test(name)) {
    return 'contains non-ASCII characters: internationalised names must be given in their punycode (xn--) form';
  }
  if (name.length > 253) return `is ${name.length} characters long (at most 253)`;
  const labels = name.split('.');
  if (labels.some((label) => label === '')) return 'has an empty label (".." or a leading dot)';
  if (labels.some((label) => label.length > 63)) return 'has a label longer than 63 characters';
  if (!isValidDnsName(name)) {
    return 'is not a valid DNS name (letters, digits, "-" and "_" only, no label starting or ending with "-", at least two labels)';
  }
  return undefined;
}

/** Why `name` is not a host name (RFC 952/1123: no underscore, not an IP address), or undefined. */
function hostNameProblem(name: string): string | undefined {
  const problem = rawNameProblem(name) ?? dnsNameProblem(name);
  if (problem) return problem;
  const labels = name.split('.');
  if (!labels.every((label) => HOST_LABEL.test(label))) {
    return 'is not a valid host name (letters, digits and "-" only, no label starting or ending with "-")';
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) {
    return 'ends in an all-numeric label: an IP address is not a host name';
  }
  return undefined;
}

type CheckedValue = { value: string } | { reason: string };

/**
 * A CNAME target is the CA's host name. It never points back into the underscore names of the
 * certificate's own domains: that would chain one validation name to another, or to a service
 * record the tool must not speak for.
 */
function checkCnameValue(raw: string, name: string, context: CheckContext): CheckedValue {
  if (raw.trim() === '') return { reason: 'CNAME target is empty' };
  const early = rawNameProblem(raw);
  if (early) return { reason: `CNAME target ${JSON.stringify(raw)} ${early}` };
  const target = normalizeName(raw);
  if (target === name) return { reason: `CNAME target ${target} is the record name itself` };
  const shape = dnsNameProblem(target);
  if (shape) return { reason: `CNAME target ${JSON.stringify(raw)} ${shape}` };
  const home = context.ownDomains.find(
    (domain) =>
      isUnder(target, domain) &&
      target
        .slice(0, -domain.length - 1)
        .split('.')
        .some((label) => label.startsWith('_')),
  );
  if (home !== undefined) {
    return {
      reason: `CNAME target ${target} lies in the underscore names of the certificate's own domain ${home}: a validation CNAME points at the CA, never back into the domains it validates`,
    };
  }
  const host = hostNameProblem(target);
  if (host) return { reason: `CNAME target ${JSON.stringify(raw)} ${host}` };
  return { value: target };
}

/**
 * The text goes out verbatim as one character-string: printable ASCII (`"` and `\` are escaped
 * by the writer), at least one non-blank character, at most 255 bytes.
 */
function checkTxtValue(raw: string): CheckedValue {
  if (raw.trim() === '') return { reason: 'TXT value is empty' };
  const bad = NON_PRINTABLE.exec(raw);
  if (bad !== null) {
    const code = `U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    return {
      reason: `TXT value contains ${code} at position ${bad.index}: only printable ASCII can be carried in a TXT string (no control characters, no non-ASCII)`,
    };
  }
  if (raw.length > MAX_TXT_BYTES) {
    return {
      reason: `TXT value is ${raw.length} bytes long (at most ${MAX_TXT_BYTES}, one DNS character-string)`,
    };
  }
  return { value: raw };
}

/** The same (name, type, value) twice in one certificate is one record; the first is kept. */
function collapseDuplicates(records: ValidationRecord[]): ValidationRecord[] {
  const seen = new Set<string>();
  return records.filter((record) => {
    const id = JSON.stringify([record.name, record.type, record.value]);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/**
 * A name holds one CNAME, so a certificate asking for two targets at one name is contradictory:
 * both are refused rather than one guessed. (Several TXT values at one name are normal: apex and
 * wildcard share `_dnsauth.<domain>`.)
 */
function refuseConflictingCnames(records: ValidationRecord[], outcomes: RecordOutcome[]): ValidationRecord[] {
  const cnameCount = new Map<string, number>();
  for (const record of records) {
    if (record.type === 'CNAME') cnameCount.set(record.name, (cnameCount.get(record.name) ?? 0) + 1);
  }
  return records.filter((record) => {
    if (record.type !== 'CNAME' || (cnameCount.get(record.name) ?? 0) < 2) return true;
    outcomes.push({
      certificateId: record.certificateId,
      name: record.name,
      type: record.type,
      value: record.value,
      action: 'refused',
      reason: `conflicting CNAME values for ${record.name} in this certificate: a name holds only one CNAME, so none is written`,
    });
    return false;
  });
}

function isSet(text: string | null | undefined): text is string {
  return text != null && text.trim() !== '';
}
