import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Clock } from './clock.js';
import type { EventsReport } from './events/types.js';
import type { ExportEntry, IssuedCertificateHandler } from './export.js';
import type { Logger } from './logger.js';
import type { RenewalReport } from './renew.js';
import type { RecordAction, RecordOutcome, ZoneOverride } from './route53/types.js';
import type { StateStore } from './state/types.js';
import type { CertificateListItem } from './tencent/schemas.js';
import type { TencentSslApi } from './tencent/ssl-api.js';

/* The shapes a sync run takes and gives: shared by the run, its validation pipeline and its readers. */

/** Settings of a sync run, from the configuration. */
export interface SyncSettings {
  allowedDomains: string[] | '*' | undefined;
  zoneOverrides: ZoneOverride[];
  recordTtl: number;
  waitForInsync: boolean;
  /** Upper bound on waiting for INSYNC. */
  insyncTimeoutMs?: number;
  /** Ask the CA to check at once after new records are in sync (CompleteCertificate). */
  nudgeCa?: boolean;
  dryRun: boolean;
  /** CERTIFICATES: names that must always have a valid certificate (applied for and renewed). */
  certificates?: readonly string[];
  /** RENEW_BEFORE_DAYS (default 30). */
  renewBeforeDays?: number;
}

/** The Tencent calls a sync run makes. */
export type SyncTencentApi = Pick<
  TencentSslApi,
  'listCertificates' | 'describeValidation' | 'completeCertificate'
> &
  /** Only full runs with CERTIFICATES set apply for certificates. */
  Partial<Pick<TencentSslApi, 'applyCertificate'>>;

export interface SyncDeps {
  tencent: SyncTencentApi;
  route53: Route53Client;
  clock: Clock;
  logger: Logger;
  settings: SyncSettings;
  /** Absent: issued certificates are listed in the report as ready for export. */
  onIssued?: IssuedCertificateHandler;
  /** For `status`: what the secrets hold for issued certificates (reads only). */
  exportState?: (items: CertificateListItem[]) => Promise<ExportEntry[]>;
  /**
   * The state table: which record values the tool owns. Absent: state is off, and the sync only
   * adds (it creates records and merges its values into TXT sets, never replaces or removes).
   */
  state?: StateStore;
  /**
   * Told about every finished run that is not a dry run (events, the blocked-since memory,
   * metrics). Absent: nothing is announced or counted.
   */
  observer?: SyncObserver;
}

/** Looks at a finished sync report; never rejects (what it cannot do, it logs and reports). */
export interface SyncObserver {
  /** `partial`: the run looked at certificates asked for by id, not at the whole account. */
  afterSync(report: SyncReport, run: { partial: boolean }): Promise<EventsReport | undefined>;
}

export interface SyncRequest {
  /** Only these certificates; all pending and issued ones when absent. */
  certificateIds?: string[];
  /** Overrides the configured DRY_RUN. */
  dryRun?: boolean;
  /** Epoch ms after which no new certificate is started (a Lambda running out of time). */
  deadline?: number;
}

/**
 * - `validating`: records are in place (written or already there); waiting for the CA.
 * - `blocked`: a record was refused or conflicts: needs a person.
 * - `outside-allow-list`: none of its domains lies under ALLOWED_DOMAINS, so it is left alone by
 *   design (its records are refused, nothing is written); not a failure.
 * - `failed`: an error stopped this certificate; the next run tries again.
 * - `deferred`: not started because the run ran out of time.
 * - `issued`: status 1, handed to export (or ready for it).
 * - `ignored`: a status this tool does not act on (failed, expired, cancelled…).
 * - `not-found`: an id asked for that Tencent does not know.
 */
export type CertificateOutcome =
  | 'validating'
  | 'blocked'
  | 'outside-allow-list'
  | 'failed'
  | 'deferred'
  | 'issued'
  | 'ignored'
  | 'not-found';

export interface CertificateReport {
  certificateId: string;
  domains: string[];
  status: number | null;
  statusName: string | null;
  /** Until when the CA waits for validation (DVAuthDeadline). */
  validationDeadline: string | null;
  /** CertEndTime, ISO 8601, when Tencent lists one. */
  expiresAt?: string;
  outcome: CertificateOutcome;
  records: RecordOutcome[];
  /** All written changes reached INSYNC (absent when nothing was written or waiting is off). */
  insync?: boolean;
  /** CompleteCertificate was accepted. */
  nudged?: boolean;
  /** Why the nudge was not accepted, or that it was skipped to end the run in time. */
  nudgeNote?: string;
  /**
   * Set when the certificate was not read again: its listing is as it was and its records were
   * in place at the last read (this time, ISO 8601), less than an hour ago. Its records are the
   * values the tool owns for it.
   */
  unchangedSince?: string;
  export?: ExportEntry;
  error?: string;
  /** Blocked: since when runs have seen it blocked (ISO 8601; from the state table). */
  blockedSince?: string;
}

export interface RunFailure {
  reason: string;
  /** The AWS credentials or their permissions are at fault (exit code 2 of the CLI). */
  credentials: boolean;
}

export interface SyncReport {
  dryRun: boolean;
  /** Set when a step stopped every pending certificate (e.g. the hosted zones could not be listed). */
  fatal?: RunFailure;
  startedAt: string;
  finishedAt: string;
  certificates: CertificateReport[];
  /** Whether the state table is on (ownership, cleanup, memory) or off (the sync only adds). */
  state: 'on' | 'off';
  /**
   * Owned record values taken out because their certificate is done (issued, failed, cancelled,
   * gone) or no longer wants them: `removed` (in a dry run: would be), or `failed` with the reason.
   */
  cleanup: RecordOutcome[];
  /** With CERTIFICATES set, in full runs and `status`: each declared domain's certificate and renewal. */
  renewals?: RenewalReport[];
  totals: {
    certificates: number;
    byOutcome: Partial<Record<CertificateOutcome, number>>;
    records: Partial<Record<RecordAction, number>>;
    route53ChangeBatches: number;
  };
  /** The lifecycle events this run announced (EVENT_BUS_NAME set, not a dry run). */
  events?: EventsReport;
}
