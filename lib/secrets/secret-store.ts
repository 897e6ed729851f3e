import {
  CreateSecretCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  type SecretListEntry,
  type SecretsManagerClient,
  type Tag,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';

/** Value of the `managed-by` tag on every secret this tool writes. */
const MANAGED_BY = 'tencent-ssl-sync';

const TAGS = {
  managedBy: 'managed-by',
  certificateId: 'tencent-ssl-sync:certificate-id',
  domain: 'tencent-ssl-sync:domain',
  notAfter: 'tencent-ssl-sync:not-after',
  fingerprint: 'tencent-ssl-sync:fingerprint-sha256',
  /** SHA-256 of the certificate's sorted name set (see naming.ts): which line of certificates the secret follows. */
  names: 'tencent-ssl-sync:names-sha256',
  /** `verified`: the certificate passed the trust checks (chain to a trusted root, key, allow-list) when written. */
  trust: 'tencent-ssl-sync:trust',
} as const;

/** Value of the trust tag on a secret whose certificate passed the trust checks. */
const TRUST_VERIFIED = 'verified';

/** What the tags of one managed secret say it holds. */
export interface ManagedSecret {
  name: string;
  arn: string;
  certificateId?: string | undefined;
  fingerprint?: string | undefined;
  /** ISO 8601 expiry of the certificate the secret holds. */
  notAfter?: string | undefined;
  /** Version id of AWSCURRENT. */
  currentVersionId?: string | undefined;
  /** Digest of the held certificate's name set; absent on secrets written before it was recorded. */
  namesSha256?: string | undefined;
  /**
   * Whether the held certificate passed the trust checks when it was written. Secrets written by
   * versions without those checks are not: what they hold is verified again before it counts.
   */
  trusted: boolean;
}

/** The metadata written as tags; every value within the characters AWS tags allow. */
export interface SecretTags {
  certificateId: string;
  domain: string;
  notAfter: string;
  fingerprint: string;
  namesSha256: string;
}

// AWS tag values allow letters, digits, spaces and _ . : / = + - @ only: a wildcard `*.` is spelled out.
const tagValue = (value: string): string =>
  value.replace(/^\*\./, 'wildcard.').replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '-');

function toAwsTags(tags: SecretTags): Tag[] {
  return [
    { Key: TAGS.managedBy, Value: MANAGED_BY },
    { Key: TAGS.certificateId, Value: tagValue(tags.certificateId) },
    { Key: TAGS.domain, Value: tagValue(tags.domain) },
    { Key: TAGS.notAfter, Value: tags.notAfter },
    { Key: TAGS.fingerprint, Value: tags.fingerprint },
    { Key: TAGS.names, Value: tags.namesSha256 },
    { Key: TAGS.trust, Value: TRUST_VERIFIED },
  ];
}

function fromEntry(entry: SecretListEntry): ManagedSecret | undefined {
  const tags = new Map((entry.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
  if (tags.get(TAGS.managedBy) !== MANAGED_BY || !entry.Name || !entry.ARN) return undefined;
  const current = Object.entries(entry.SecretVersionsToStages ?? {}).find(([, stages]) =>
    stages.includes('AWSCURRENT'),
  );
  return {
    name: entry.Name,
    arn: entry.ARN,
    certificateId: tags.get(TAGS.certificateId),
    fingerprint: tags.get(TAGS.fingerprint),
    notAfter: tags.get(TAGS.notAfter),
    currentVersionId: current?.[0],
    namesSha256: tags.get(TAGS.names),
    trusted: tags.get(TAGS.trust) === TRUST_VERIFIED,
  };
}

/** Every secret this tool manages, from one paged ListSecrets filtered on its tag. */
export async function listManagedSecrets(client: SecretsManagerClient): Promise<Map<string, ManagedSecret>> {
  const secrets = new Map<string, ManagedSecret>();
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'tag-key', Values: [TAGS.managedBy] }],
        MaxResults: 100,
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
    );
    for (const entry of page.SecretList ?? []) {
      const managed = fromEntry(entry);
      if (managed) secrets.set(managed.name, managed);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return secrets;
}

export interface WriteSecretInput {
  name: string;
  /** The JSON text; never logged. */
  value: string;
  tags: SecretTags;
  /** Idempotency token (32–64 characters): a retried write with the same token creates no second version. */
  clientRequestToken: string;
  kmsKeyId?: string | undefined;
  description?: string;
}

/** Creates the secret with its first version; returns that version's id. */
export async function createSecret(client: SecretsManagerClient, input: WriteSecretInput): Promise<string> {
  const output = await client.send(
    new CreateSecretCommand({
      Name: input.name,
      SecretString: input.value,
      ClientRequestToken: input.clientRequestToken,
      Tags: toAwsTags(input.tags),
      ...(input.kmsKeyId ? { KmsKeyId: input.kmsKeyId } : {}),
      ...(input.description ? { Description: input.description } : {}),
    }),
  );
  return output.VersionId ?? input.clientRequestToken;
}

/** Puts a new version (it becomes AWSCURRENT), then updates the tags that describe it. */
export async function putSecretVersion(
  client: SecretsManagerClient,
  secretId: string,
  input: Omit<WriteSecretInput, 'name' | 'kmsKeyId' | 'description'>,
): Promise<string> {
  const output = await client.send(
    new PutSecretValueCommand({
      SecretId: secretId,
      SecretString: input.value,
      ClientRequestToken: input.clientRequestToken,
    }),
  );
  // Tags after the value: if tagging fails, the next run sees the old fingerprint and repeats the
  // put with the same token, which Secrets Manager treats as the same version.
  await client.send(new TagResourceCommand({ SecretId: secretId, Tags: toAwsTags(input.tags) }));
  return output.VersionId ?? input.clientRequestToken;
}

/** Rewrites the tags that describe a secret's certificate, without a new version. */
export async function tagSecret(
  client: SecretsManagerClient,
  secretId: string,
  tags: SecretTags,
): Promise<void> {
  await client.send(new TagResourceCommand({ SecretId: secretId, Tags: toAwsTags(tags) }));
}
