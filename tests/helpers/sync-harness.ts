/**
 * Shared arrangements of the fault-injection suite: a sample account spread over several hosted
 * zones, the records its validation data asks for, what the zones and secrets actually hold, and
 * one sync run through the production wiring (`createRuntime`) with its log lines captured.
 */
import {
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  type Route53Client,
  type RRType,
} from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CertificateStore, DvAuth, StoredCertificate } from '../../infra/local/certificate-store.js';
import type { Clock } from '../../lib/clock.js';
import { loadConfig } from '../../lib/config.js';
import { exportInline } from '../../lib/export.js';
import { createRoute53Client } from '../../lib/route53/client.js';
import { createRuntime } from '../../lib/runtime.js';
import { runSync } from '../../lib/sync.js';
import type { SyncReport, SyncRequest } from '../../lib/sync-types.js';
import { TencentClient } from '../../lib/tencent/client.js';
import type { RetryPolicy } from '../../lib/tencent/retry-policy.js';
import { TencentSslApi } from '../../lib/tencent/ssl-api.js';
import { type FaultProxy, recordSetChanges } from './fault-proxy.js';

export interface WantedRecord {
  certificateId: string;
  /** Lower-case, no trailing dot. */
  name: string;
  type: 'CNAME' | 'TXT';
  /** CNAME target lower-case without a trailing dot; TXT text unquoted. */
  value: string;
}

export interface ZoneRecordSet {
  zoneId: string;
  name: string;
  type: 'CNAME' | 'TXT';
  /** As `WantedRecord.value`. */
  values: string[];
}

const bare = (name: string): string => name.trim().toLowerCase().replace(/\.$/, '');

/**
 * The records a pending certificate's `DvAuths` ask for, named as the API reference derives them:
 * a `DvAuthKey` ending in its domain is the full name, otherwise the label goes before the domain.
 */
export function wantedRecords(certificate: StoredCertificate): WantedRecord[] {
  const detail = certificate.DvAuthDetail as { DvAuths?: DvAuth[] | null } | null;
  return (detail?.DvAuths ?? []).flatMap((auth): WantedRecord[] => {
    const type = auth.DvAuthVerifyType;
    if ((type !== 'CNAME' && type !== 'TXT') || !auth.DvAuthDomain || !auth.DvAuthValue) return [];
    const domain = bare(auth.DvAuthDomain).replace(/^\*\./, '');
    const key = bare(auth.DvAuthKey ?? '');
    const name = key.endsWith(domain) ? key : `${bare(auth.DvAuthSubDomain ?? key)}.${domain}`;
    const value = type === 'CNAME' ? bare(auth.DvAuthValue) : auth.DvAuthValue;
    return [{ certificateId: String(certificate.CertificateId), name, type, value }];
  });
}

/** Creates public hosted zones; returns their bare ids by name. */
export async function createZones(
  route53: Route53Client,
  names: readonly string[],
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const name of names) {
    const created = await route53.send(
      new CreateHostedZoneCommand({ Name: name, CallerReference: `${name}-${Date.now()}-${Math.random()}` }),
    );
    ids[name] = String(created.HostedZone?.Id).replace(/^\/?hostedzone\//, '');
  }
  return ids;
}

const unquote = (value: string): string =>
  value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1).replaceAll('\\"', '"') : value;

/** Every CNAME and TXT set in the zones (validation records are the only ones this suite writes). */
export async function validationRecordSets(
  route53: Route53Client,
  zoneIds: readonly string[],
): Promise<ZoneRecordSet[]> {
  const sets: ZoneRecordSet[] = [];
  for (const zoneId of zoneIds) {
    let start: { StartRecordName?: string; StartRecordType?: RRType } = {};
    for (;;) {
      const page: ListResourceRecordSetsCommandOutput = await route53.send(
        new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, ...start }),
      );
      for (const set of page.ResourceRecordSets ?? []) {
        if (set.Type !== 'CNAME' && set.Type !== 'TXT') continue;
        const values = (set.ResourceRecords ?? []).map((record) => String(record.Value));
        sets.push({
          zoneId,
          name: bare(String(set.Name)),
          type: set.Type,
          values: set.Type === 'TXT' ? values.map(unquote) : values.map(bare),
        });
      }
      if (!page.IsTruncated || !page.NextRecordName) break;
      start = { StartRecordName: page.NextRecordName, StartRecordType: page.NextRecordType };
    }
  }
  return sets;
}

function holds(sets: readonly ZoneRecordSet[], record: WantedRecord): boolean {
  return sets.some(
    (set) => set.name === record.name && set.type === record.type && set.values.includes(record.value),
  );
}

/** Certificates every one of whose wanted records is in the zones. */
export function certificatesInPlace(
  wanted: readonly WantedRecord[],
  sets: readonly ZoneRecordSet[],
): Set<string> {
  const ids = new Set(wanted.map((record) => record.certificateId));
  for (const record of wanted) if (!holds(sets, record)) ids.delete(record.certificateId);
  return ids;
}

/** Certificates at least one of whose wanted records is missing or wrong. */
export function certificatesNotInPlace(
  wanted: readonly WantedRecord[],
  sets: readonly ZoneRecordSet[],
): Set<string> {
  return new Set(wanted.filter((record) => !holds(sets, record)).map((record) => record.certificateId));
}

/** Values in the zones that no wanted record asked for: what must never be written. */
export function strayRecords(
  wanted: readonly WantedRecord[],
  sets: readonly ZoneRecordSet[],
): Array<{ name: string; type: string; value: string }> {
  return sets.flatMap((set) =>
    set.values
      .filter(
        (value) =>
          !wanted.some(
            (record) => record.name === set.name && record.type === set.type && record.value === value,
          ),
      )
      .map((value) => ({ name: set.name, type: set.type, value })),
  );
}

/** How often each record name was in a ChangeResourceRecordSets that moto accepted. */
export function acceptedWritesPerName(proxy: FaultProxy): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of proxy.forwarded({ operation: 'ChangeResourceRecordSets' })) {
    if (request.status !== 200) continue;
    for (const change of recordSetChanges(request))
      counts.set(change.name, (counts.get(change.name) ?? 0) + 1);
  }
  return counts;
}

/** Accepted ChangeResourceRecordSets calls per hosted zone id. */
export function acceptedBatchesPerZone(proxy: FaultProxy): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of proxy.forwarded({ operation: 'ChangeResourceRecordSets' })) {
    if (request.status !== 200 || !request.hostedZoneId) continue;
    counts.set(request.hostedZoneId, (counts.get(request.hostedZoneId) ?? 0) + 1);
  }
  return counts;
}

/** The certificate id each secret holds, or undefined when the secret does not exist. */
export async function exportedCertificateId(
  secrets: SecretsManagerClient,
  secretName: string,
): Promise<string | undefined> {
  try {
    const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretName }));
    return String((JSON.parse(String(out.SecretString)) as { certificateId?: unknown }).certificateId);
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** Ids of the certificates in a report with one of `outcomes`. */
export function idsWithOutcome(report: SyncReport, ...outcomes: string[]): Set<string> {
  return new Set(report.certificates.filter((c) => outcomes.includes(c.outcome)).map((c) => c.certificateId));
}

export interface SyncRun {
  report: SyncReport;
  /** Every JSON log line of the run. */
  logs: string[];
}

export interface SyncOnceOptions {
  /**
   * Route53 requests per second. Default: the product's pacing (5/s, Route53's account limit).
   * Suites whose subject is not Route53's pacing raise it so that it does not dominate their time.
   */
  route53RateLimit?: number;
  /** Overrides of the Tencent client's retry policy (the runtime always uses the default). */
  tencentRetry?: Partial<RetryPolicy>;
  /** The run's clock (deadlines are read from it); the system clock by default. */
  clock?: Clock;
}

/**
 * One sync run through the production wiring: configuration from `env`, clients from
 * `createRuntime` (the AWS SDK reads its endpoint from process.env), inline export. Each run gets
 * fresh clients, so the SDK's adaptive rate limiter starts clean. The options swap the Route53 or
 * the Tencent client for one built the same way, with another pace or retry policy.
 */
export async function syncOnce(
  env: Record<string, string>,
  request: SyncRequest = {},
  options: SyncOnceOptions = {},
): Promise<SyncRun> {
  const logs: string[] = [];
  const config = loadConfig(env);
  const runtime = createRuntime(config, {
    write: (line) => logs.push(line),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  let deps = runtime.syncDeps();
  if (options.route53RateLimit !== undefined) {
    const route53 = createRoute53Client({
      rateLimit: options.route53RateLimit,
      clock: runtime.clock,
      logger: runtime.logger.child({ system: 'route53' }),
    });
    runtime.onClose(() => route53.destroy());
    deps = { ...deps, route53 };
  }
  if (options.tencentRetry && config.tencent.credentials) {
    const client = new TencentClient({
      endpoint: config.tencent.endpoint,
      credentials: config.tencent.credentials,
      rateLimit: config.tencent.rateLimit,
      retry: options.tencentRetry,
      clock: runtime.clock,
      logger: runtime.logger.child({ system: 'tencent' }),
    });
    runtime.onClose(() => client.close());
    const tencent = new TencentSslApi(client);
    deps = { ...deps, tencent, onIssued: exportInline({ ...runtime.exportDeps(), tencent }) };
  }
  try {
    return { report: await runSync(deps, request), logs };
  } finally {
    await runtime.close();
  }
}

/** A pending certificate per name, spread evenly over `zones` (`svc<i>.<zone>`), with its wanted records. */
export function addPendingAcross(
  store: CertificateStore,
  zones: readonly string[],
  count: number,
  prefix = 'svc',
): { ids: string[]; wanted: WantedRecord[] } {
  const ids: string[] = [];
  const wanted: WantedRecord[] = [];
  for (let i = 0; i < count; i += 1) {
    const zone = zones[i % zones.length] as string;
    // Every fifth certificate validates by TXT and every seventh carries a second name, so both
    // record types and multi-name batches are in every run.
    const certificate = store.addPending({
      domain: `${prefix}${i}.${zone}`,
      ...(i % 7 === 3 ? { altNames: [`${prefix}${i}-alt.${zone}`] } : {}),
      ...(i % 5 === 4 ? { verifyType: 'TXT' as const } : {}),
    });
    ids.push(String(certificate.CertificateId));
    wanted.push(...wantedRecords(certificate));
  }
  return { ids, wanted };
}
