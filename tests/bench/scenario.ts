import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { CertificateStore } from '../../infra/local/certificate-store.js';
import { upsertChange } from '../../lib/route53/diff.js';

export interface Scenario {
  pending: number;
  zones: number;
  issued: number;
  other: number;
}

/**
 * Hosted zones of an account with `pending` certificates waiting: one per 15, at least 2, at most
 * 20. Route53 allows 5 requests per second per account and a zone costs at least a read and a
 * change batch, so a small account spread over 20 zones would spend longer on Route53 than on its
 * Tencent reads.
 */
export function zonesFor(pending: number): number {
  return Math.min(20, Math.max(2, Math.ceil(pending / 15)));
}

function zoneName(index: number): string {
  return `bench-${String(index).padStart(2, '0')}.com`;
}

/**
 * The benchmark account: `zones` public zones holding a few unrelated records each; `pending`
 * certificates with 1 to 3 names (some spanning two zones, CNAME and TXT mixed); `issued`
 * certificates to export; `other` certificates in states the tool ignores.
 */
export async function seedScenario(
  route53: Route53Client,
  store: CertificateStore,
  scenario: Scenario,
): Promise<void> {
  for (let z = 0; z < scenario.zones; z++) {
    const created = await route53.send(
      new CreateHostedZoneCommand({ Name: zoneName(z), CallerReference: `bench-${z}` }),
    );
    const id = String(created.HostedZone?.Id);
    await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: id,
        ChangeBatch: {
          Changes: Array.from({ length: 40 }, (_, i) =>
            upsertChange(`host${i}.${zoneName(z)}`, 'A', 300, [`192.0.2.${i + 1}`]),
          ),
        },
      }),
    );
  }
  const types = ['CNAME', 'TXT', 'mixed'] as const;
  for (let i = 0; i < scenario.pending; i++) {
    const zone = zoneName(i % scenario.zones);
    const names = [`site${i}.${zone}`];
    if (i % 3 === 1) names.push(`www.site${i}.${zone}`);
    // Every fifth certificate spans two zones.
    if (i % 5 === 2) names.push(`site${i}.${zoneName((i + 7) % scenario.zones)}`);
    store.addPending({ domain: names[0] as string, altNames: names.slice(1), verifyType: types[i % 3] });
  }
  for (let i = 0; i < scenario.issued; i++) {
    await store.addIssued({ domain: `done${i}.${zoneName(i % scenario.zones)}` });
  }
  const ignored = [2, 3, 7, 10];
  for (let i = 0; i < scenario.other; i++) {
    const old = store.addPending({ domain: `old${i}.${zoneName(i % scenario.zones)}`, status: 0 });
    store.setStatus(String(old.CertificateId), ignored[i % ignored.length] as number);
  }
}
