/**
 * Shared shapes of the Route53 side. Names are always lower-case, without a trailing dot, with
 * `*` (not Route53's `\052`) for a wildcard label.
 */

/** A hosted zone named explicitly for a domain (ROUTE53_ZONES), winning over discovery. */
export interface ZoneOverride {
  domain: string;
  hostedZoneId: string;
}

export type ValidationRecordType = 'CNAME' | 'TXT';

/** One DNS record a certificate needs for validation, already checked against the security rules. */
export interface ValidationRecord {
  certificateId: string;
  /** The certificate domain this record validates (from DvAuthDomain, `*.` stripped). */
  domain: string;
  /** Fully qualified record name. */
  name: string;
  type: ValidationRecordType;
  /** CNAME: the target host name (lower-case, no trailing dot). TXT: the text itself, unquoted. */
  value: string;
}

/** What happened (or, in a dry run, would happen) to one validation record. */
export type RecordAction =
  | 'created'
  | 'updated'
  | 'unchanged'
  | 'refused'
  | 'conflict'
  | 'skipped'
  | 'failed'
  /** An owned value taken out: its certificate is done (issued, failed, gone) or no longer wants it. */
  | 'removed';

export interface HostedZoneRef {
  id: string;
  name: string;
}

export interface RecordOutcome {
  certificateId: string;
  /** Absent when no name could be derived (e.g. masked or missing fields). */
  name?: string | undefined;
  type?: string | undefined;
  value?: string | undefined;
  zone?: HostedZoneRef | undefined;
  action: RecordAction;
  /** The value is the tool's own (recorded in the state table); absent when state is off or it is not. */
  owned?: boolean;
  /** Why: always set for refused, conflict, skipped and failed. */
  reason?: string | undefined;
}

/** A hosted zone as listed by ListHostedZones. */
export interface HostedZone {
  /** Bare id, without the `/hostedzone/` prefix. */
  id: string;
  name: string;
  private: boolean;
  /** ResourceRecordSetCount, used to choose how to read the zone. */
  recordCount: number;
}

/** A record set as it exists in Route53, reduced to what the diff needs. */
export interface ExistingRecordSet {
  name: string;
  type: string;
  ttl?: number | undefined;
  /** Raw ResourceRecords values as Route53 returns them (TXT values quoted). */
  values: string[];
  /** Alias, weighted, latency… sets are never touched by this tool. */
  special: boolean;
}

/** A record value the tool wrote earlier and may therefore replace or remove (from the state table). */
export interface OwnedRecord {
  certificateId: string;
  /** Lower case, no trailing dot. */
  name: string;
  type: ValidationRecordType;
  /** CNAME target (lower case, no trailing dot) or TXT text (unquoted). */
  value: string;
}
