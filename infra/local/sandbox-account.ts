/**
 * The account the sandbox plays with: Route53 hosted zones in moto and Tencent certificates in
 * the local store, chosen so that one run shows every path a real account takes.
 */
import {
  type Change,
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { upsertChange } from '../../lib/route53/diff.js';
import type { CertificateStore } from './certificate-store.js';

/** ALLOWED_DOMAINS of the sandbox: example.org is left out on purpose. */
export const SANDBOX_ALLOWED_DOMAINS = ['example.com', 'example.net'] as const;

/** The state table the sandbox creates in moto, as `npm run cli -- setup` would in an account. */
export const SANDBOX_STATE_TABLE = 'tencent-ssl-sync-sandbox';

/** The EventBridge bus the sandbox creates in moto for the lifecycle events (EVENT_BUS_NAME). */
export const SANDBOX_EVENT_BUS = 'tencent-ssl-sync-sandbox';

/**
 * CERTIFICATES of the sandbox: a name with no certificate yet, for which the sync applies, and a
 * name whose certificate expires within RENEW_BEFORE_DAYS, which the sync renews.
 */
export const SANDBOX_DECLARED = { fresh: 'new.example.com', due: 'app.example.com' } as const;

export const SANDBOX_RENEW_BEFORE_DAYS = 30;

/** How long the certificate due for renewal has left: inside the window, and inside Tencent's 30 days for OldCertificateId. */
const DUE_IN_DAYS = 10;
const DAY_MS = 86_400_000;

/** moto accepts any well-formed VPC id for a private zone, so no EC2 VPC is created. */
const SANDBOX_VPC = { VPCRegion: 'us-east-1', VPCId: 'vpc-0sandbox000000001' } as const;

export interface SandboxZone {
  name: string;
  id: string;
  private: boolean;
  note: string;
}

/**
 * - `exported`: the sandbox succeeds only if this one ends issued, in Secrets Manager and in ACM.
 * - `renewed`: due for renewal: its renewal must end issued, in its secret and in its ACM ARN.
 * - `blocked`: outside ALLOWED_DOMAINS: stays pending, nothing written.
 * - `failed`: the CA rejected the order: nothing to do.
 */
type SandboxExpectation = 'exported' | 'renewed' | 'blocked' | 'failed';

export interface SandboxCertificate {
  id: string;
  domains: string[];
  description: string;
  expect: SandboxExpectation;
}

const bareId = (id: string | undefined): string => String(id).replace(/^\/?hostedzone\//, '');

async function createZone(
  route53: Route53Client,
  name: string,
  options: { private?: boolean; records?: Change[] } = {},
): Promise<{ id: string; nameServers: string[] }> {
  const created = await route53.send(
    new CreateHostedZoneCommand({
      Name: name,
      CallerReference: `sandbox-${options.private ? 'private' : 'public'}-${name}`,
      ...(options.private
        ? {
            VPC: SANDBOX_VPC,
            HostedZoneConfig: { PrivateZone: true, Comment: 'internal view of example.com' },
          }
        : {}),
    }),
  );
  const id = bareId(created.HostedZone?.Id);
  if (options.records?.length) {
    await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: id,
        ChangeBatch: { Comment: 'sandbox seed', Changes: options.records },
      }),
    );
  }
  return { id, nameServers: created.DelegationSet?.NameServers ?? [] };
}

const upsert = (name: string, type: 'A' | 'NS' | 'MX', values: string[], ttl = 300): Change =>
  upsertChange(name, type, ttl, values);

/**
 * Public example.com with a delegated public dev.example.com, public example.net and example.org,
 * and a private example.com: a split-horizon setup whose private half the CA can never see, so
 * nothing may be written there.
 */
export async function seedZones(route53: Route53Client): Promise<SandboxZone[]> {
  const dev = await createZone(route53, 'dev.example.com', {
    records: [upsert('api.dev.example.com', 'A', ['203.0.113.20'])],
  });
  const com = await createZone(route53, 'example.com', {
    records: [
      upsert('www.example.com', 'A', ['203.0.113.10']),
      upsert('example.com', 'MX', ['10 mail.example.com']),
      upsert(
        'dev.example.com',
        'NS',
        dev.nameServers.length ? dev.nameServers : ['ns-1.awsdns-01.org'],
        172_800,
      ),
    ],
  });
  const net = await createZone(route53, 'example.net', {
    records: [upsert('shop.example.net', 'A', ['203.0.113.30'])],
  });
  const org = await createZone(route53, 'example.org', {
    records: [upsert('www.example.org', 'A', ['203.0.113.40'])],
  });
  const internal = await createZone(route53, 'example.com', {
    private: true,
    records: [upsert('www.example.com', 'A', ['10.0.0.10']), upsert('db.example.com', 'A', ['10.0.0.20'])],
  });
  return [
    { name: 'example.com', id: com.id, private: false, note: 'public' },
    { name: 'dev.example.com', id: dev.id, private: false, note: 'public, delegated from example.com' },
    { name: 'example.net', id: net.id, private: false, note: 'public' },
    { name: 'example.org', id: org.id, private: false, note: 'public, not in ALLOWED_DOMAINS' },
    {
      name: 'example.com',
      id: internal.id,
      private: true,
      note: `private (${SANDBOX_VPC.VPCId}), same name as the public one: never written`,
    },
  ];
}

/** Seven orders of a Tencent account, in the order the sandbox shows them: pending, issued, rejected. */
export async function seedCertificates(store: CertificateStore): Promise<SandboxCertificate[]> {
  // CertificatePublicKey holds the leaf alone: export completes the chain from DownloadCertificate.
  const issued = await store.addIssued({
    domain: 'mail.example.com',
    chain: 'leaf-only',
    archive: { layout: 'domain-folders' },
  });
  const failed = store.addPending({
    domain: 'legacy.example.com',
    status: 2,
    statusMsg: 'The CA rejected the order: domain validation did not pass before the deadline',
  });
  const single = store.addPending({ domain: 'www.example.com' });
  const multi = store.addPending({ domain: 'shop.example.net', altNames: ['api.dev.example.com'] });
  const wildcard = store.addPending({
    domain: 'example.com',
    altNames: ['*.example.com'],
    verifyType: 'TXT',
  });
  const outside = store.addPending({ domain: 'www.example.org' });
  // Ordered last, so that the ids of the six before it stay those of the README's sample output.
  const now = Date.now();
  const due = await store.addIssued({
    domain: SANDBOX_DECLARED.due,
    insertTime: new Date(now - 80 * DAY_MS),
    notBefore: new Date(now - 80 * DAY_MS),
    notAfter: new Date(now + DUE_IN_DAYS * DAY_MS),
  });
  const entry = (
    record: Record<string, unknown>,
    description: string,
    expect: SandboxExpectation,
  ): SandboxCertificate => ({
    id: String(record.CertificateId),
    domains: [String(record.Domain), ...((record.SubjectAltName as string[] | undefined) ?? [])],
    description,
    expect,
  });
  return [
    entry(single, 'single domain, CNAME', 'exported'),
    entry(multi, 'two domains in two zones (one delegated), CNAME', 'exported'),
    entry(wildcard, 'apex + wildcard, two TXT values at one name', 'exported'),
    entry(outside, 'outside ALLOWED_DOMAINS', 'blocked'),
    entry(issued, 'already issued, leaf only (chain from DownloadCertificate)', 'exported'),
    entry(due, `issued, expires in ${DUE_IN_DAYS} days: due for renewal (CERTIFICATES)`, 'renewed'),
    entry(failed, 'rejected by the CA', 'failed'),
  ];
}
