import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';

/** Raised when a secret the tool needs cannot be read or does not hold what it should. */
export class SecretReadError extends Error {
  override readonly name = 'SecretReadError';
  constructor(
    message: string,
    readonly secretName: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const TencentCredentialsSecretSchema = z.object({
  SecretId: z.string().min(1),
  SecretKey: z.string().min(1),
  Token: z.string().min(1).optional(),
});

async function readSecretString(client: SecretsManagerClient, secretName: string): Promise<string> {
  try {
    const output = await client.send(new GetSecretValueCommand({ SecretId: secretName }));
    if (output.SecretString === undefined) {
      throw new SecretReadError(`secret ${secretName} has no string value`, secretName);
    }
    return output.SecretString;
  } catch (error) {
    if (error instanceof SecretReadError) throw error;
    const name = (error as Error).name ?? 'Error';
    throw new SecretReadError(
      `cannot read secret ${secretName}: ${name}: ${(error as Error).message}`,
      secretName,
      {
        cause: error,
      },
    );
  }
}

/** An API key pair kept in a secret (the shape the Tencent client takes). */
export interface StoredKeyPair {
  secretId: string;
  secretKey: string;
  sessionToken?: string | undefined;
}

/** Reads Tencent credentials from a secret `{"SecretId","SecretKey"}` (optionally `"Token"`). */
export async function readTencentCredentialsSecret(
  client: SecretsManagerClient,
  secretName: string,
): Promise<StoredKeyPair> {
  const text = await readSecretString(client, secretName);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The secret's text is not echoed: it may be the key itself.
    throw new SecretReadError(
      `secret ${secretName} is not JSON; expected {"SecretId","SecretKey"}`,
      secretName,
    );
  }
  const parsed = TencentCredentialsSecretSchema.safeParse(json);
  if (!parsed.success) {
    throw new SecretReadError(
      `secret ${secretName} must hold {"SecretId","SecretKey"} (missing or empty: ${parsed.error.issues
        .map((issue) => issue.path.join('.'))
        .join(', ')})`,
      secretName,
    );
  }
  return {
    secretId: parsed.data.SecretId,
    secretKey: parsed.data.SecretKey,
    sessionToken: parsed.data.Token,
  };
}

/** Reads a plain-text secret (the webhook key): the whole SecretString, or its `"key"` when it is JSON. */
export async function readTextSecret(client: SecretsManagerClient, secretName: string): Promise<string> {
  const text = await readSecretString(client, secretName);
  try {
    const json = JSON.parse(text) as unknown;
    if (json && typeof json === 'object' && typeof (json as { key?: unknown }).key === 'string') {
      return (json as { key: string }).key;
    }
  } catch {
    // not JSON: the text is the key
  }
  return text;
}
