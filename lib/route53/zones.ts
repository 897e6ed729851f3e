import {
  type HostedZone as AwsHostedZone,
  ListHostedZonesCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { isUnder, normalizeName } from '../domain.js';
import { decodeRoute53Name } from './names.js';
import type { HostedZone, HostedZoneRef, ZoneOverride } from './types.js';

/** ListHostedZones returns at most 100 zones per call. */
const ZONES_PAGE_SIZE = 100;

/** Every hosted zone of the account, public and private, all pages followed. */
export async function listHostedZones(client: Route53Client): Promise<HostedZone[]> {
  const zones: HostedZone[] = [];
  let marker: string | undefined;
  do {
    const page = await client.send(
      new ListHostedZonesCommand({ MaxItems: ZONES_PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }),
    );
    for (const zone of page.HostedZones ?? []) zones.push(toHostedZone(zone));
    marker = page.IsTruncated ? page.NextMarker : undefined;
  } while (marker);
  return zones;
}

/** `/hostedzone/Z123` → `Z123`; a bare id is returned unchanged. */
function bareZoneId(id: string): string {
  return id.replace(/^\/?hostedzone\//, '');
}

function toHostedZone(zone: AwsHostedZone): HostedZone {
  return {
    id: bareZoneId(zone.Id ?? ''),
    name: decodeRoute53Name(zone.Name ?? ''),
    private: zone.Config?.PrivateZone ?? false,
    recordCount: zone.ResourceRecordSetCount ?? 0,
  };
}

/**
 * The hosted zone a record `name` goes into. A configured override (ROUTE53_ZONES) wins, the
 * longest override domain the name lies under first; it may name a private zone, or a zone the
 * listing does not show (another account's, or a listing without permission). Otherwise the
 * longest public zone containing the name, so a delegated `sub.example.com` zone beats its parent.
 * Private zones are never chosen by discovery: a record there is invisible to the CA.
 */
export function resolveZone(
  name: string,
  zones: HostedZone[],
  overrides: ZoneOverride[],
): { zone: HostedZoneRef } | { error: string } {
  const wanted = normalizeName(name);

  const override = longest(
    overrides.filter((candidate) => isUnder(wanted, normalizeName(candidate.domain))),
    (candidate) => normalizeName(candidate.domain),
  )[0];
  if (override) {
    const id = bareZoneId(override.hostedZoneId.trim());
    const listed = zones.find((zone) => zone.id === id);
    return { zone: { id, name: listed?.name ?? normalizeName(override.domain) } };
  }

  const matches = longest(
    zones.filter((zone) => !zone.private && isUnder(wanted, zone.name)),
    (zone) => zone.name,
  );
  const [first, ...others] = matches;
  if (!first) return { error: `no public hosted zone in this account contains ${wanted}` };
  if (others.length > 0) {
    const count = matches.length === 2 ? 'two' : String(matches.length);
    const ids = matches.map((zone) => zone.id).join(', ');
    return {
      error: `ambiguous: ${count} public hosted zones named ${first.name} (${ids}); set ROUTE53_ZONES to choose one`,
    };
  }
  return { zone: { id: first.id, name: first.name } };
}

/** The items whose key is longest, in their original order. */
function longest<T>(items: T[], key: (item: T) => string): T[] {
  const length = Math.max(-1, ...items.map((item) => key(item).length));
  return items.filter((item) => key(item).length === length);
}
