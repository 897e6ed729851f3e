import type { Change, RRType } from '@aws-sdk/client-route-53';
import { isUnder, normalizeName } from '../domain.js';
import { decodeRoute53Name } from './names.js';
import { quoteTxt, unquoteTxt } from './txt.js';
import type { ExistingRecordSet, HostedZoneRef, RecordOutcome, ValidationRecord } from './types.js';

export interface DiffInput {
  zone: HostedZoneRef;
  /** Planned records of every certificate that resolved to this zone. */
  wanted: ValidationRecord[];
  /** The zone's record sets (at least those at the wanted names), as read from Route53. */
  existing: ExistingRecordSet[];
  /** TTL, in seconds, of every set this diff writes. */
  ttl: number;
}

/** One UPSERT and the outcomes (`created` / `updated`) that depend on it. */
export interface PlannedChange {
  change: Change;
  /**
   * The records this change writes. When Route53 rejects the change, exactly these become
   * `failed`; `unchanged` records at the same name are not listed because a rejected UPSERT
   * leaves the set, and so their values, as it was.
   */
  outcomes: RecordOutcome[];
}

export interface ZoneDiff {
  /** At most one UPSERT per (name, type), sorted by name then type; empty when all is in place. */
  changes: PlannedChange[];
  /**
   * One outcome per wanted record, in the order of `wanted`, each with `zone` set. The objects
   * in `changes[].outcomes` are the same objects (compare by identity to replace them).
   */
  outcomes: RecordOutcome[];
}

/**
 * Wanted validation records + what the zone holds → the UPSERTs that make the zone hold them.
 *
 * - TXT: the set at a name keeps every value already there (another order may be pending) plus
 *   every wanted value, existing order first, new values sorted after them.
 * - CNAME: written only where nothing of another type exists; a different target is replaced.
 * - Alias and routing-policy sets are never touched; a record meeting one is a `conflict`.
 * - Every written set gets the configured `ttl`, including a TXT set that already existed: the
 *   values in it are validation tokens too, so they want the same short TTL.
 * - Names and CNAME targets are written bare (no trailing dot): Route53 treats every name as
 *   fully qualified either way.
 */
export function diffZone({ zone, wanted, existing, ttl }: DiffInput): ZoneDiff {
  const zoneName = decodeRoute53Name(zone.name);
  const outcomes: RecordOutcome[] = [];
  const wantedByName = new Map<string, Item[]>();
  for (const record of wanted) {
    const outcome: RecordOutcome = {
      certificateId: record.certificateId,
      name: record.name,
      type: record.type,
      value: record.value,
      zone,
      action: 'unchanged',
    };
    outcomes.push(outcome);
    const name = normalizeName(record.name);
    if (!isUnder(name, zoneName)) {
      // Route53 rejects a whole batch over one name outside the zone, so a stray record is kept out.
      outcome.action = 'refused';
      outcome.reason = `record name ${name} is not in hosted zone ${zoneName}`;
      continue;
    }
    wantedByName.set(name, [...(wantedByName.get(name) ?? []), { record, outcome }]);
  }

  const existingByName = new Map<string, ExistingRecordSet[]>();
  for (const set of existing) {
    const name = decodeRoute53Name(set.name);
    existingByName.set(name, [...(existingByName.get(name) ?? []), set]);
  }

  const changes: PlannedChange[] = [];
  for (const [name, items] of wantedByName) {
    const sets = existingByName.get(name) ?? [];
    const conflict = (reason: string) => {
      for (const { outcome } of items) {
        outcome.action = 'conflict';
        outcome.reason = reason;
      }
    };

    const types = new Set(items.map(({ record }) => record.type));
    if (types.size > 1) {
      conflict('both a CNAME and a TXT record are wanted at this name; a CNAME cannot share its name');
      continue;
    }
    const change =
      items[0]?.record.type === 'CNAME'
        ? diffCname(name, items, sets, ttl, conflict)
        : diffTxt(name, items, sets, ttl, conflict);
    if (change) changes.push(change);
  }

  changes.sort((a, b) => compareChanges(a.change, b.change));
  return { changes, outcomes };
}

interface Item {
  record: ValidationRecord;
  outcome: RecordOutcome;
}

const SPECIAL_REASON =
  'an alias or routing-policy record set already exists at this name; this tool never changes one';

function diffCname(
  name: string,
  items: Item[],
  sets: ExistingRecordSet[],
  ttl: number,
  conflict: (reason: string) => void,
): PlannedChange | undefined {
  const targets = [...new Set(items.map(({ record }) => normalizeName(record.value)))].sort();
  if (targets.length > 1) {
    conflict(
      `certificates want different CNAME targets at this name (${targets.join(', ')}); none is written`,
    );
    return undefined;
  }
  if (sets.some((set) => set.special)) {
    conflict(SPECIAL_REASON);
    return undefined;
  }
  const others = [...new Set(sets.map((set) => set.type.toUpperCase()).filter((type) => type !== 'CNAME'))];
  if (others.length > 0) {
    const what = others.sort().join(' and ');
    conflict(`${article(what)} ${what} record already exists at this name; a CNAME cannot replace it`);
    return undefined;
  }

  const target = targets[0] as string;
  const current = sets.find((set) => set.type.toUpperCase() === 'CNAME');
  const currentTargets = (current?.values ?? []).map(normalizeName);
  if (currentTargets.length === 1 && currentTargets[0] === target) return undefined;

  const action = current ? 'updated' : 'created';
  for (const { outcome } of items) outcome.action = action;
  return {
    change: upsertChange(name, 'CNAME', ttl, [target]),
    outcomes: items.map(({ outcome }) => outcome),
  };
}

function diffTxt(
  name: string,
  items: Item[],
  sets: ExistingRecordSet[],
  ttl: number,
  conflict: (reason: string) => void,
): PlannedChange | undefined {
  if (sets.some((set) => set.special)) {
    conflict(SPECIAL_REASON);
    return undefined;
  }
  if (sets.some((set) => set.type.toUpperCase() === 'CNAME')) {
    conflict('a CNAME already exists at this name; a TXT record cannot be added beside it');
    return undefined;
  }

  const current = sets.find((set) => set.type.toUpperCase() === 'TXT');
  const present = [...new Set((current?.values ?? []).map(unquoteTxt))];
  const missing = [...new Set(items.map(({ record }) => record.value))]
    .filter((value) => !present.includes(value))
    .sort(compareText);
  if (missing.length === 0) return undefined;

  const written: RecordOutcome[] = [];
  for (const { record, outcome } of items) {
    if (present.includes(record.value)) continue;
    outcome.action = current ? 'updated' : 'created';
    written.push(outcome);
  }
  return {
    change: upsertChange(name, 'TXT', ttl, [...present, ...missing].map(quoteTxt)),
    outcomes: written,
  };
}

/** An UPSERT of one record set with plain values. */
export function upsertChange(name: string, type: RRType, ttl: number, values: string[]): Change {
  return {
    Action: 'UPSERT',
    ResourceRecordSet: {
      Name: name,
      Type: type,
      TTL: ttl,
      ResourceRecords: values.map((value) => ({ Value: value })),
    },
  };
}

function compareChanges(a: Change, b: Change): number {
  return (
    compareText(a.ResourceRecordSet?.Name ?? '', b.ResourceRecordSet?.Name ?? '') ||
    compareText(a.ResourceRecordSet?.Type ?? '', b.ResourceRecordSet?.Type ?? '')
  );
}

/** Code-unit order, independent of the runtime's locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function article(word: string): string {
  return /^[AEFHILMNORSX]/.test(word) ? 'an' : 'a';
}
