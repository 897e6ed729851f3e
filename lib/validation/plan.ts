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

/** One DNS character-string (RFC 1035 §3.3); longer text would need splitting the CA may not expect. */
const MAX_TXT_LENGTH = 255;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;
const NON_ASCII = /[\u0080-\u{10ffff}]/u;

/** The certificate's domains (Domain plus SubjectAltName), lower-case, no trailing dot, `*.` stripped, each once. */
export function certificateDomains(certificate: Pick<PlanInput, 'Domain' | 'SubjectAltName'>): string[] {
  const names = [certificate.Domain ?? '', ...certificate.SubjectAltName].map((name) =>
    stripWildcard(normalizeName(name)),
  );
  return [...new Set(names.filter((name) => name !== ''))];
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
    certificateDomains: certificateDomains(certificate),
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
  certificateDomains: string[];
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

  const derived = deriveName(entry, context.certificateDomains);
  if ('reason' in derived) return refuse(derived.reason, { type: recordType });
  const { name, domain } = derived;
  const known = { name, type: recordType };

  const nameProblem = checkName(name, context);
  if (nameProblem) return refuse(nameProblem, known);

  if (!isSet(entry.value)) return refuse('DvAuthValue is missing', known);
  const checked = recordType === 'CNAME' ? checkCnameValue(entry.value, name) : checkTxtValue(entry.value);
  if ('reason' in checked) return refuse(checked.reason, known);

  return { record: { certificateId, domain, name, type: recordType, value: checked.value } };
}

type Derived = { name: string; domain: string } | { reason: string };

/** Reference §5: the record name from DvAuthKey / DvAuthSubDomain / DvAuthDomain, never from masked text. */
function deriveName(entry: AuthEntry, certDomains: string[]): Derived {
  if (!isSet(entry.domain))
    return { reason: 'DvAuthDomain is missing: cannot tell which domain the record is for' };
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
    const owner = key === undefined ? undefined : longestParent(key, certDomains);
    if (key !== undefined && owner !== undefined) return { name: key, domain: owner };
    return {
      reason: `DvAuthDomain ${JSON.stringify(entry.domain)} is masked and DvAuthKey is not a full name under the certificate's domains: masked data is never used to build a record name`,
    };
  }

  if (key !== undefined && isUnder(key, domain)) return { name: key, domain };
  if (sub !== undefined) return { name: `${sub}.${domain}`, domain };
  return { name: `${key}.${domain}`, domain };
}

/** `*` anywhere but a leading `*.` is redaction (as in Tencent's documentation), not a name. */
function isMasked(name: string): boolean {
  return stripWildcard(name).includes('*');
}

function longestParent(name: string, domains: string[]): string | undefined {
  return domains.filter((domain) => isUnder(name, domain)).sort((a, b) => b.length - a.length)[0];
}

function checkName(name: string, context: CheckContext): string | undefined {
  const problem = dnsNameProblem(name);
  if (problem) return `record name ${JSON.stringify(name)} ${problem}`;
  if (!name.startsWith('_')) {
    return `record name ${name} does not start with "_": validation records always do, so it is not written`;
  }
  if (!context.certificateDomains.some((domain) => isUnder(name, domain))) {
    const list = context.certificateDomains.join(', ') || 'none';
    return `record name ${name} is not under any of the certificate's domains (${list})`;
  }
  if (context.allowed === '*') return undefined;
  if (context.allowed.length === 0) return ALLOWED_DOMAINS_UNSET_REASON;
  if (!context.allowed.some((domain) => isUnder(name, domain))) {
    return `record name ${name} is outside ALLOWED_DOMAINS (${context.allowed.join(', ')}); add its domain to ALLOWED_DOMAINS to have it written`;
  }
  return undefined;
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

type CheckedValue = { value: string } | { reason: string };

function checkCnameValue(raw: string, name: string): CheckedValue {
  const target = normalizeName(raw);
  const problem = dnsNameProblem(target);
  if (problem) return { reason: `CNAME target ${JSON.stringify(raw)} ${problem}` };
  if (target === name) return { reason: `CNAME target ${target} is the record name itself` };
  return { value: target };
}

/** The text goes out verbatim as one character-string, so only printable ASCII up to 255 characters. */
function checkTxtValue(raw: string): CheckedValue {
  if (raw.length > MAX_TXT_LENGTH) {
    return { reason: `TXT value is ${raw.length} characters long (at most ${MAX_TXT_LENGTH})` };
  }
  if (!PRINTABLE_ASCII.test(raw)) {
    return {
      reason: 'TXT value contains characters outside printable ASCII (control characters or non-ASCII)',
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
