import {
  type ACMClient,
  AddTagsToCertificateCommand,
  type CertificateSummary,
  ImportCertificateCommand,
  ListCertificatesCommand,
  ListTagsForCertificateCommand,
  type Tag,
} from '@aws-sdk/client-acm';
import { mapPool } from '../pool.js';
import { type AcmCertificate, KEY_ALGORITHMS } from './certificate.js';

/** Value of the `managed-by` tag on every ACM certificate this tool imports. */
export const ACM_MANAGED_BY = 'tencent-ssl-sync';

/** The tags that make an ACM certificate the tool's, and say what it holds. */
const ACM_TAGS = {
  managedBy: 'managed-by',
  /** The secret the certificate mirrors: one ARN per secret, kept across renewals. */
  secret: 'tencent-ssl-sync:secret',
  certificateId: 'tencent-ssl-sync:certificate-id',
  fingerprint: 'tencent-ssl-sync:fingerprint-sha256',
  notAfter: 'tencent-ssl-sync:not-after',
  names: 'tencent-ssl-sync:names-sha256',
} as const;

/** An ACM certificate the tool imported, as its summary and tags describe it. */
export interface ManagedAcmCertificate {
  arn: string;
  secretName: string;
  fingerprint?: string | undefined;
  certificateId?: string | undefined;
  /** ISO 8601, from the tag. */
  notAfter?: string | undefined;
  namesSha256?: string | undefined;
  inUse: boolean;
  importedAt?: Date | undefined;
  keyUsages?: string[] | undefined;
  extendedKeyUsages?: string[] | undefined;
}

// AWS tag values allow letters, digits, spaces and _ . : / = + - @ only.
const tagValue = (value: string): string => value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '-');

/** Every tag the tool writes on an ACM certificate holding `certificate`. */
function acmTags(certificate: AcmCertificate): Tag[] {
  return [
    { Key: ACM_TAGS.managedBy, Value: ACM_MANAGED_BY },
    { Key: ACM_TAGS.secret, Value: certificate.secretName },
    { Key: ACM_TAGS.certificateId, Value: tagValue(certificate.certificateId) },
    { Key: ACM_TAGS.fingerprint, Value: certificate.fingerprintSha256 },
    { Key: ACM_TAGS.notAfter, Value: certificate.notAfter },
    { Key: ACM_TAGS.names, Value: certificate.namesSha256 },
  ];
}

/** ListTagsForCertificate calls in flight at once (ACM throttles per account). */
const TAG_READS_IN_FLIGHT = 5;

const lower = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/**
 * Every imported ACM certificate that carries the tool's `managed-by` tag and a secret tag: one
 * paged ListCertificates (with every key type: by default ACM lists RSA 1024 and 2048 only),
 * then ListTagsForCertificate for each imported certificate — only those naming one of `names`
 * when given, so an account full of other certificates costs no more than a listing.
 */
export async function listManagedCertificates(
  client: ACMClient,
  options: { names?: Iterable<string> } = {},
): Promise<ManagedAcmCertificate[]> {
  const wanted = options.names ? new Set([...options.names].map(lower)) : undefined;
  const summaries: CertificateSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListCertificatesCommand({
        Includes: { keyTypes: [...KEY_ALGORITHMS] },
        MaxItems: 1000,
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
    );
    summaries.push(...(page.CertificateSummaryList ?? []));
    nextToken = page.NextToken;
  } while (nextToken);

  const candidates = summaries.filter(
    (summary) =>
      summary.CertificateArn &&
      summary.Type === 'IMPORTED' &&
      (!wanted ||
        [summary.DomainName, ...(summary.SubjectAlternativeNameSummaries ?? [])].some(
          (name) => name !== undefined && wanted.has(lower(name)),
        )),
  );
  const tagged = await mapPool(candidates, TAG_READS_IN_FLIGHT, async (summary) => {
    const out = await client.send(
      new ListTagsForCertificateCommand({ CertificateArn: summary.CertificateArn }),
    );
    return new Map((out.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
  });
  const managed: ManagedAcmCertificate[] = [];
  candidates.forEach((summary, index) => {
    const outcome = tagged[index];
    if (outcome?.status === 'rejected') {
      // Deleted between the listing and the tag read: it is no one's any more.
      if ((outcome.reason as { name?: string })?.name === 'ResourceNotFoundException') return;
      throw outcome.reason;
    }
    const tags = outcome?.value;
    const secretName = tags?.get(ACM_TAGS.secret);
    if (tags?.get(ACM_TAGS.managedBy) !== ACM_MANAGED_BY || !secretName) return;
    managed.push({
      arn: summary.CertificateArn as string,
      secretName,
      fingerprint: tags.get(ACM_TAGS.fingerprint),
      certificateId: tags.get(ACM_TAGS.certificateId),
      notAfter: tags.get(ACM_TAGS.notAfter),
      namesSha256: tags.get(ACM_TAGS.names),
      inUse: summary.InUse === true,
      importedAt: summary.ImportedAt,
      keyUsages: summary.KeyUsages,
      extendedKeyUsages: summary.ExtendedKeyUsages,
    });
  });
  return managed;
}

const pem = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * ImportCertificate: a new ACM certificate carrying the tool's tags, or, with `arn`, the
 * certificate re-imported into that ARN (ACM refuses tags on a re-import: `addTagsToCertificate`
 * follows). Returns the ARN.
 */
export async function importCertificate(
  client: ACMClient,
  certificate: AcmCertificate,
  arn?: string,
): Promise<string> {
  const out = await client.send(
    new ImportCertificateCommand({
      Certificate: pem(certificate.certificatePem),
      PrivateKey: pem(certificate.privateKeyPem),
      ...(certificate.chainPem.trim() ? { CertificateChain: pem(certificate.chainPem) } : {}),
      ...(arn ? { CertificateArn: arn } : { Tags: acmTags(certificate) }),
    }),
  );
  const imported = out.CertificateArn ?? arn;
  if (!imported) throw new Error('ImportCertificate answered without a CertificateArn');
  return imported;
}

/** AddTagsToCertificate with every tag describing `certificate` (existing keys take the new values). */
export async function addTagsToCertificate(
  client: ACMClient,
  arn: string,
  certificate: AcmCertificate,
): Promise<void> {
  await client.send(new AddTagsToCertificateCommand({ CertificateArn: arn, Tags: acmTags(certificate) }));
}
