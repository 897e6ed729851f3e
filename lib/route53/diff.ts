import type { Change, RRType } from '@aws-sdk/client-route-53';
import { isUnder, normalizeName } from '../domain.js';
import { decodeRoute53Name } from './names.js';
import { quoteTxt, unquoteTxt } from './txt.js';
import type {
  ExistingRecordSet,
  HostedZoneRef,
  OwnedRecord,
  RecordOutcome,
  ValidationRecord,
  ValidationRecordType,
} from './types.js';

export interface DiffInput {
  zone: HostedZoneRef;
  /** Planned records of every certificate that resolved to this zone. */
  wanted: ValidationRecord[];
  /** The zone's record sets (at least those at the wanted and removed names), as read from Route53. */
  existing: ExistingRecordSet[];
  /** TTL, in seconds, of a record set this diff creates; a set that exists keeps its own. */
  ttl: number;
  /**
   * The values the tool owns at these names (from the state table). Absent: state is off, and
   * the diff only adds (it never replaces or removes a value).
   */
  owned?: readonly OwnedRecord[] | undefined;
  /** Owned values to take out: their certificates are done, or no longer want them. */
  remove?: readonly OwnedRecord[] | undefined;
}

/**
 * The changes to one record set, sent together in one batch so Route53 applies them atomically:
 * a DELETE of the set exactly as it was read (Route53 refuses it when the set has changed since)
 * and/or a CREATE of the new set (refused when a set is there already). Never an UPSERT over a
 * set that was read: a concurrent writer makes the change fail and be planned again, never lose
 * a value.
 */
export interface PlannedChange {
  name: string;
  type: ValidationRecordType;
  changes: Change[];
  /**
   * The records this change writes or removes. When Route53 rejects the change, exactly these
   * become `failed`; `unchanged` records at the same name are not listed because a rejected
   * change leaves the set, and so their values, as it was.
   */
  outcomes: RecordOutcome[];
  /** Values this change writes, to be recorded as the tool's own before it is sent. */
  owns: OwnedRecord[];
  /** Owned values this change takes out (or finds gone), to be forgotten once it is accepted. */
  disowns: OwnedRecord[];
}

export interface ZoneDiff {
  /** At most one change per (name, type), sorted by name then type; empty when all is in place. */
  changes: PlannedChange[];
  /**
   * One outcome per wanted record, in the order of `wanted`, each with `zone` set. The objects
   * in `changes[].outcomes` are the same objects (compare by identity to replace them).
   */
  outcomes: RecordOutcome[];
  /** One outcome per owned value to remove (`removed`, or `failed` later when the change is refused). */
  removals: RecordOutcome[];
  /** Owned values already gone from the zone: forget them, nothing to send. */
  gone: OwnedRecord[];
}

/**
 * Wanted validation records + owned values to remove + what the zone holds → the conditional
 * changes that make the zone hold exactly that.
 *
 * - TXT: the set keeps every value it has, byte for byte (multi-string values, escapes) and
 *   with its TTL, except owned values being removed; wanted values missing from it are added,
 *   sorted, after the values already there.
 * - CNAME: created where nothing is at the name; an existing CNAME with another target is
 *   replaced only when that target is the tool's own, else it is a `conflict` left as it is. A
 *   CNAME never replaces a record of another type.
 * - Alias and routing-policy sets are never touched; a record meeting one is a `conflict`.
 * - Names and CNAME targets are written bare (no trailing dot): Route53 treats every name as
 *   fully qualified either way.
 */
export function diffZone({ zone, wanted, existing, ttl, owned, remove = [] }: DiffInput): ZoneDiff {
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

  const removeByName = new Map<string, OwnedRecord[]>();
  for (const value of remove) {
    const name = normalizeName(value.name);
    if (!isUnder(name, zoneName)) continue;
    removeByName.set(name, [...(removeByName.get(name) ?? []), value]);
  }

  const existingByName = new Map<string, ExistingRecordSet[]>();
  for (const set of existing) {
    const name = decodeRoute53Name(set.name);
    existingByName.set(name, [...(existingByName.get(name) ?? []), set]);
  }
  const ownedAt = (name: string, type: ValidationRecordType) =>
    (owned ?? []).filter((value) => normalizeName(value.name) === name && value.type === type);

  const changes: PlannedChange[] = [];
  const removals: RecordOutcome[] = [];
  const gone: OwnedRecord[] = [];
  for (const name of new Set([...wantedByName.keys(), ...removeByName.keys()])) {
    const items = wantedByName.get(name) ?? [];
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
    const leaving = removeByName.get(name) ?? [];
    for (const type of ['CNAME', 'TXT'] as const) {
      const typed = items.filter(({ record }) => record.type === type);
      const out = leaving.filter((value) => value.type === type);
      if (typed.length === 0 && out.length === 0) continue;
      const context: NameContext = {
        zone,
        name,
        items: typed,
        sets,
        ttl,
        stateOn: owned !== undefined,
        owned: ownedAt(name, type),
        remove: out,
        conflict,
      };
      const planned = type === 'CNAME' ? diffCname(context) : diffTxt(context);
      removals.push(...planned.removals);
      gone.push(...planned.gone);
      if (planned.change) changes.push(planned.change);
    }
  }

  if (owned !== undefined) {
    // With state on, what this diff writes becomes the tool's, and what it already owned stays so.
    const ownedKeys = new Set(
      owned.map((value) => `${normalizeName(value.name)}|${value.type}|${value.value}`),
    );
    for (const outcome of outcomes) {
      const key = `${normalizeName(outcome.name ?? '')}|${outcome.type}|${outcome.value}`;
      if (ownedKeys.has(key) || outcome.action === 'created' || outcome.action === 'updated')
        outcome.owned = true;
    }
  }
  changes.sort((a, b) => compareText(a.name, b.name) || compareText(a.type, b.type));
  return { changes, outcomes, removals, gone };
}

interface Item {
  record: ValidationRecord;
  outcome: RecordOutcome;
}

interface NameContext {
  zone: HostedZoneRef;
  name: string;
  /** Wanted records of this type at the name. */
  items: Item[];
  /** Every set at the name, any type. */
  sets: ExistingRecordSet[];
  ttl: number;
  stateOn: boolean;
  /** Owned values of this type at the name. */
  owned: OwnedRecord[];
  /** Owned values of this type at the name to take out. */
  remove: OwnedRecord[];
  conflict: (reason: string) => void;
}

interface NamePlan {
  change?: PlannedChange;
  removals: RecordOutcome[];
  gone: OwnedRecord[];
}

const SPECIAL_REASON =
  'an alias or routing-policy record set already exists at this name; this tool never changes one';

function removalOutcome(zone: HostedZoneRef, value: OwnedRecord): RecordOutcome {
  return {
    certificateId: value.certificateId,
    name: value.name,
    type: value.type,
    value: value.value,
    zone,
    action: 'removed',
  };
}

/** DELETE of a set exactly as it was read: name, type, TTL and values byte for byte. */
function deleteAsRead(set: ExistingRecordSet): Change {
  return {
    Action: 'DELETE',
    ResourceRecordSet: {
      Name: set.name,
      Type: set.type as RRType,
      ...(set.ttl !== undefined ? { TTL: set.ttl } : {}),
      ResourceRecords: set.values.map((value) => ({ Value: value })),
    },
  };
}

function createSet(name: string, type: RRType, ttl: number, values: string[]): Change {
  return {
    Action: 'CREATE',
    ResourceRecordSet: {
      Name: name,
      Type: type,
      TTL: ttl,
      ResourceRecords: values.map((Value) => ({ Value })),
    },
  };
}

function diffCname(context: NameContext): NamePlan {
  const { zone, name, items, sets, ttl, conflict } = context;
  const plan: NamePlan = { removals: [], gone: [] };
  const current = sets.find((set) => set.type.toUpperCase() === 'CNAME' && !set.special);
  const currentTarget = current?.values.length === 1 ? normalizeName(current.values[0] as string) : undefined;
  // Owned values that are not (or no longer) what the zone holds need no change: forget them.
  const removable = context.remove.filter((value) => normalizeName(value.value) === currentTarget);
  plan.gone.push(...context.remove.filter((value) => !removable.includes(value)));

  if (items.length === 0) {
    if (!current || removable.length === 0) return plan;
    const outcomes = removable.map((value) => removalOutcome(zone, value));
    plan.removals.push(...outcomes);
    plan.change = {
      name,
      type: 'CNAME',
      changes: [deleteAsRead(current)],
      outcomes,
      owns: [],
      disowns: removable,
    };
    return plan;
  }

  const targets = [...new Set(items.map(({ record }) => normalizeName(record.value)))].sort();
  if (targets.length > 1) {
    conflict(
      `certificates want different CNAME targets at this name (${targets.join(', ')}); none is written`,
    );
    return plan;
  }
  if (sets.some((set) => set.special)) {
    conflict(SPECIAL_REASON);
    return plan;
  }
  const others = [...new Set(sets.map((set) => set.type.toUpperCase()).filter((type) => type !== 'CNAME'))];
  if (others.length > 0) {
    const what = others.sort().join(' and ');
    conflict(`${article(what)} ${what} record already exists at this name; a CNAME cannot replace it`);
    return plan;
  }

  const target = targets[0] as string;
  const records = items.map(({ record }) => ({ ...ownedOf(record), value: target }));
  if (currentTarget === target) {
    // The removal of an owned value that is wanted again is no removal.
    plan.gone = plan.gone.filter((value) => normalizeName(value.value) !== target);
    return plan;
  }
  if (current) {
    const ours = context.owned.some((value) => normalizeName(value.value) === currentTarget);
    if (!ours) {
      conflict(
        context.stateOn
          ? `a CNAME to ${currentTarget ?? 'another target'} already exists at this name and was not written by this tool; it is left as it is`
          : `a CNAME to ${currentTarget ?? 'another target'} already exists at this name; without a state table this tool only adds records and never replaces one`,
      );
      return plan;
    }
  }
  const outcomes = items.map(({ outcome }) => {
    outcome.action = current ? 'updated' : 'created';
    return outcome;
  });
  const removed = removable.map((value) => removalOutcome(zone, value));
  plan.removals.push(...removed);
  const replaced = current
    ? context.owned.filter((value) => normalizeName(value.value) === currentTarget)
    : [];
  plan.change = {
    name,
    type: 'CNAME',
    changes: [...(current ? [deleteAsRead(current)] : []), createSet(name, 'CNAME', ttl, [target])],
    outcomes: [...outcomes, ...removed],
    owns: records,
    disowns: [...new Set([...removable, ...replaced])],
  };
  return plan;
}

function diffTxt(context: NameContext): NamePlan {
  const { zone, name, items, sets, ttl, conflict } = context;
  const plan: NamePlan = { removals: [], gone: [] };
  const blocking = sets.some((set) => set.special)
    ? SPECIAL_REASON
    : sets.some((set) => set.type.toUpperCase() === 'CNAME')
      ? 'a CNAME already exists at this name; a TXT record cannot be added beside it'
      : undefined;
  const current = blocking ? undefined : sets.find((set) => set.type.toUpperCase() === 'TXT');
  const texts = (current?.values ?? []).map(unquoteTxt);
  const wantedTexts = new Set(items.map(({ record }) => record.value));
  // An owned value still wanted (by this or another certificate) stays.
  const leaving = context.remove.filter((value) => !wantedTexts.has(value.value));
  const removable = leaving.filter((value) => texts.includes(value.value));
  plan.gone.push(...leaving.filter((value) => !removable.includes(value)));
  if (blocking) {
    if (items.length > 0) conflict(blocking);
    return plan;
  }

  const removedTexts = new Set(removable.map((value) => value.value));
  const kept = (current?.values ?? []).filter((_, index) => !removedTexts.has(texts[index] as string));
  const missing = [...wantedTexts].filter((value) => !texts.includes(value)).sort(compareText);
  if (missing.length === 0 && removable.length === 0) return plan;

  const written: RecordOutcome[] = [];
  for (const { record, outcome } of items) {
    if (texts.includes(record.value)) continue;
    outcome.action = current ? 'updated' : 'created';
    written.push(outcome);
  }
  const removed = removable.map((value) => removalOutcome(zone, value));
  plan.removals.push(...removed);
  const values = [...kept, ...missing.map(quoteTxt)];
  plan.change = {
    name,
    type: 'TXT',
    changes: [
      ...(current ? [deleteAsRead(current)] : []),
      ...(values.length > 0 ? [createSet(current?.name ?? name, 'TXT', current?.ttl ?? ttl, values)] : []),
    ],
    outcomes: [...written, ...removed],
    owns: items.filter(({ record }) => missing.includes(record.value)).map(({ record }) => ownedOf(record)),
    disowns: removable,
  };
  return plan;
}

function ownedOf(record: ValidationRecord): OwnedRecord {
  return { certificateId: record.certificateId, name: record.name, type: record.type, value: record.value };
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

/** Code-unit order, independent of the runtime's locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function article(word: string): string {
  return /^[AEFHILMNORSX]/.test(word) ? 'an' : 'a';
}
