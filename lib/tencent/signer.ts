import { createHash, createHmac } from 'node:crypto';

/** The only algorithm Tencent Cloud API 3.0 accepts. */
const TC3_ALGORITHM = 'TC3-HMAC-SHA256';

export interface Tc3SignInput {
  secretId: string;
  secretKey: string;
  /** Host header value exactly as sent (with the port when it is not the default). */
  host: string;
  /** Credential scope service. Tencent derives it from the first host label; this project always signs `ssl`. */
  service: string;
  /** Content-Type header value exactly as sent: it is signed byte for byte. */
  contentType: string;
  /** Request body, exact bytes. A string is encoded as UTF-8. */
  body: string | Uint8Array;
  /** Unix seconds. The signer never reads the clock. */
  timestamp: number;
}

export interface Tc3Signature {
  authorization: string;
  signature: string;
  /** `YYYY-MM-DD`, the UTC date of the timestamp. */
  date: string;
  credentialScope: string;
  signedHeaders: string;
  hashedPayload: string;
  canonicalRequest: string;
  stringToSign: string;
}

const SIGNED_HEADERS = ['content-type', 'host'] as const;

const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/** UTC date of a unix timestamp, as the credential scope wants it. */
export function tc3Date(timestamp: number): string {
  return new Date(timestamp * 1000).toISOString().slice(0, 10);
}

// Values are signed as sent (only trimmed), except the host, which DNS treats case-insensitively.
const canonicalValue = (name: string, value: string): string =>
  name === 'host' ? value.trim().toLowerCase() : value.trim();

/**
 * Canonical request of a POST to `/` with an empty query string. `headers` maps lower-case names to
 * the values sent; `signedHeaders` names which of them are signed (sorted here, as Tencent does).
 */
export function tc3CanonicalRequest(
  headers: Readonly<Record<string, string>>,
  signedHeaders: readonly string[],
  body: string | Uint8Array,
): { canonicalRequest: string; signedHeaders: string; hashedPayload: string } {
  const names = [...signedHeaders].map((name) => name.toLowerCase()).sort();
  const canonicalHeaders = names
    .map((name) => `${name}:${canonicalValue(name, headers[name] ?? '')}\n`)
    .join('');
  const hashedPayload = sha256Hex(body);
  const signed = names.join(';');
  return {
    canonicalRequest: ['POST', '/', '', canonicalHeaders, signed, hashedPayload].join('\n'),
    signedHeaders: signed,
    hashedPayload,
  };
}

/** Signature over a canonical request, with the key derivation of TC3. */
export function tc3Signature(
  secretKey: string,
  service: string,
  timestamp: number,
  canonicalRequest: string,
): { signature: string; stringToSign: string; credentialScope: string; date: string } {
  const date = tc3Date(timestamp);
  const credentialScope = `${date}/${service}/tc3_request`;
  const stringToSign = [TC3_ALGORITHM, String(timestamp), credentialScope, sha256Hex(canonicalRequest)].join(
    '\n',
  );
  const kDate = hmac(`TC3${secretKey}`, date);
  const kService = hmac(kDate, service);
  const kSigning = hmac(kService, 'tc3_request');
  const signature = createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
  return { signature, stringToSign, credentialScope, date };
}

/**
 * TC3-HMAC-SHA256 over a POST to `/` with an empty query string, signing `content-type;host`
 * like the official SDKs. Pure: no I/O, no clock.
 */
export function signTc3(input: Tc3SignInput): Tc3Signature {
  if (!Number.isInteger(input.timestamp) || input.timestamp < 0) {
    throw new TypeError('timestamp must be a non-negative whole number of seconds');
  }
  const { canonicalRequest, signedHeaders, hashedPayload } = tc3CanonicalRequest(
    { 'content-type': input.contentType, host: input.host },
    SIGNED_HEADERS,
    input.body,
  );
  const { signature, stringToSign, credentialScope, date } = tc3Signature(
    input.secretKey,
    input.service,
    input.timestamp,
    canonicalRequest,
  );
  const authorization = `${TC3_ALGORITHM} Credential=${input.secretId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return {
    authorization,
    signature,
    date,
    credentialScope,
    signedHeaders,
    hashedPayload,
    canonicalRequest,
    stringToSign,
  };
}

export interface ParsedAuthorization {
  secretId: string;
  date: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses an `Authorization: TC3-HMAC-SHA256 …` header; returns undefined when it is not one. */
export function parseTc3Authorization(header: string | undefined): ParsedAuthorization | undefined {
  if (!header) return undefined;
  const match =
    /^TC3-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{4}-\d{2}-\d{2})\/([a-z0-9-]+)\/tc3_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      header.trim(),
    );
  if (!match) return undefined;
  const [, secretId, date, service, signedHeaders, signature] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return { secretId, date, service, signedHeaders: signedHeaders.split(';'), signature };
}
