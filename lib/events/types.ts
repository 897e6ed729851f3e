/**
 * Lifecycle events: what a run tells other systems through EventBridge. Plain shapes only, so
 * the reports (sync-types.ts, export.ts) can carry what was announced without importing the
 * code that announces it.
 */

/** The `source` of every event. */
export const EVENT_SOURCE = 'tencent-ssl-sync';

/** Each transition with its EventBridge `detail-type`, the words a rule matches and a person reads. */
export const DETAIL_TYPES = {
  'validation-records-written': 'Validation Records Written',
  'certificate-blocked': 'Certificate Blocked',
  'certificate-issued': 'Certificate Issued',
  'certificate-exported': 'Certificate Exported',
  'certificate-imported': 'Certificate Imported',
  'renewal-requested': 'Renewal Requested',
  'certificate-expiring': 'Certificate Expiring',
} as const;

type TransitionName = keyof typeof DETAIL_TYPES;
type DetailType = (typeof DETAIL_TYPES)[TransitionName];

/** Fields every event's detail has. */
interface DetailBase {
  transition: TransitionName;
  certificateId: string;
  /** The certificate's names as Tencent lists them (`*.` kept); the export's `Domain` alone for export-only reports. */
  domains: string[];
}

interface RecordsWrittenDetail extends DetailBase {
  transition: 'validation-records-written';
  records: Array<{
    name: string;
    type: string;
    /** CNAME target or TXT text: what the CA looks up, public once in DNS. */
    value: string;
    action: 'created' | 'updated';
    zone?: { id: string; name: string };
  }>;
}

export interface BlockedDetail extends DetailBase {
  transition: 'certificate-blocked';
  statusName: string | null;
  validationDeadline: string | null;
  /** Why, per record (refused, conflict, failed) and for the certificate as a whole. */
  reasons: Array<{ name?: string; type?: string; action?: string; reason: string }>;
}

interface IssuedDetail extends DetailBase {
  transition: 'certificate-issued';
  /** CertEndTime, ISO 8601; null when Tencent lists none. */
  expiresAt: string | null;
}

interface ExportedDetail extends DetailBase {
  transition: 'certificate-exported';
  result: 'created' | 'updated';
  secretName: string;
  versionId: string;
  fingerprintSha256?: string;
  notAfter?: string;
}

interface ImportedDetail extends DetailBase {
  transition: 'certificate-imported';
  result: 'imported' | 'reimported';
  certificateArn?: string;
  region?: string;
}

interface RenewalRequestedDetail extends DetailBase {
  transition: 'renewal-requested';
  /** The certificate the new order renews, when it renews one. */
  oldCertificateId?: string;
}

interface ExpiringDetail extends DetailBase {
  transition: 'certificate-expiring';
  expiresAt: string;
  /** Whole days left, rounded down (negative once past). */
  daysLeft: number;
  renewBeforeDays: number;
}

export type TransitionDetail =
  | RecordsWrittenDetail
  | BlockedDetail
  | IssuedDetail
  | ExportedDetail
  | ImportedDetail
  | RenewalRequestedDetail
  | ExpiringDetail;

/** One thing that happened, to be announced once. */
export interface Transition {
  detailType: DetailType;
  detail: TransitionDetail;
  /**
   * `announce#<certificateId>#<transition>[#<detail key>]`: the state-table claim that makes it
   * announced once. The detail key tells a new occurrence from the same one seen again (the
   * secret version, a digest of the records written or of the reasons blocked).
   */
  claimKey: string;
  /** How long the claim stands: the same transition seen again within it is not announced again. */
  ttlMs: number;
}

/** One transition a run tried to announce. */
export interface Announcement {
  transition: TransitionName;
  certificateId: string;
  result: 'sent' | 'failed';
  /** EventBridge's id of the event sent. */
  eventId?: string;
  /** Why it failed; its claim was given back, so a later run that sees it again sends it. */
  reason?: string;
}

/** What a run announced (the `events` of a sync or export report). */
export interface EventsReport {
  bus: string;
  /** The transitions announced by this run; empty when nothing new happened. */
  announced: Announcement[];
  /** Set when no event could be sent at all, with the reason (no state table, the table unreadable). */
  off?: string;
}
