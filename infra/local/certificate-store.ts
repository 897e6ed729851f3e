import approvedFixture from '../../tests/fixtures/tencent/describe-certificate-detail-approved.json' with {
  type: 'json',
};
import pendingFixture from '../../tests/fixtures/tencent/describe-certificate-detail-pending.json' with {
  type: 'json',
};
import type { ArchiveLayout, ArchiveMaterial } from './certificate-archive.js';
import { createTestPki, generateLeafKeyPem, type TestKeyAlgorithm, type TestPki } from './pki.js';

/*
 * The shapes below are written from the API reference on purpose, independently of the client's
 * schemas in lib/tencent: a local server that shared the client's idea of the API could not catch
 * the client misreading it.
 */

/** `DvAuths[].DvAuthVerifyType`. */
export type DvAuthVerifyType = 'CNAME' | 'TXT' | 'FILE';

export interface DvAuth {
  DvAuthKey: string | null;
  DvAuthValue: string | null;
  DvAuthDomain: string | null;
  DvAuthPath: string | null;
  DvAuthSubDomain: string | null;
  DvAuthVerifyType: DvAuthVerifyType | null;
}

interface DvAuthDetail {
  DvAuthKey: string | null;
  DvAuthValue: string | null;
  DvAuthDomain: string | null;
  DvAuthPath: string | null;
  /** Named differently from the `DvAuthSubDomain` of the items, as Tencent does. */
  DvAuthKeySubDomain: string | null;
  DvAuths: DvAuth[] | null;
}

/**
 * What the store keeps per certificate: the DescribeCertificateDetail fields plus the few that only
 * the list shows (`DVAuthDeadline`, `IsDNSPODResolve`, …). Anything may be stored through `add()`,
 * so readers get plain records and must not assume this shape.
 */
export type StoredCertificate = Record<string, unknown>;

/** English status names, as `StatusName` carries them with `X-TC-Language: en-US`. */
const TENCENT_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'under review',
  1: 'issued',
  2: 'review failed',
  3: 'expired',
  4: 'to be validated',
  5: 'pending document submission',
  6: 'cancelling',
  7: 'cancelled',
  8: 'pending confirmation letter',
  9: 'revoking',
  10: 'revoked',
  11: 'reissue in progress',
  12: 'pending revocation confirmation letter',
  13: 'pending document submission',
  14: 'refunded',
  15: 'migrating',
};

/** Statuses in which a certificate waits for domain validation. */
export const PENDING_STATUSES: readonly number[] = [0, 4, 11];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
// Tencent's timestamps are Beijing time written without an offset.
const TENCENT_UTC_OFFSET_MS = 8 * HOUR_MS;

/** `YYYY-MM-DD HH:mm:ss` in UTC+8, no offset in the string: how Tencent writes every time. */
export function formatTencentTime(time: Date | number): string {
  const ms = typeof time === 'number' ? time : time.getTime();
  return new Date(ms + TENCENT_UTC_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** Inverse of `formatTencentTime`. */
export function parseTencentTime(text: string): Date {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(text);
  if (!match) throw new TypeError(`not a Tencent time: ${text}`);
  return new Date(`${match[1]}T${match[2]}+08:00`);
}

/** mulberry32: small, fast and good enough to make ids, values and fault dice repeatable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const HEX = '0123456789abcdef';
const LOWER_ALNUM = '0123456789abcdefghijklmnopqrstuvwxyz';
const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

class CertificateNotInStoreError extends Error {
  readonly certificateId: string;
  constructor(certificateId: string) {
    super(`no certificate ${certificateId} in the local store`);
    this.name = 'CertificateNotInStoreError';
    this.certificateId = certificateId;
  }
}

export type VerifyTypeChoice = DvAuthVerifyType | 'mixed' | Readonly<Record<string, DvAuthVerifyType>>;

export interface AddPendingInput {
  /** Main domain (`Domain`), may be a wildcard. */
  domain: string;
  /** Further names; DescribeCertificateDetail returns them without the main domain. */
  altNames?: readonly string[];
  /**
   * Validation record type: one for all names, `mixed` (alternating CNAME and TXT, starting with
   * CNAME) or a map from name to type (names missing from it get CNAME). Default CNAME.
   */
  verifyType?: VerifyTypeChoice;
  id?: string;
  /** 0 or 4 (default; what an order waiting for DNS records outside DNSPod shows) or 11. */
  status?: number;
  statusMsg?: string | null;
  /** The order's `VerifyType`. Default `DNS_AUTO`. */
  orderVerifyType?: string;
  /** List field: whether every domain resolves on DNSPod. Default false (the case this project exists for). */
  isDnsPodResolve?: boolean;
  /** Default: now. */
  insertTime?: Date;
  /** Default: three days after `insertTime`, when the CA gives up on the order. */
  dvAuthDeadline?: Date;
  /** Undefined: generate one (Tencent keeps the key from order time). Null: none, as with a pasted CSR. */
  privateKeyPem?: string | null;
  keyAlgorithm?: TestKeyAlgorithm;
  alias?: string;
  tags?: ReadonlyArray<{ TagKey: string; TagValue: string }>;
}

export interface IssueOptions {
  /** Default: now minus a minute. */
  notBefore?: Date;
  /** Default: `notBefore` plus `validDays`. */
  notAfter?: Date;
  /** Default 90. */
  validDays?: number;
  /**
   * `full` (default): `CertificatePublicKey` holds the leaf and the intermediate. `leaf-only`: just
   * the leaf, the form the reference leaves open and the client must report.
   */
  chain?: 'full' | 'leaf-only';
  /** Tencent's PEMs sometimes come with `\r\n`. Default `\n`. */
  lineEnding?: '\n' | '\r\n';
  /** What DownloadCertificate answers for this certificate. */
  archive?: {
    /** Default `server-folders`. */
    layout?: ArchiveLayout;
    /** False: the archive lacks the intermediates too (a chain nothing can complete). Default true. */
    intermediates?: boolean;
  };
}

export type AddIssuedInput = Omit<AddPendingInput, 'status' | 'statusMsg' | 'dvAuthDeadline'> & IssueOptions;

/** A free certificate applied for through ApplyCertificate (checked by the server beforehand). */
export interface ApplyInput {
  /** The one name; free certificates have no others. */
  domain: string;
  /** `DvAuthMethod`: DNS_AUTO orders show status 4, the others 0, as Tencent lists them. */
  dvAuthMethod: 'DNS' | 'DNS_AUTO' | 'FILE';
  alias?: string;
  /** The certificate this order renews: the two are linked as Tencent links them. */
  oldCertificateId?: string;
  /** `CsrEncryptAlgo`. Default RSA, Tencent's default. */
  encryptAlgorithm?: 'RSA' | 'ECC';
}

export interface CertificateStoreOptions {
  /** Seed of the generator for ids and validation values. Default fixed, so runs are repeatable. */
  seed?: number;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Key type of generated keys and of the test CA. Default `ec-p256`. */
  keyAlgorithm?: TestKeyAlgorithm;
  /** Where issued certificates come from. Default: the cached `createTestPki`. */
  pki?: () => Promise<TestPki>;
}

const TENCENT_FIXTURES = {
  'describe-certificate-detail-pending': pendingFixture,
  'describe-certificate-detail-approved': approvedFixture,
} as const;

export type TencentFixtureName = keyof typeof TENCENT_FIXTURES;

/** A fresh copy of a recorded response (`{ Response: {...} }`), safe to mutate. */
export function loadTencentFixture(name: TencentFixtureName): { Response: Record<string, unknown> } {
  return structuredClone(TENCENT_FIXTURES[name]) as { Response: Record<string, unknown> };
}

const PRODUCTS = {
  single: { packageType: '83', name: 'TrustAsia C1 DV Free', validityMonths: '3', isVip: false },
  wildcard: {
    packageType: '49',
    name: 'DNSPod - domain name-based (DV) wildcard SSL certificate',
    validityMonths: '12',
    isVip: true,
  },
  multi: {
    packageType: '50',
    name: 'DNSPod - domain name-based (DV) multiple domain names SSL certificate',
    validityMonths: '12',
    isVip: true,
  },
} as const;

const stripWildcard = (domain: string): string => (domain.startsWith('*.') ? domain.slice(2) : domain);

const isPem = (value: unknown): value is string => typeof value === 'string' && value.includes('-----BEGIN ');

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The CERTIFICATE blocks of a PEM text, `\n` line endings, each ending in `\n`. */
function certificateBlocks(text: string): string[] {
  return [...text.replace(/\r\n?/g, '\n').matchAll(CERTIFICATE_BLOCK)].map((match) => `${match[0]}\n`);
}

/** In-memory certificates of one Tencent account. Reads return copies; writes go through methods. */
export class CertificateStore {
  readonly #records = new Map<string, StoredCertificate>();
  /** Per issued certificate: the intermediates it was signed with, and the archive's layout. */
  readonly #archives = new Map<string, { chainPem: string; layout: ArchiveLayout }>();
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #keyAlgorithm: TestKeyAlgorithm;
  readonly #pki: () => Promise<TestPki>;

  constructor(options: CertificateStoreOptions = {}) {
    this.#random = seededRandom(options.seed ?? 0x5e1_2019);
    this.#now = options.now ?? Date.now;
    this.#keyAlgorithm = options.keyAlgorithm ?? 'ec-p256';
    this.#pki = options.pki ?? (() => createTestPki({ keyAlgorithm: this.#keyAlgorithm }));
  }

  get size(): number {
    return this.#records.size;
  }

  has(id: string): boolean {
    return this.#records.has(id);
  }

  get(id: string): StoredCertificate | undefined {
    const record = this.#records.get(id);
    return record ? structuredClone(record) : undefined;
  }

  /** Copies of every certificate, oldest first. */
  list(): StoredCertificate[] {
    return [...this.#records.values()].map((record) => structuredClone(record));
  }

  ids(): string[] {
    return [...this.#records.keys()];
  }

  delete(id: string): boolean {
    this.#archives.delete(id);
    return this.#records.delete(id);
  }

  clear(): void {
    this.#records.clear();
    this.#archives.clear();
  }

  /**
   * Stores any object as is, malformed ones included. The key is `id`, else the object's
   * `CertificateId` when it is a string, else a generated one. Returns the key.
   */
  add(raw: Record<string, unknown>, id?: string): string {
    const key = id ?? (typeof raw.CertificateId === 'string' ? raw.CertificateId : this.#newId());
    this.#records.set(key, structuredClone(raw));
    return key;
  }

  /** Stores a recorded DescribeCertificateDetail response (without its RequestId). Returns the id. */
  addFixture(name: TencentFixtureName, overrides: Record<string, unknown> = {}): string {
    const { RequestId: _requestId, ...detail } = loadTencentFixture(name).Response;
    const record = { ...detail, ...overrides };
    return this.add(
      record,
      typeof overrides.CertificateId === 'string' ? overrides.CertificateId : undefined,
    );
  }

  /** A certificate ordered and waiting for domain validation, with realistic validation records. */
  addPending(input: AddPendingInput): StoredCertificate {
    const id = input.id ?? this.#newId();
    const now = this.#now();
    const insertTime = input.insertTime ?? new Date(now);
    const altNames = [...new Set(input.altNames ?? [])].filter((name) => name !== input.domain);
    const names = [input.domain, ...altNames];
    const status = input.status ?? 4;
    const keyAlgorithm = input.keyAlgorithm ?? this.#keyAlgorithm;
    const privateKeyPem =
      input.privateKeyPem === undefined ? generateLeafKeyPem(keyAlgorithm) : input.privateKeyPem;
    const dvAuths = names.map((name, index) =>
      this.#dvAuth(name, this.#verifyTypeFor(input.verifyType, name, index), insertTime),
    );
    const first = dvAuths[0] as DvAuth;
    const isWildcard = names.some((name) => name.startsWith('*.'));
    const product = names.length > 1 ? PRODUCTS.multi : isWildcard ? PRODUCTS.wildcard : PRODUCTS.single;

    const record: StoredCertificate = {
      OwnerUin: '100000000001',
      ProjectId: '0',
      From: 'trustasia',
      OrderId: this.#pick(ID_ALPHABET, 12),
      CertificateType: 'SVR',
      PackageType: product.packageType,
      ProductZhName: product.name,
      Domain: input.domain,
      Alias: input.alias ?? '',
      Status: status,
      StatusMsg: input.statusMsg === undefined ? 'PENDING-DCV' : input.statusMsg,
      VulnerabilityStatus: 'INACTIVE',
      RootCert: { Sign: null, Encrypt: null, Standard: null },
      EncryptCert: null,
      EncryptPrivateKey: null,
      CertificatePrivateKey: privateKeyPem,
      CertificatePublicKey: null,
      CertBeginTime: null,
      CertEndTime: null,
      ValidityPeriod: product.validityMonths,
      InsertTime: formatTencentTime(insertTime),
      VulnerabilityReport: null,
      CertificateId: id,
      TypeName: product.name,
      StatusName: TENCENT_STATUS_NAMES[status] ?? null,
      CertificateExtra: {
        SMCert: 0,
        ReplacedBy: null,
        OriginCertificateId: null,
        ReplacedFor: null,
        RenewOrder: null,
        DomainNumber: String(names.length),
        CompanyType: 2,
      },
      DvAuthDetail: {
        DvAuths: dvAuths,
        DvAuthKey: first.DvAuthKey,
        DvAuthValue: first.DvAuthValue,
        DvAuthDomain: first.DvAuthDomain,
        DvAuthPath: first.DvAuthPath,
        DvAuthKeySubDomain: first.DvAuthSubDomain,
      } satisfies DvAuthDetail,
      VerifyType: input.orderVerifyType ?? 'DNS_AUTO',
      DvRevokeAuthDetail: [],
      SubjectAltName: altNames,
      IsVip: product.isVip,
      IsWildcard: isWildcard,
      IsDv: true,
      IsVulnerability: false,
      SubmittedData: null,
      RenewAble: false,
      Deployable: false,
      Tags: [...(input.tags ?? [])],
      CertFingerprint: null,
      EncryptCertFingerprint: null,
      EncryptAlgorithm: keyAlgorithm === 'rsa-2048' ? 'RSA 2048' : 'ECC 256',
      CertChainInfo: null,
      DomainType: 1,
      CertType: 'DV',
      // Fields only DescribeCertificates shows. "--" is how Tencent writes an unset time there.
      DVAuthDeadline: formatTencentTime(input.dvAuthDeadline ?? new Date(insertTime.getTime() + 3 * DAY_MS)),
      IsDNSPODResolve: input.isDnsPodResolve ?? false,
      ValidationPassedTime: '--',
      AwaitingValidationMsg: '',
      AllowDownload: false,
    };
    this.#records.set(id, record);
    return structuredClone(record);
  }

  /**
   * What ApplyCertificate makes: a pending free DV order (TrustAsia C1 DV Free) for one name,
   * validated by CNAME (or FILE), with the key Tencent generates at order time. A renewal records
   * the old certificate in the new order's `CertificateExtra.OriginCertificateId` and the new
   * order in the old one's `CertificateExtra.RenewOrder` and `HasRenewOrder` (the SDK model's
   * "续费原证书 ID" and "续费证书 ID"; `ReplacedBy`/`ReplacedFor` are for reissues).
   */
  apply(input: ApplyInput): StoredCertificate {
    const order = this.addPending({
      domain: input.domain,
      verifyType: input.dvAuthMethod === 'FILE' ? 'FILE' : 'CNAME',
      status: input.dvAuthMethod === 'DNS_AUTO' ? 4 : 0,
      orderVerifyType: input.dvAuthMethod,
      keyAlgorithm: input.encryptAlgorithm === 'ECC' ? 'ec-p256' : 'rsa-2048',
      ...(input.alias ? { alias: input.alias } : {}),
    });
    const id = order.CertificateId as string;
    const old = input.oldCertificateId ? this.#records.get(input.oldCertificateId) : undefined;
    if (!old) return order;
    const extra = (record: StoredCertificate): Record<string, unknown> =>
      typeof record.CertificateExtra === 'object' && record.CertificateExtra !== null
        ? (record.CertificateExtra as Record<string, unknown>)
        : {};
    old.CertificateExtra = { ...extra(old), RenewOrder: id };
    old.HasRenewOrder = id;
    const created = this.#require(id);
    created.CertificateExtra = { ...extra(created), OriginCertificateId: input.oldCertificateId };
    return structuredClone(created);
  }

  /** A certificate that is already issued: ordered, then issued with real PEMs from the test CA. */
  async addIssued(input: AddIssuedInput): Promise<StoredCertificate> {
    const { notBefore, notAfter, validDays, chain, lineEnding, archive, ...order } = input;
    const pending = this.addPending(order);
    return this.issue(pending.CertificateId as string, {
      notBefore,
      notAfter,
      validDays,
      chain,
      lineEnding,
      archive,
    });
  }

  /**
   * Plays the CA: signs a leaf for `Domain` and `SubjectAltName` with the key from order time
   * (a fresh one when the stored key is not a PEM, as with the masked fixtures), sets status 1 and
   * nulls every validation field, as Tencent does once a certificate is issued.
   */
  async issue(id: string, options: IssueOptions = {}): Promise<StoredCertificate> {
    const before = this.#require(id);
    const domain = before.Domain;
    if (typeof domain !== 'string' || domain === '') {
      throw new TypeError(`certificate ${id} has no Domain to issue for`);
    }
    const altNames = Array.isArray(before.SubjectAltName)
      ? before.SubjectAltName.filter((name): name is string => typeof name === 'string')
      : [];
    const storedKey = before.CertificatePrivateKey;
    const pki = await this.#pki();
    const notBefore = options.notBefore ?? new Date(this.#now() - 60_000);
    const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (options.validDays ?? 90) * DAY_MS);
    const leaf = await pki.issueLeaf({
      commonName: domain,
      altNames,
      notBefore,
      notAfter,
      ...(isPem(storedKey) ? { privateKeyPem: storedKey } : {}),
    });
    const eol = options.lineEnding ?? '\n';
    const withEol = (pem: string): string => (eol === '\n' ? pem : pem.replace(/\r?\n/g, '\r\n'));
    const publicKey = options.chain === 'leaf-only' ? leaf.certificatePem : leaf.fullchainPem;

    // Re-read: the record may have changed while the leaf was being signed.
    const current = this.#require(id);
    const issued: StoredCertificate = {
      ...current,
      Status: 1,
      StatusMsg: null,
      StatusName: TENCENT_STATUS_NAMES[1],
      CertBeginTime: formatTencentTime(leaf.notBefore),
      CertEndTime: formatTencentTime(leaf.notAfter),
      // A pasted CSR leaves Tencent without the key even after issuance.
      CertificatePrivateKey: storedKey === null ? null : withEol(leaf.privateKeyPem),
      CertificatePublicKey: withEol(publicKey),
      CertFingerprint: leaf.fingerprintSha1,
      DvAuthDetail: {
        DvAuthKey: null,
        DvAuthValue: null,
        DvAuthDomain: null,
        DvAuthPath: null,
        // As documented for an issued certificate: an empty string where the rest is null.
        DvAuthKeySubDomain: '',
        DvAuths: null,
      } satisfies DvAuthDetail,
      Deployable: true,
      RenewAble: false,
      // Tencent's documented issued certificates still show "--" here.
      ValidationPassedTime: '--',
      AllowDownload: true,
    };
    this.#records.set(id, issued);
    this.#archives.set(id, {
      chainPem: options.archive?.intermediates === false ? '' : leaf.chainPem,
      layout: options.archive?.layout ?? 'server-folders',
    });
    return structuredClone(issued);
  }

  /**
   * What DownloadCertificate zips for a certificate: its current leaf and key, with the
   * intermediates of `CertificatePublicKey`, or those it was issued with when that holds the leaf
   * alone. Undefined when the certificate has no PEM certificate.
   */
  archiveMaterial(id: string): ArchiveMaterial | undefined {
    const record = this.#require(id);
    const publicKey = record.CertificatePublicKey;
    const [leaf, ...rest] = isPem(publicKey) ? certificateBlocks(publicKey) : [];
    if (leaf === undefined || typeof record.Domain !== 'string') return undefined;
    const stored = this.#archives.get(id);
    const privateKey = record.CertificatePrivateKey;
    return {
      domain: record.Domain,
      certificatePem: leaf,
      chainPem: rest.length > 0 ? rest.join('') : (stored?.chainPem ?? ''),
      privateKeyPem: isPem(privateKey) ? privateKey.replace(/\r\n?/g, '\n') : null,
      layout: stored?.layout ?? 'server-folders',
    };
  }

  /** Sets `Status` and the matching `StatusName`; `StatusMsg` too when given. */
  setStatus(id: string, status: number, statusMsg?: string | null): StoredCertificate {
    const record = this.#require(id);
    record.Status = status;
    record.StatusName = TENCENT_STATUS_NAMES[status] ?? null;
    if (statusMsg !== undefined) record.StatusMsg = statusMsg;
    return structuredClone(record);
  }

  /** Shallow merge of arbitrary fields. */
  update(id: string, patch: Record<string, unknown>): StoredCertificate {
    const record = this.#require(id);
    Object.assign(record, structuredClone(patch));
    return structuredClone(record);
  }

  #require(id: string): StoredCertificate {
    const record = this.#records.get(id);
    if (!record) throw new CertificateNotInStoreError(id);
    return record;
  }

  #pick(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i += 1) out += alphabet[Math.floor(this.#random() * alphabet.length)];
    return out;
  }

  // Tencent ids look like `K33dxkOk`: eight letters and digits.
  #newId(): string {
    for (;;) {
      const id = this.#pick(ID_ALPHABET, 8);
      if (!this.#records.has(id)) return id;
    }
  }

  #verifyTypeFor(choice: VerifyTypeChoice | undefined, name: string, index: number): DvAuthVerifyType {
    if (choice === undefined) return 'CNAME';
    if (choice === 'mixed') return index % 2 === 0 ? 'CNAME' : 'TXT';
    if (typeof choice === 'string') return choice;
    return choice[name] ?? 'CNAME';
  }

  #dvAuth(name: string, type: DvAuthVerifyType, insertTime: Date): DvAuth {
    const domain = stripWildcard(name).toLowerCase();
    switch (type) {
      case 'CNAME': {
        const label = `_${this.#pick(HEX, 32)}`;
        return {
          DvAuthKey: `${label}.${domain}`,
          DvAuthValue: `${this.#pick(HEX, 32)}.${this.#pick(HEX, 32)}.${this.#pick(LOWER_ALNUM, 14)}.trust-provider.com`,
          DvAuthDomain: domain,
          // The documented CNAME validations carry "" here, not null.
          DvAuthPath: '',
          DvAuthSubDomain: label,
          DvAuthVerifyType: 'CNAME',
        };
      }
      case 'TXT': {
        // A date-and-zeros prefix followed by random text, like the values Tencent shows.
        const prefix = formatTencentTime(insertTime).slice(0, 10).replaceAll('-', '');
        return {
          DvAuthKey: '_dnsauth',
          DvAuthValue: `${prefix}000000${this.#pick(LOWER_ALNUM, 50)}`,
          DvAuthDomain: domain,
          DvAuthPath: '',
          DvAuthSubDomain: '_dnsauth',
          DvAuthVerifyType: 'TXT',
        };
      }
      case 'FILE':
        return {
          DvAuthKey: `${this.#pick(HEX, 32)}.txt`,
          DvAuthValue: this.#pick(LOWER_ALNUM, 64),
          DvAuthDomain: domain,
          DvAuthPath: '/.well-known/pki-validation/',
          DvAuthSubDomain: null,
          DvAuthVerifyType: 'FILE',
        };
    }
  }
}
