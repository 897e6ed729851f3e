import { createHash } from 'node:crypto';
import { errorMessage } from './error-text.js';
import type { CertificateMemory, OwnedValue } from './state/types.js';
import type { CertificateReport, SyncDeps } from './sync-types.js';
import type { CertificateListItem } from './tencent/schemas.js';

/*
 * What a sync run remembers of pending certificates between runs (the state table's memories),
 * so that a run with nothing new reads nothing again: which certificates to skip, how a skipped
 * one is reported, and what a writing run records for the next.
 */

/** A listed certificate's id (the run keeps only items that have one). */
export const idOf = (item: CertificateListItem) => item.CertificateId as string;

/** How long a pending certificate whose listing has not changed goes without being read again. */
const REREAD_AFTER_MS = 3_600_000;

/** The listing fields whose change means a pending certificate must be read again. */
function listingDigest(item: CertificateListItem): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        item.Status,
        item.Domain,
        [...item.SubjectAltName].sort(),
        item.DVAuthDeadline?.toISOString() ?? null,
        item.InsertTime?.toISOString() ?? null,
      ]),
    )
    .digest('base64url');
}

/**
 * Step 0b, in a writing run with the state table on: pending certificates not worth reading
 * again. Their listing is what it was at the last read, their records were in place after it,
 * and that was less than an hour ago: an idle run then costs the listing and one state read.
 */
export async function unchangedCertificates(
  deps: SyncDeps,
  items: CertificateListItem[],
  owned: OwnedValue[] | undefined,
  options: { dryRun: boolean },
): Promise<{ unchanged: CertificateListItem[]; memories: Map<string, CertificateMemory> }> {
  const none = { unchanged: [], memories: new Map<string, CertificateMemory>() };
  if (!deps.state || !owned || options.dryRun || items.length === 0) return none;
  let memories: Map<string, CertificateMemory>;
  try {
    memories = await deps.state.memories(items.map(idOf));
  } catch (error) {
    // Without the memory every certificate is read, as it would be without state.
    deps.logger.warn('cannot read what the state table remembers of the certificates', {
      error: errorMessage(error),
    });
    return none;
  }
  const now = deps.clock.now();
  const ownedIds = new Set(owned.map((value) => value.certificateId));
  const unchanged = items.filter((item) => {
    const memory = memories.get(idOf(item));
    return (
      memory?.recordsInPlace === true &&
      ownedIds.has(idOf(item)) &&
      memory.listingDigest === listingDigest(item) &&
      now - memory.readAt < REREAD_AFTER_MS
    );
  });
  return { unchanged, memories };
}

export function reportUnchanged(
  report: CertificateReport,
  item: CertificateListItem,
  memories: Map<string, CertificateMemory>,
  owned: OwnedValue[] | undefined,
): void {
  const memory = memories.get(idOf(item)) as CertificateMemory;
  report.outcome = 'validating';
  report.unchangedSince = new Date(memory.readAt).toISOString();
  for (const value of owned ?? []) {
    if (value.certificateId !== idOf(item)) continue;
    report.records.push({
      certificateId: value.certificateId,
      name: value.name,
      type: value.type,
      value: value.value,
      zone: { id: value.zoneId, name: '' },
      action: 'unchanged',
      owned: true,
    });
  }
}

/** What this run read of each certificate, for the next run; certificates done are forgotten. */
export async function rememberReads(
  deps: SyncDeps,
  read: CertificateListItem[],
  reports: Map<string, CertificateReport>,
  leaving: OwnedValue[],
): Promise<void> {
  if (!deps.state) return;
  const now = deps.clock.now();
  const memories: CertificateMemory[] = [];
  for (const item of read) {
    const report = reports.get(idOf(item)) as CertificateReport;
    if (report.outcome === 'deferred' || report.outcome === 'failed') continue;
    memories.push({
      certificateId: idOf(item),
      status: item.Status,
      listingDigest: listingDigest(item),
      recordsInPlace: report.outcome === 'validating',
      readAt: now,
    });
  }
  try {
    await deps.state.remember(memories);
    const done = [...new Set(leaving.map((value) => value.certificateId))];
    if (done.length > 0) await deps.state.forget(done);
  } catch (error) {
    // The next run reads these certificates again: more calls, nothing wrong.
    deps.logger.warn('cannot record what this run read in the state table', { error: errorMessage(error) });
  }
}
