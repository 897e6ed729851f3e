/**
 * A local certificate authority behind the local Tencent SSL server: it issues a pending
 * certificate once every validation record it asked for can be seen in the public hosted zones of
 * a Route53 (moto in the sandbox), read through the AWS API.
 *
 * Record names and values are derived here from the DvAuths, independently of lib/route53: a CA
 * that shared the client's idea of the records could not catch the client writing the wrong ones.
 */
import {
  type HostedZone,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import {
  type CertificateStore,
  type DvAuth,
  PENDING_STATUSES,
  parseTencentTime,
  type StoredCertificate,
} from './certificate-store.js';
import type { ActionHook } from './tencent-server.js';

/** One record the CA looks for, and whether it saw it. */
interface CaRecordCheck {
  domain: string;
  name: string;
  type: string;
  value: string;
  found: boolean;
  /** The public hosted zone the name was looked up in (absent when no zone holds the name). */
  zone?: string;
}

export interface CaCheck {
  certificateId: string;
  records: CaRecordCheck[];
  issued: boolean;
  /** The validation deadline (DVAuthDeadline) had passed: the CA closed the order (status 2). */
  rejected?: true;
  /** Why the check could not be made (Route53 unreachable…); the certificate stays pending. */
  error?: string;
}

export interface LocalCaOptions {
  store: CertificateStore;
  /** The DNS the CA sees: the public hosted zones of this Route53. */
  route53: Route53Client;
  /** Called once per certificate the CA issues, with the check that passed. */
  onIssued?: (certificate: StoredCertificate, check: CaCheck) => void;
  /** The CA's clock in ms, against which validation deadlines pass. Default `Date.now`. */
  now?: () => number;
}

export interface LocalCa {
  /** For `startTencentServer({ onAction })`: checks on listing, and in the background on CompleteCertificate. */
  onAction: ActionHook;
  /** Checks one certificate and issues it when every record is in place; undefined when it is not pending. */
  check(certificateId: string): Promise<CaCheck | undefined>;
  /** Checks every pending certificate. */
  checkAll(): Promise<CaCheck[]>;
  /** Resolves once no check is running (CompleteCertificate starts one without waiting for it). */
  idle(): Promise<void>;
}

const ZONES_PAGE_SIZE = 100;

const bare = (name: string): string => name.toLowerCase().replace(/\.$/, '');

const isUnder = (name: string, zone: string): boolean => name === zone || name.endsWith(`.${zone}`);

/** `"part one" "part two"` → `part onepart two`, as a resolver hands a TXT record to the CA. */
export function txtText(value: string): string {
  const parts = [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? '').replace(/\\(.)/g, '$1'));
  return parts.length > 0 ? parts.join('') : value;
}

/** The DNS record a DvAuths item asks for: `<DvAuthSubDomain>.<DvAuthDomain>` holding `DvAuthValue`. */
function expectedRecord(dvAuth: DvAuth): Omit<CaRecordCheck, 'found'> | undefined {
  const domain = bare(dvAuth.DvAuthDomain ?? '');
  const value = dvAuth.DvAuthValue ?? '';
  const type = dvAuth.DvAuthVerifyType ?? '';
  const label = dvAuth.DvAuthSubDomain ?? dvAuth.DvAuthKey ?? '';
  if (domain === '' || value === '' || label === '') return undefined;
  const name = isUnder(bare(label), domain) ? bare(label) : `${bare(label)}.${domain}`;
  return { domain, name, type, value };
}

function dvAuthsOf(record: StoredCertificate): DvAuth[] {
  const detail = record.DvAuthDetail as { DvAuths?: unknown } | null | undefined;
  return Array.isArray(detail?.DvAuths) ? (detail.DvAuths as DvAuth[]) : [];
}

/** What Tencent's StatusMsg says of an order whose validation timed out (the SDK model's wording). */
const VALIDATION_TIMED_OUT = '域名验证超时，订单自动关闭，请您重新进行证书申请';

/** Epoch ms of the order's validation deadline; NaN when it has none. */
function deadlineOf(record: StoredCertificate): number {
  const text = String(record.DVAuthDeadline);
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text) ? parseTencentTime(text).getTime() : Number.NaN;
}

function isPending(record: StoredCertificate | undefined): record is StoredCertificate {
  return record !== undefined && PENDING_STATUSES.includes(record.Status as number);
}

async function publicZones(route53: Route53Client): Promise<HostedZone[]> {
  const zones: HostedZone[] = [];
  let marker: string | undefined;
  do {
    const page = await route53.send(
      new ListHostedZonesCommand({ MaxItems: ZONES_PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }),
    );
    zones.push(...(page.HostedZones ?? []).filter((zone) => zone.Config?.PrivateZone !== true));
    marker = page.IsTruncated ? page.NextMarker : undefined;
  } while (marker);
  return zones;
}

/**
 * The zones that answer for `name` on the internet: the longest public zones containing it, as a
 * delegated sub-zone answers for its names and not its parent. Several only when two public zones
 * share a name.
 */
function authoritativeZones(name: string, zones: HostedZone[]): HostedZone[] {
  const containing = zones.filter((zone) => isUnder(name, bare(zone.Name ?? '')));
  const longest = Math.max(0, ...containing.map((zone) => bare(zone.Name ?? '').length));
  return containing.filter((zone) => bare(zone.Name ?? '').length === longest);
}

async function recordValues(
  route53: Route53Client,
  zone: HostedZone,
  name: string,
  type: string,
): Promise<string[]> {
  const page = await route53.send(
    new ListResourceRecordSetsCommand({
      HostedZoneId: zone.Id,
      StartRecordName: name,
      StartRecordType: type as 'CNAME',
      MaxItems: 1,
    }),
  );
  // The listing starts at the name, or at the next one when the name has no such record.
  const set = page.ResourceRecordSets?.[0];
  if (!set || bare(set.Name ?? '') !== name || set.Type !== type) return [];
  return (set.ResourceRecords ?? []).map((record) => record.Value ?? '');
}

function matches(type: string, wanted: string, values: string[]): boolean {
  if (type === 'CNAME') return values.some((value) => bare(value) === bare(wanted));
  if (type === 'TXT') return values.some((value) => txtText(value) === wanted);
  // FILE validation is served over HTTP, which this CA does not fetch.
  return false;
}

export function createLocalCa(options: LocalCaOptions): LocalCa {
  const { store, route53 } = options;
  const now = options.now ?? Date.now;
  const running = new Map<string, Promise<CaCheck | undefined>>();

  async function inspect(certificateId: string, zones: Promise<HostedZone[]>): Promise<CaCheck | undefined> {
    const record = store.get(certificateId);
    if (!isPending(record)) return undefined;
    const check: CaCheck = { certificateId, records: [], issued: false };
    // Like the real CA, an order not validated by its deadline is closed and needs a new one.
    if (deadlineOf(record) <= now()) {
      store.setStatus(certificateId, 2, VALIDATION_TIMED_OUT);
      check.rejected = true;
      return check;
    }
    try {
      const listed = await zones;
      for (const dvAuth of dvAuthsOf(record)) {
        const expected = expectedRecord(dvAuth);
        if (!expected) continue;
        const candidates = authoritativeZones(expected.name, listed);
        let found = false;
        for (const zone of candidates) {
          const values = await recordValues(route53, zone, expected.name, expected.type);
          found ||= matches(expected.type, expected.value, values);
        }
        const zone = candidates[0]?.Name;
        check.records.push({ ...expected, found, ...(zone ? { zone: bare(zone) } : {}) });
      }
      // The store may have moved on (cancelled, issued by a test) while Route53 was being read.
      if (
        check.records.length > 0 &&
        check.records.every((r) => r.found) &&
        isPending(store.get(certificateId))
      ) {
        const issued = await store.issue(certificateId);
        check.issued = true;
        options.onIssued?.(issued, check);
      }
    } catch (error) {
      check.error = error instanceof Error ? error.message : String(error);
    }
    return check;
  }

  function check(certificateId: string, zones?: Promise<HostedZone[]>): Promise<CaCheck | undefined> {
    const current = running.get(certificateId);
    if (current) return current;
    const listing = zones ?? publicZones(route53);
    // A failed listing is reported by inspect; this keeps it from surfacing as unhandled meanwhile.
    listing.catch(() => {});
    const started = inspect(certificateId, listing).finally(() => running.delete(certificateId));
    running.set(certificateId, started);
    return started;
  }

  async function checkAll(): Promise<CaCheck[]> {
    const pending = store
      .list()
      .filter(isPending)
      .map((record) => String(record.CertificateId));
    if (pending.length === 0) return [];
    const zones = publicZones(route53);
    zones.catch(() => {});
    const checks = await Promise.all(pending.map((id) => check(id, zones)));
    return checks.filter((c): c is CaCheck => c !== undefined);
  }

  async function idle(): Promise<void> {
    while (running.size > 0) await Promise.allSettled([...running.values()]);
  }

  const onAction: ActionHook = async ({ action, params }) => {
    // Answering a listing only after the CA has looked keeps runs repeatable: what is in Route53
    // when a sync lists its certificates decides what it sees, not the timing of a background check.
    if (action === 'DescribeCertificates') await checkAll();
    // Like Tencent, CompleteCertificate only asks the CA to look; its answer does not wait for it.
    if (action === 'CompleteCertificate' && typeof params.CertificateId === 'string') {
      void check(params.CertificateId);
    }
    return undefined;
  };

  return { onAction, check: (id) => check(id), checkAll, idle };
}
