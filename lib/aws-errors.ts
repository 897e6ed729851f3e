/** AWS errors that mean the credentials (or their permissions) are wrong: retrying cannot help. */
const CREDENTIAL_ERRORS: ReadonlySet<string> = new Set([
  'CredentialsProviderError',
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'ExpiredToken',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
]);

export function isAwsCredentialsError(error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && CREDENTIAL_ERRORS.has(name);
}

/** The name an AWS SDK error carries (`InvalidChangeBatch`, `ResourceExistsException`, …). */
export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}
