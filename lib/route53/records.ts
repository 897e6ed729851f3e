import {
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandInput,
  type ListResourceRecordSetsCommandOutput,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { normalizeName } from '../domain.js';
import { decodeRoute53Name } from './names.js';
import type { ExistingRecordSet, HostedZoneRef } from './types.js';

/** ListResourceRecordSets returns at most 300 record sets per call, whatever MaxItems asks for. */
const RECORD_SETS_PAGE_SIZE = 300;
/** A name rarely holds more than a couple of sets; one call reads them, however many other names follow. */
const TARGETED_PAGE_SIZE = 100;
/** With the zone's size unknown, up to this many names are read one call each (one second of the account's budget). */
const UNKNOWN_SIZE_TARGETED_MAX = 5;

/**
 * `full`: list the whole zone, ceil(recordCount / 300) calls. `targeted`: one call per name,
 * starting the listing at that name.
 */
export type ReadStrategy = 'full' | 'targeted';

/**
 * The cheaper way, in API calls, to read `nameCount` names from a zone of `recordCount` record
 * sets: Route53 allows only 5 calls per second for the whole account. A tie goes to the full
 * listing (one call that answers every name).
 */
export function chooseReadStrategy(recordCount: number | undefined, nameCount: number): ReadStrategy {
  if (recordCount === undefined) return nameCount <= UNKNOWN_SIZE_TARGETED_MAX ? 'targeted' : 'full';
  const fullCalls = Math.max(1, Math.ceil(recordCount / RECORD_SETS_PAGE_SIZE));
  return fullCalls <= nameCount ? 'full' : 'targeted';
}

/**
 * The record sets that exist at `names` in `zone`, keyed by normalized name. Every name asked
 * is a key (with an empty list when nothing is there); no other name is.
 */
export async function readRecordSets(
  client: Route53Client,
  zone: HostedZoneRef & { recordCount?: number | undefined },
  names: string[],
): Promise<Map<string, ExistingRecordSet[]>> {
  const wanted = [...new Set(names.map(normalizeName))];
  const found = new Map<string, ExistingRecordSet[]>(wanted.map((name) => [name, []]));
  if (wanted.length === 0) return found;

  if (chooseReadStrategy(zone.recordCount, wanted.length) === 'full') {
    for await (const set of listRecordSets(client, {
      HostedZoneId: zone.id,
      MaxItems: RECORD_SETS_PAGE_SIZE,
    })) {
      found.get(set.name)?.push(set);
    }
    return found;
  }

  // The pacing middleware spaces the calls; starting them together only saves the round trips.
  const perName = await Promise.all(wanted.map((name) => readName(client, zone.id, name)));
  wanted.forEach((name, index) => {
    found.set(name, perName[index] ?? []);
  });
  return found;
}

/** The sets at exactly `name`: the listing starts there and is sorted by name, so the first other name ends it. */
async function readName(client: Route53Client, zoneId: string, name: string): Promise<ExistingRecordSet[]> {
  const sets: ExistingRecordSet[] = [];
  const listing = listRecordSets(
    client,
    { HostedZoneId: zoneId, StartRecordName: name, MaxItems: TARGETED_PAGE_SIZE },
    (nextName) => nextName === name,
  );
  for await (const set of listing) {
    if (set.name !== name) break;
    sets.push(set);
  }
  return sets;
}

/**
 * Record sets from `input` on, following NextRecordName/Type/Identifier. A page is fetched only
 * when the consumer asks for more and `wantPageAt` accepts the (decoded) name it would start at.
 */
async function* listRecordSets(
  client: Route53Client,
  input: ListResourceRecordSetsCommandInput,
  wantPageAt: (nextName: string) => boolean = () => true,
): AsyncGenerator<ExistingRecordSet> {
  let request: ListResourceRecordSetsCommandInput | undefined = input;
  while (request) {
    const page: ListResourceRecordSetsCommandOutput = await client.send(
      new ListResourceRecordSetsCommand(request),
    );
    for (const set of page.ResourceRecordSets ?? []) yield toExistingRecordSet(set);
    const more =
      page.IsTruncated && page.NextRecordName && wantPageAt(decodeRoute53Name(page.NextRecordName));
    request = more ? nextPage(input, page) : undefined;
  }
}

function nextPage(
  input: ListResourceRecordSetsCommandInput,
  page: ListResourceRecordSetsCommandOutput,
): ListResourceRecordSetsCommandInput {
  return {
    HostedZoneId: input.HostedZoneId,
    MaxItems: input.MaxItems,
    StartRecordName: page.NextRecordName,
    ...(page.NextRecordType ? { StartRecordType: page.NextRecordType } : {}),
    ...(page.NextRecordIdentifier ? { StartRecordIdentifier: page.NextRecordIdentifier } : {}),
  };
}

/** Fields that make a set alias, routed or policy-managed: this tool never modifies such a set. */
const SPECIAL_FIELDS = [
  'AliasTarget',
  'SetIdentifier',
  'Weight',
  'Region',
  'Failover',
  'GeoLocation',
  'MultiValueAnswer',
  'CidrRoutingConfig',
  'GeoProximityLocation',
  'TrafficPolicyInstanceId',
] as const satisfies readonly (keyof ResourceRecordSet)[];

function toExistingRecordSet(set: ResourceRecordSet): ExistingRecordSet {
  return {
    name: decodeRoute53Name(set.Name ?? ''),
    type: set.Type ?? '',
    ttl: set.TTL,
    values: (set.ResourceRecords ?? []).flatMap((record) =>
      record.Value === undefined ? [] : [record.Value],
    ),
    special: SPECIAL_FIELDS.some((field) => set[field] !== undefined),
  };
}
