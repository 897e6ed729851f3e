import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  parseTc3Authorization,
  tc3CanonicalRequest,
  tc3Date,
  tc3Signature,
} from '../../lib/tencent/signer.js';
import { buildCertificateArchive } from './certificate-archive.js';
import {
  CertificateStore,
  type DvAuth,
  PENDING_STATUSES,
  parseTencentTime,
  type StoredCertificate,
  seededRandom,
} from './certificate-store.js';

const TENCENT_SSL_VERSION = '2019-12-05';
const SERVICE = 'ssl';
/** Tencent rejects timestamps more than five minutes away from its clock. */
const MAX_CLOCK_SKEW_SECONDS = 300;
/** Tencent's documented limit for every action this project calls. */
const DEFAULT_RATE_LIMIT = 10;
const RATE_WINDOW_MS = 1000;
const MAX_BODY_BYTES = 1024 * 1024;
/** ApplyCertificate renews (OldCertificateId) only a certificate that expires within 30 days. */
const RENEWAL_WINDOW_MS = 30 * 24 * 3_600_000;

interface TencentCredential {
  secretId: string;
  secretKey: string;
  /** Set for temporary credentials: requests must then carry it in `X-TC-Token`. */
  token?: string;
}

/** An API error answer (`Response.Error`). Hooks and checkers throw it to answer with that error. */
export class LocalTencentApiError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'LocalTencentApiError';
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Faults

type Fault =
  /** An API error in an HTTP 200, like every Tencent failure. */
  | { kind: 'error'; code: string; message?: string }
  /** A non-200 with an HTML body, as from a gateway in front of the API. */
  | { kind: 'http'; status: number; body?: string }
  /** Extra delay before the (otherwise normal) answer. */
  | { kind: 'latency'; ms: number }
  /** HTTP 200 whose body is not valid JSON. */
  | { kind: 'malformed'; body?: string }
  /** Close the connection without answering. */
  | { kind: 'drop' }
  /** Valid JSON, changed by `mutate`: it gets the whole `{ Response }` body; a returned value replaces it. */
  | { kind: 'schema'; mutate: (response: Record<string, unknown>) => unknown };

export interface FaultRule {
  /** Only requests for this action. Default: every action. */
  action?: string;
  /** How many requests to affect. Default: no limit. */
  times?: number;
  /** Chance per matching request, drawn from the seeded generator. Default 1. */
  probability?: number;
  fault: Fault;
}

interface InjectedFault {
  readonly rule: FaultRule;
  /** Requests this rule has affected so far. */
  readonly hits: number;
  remove(): void;
}

interface FaultDecision {
  latencyMs: number;
  fault: Exclude<Fault, { kind: 'latency' }> | undefined;
}

/**
 * Faults to apply to coming requests. Latency faults add up; of the others the first matching rule
 * wins. A rule spends one of its `times` only when it is applied.
 */
class FaultInjector {
  #rules: Array<{ rule: FaultRule; hits: number }> = [];
  #random: () => number;

  constructor(seed = 1) {
    this.#random = seededRandom(seed);
  }

  inject(rule: FaultRule): InjectedFault {
    if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
      throw new RangeError('probability must be between 0 and 1');
    }
    const entry = { rule, hits: 0 };
    this.#rules.push(entry);
    return {
      rule,
      get hits() {
        return entry.hits;
      },
      remove: () => {
        this.#rules = this.#rules.filter((candidate) => candidate !== entry);
      },
    };
  }

  clear(): void {
    this.#rules = [];
  }

  /** Restarts the generator behind `probability`. */
  reseed(seed: number): void {
    this.#random = seededRandom(seed);
  }

  /** Rules still active (spent `times` rules are dropped). */
  get size(): number {
    return this.#rules.length;
  }

  /** Decides the faults of one request and spends the rules it applies. */
  decide(action: string): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0, fault: undefined };
    for (const entry of this.#rules) {
      const { rule } = entry;
      if (rule.action !== undefined && rule.action !== action) continue;
      if (rule.times !== undefined && entry.hits >= rule.times) continue;
      if (rule.fault.kind !== 'latency' && decision.fault) continue;
      if (rule.probability !== undefined && rule.probability < 1 && this.#random() >= rule.probability)
        continue;
      entry.hits += 1;
      if (rule.fault.kind === 'latency') decision.latencyMs += rule.fault.ms;
      else decision.fault = rule.fault;
    }
    this.#rules = this.#rules.filter(
      (entry) => entry.rule.times === undefined || entry.hits < entry.rule.times,
    );
    return decision;
  }
}

// ---------------------------------------------------------------------------------------------
// Stats

type RequestOutcome = 'success' | 'error' | 'auth-failure' | 'rate-limited' | 'fault';

interface RecordedRequest {
  /** `X-TC-Action` as sent (null when missing). */
  action: string | null;
  /** Arrival, ms since the epoch (server clock, without the offset). */
  at: number;
  /** Parsed body; undefined when it was not JSON. */
  params: unknown;
  outcome: RequestOutcome;
  /** `Response.Error.Code` when the answer was an API error. */
  errorCode?: string;
  requestId: string;
  secretId?: string;
}

class ServerStats {
  requests: RecordedRequest[] = [];
  /** Requests refused with `RequestLimitExceeded`. */
  rateLimited = 0;
  inFlight = 0;
  /** Most requests handled at the same time since the last reset. */
  maxInFlight = 0;

  /** Requests received, for one action or all, with any outcome or one. */
  count(action?: string, outcome?: RequestOutcome): number {
    return this.requests.filter(
      (request) =>
        (action === undefined || request.action === action) &&
        (outcome === undefined || request.outcome === outcome),
    ).length;
  }

  reset(): void {
    this.requests = [];
    this.rateLimited = 0;
    this.maxInFlight = this.inFlight;
  }
}

// ---------------------------------------------------------------------------------------------
// Options and handle

/** One `VerificationResults` item of CheckCertificateDomainVerification. */
interface VerificationResult {
  Domain: string;
  VerifyType: string | null;
  /** 1 passed; -1 rate limited or TXT not found; -2 TXT mismatch; -6 CNAME not found; -7 CNAME mismatch; … */
  LocalCheck: number;
  /** 2 passed, -1 not passed. */
  CaCheck: number;
  LocalCheckFailReason: string;
  CheckValue: string[];
  Frequently: boolean;
  Issued: boolean;
}

interface DomainCheckInput {
  certificate: StoredCertificate;
  /** As ordered: a wildcard keeps its `*.`. */
  domain: string;
  dvAuth: DvAuth | undefined;
}

/** Decides what the CA sees for one domain; the fields returned override the "not found" default. */
type DomainVerificationChecker = (
  input: DomainCheckInput,
) => Partial<VerificationResult> | undefined | Promise<Partial<VerificationResult> | undefined>;

interface ActionCall {
  action: string;
  params: Record<string, unknown>;
  requestId: string;
  secretId: string;
  store: CertificateStore;
}

/**
 * Runs before an accepted request is handled (after authentication, rate limiting and faults).
 * Returning an object answers with it as the `Response` fields instead of the built-in handler;
 * throwing a `LocalTencentApiError` answers with that error.
 */
export type ActionHook = (
  call: ActionCall,
) => undefined | Record<string, unknown> | Promise<undefined | Record<string, unknown>>;

export interface StartTencentServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  credentials: readonly TencentCredential[];
  /** Accepted requests per action within any 1000 ms. Default 10; 0 or Infinity disables the limit. */
  rateLimit?: number;
  /** Per-action overrides of `rateLimit`. */
  rateLimitPerAction?: Readonly<Record<string, number>>;
  /** Delay before every answer: fixed, or uniform between min and max. */
  latencyMs?: number | { min: number; max: number };
  store?: CertificateStore;
  onAction?: ActionHook;
  checkDomainVerification?: DomainVerificationChecker;
  /** Seed of the generator behind fault probabilities and latency jitter. Default 1. */
  seed?: number;
  /** Server clock in ms, before the offset. Default `Date.now`. */
  now?: () => number;
  /**
   * Free certificates ApplyCertificate may still make; past it, it answers
   * `FailedOperation.ExceedsFreeLimit` as Tencent does once the account's free quota is spent.
   * Default: no limit.
   */
  freeCertificateQuota?: number;
}

export interface LocalTencentServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  host: string;
  port: number;
  store: CertificateStore;
  faults: FaultInjector;
  stats: ServerStats;
  /** Moves the clock used for timestamp checks, in seconds (positive: server ahead of the client). */
  setClockOffset(seconds: number): void;
  /** Changes the rate limit of one action, or the default of all when `action` is omitted. */
  setRateLimit(limit: number, action?: string): void;
  /** Forgets the requests of the last second, so the next test starts with a full budget. */
  resetRateWindows(): void;
  setCredentials(credentials: readonly TencentCredential[]): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Parameters

type Params = Record<string, unknown>;

function invalidParameter(name: string, expected: string): LocalTencentApiError {
  return new LocalTencentApiError(
    'InvalidParameter',
    `The value of parameter \`${name}\` is invalid: ${expected}.`,
  );
}

function requiredCertificateId(params: Params): string {
  const value = params.CertificateId;
  if (value === undefined || value === null || value === '') {
    throw new LocalTencentApiError(
      'MissingParameter',
      'The request is missing a required parameter `CertificateId`.',
    );
  }
  if (typeof value !== 'string') throw invalidParameter('CertificateId', 'expected a string');
  return value;
}

/** An integer parameter; Tencent's own examples send them as strings too (`"Offset": "0"`). */
function optionalInteger(params: Params, name: string, min: number, max: number): number | undefined {
  const raw = params[name];
  if (raw === undefined || raw === null) return undefined;
  const value = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidParameter(name, `expected an integer from ${min} to ${max}`);
  }
  return value;
}

function optionalString(params: Params, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidParameter(name, 'expected a string');
  return value;
}

function optionalArray<T>(
  params: Params,
  name: string,
  isItem: (item: unknown) => item is T,
  what: string,
): T[] | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every(isItem))
    throw invalidParameter(name, `expected an array of ${what}`);
  return value;
}

const isInteger = (item: unknown): item is number | string =>
  (typeof item === 'number' && Number.isInteger(item)) || (typeof item === 'string' && /^-?\d+$/.test(item));
const isString = (item: unknown): item is string => typeof item === 'string';

// ---------------------------------------------------------------------------------------------
// Response shapes

/*
 * The shapes below follow Tencent's documented answers (tests/fixtures/tencent/documented), field
 * for field, quirks included: "--" and "" for unset times, numbers as strings, DvAuths null once
 * issued, and fields the SDK models do not even declare.
 */

// A list item, in the order of the documented "SearchKey" examples of DescribeCertificates.
const LIST_FIELDS = [
  'OwnerUin',
  'ProjectId',
  'From',
  'ProductZhName',
  'Domain',
  'Alias',
  'Status',
  'VulnerabilityStatus',
  'StatusMsg',
  'VerifyType',
  'CertBeginTime',
  'CertEndTime',
  'ValidityPeriod',
  'InsertTime',
  'AutoRenewFlag',
  'EncryptAlgorithm',
  'IsIgnore',
  'PreAuditInfo',
  'IsSM',
  'SubjectAltName',
  'StatusName',
  'IsVip',
  'IsDv',
  'IsWildcard',
  'IsVulnerability',
  'HasRenewOrder',
  'ReplaceOriCertIsDelete',
  'RenewAble',
  'IsExpiring',
  'DVAuthDeadline',
  'ValidationPassedTime',
  'CertSANs',
  'CertRevokedTime',
  'CAEncryptAlgorithms',
  'CAEndTimes',
  'CACommonNames',
  'Deployable',
  'AwaitingValidationMsg',
  'ProjectInfo',
  'Tags',
  'CertificateId',
  'CertificateType',
  'PackageType',
  'PackageTypeName',
  'KeyPasswordCustomFlag',
  'SupportDownloadType',
  'CertificateExtra',
  'AllowDownload',
  'IsPackage',
  'HostingStatus',
  'HostingCompleteTime',
  'HostingRenewCertId',
  'HostingResourceTypes',
  'IsDNSPODResolve',
  'IsHostingUploadRenewCert',
  'BoundResource',
];
// What the list shows for a field the store does not hold, as in the documented examples.
const LIST_DEFAULTS: Params = {
  AutoRenewFlag: 0,
  IsIgnore: false,
  PreAuditInfo: { TotalPeriod: 1, NowPeriod: 1, ManagerId: '' },
  IsSM: false,
  HasRenewOrder: '',
  ReplaceOriCertIsDelete: false,
  IsExpiring: false,
  DVAuthDeadline: '--',
  ValidationPassedTime: '--',
  CertRevokedTime: '',
  CAEncryptAlgorithms: [],
  CAEndTimes: [],
  CACommonNames: [],
  AwaitingValidationMsg: '',
  ProjectInfo: {
    ProjectId: '0',
    OwnerUin: 0,
    ProjectName: '默认项目',
    ProjectCreatorUin: 0,
    ProjectCreateTime: '0000-00-00 00:00:00',
    ProjectResume: '默认项目',
  },
  KeyPasswordCustomFlag: false,
  SupportDownloadType: {
    NGINX: true,
    APACHE: true,
    TOMCAT: true,
    IIS: true,
    JKS: true,
    OTHER: true,
    ROOT: true,
  },
  AllowDownload: false,
  IsPackage: false,
  HostingStatus: -1,
  HostingCompleteTime: '',
  HostingRenewCertId: '',
  HostingResourceTypes: [],
  IsDNSPODResolve: false,
  IsHostingUploadRenewCert: false,
  BoundResource: [],
};
// Only DescribeCertificates shows these; the detail actions leave them out.
const LIST_ONLY_FIELDS = [
  'AutoRenewFlag',
  'IsIgnore',
  'PreAuditInfo',
  'IsSM',
  'HasRenewOrder',
  'ReplaceOriCertIsDelete',
  'IsExpiring',
  'DVAuthDeadline',
  'ValidationPassedTime',
  'CertSANs',
  'CertRevokedTime',
  'AwaitingValidationMsg',
  'ProjectInfo',
  'PackageTypeName',
  'KeyPasswordCustomFlag',
  'SupportDownloadType',
  'AllowDownload',
  'IsPackage',
  'HostingStatus',
  'HostingCompleteTime',
  'HostingRenewCertId',
  'HostingResourceTypes',
  'HostingConfig',
  'IsDNSPODResolve',
  'IsHostingUploadRenewCert',
  'BoundResource',
];
// DescribeCertificate is the least-privilege read: everything but the key material.
const KEY_FIELDS = ['CertificatePrivateKey', 'CertificatePublicKey', 'EncryptPrivateKey', 'EncryptCert'];
// Fields the documented DescribeCertificateDetail answers carry and DescribeCertificate's does not.
const DETAIL_ONLY_FIELDS = [
  'RootCert',
  'TypeName',
  'CertFingerprint',
  'EncryptCertFingerprint',
  'EncryptAlgorithm',
  'CertChainInfo',
  'DomainType',
  'CertType',
];

function omit(record: StoredCertificate, fields: readonly string[]): Params {
  const copy: Params = { ...record };
  for (const field of fields) delete copy[field];
  return copy;
}

const productName = (record: StoredCertificate): unknown =>
  record.PackageTypeName ?? record.TypeName ?? record.ProductZhName ?? null;

function listItem(record: StoredCertificate): Params {
  const item: Params = {};
  for (const field of LIST_FIELDS) {
    if (field in record) item[field] = record[field];
    else if (field === 'PackageTypeName') item[field] = productName(record);
    else if (field in LIST_DEFAULTS) item[field] = structuredClone(LIST_DEFAULTS[field]);
  }
  // Unlike the detail actions, the list puts the main domain into SubjectAltName (and CertSANs).
  // Malformed values (stored through `add`) pass through untouched.
  const { Domain: domain, SubjectAltName: san } = record;
  if (typeof domain === 'string' && (Array.isArray(san) || san === null || san === undefined)) {
    item.SubjectAltName = [domain, ...(Array.isArray(san) ? san.filter((name) => name !== domain) : [])];
  }
  if (!('CertSANs' in record)) item.CertSANs = structuredClone(item.SubjectAltName ?? []);
  return item;
}

/** DescribeCertificate: the detail without keys and detail-only fields, with the few it adds. */
function certificateInfo(record: StoredCertificate): Params {
  const info = omit(record, [...LIST_ONLY_FIELDS, ...KEY_FIELDS, ...DETAIL_ONLY_FIELDS]);
  info.CAEncryptAlgorithms ??= [];
  info.CACommonNames ??= [];
  info.CAEndTimes ??= [];
  info.PackageTypeName = productName(record);
  return info;
}

function domainsOf(record: StoredCertificate): string[] {
  const domain = typeof record.Domain === 'string' ? [record.Domain] : [];
  const san = Array.isArray(record.SubjectAltName) ? record.SubjectAltName.filter(isString) : [];
  return [...new Set([...domain, ...san])];
}

function dvAuthsOf(record: StoredCertificate): DvAuth[] {
  const detail = record.DvAuthDetail;
  if (typeof detail !== 'object' || detail === null) return [];
  const dvAuths = (detail as { DvAuths?: unknown }).DvAuths;
  return Array.isArray(dvAuths) ? (dvAuths as DvAuth[]) : [];
}

const stripWildcard = (domain: string): string => (domain.startsWith('*.') ? domain.slice(2) : domain);

/** PackageType 25–41 are Wotrus products, 43–56 DNSPod ones (the API's PackageType list). */
function isDnsPodOrWotrus(record: StoredCertificate): boolean {
  const packageType = Number(record.PackageType);
  return (packageType >= 25 && packageType <= 41) || (packageType >= 43 && packageType <= 56);
}

function defaultVerification(
  record: StoredCertificate,
  domain: string,
  dvAuth: DvAuth | undefined,
): VerificationResult {
  const verifyType = dvAuth?.DvAuthVerifyType ?? null;
  if (record.Status === 1) {
    return {
      Domain: domain,
      VerifyType: verifyType,
      LocalCheck: 1,
      CaCheck: 2,
      LocalCheckFailReason: '',
      CheckValue: [],
      Frequently: false,
      Issued: true,
    };
  }
  const [localCheck, reason] =
    verifyType === 'TXT'
      ? [-1, 'TXT record not found']
      : verifyType === 'FILE'
        ? [-4, 'validation file not found']
        : [-6, 'CNAME record not found'];
  return {
    Domain: domain,
    VerifyType: verifyType,
    LocalCheck: localCheck,
    CaCheck: -1,
    LocalCheckFailReason: reason,
    CheckValue: [],
    Frequently: false,
    Issued: false,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

const ACTIONS = [
  'ApplyCertificate',
  'DescribeCertificates',
  'DescribeCertificate',
  'DescribeCertificateDetail',
  'CompleteCertificate',
  'CheckCertificateDomainVerification',
  'DownloadCertificate',
] as const;
type Action = (typeof ACTIONS)[number];
const isAction = (action: string): action is Action => (ACTIONS as readonly string[]).includes(action);

const HTTP_STATUS_TEXT: Readonly<Record<number, string>> = {
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
};

// What an nginx gateway in front of the API answers when the backend is gone.
function htmlErrorPage(status: number): string {
  const title = `${status} ${HTTP_STATUS_TEXT[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The body, or undefined when it is larger than the server accepts. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size <= MAX_BODY_BYTES ? Buffer.concat(chunks) : undefined));
    req.on('error', reject);
  });
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function toApiError(error: unknown): LocalTencentApiError {
  if (error instanceof LocalTencentApiError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new LocalTencentApiError('InternalError', `Internal error: ${reason}`);
}

const errorEnvelope = (error: LocalTencentApiError, requestId: string) => ({
  Response: { Error: { Code: error.code, Message: error.message }, RequestId: requestId },
});

interface Outcome {
  outcome: RequestOutcome;
  errorCode?: string;
  secretId?: string;
  params?: unknown;
}

type TransportFault = Extract<Fault, { kind: 'drop' | 'http' | 'malformed' }>;

// ---------------------------------------------------------------------------------------------
// Server

/** A loopback HTTP server that answers like the Tencent SSL API (service `ssl`, version `2019-12-05`). */
export async function startTencentServer(options: StartTencentServerOptions): Promise<LocalTencentServer> {
  const host = options.host ?? '127.0.0.1';
  const store = options.store ?? new CertificateStore();
  const faults = new FaultInjector(options.seed ?? 1);
  const stats = new ServerStats();
  const jitter = seededRandom((options.seed ?? 1) ^ 0x9e3779b9);
  const now = options.now ?? Date.now;
  const closing = new AbortController();
  const rateLimits = new Map<string, number>(Object.entries(options.rateLimitPerAction ?? {}));
  const acceptedAt = new Map<string, number[]>();
  let defaultRateLimit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  const freeQuota = options.freeCertificateQuota;
  /** Free certificates applied for so far (against `freeCertificateQuota`). */
  let applied = 0;
  let clockOffsetSeconds = 0;
  let credentials = new Map<string, TencentCredential>();
  let closed: Promise<void> | undefined;

  const setCredentials = (list: readonly TencentCredential[]): void => {
    credentials = new Map(list.map((credential) => [credential.secretId, { ...credential }]));
  };
  setCredentials(options.credentials);

  function authenticate(req: IncomingMessage, body: Buffer, outcome: Outcome): void {
    const authorization = headerValue(req, 'authorization');
    if (!authorization) {
      throw new LocalTencentApiError(
        'AuthFailure.InvalidAuthorization',
        'The Authorization header is missing.',
      );
    }
    const parsed = parseTc3Authorization(authorization);
    if (!parsed) {
      throw new LocalTencentApiError(
        'AuthFailure.InvalidAuthorization',
        'The Authorization header is not a valid TC3-HMAC-SHA256 authorization.',
      );
    }
    const timestampText = headerValue(req, 'x-tc-timestamp');
    if (!timestampText) {
      throw new LocalTencentApiError(
        'MissingParameter',
        'The request is missing a required parameter `Timestamp`.',
      );
    }
    if (!/^\d{1,12}$/.test(timestampText)) throw invalidParameter('Timestamp', 'expected unix seconds');
    const timestamp = Number(timestampText);

    const credential = credentials.get(parsed.secretId);
    if (!credential) {
      throw new LocalTencentApiError(
        'AuthFailure.SecretIdNotFound',
        'The SecretId is not found, please ensure that your SecretId is correct.',
      );
    }
    outcome.secretId = credential.secretId;

    const serverSeconds = Math.floor(now() / 1000) + clockOffsetSeconds;
    if (Math.abs(serverSeconds - timestamp) > MAX_CLOCK_SKEW_SECONDS) {
      throw new LocalTencentApiError(
        'AuthFailure.SignatureExpire',
        `The signature has expired: timestamp ${timestamp}, server time ${serverSeconds}, allowed skew ${MAX_CLOCK_SKEW_SECONDS} s.`,
      );
    }
    if (parsed.date !== tc3Date(timestamp)) {
      throw new LocalTencentApiError(
        'AuthFailure.SignatureFailure',
        `The credential scope date ${parsed.date} is not the UTC date of the timestamp (${tc3Date(timestamp)}).`,
      );
    }
    if (parsed.service !== SERVICE) {
      throw new LocalTencentApiError(
        'AuthFailure.SignatureFailure',
        `The credential scope service must be \`${SERVICE}\`, not \`${parsed.service}\`.`,
      );
    }

    // The headers the client says it signed, with the values as received (the Host with its port).
    const headers: Record<string, string> = {};
    for (const name of parsed.signedHeaders) headers[name] = headerValue(req, name) ?? '';
    const { canonicalRequest } = tc3CanonicalRequest(headers, parsed.signedHeaders, body);
    const { signature } = tc3Signature(credential.secretKey, SERVICE, timestamp, canonicalRequest);
    if (!sameText(signature, parsed.signature)) {
      throw new LocalTencentApiError(
        'AuthFailure.SignatureFailure',
        'The provided credentials could not be validated. Please check your signature is correct.',
      );
    }

    // X-TC-Token is not signed, so it is checked on its own. A token sent with permanent keys is
    // refused too: it points at a client mixing up credential sets.
    const token = headerValue(req, 'x-tc-token') || undefined;
    const tokenOk =
      credential.token === undefined
        ? token === undefined
        : token !== undefined && sameText(token, credential.token);
    if (!tokenOk) {
      throw new LocalTencentApiError(
        'AuthFailure.TokenFailure',
        'The token is invalid or does not belong to this SecretId.',
      );
    }
  }

  /**
   * Sliding window: refuses (returning the limit) when the action already has `limit` accepted
   * requests within the last second. Refused requests do not count.
   */
  function admit(action: string, at: number): number | undefined {
    const limit = rateLimits.get(action) ?? defaultRateLimit;
    if (limit <= 0 || !Number.isFinite(limit)) return undefined;
    const recent = (acceptedAt.get(action) ?? []).filter((time) => at - time < RATE_WINDOW_MS);
    acceptedAt.set(action, recent);
    if (recent.length >= limit) return limit;
    recent.push(at);
    return undefined;
  }

  function requireCertificate(params: Params): StoredCertificate {
    const id = requiredCertificateId(params);
    const record = store.get(id);
    if (!record) {
      throw new LocalTencentApiError(
        'FailedOperation.CertificateNotFound',
        'The certificate does not exist.',
      );
    }
    return record;
  }

  /**
   * ApplyCertificate: the checks of the API page (cloud.tencent.com/document/api/400/41678) on
   * each field, then a pending order. Which code Tencent answers for each wrong value is not
   * documented; this server answers `InvalidParameter` for a value of the wrong form and
   * `FailedOperation.InvalidParam` for a well-formed request Tencent cannot serve.
   */
  function applyCertificate(params: Params): Params {
    const method = optionalString(params, 'DvAuthMethod');
    if (method === undefined) {
      throw new LocalTencentApiError(
        'MissingParameter',
        'The request is missing a required parameter `DvAuthMethod`.',
      );
    }
    if (method !== 'DNS' && method !== 'DNS_AUTO' && method !== 'FILE') {
      throw invalidParameter('DvAuthMethod', 'expected DNS_AUTO, DNS or FILE');
    }
    const domain = optionalString(params, 'DomainName')?.trim().toLowerCase();
    if (!domain) {
      throw new LocalTencentApiError(
        'MissingParameter',
        'The request is missing a required parameter `DomainName`.',
      );
    }
    if (domain.startsWith('*.')) {
      throw new LocalTencentApiError(
        'FailedOperation.InvalidParam',
        'Free certificates cover a single domain name: wildcard domain names are not supported.',
      );
    }
    if (!/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/.test(domain)) {
      throw invalidParameter('DomainName', 'expected a domain name');
    }
    optionalInteger(params, 'ProjectId', 0, Number.MAX_SAFE_INTEGER);
    const packageType = optionalString(params, 'PackageType');
    if (packageType !== undefined && packageType !== '83') {
      throw invalidParameter('PackageType', 'only 83 (TrustAsia C1 DV Free) is supported');
    }
    const validity = optionalString(params, 'ValidityPeriod');
    if (validity !== undefined && validity !== '3') {
      throw invalidParameter('ValidityPeriod', 'only 3 (months) is supported');
    }
    const algorithm = optionalString(params, 'CsrEncryptAlgo') ?? 'RSA';
    if (algorithm !== 'RSA' && algorithm !== 'ECC')
      throw invalidParameter('CsrEncryptAlgo', 'expected RSA or ECC');
    const keyParameter = optionalString(params, 'CsrKeyParameter');
    if (algorithm === 'ECC' ? keyParameter !== 'prime256v1' : ![undefined, '2048'].includes(keyParameter)) {
      throw invalidParameter('CsrKeyParameter', 'expected 2048 for RSA, prime256v1 for ECC');
    }
    const deleteRecords = params.DeleteDnsAutoRecord;
    if (deleteRecords !== undefined && deleteRecords !== null) {
      if (typeof deleteRecords !== 'boolean')
        throw invalidParameter('DeleteDnsAutoRecord', 'expected a boolean');
      if (method !== 'DNS_AUTO')
        throw invalidParameter('DeleteDnsAutoRecord', 'only with DvAuthMethod DNS_AUTO');
    }
    if (params.DnsNames !== undefined && params.DnsNames !== null) {
      throw invalidParameter('DnsNames', 'not supported yet');
    }
    const oldId = optionalString(params, 'OldCertificateId');
    if (oldId !== undefined) checkRenewable(oldId, domain);
    if (freeQuota !== undefined && applied >= freeQuota) {
      throw new LocalTencentApiError(
        'FailedOperation.ExceedsFreeLimit',
        'The number of free certificates exceeds the maximum value.',
      );
    }
    const alias = optionalString(params, 'Alias');
    const order = store.apply({
      domain,
      dvAuthMethod: method,
      encryptAlgorithm: algorithm,
      ...(alias ? { alias } : {}),
      ...(oldId ? { oldCertificateId: oldId } : {}),
    });
    applied += 1;
    return { CertificateId: order.CertificateId };
  }

  /** OldCertificateId: "证书有效期在30天内，且未过期" — an issued certificate of that name expiring within 30 days. */
  function checkRenewable(oldId: string, domain: string): void {
    const old = store.get(oldId);
    if (!old) {
      throw new LocalTencentApiError(
        'FailedOperation.CertificateNotFound',
        'The certificate does not exist.',
      );
    }
    if (old.Status !== 1) {
      throw new LocalTencentApiError(
        'FailedOperation.InvalidCertificateStatusCode',
        'The certificate to renew is not issued.',
      );
    }
    const endTime = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(String(old.CertEndTime))
      ? parseTencentTime(String(old.CertEndTime)).getTime()
      : Number.NaN;
    const left = endTime - now();
    if (!(left > 0 && left <= RENEWAL_WINDOW_MS)) {
      throw new LocalTencentApiError(
        'FailedOperation.InvalidParam',
        'A certificate can be renewed only within 30 days of its expiry and before it expires.',
      );
    }
    if (String(old.Domain).toLowerCase() !== domain) {
      throw new LocalTencentApiError(
        'FailedOperation.InvalidParam',
        'The domain name differs from that of the certificate to renew.',
      );
    }
  }

  async function handle(action: Action, params: Params): Promise<Params> {
    switch (action) {
      case 'ApplyCertificate':
        return applyCertificate(params);
      case 'DescribeCertificates': {
        const offset = optionalInteger(params, 'Offset', 0, Number.MAX_SAFE_INTEGER) ?? 0;
        // Documented: "values exceeding 1000 will be treated as 1000".
        const limit = Math.min(optionalInteger(params, 'Limit', 1, Number.MAX_SAFE_INTEGER) ?? 10, 1000);
        const statuses = optionalArray(params, 'CertificateStatus', isInteger, 'integers');
        const ids = optionalArray(params, 'CertIds', isString, 'strings');
        const searchKey = optionalString(params, 'SearchKey')?.toLowerCase();
        const certificateType = optionalString(params, 'CertificateType');
        // Newest order first, as Tencent lists them.
        const matching = store
          .list()
          .reverse()
          .filter((record) => {
            if (statuses && !statuses.map(Number).includes(record.Status as number)) return false;
            if (ids && !ids.includes(record.CertificateId as string)) return false;
            if (certificateType && record.CertificateType !== certificateType) return false;
            if (searchKey) {
              const haystack = [record.CertificateId, record.Alias, ...domainsOf(record)];
              return haystack.some(
                (text) => typeof text === 'string' && text.toLowerCase().includes(searchKey),
              );
            }
            return true;
          });
        return {
          TotalCount: matching.length,
          Certificates: matching.slice(offset, offset + limit).map(listItem),
        };
      }
      case 'DescribeCertificate':
        return certificateInfo(requireCertificate(params));
      case 'DescribeCertificateDetail':
        return omit(requireCertificate(params), LIST_ONLY_FIELDS);
      case 'CompleteCertificate': {
        const record = requireCertificate(params);
        // Documented: "仅非DNSPod和Wotrus品牌证书支持使用此接口". Which code Tencent answers for those is
        // not documented; this server uses the common UnsupportedOperation.
        if (isDnsPodOrWotrus(record)) {
          throw new LocalTencentApiError(
            'UnsupportedOperation',
            'CompleteCertificate is not supported for DNSPod- and Wotrus-brand certificates.',
          );
        }
        if (!PENDING_STATUSES.includes(record.Status as number)) {
          throw new LocalTencentApiError(
            'FailedOperation.CertificateNotFoundOrAudited',
            'The certificate does not exist or has already been reviewed.',
          );
        }
        return { CertificateId: record.CertificateId };
      }
      case 'DownloadCertificate': {
        const record = requireCertificate(params);
        const material =
          record.Status === 1 ? store.archiveMaterial(String(record.CertificateId)) : undefined;
        if (!material) {
          throw new LocalTencentApiError(
            'FailedOperation.InvalidCertificateStatusCode',
            'The certificate is not issued, so there is nothing to download.',
          );
        }
        return {
          Content: Buffer.from(buildCertificateArchive(material)).toString('base64'),
          ContentType: 'application/zip',
        };
      }
      case 'CheckCertificateDomainVerification': {
        const record = requireCertificate(params);
        const domains = domainsOf(record);
        const dvAuths = dvAuthsOf(record);
        const results: VerificationResult[] = [];
        for (const [index, domain] of domains.entries()) {
          // Items follow the order of the names when there is one per name; otherwise match by domain.
          const dvAuth =
            dvAuths.length === domains.length
              ? dvAuths[index]
              : dvAuths.find((candidate) => candidate?.DvAuthDomain === stripWildcard(domain));
          const decided = await options.checkDomainVerification?.({ certificate: record, domain, dvAuth });
          results.push({ ...defaultVerification(record, domain, dvAuth), ...decided });
        }
        return { VerificationResults: results };
      }
    }
  }

  /** The answer to an accepted request: hook or handler, then the schema fault when one applies. */
  async function respond(
    action: Action,
    params: Params,
    requestId: string,
    outcome: Outcome,
    fault: Fault | undefined,
  ): Promise<unknown> {
    let payload: Record<string, unknown>;
    try {
      const call = { action, params, requestId, secretId: outcome.secretId ?? '', store };
      const fields = (await options.onAction?.(call)) ?? (await handle(action, params));
      outcome.outcome = 'success';
      payload = { Response: { ...fields, RequestId: requestId } };
    } catch (error) {
      const apiError = toApiError(error);
      outcome.outcome = 'error';
      outcome.errorCode = apiError.code;
      payload = errorEnvelope(apiError, requestId);
    }
    if (fault?.kind !== 'schema') return payload;
    outcome.outcome = 'fault';
    const mutated = fault.mutate(payload);
    return mutated === undefined ? payload : mutated;
  }

  /** Decides the answer; returns either a JSON payload or a transport fault to act out. */
  async function decide(
    req: IncomingMessage,
    requestId: string,
    action: string | null,
    outcome: Outcome,
    arrivedAt: number,
  ): Promise<{ payload?: unknown; transport?: TransportFault; latencyMs: number }> {
    const body = await readBody(req);
    if (req.method !== 'POST' || req.url !== '/') {
      throw new LocalTencentApiError(
        'UnsupportedOperation',
        'This endpoint only accepts POST / with a JSON body signed with TC3-HMAC-SHA256.',
      );
    }
    if (body === undefined) {
      throw new LocalTencentApiError(
        'RequestSizeLimitExceeded',
        `The request body exceeds ${MAX_BODY_BYTES} bytes.`,
      );
    }
    try {
      outcome.params = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      outcome.params = undefined;
    }

    try {
      authenticate(req, body, outcome);
    } catch (error) {
      outcome.outcome = 'auth-failure';
      throw error;
    }

    const version = headerValue(req, 'x-tc-version');
    if (!version) {
      throw new LocalTencentApiError(
        'MissingParameter',
        'The request is missing a required parameter `Version`.',
      );
    }
    if (version !== TENCENT_SSL_VERSION) {
      throw new LocalTencentApiError(
        'NoSuchVersion',
        `The API version \`${version}\` does not exist for ssl.`,
      );
    }
    if (!action) {
      throw new LocalTencentApiError(
        'MissingParameter',
        'The request is missing a required parameter `Action`.',
      );
    }
    if (!isAction(action))
      throw new LocalTencentApiError('InvalidAction', `The action \`${action}\` does not exist.`);

    const limit = admit(action, arrivedAt);
    if (limit !== undefined) {
      stats.rateLimited += 1;
      outcome.outcome = 'rate-limited';
      throw new LocalTencentApiError(
        'RequestLimitExceeded',
        `Your current request times equals to \`${limit}\` in a second, which exceeds the frequency limit \`${limit}\` for a second. Please reduce the frequency of calls.`,
      );
    }

    const contentType = headerValue(req, 'content-type') ?? '';
    if (!/^application\/json\b/i.test(contentType)) {
      throw new LocalTencentApiError('InvalidParameter', 'Content-Type must be application/json.');
    }
    const params = outcome.params;
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new LocalTencentApiError('InvalidParameter', 'The request body must be a JSON object.');
    }

    // Faults come after authentication and rate limiting so that both stay honestly accounted.
    const { latencyMs, fault } = faults.decide(action);
    if (fault?.kind === 'error') {
      outcome.outcome = 'fault';
      outcome.errorCode = fault.code;
      const injected = new LocalTencentApiError(fault.code, fault.message ?? `Injected ${fault.code}.`);
      return { payload: errorEnvelope(injected, requestId), latencyMs };
    }
    if (fault && fault.kind !== 'schema') {
      outcome.outcome = 'fault';
      return { transport: fault, latencyMs };
    }
    return { payload: await respond(action, params as Params, requestId, outcome, fault), latencyMs };
  }

  async function answerDelay(extraMs: number): Promise<void> {
    const latency = options.latencyMs;
    let ms = extraMs;
    if (typeof latency === 'number') ms += latency;
    else if (latency) ms += latency.min + jitter() * (latency.max - latency.min);
    if (ms > 0) await sleep(ms, undefined, { signal: closing.signal }).catch(() => undefined);
  }

  function send(res: ServerResponse, status: number, contentType: string, body: string): void {
    // Date carries the server's own clock (offset included), as a real server's would.
    res.writeHead(status, {
      'Content-Type': contentType,
      'Content-Length': Buffer.byteLength(body),
      Date: new Date(now() + clockOffsetSeconds * 1000).toUTCString(),
    });
    res.end(body);
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Rate accounting uses the moment the request arrived, not when this process got round to it.
    const arrivedAt = performance.now();
    const requestId = randomUUID();
    const at = now();
    const action = headerValue(req, 'x-tc-action') ?? null;
    const outcome: Outcome = { outcome: 'error' };
    let answer: { payload?: unknown; transport?: TransportFault; latencyMs: number };
    try {
      answer = await decide(req, requestId, action, outcome, arrivedAt);
    } catch (error) {
      const apiError = toApiError(error);
      outcome.errorCode = apiError.code;
      answer = { payload: errorEnvelope(apiError, requestId), latencyMs: 0 };
    }

    stats.requests.push({
      action,
      at,
      params: outcome.params,
      outcome: outcome.outcome,
      ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
      requestId,
      ...(outcome.secretId ? { secretId: outcome.secretId } : {}),
    });

    await answerDelay(answer.latencyMs);
    if (res.destroyed || closing.signal.aborted) return;

    const { transport } = answer;
    switch (transport?.kind) {
      case 'drop':
        req.socket.destroy();
        return;
      case 'http':
        send(res, transport.status, 'text/html', transport.body ?? htmlErrorPage(transport.status));
        return;
      case 'malformed':
        send(
          res,
          200,
          'application/json',
          transport.body ?? `{"Response": {"RequestId": "${requestId}", "Certificates": [{"CertificateId": `,
        );
        return;
      default:
        send(res, 200, 'application/json', JSON.stringify(answer.payload));
    }
  }

  const server = createServer((req, res) => {
    stats.inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    serve(req, res)
      .catch(() => {
        if (!res.headersSent && !res.destroyed) send(res, 500, 'text/plain', 'local server failure');
      })
      .finally(() => {
        stats.inFlight -= 1;
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    host,
    port,
    store,
    faults,
    stats,
    setClockOffset(seconds: number) {
      clockOffsetSeconds = seconds;
    },
    resetRateWindows() {
      acceptedAt.clear();
    },
    setRateLimit(limit: number, action?: string) {
      if (action === undefined) defaultRateLimit = limit;
      else rateLimits.set(action, limit);
    },
    setCredentials,
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive sockets would otherwise hold close() open until their timeout.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
