import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  randomBytes,
  webcrypto,
} from 'node:crypto';
import { promisify } from 'node:util';
import type * as X509 from '@peculiar/x509';

/** Key types the test CA can use. EC P-256 is the default because RSA key generation is ~100x slower. */
export type TestKeyAlgorithm = 'ec-p256' | 'rsa-2048';

export interface TestPkiOptions {
  /** Key type of the root and the intermediate (and the default for leaves). Default `ec-p256`. */
  keyAlgorithm?: TestKeyAlgorithm;
  /** Build a new CA instead of reusing the cached one for this key type. */
  fresh?: boolean;
}

interface IssueLeafInput {
  commonName: string;
  /** Further DNS names; the common name is always included in the SAN extension as well. */
  altNames?: readonly string[];
  /** Default: one hour ago, so a freshly issued leaf is valid despite small clock differences. */
  notBefore?: Date;
  /** Default: 90 days after `notBefore`, like the free DV certificates Tencent resells. */
  notAfter?: Date;
  /** Default: the CA's key type. Ignored when `privateKeyPem` is given. */
  keyAlgorithm?: TestKeyAlgorithm;
  /** Reuse an existing PKCS#8 key (Tencent generates the key at order time, before issuance). */
  privateKeyPem?: string;
}

export interface IssuedLeaf {
  /** The leaf certificate only. */
  certificatePem: string;
  /** The intermediate that signed the leaf (the root is not part of a served chain). */
  chainPem: string;
  /** PKCS#8 (`-----BEGIN PRIVATE KEY-----`). */
  privateKeyPem: string;
  /** Leaf followed by the intermediate. */
  fullchainPem: string;
  /** Lower-case hex. */
  serialNumber: string;
  /** SHA-1 of the leaf's DER, lower-case hex, the form of Tencent's `CertFingerprint`. */
  fingerprintSha1: string;
  notBefore: Date;
  notAfter: Date;
}

export interface TestPki {
  keyAlgorithm: TestKeyAlgorithm;
  rootPem: string;
  intermediatePem: string;
  issueLeaf(input: IssueLeafInput): Promise<IssuedLeaf>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const generateKeyPairAsync = promisify(generateKeyPair);

type X509Module = typeof X509;
let x509Module: Promise<X509Module> | undefined;

/**
 * @peculiar/x509 resolves its algorithms through tsyringe, which refuses to load without a
 * `Reflect.getMetadata` polyfill. It only stores and reads constructor metadata, so a WeakMap is
 * enough; a real polyfill loaded later (reflect-metadata) replaces this one without conflict.
 */
function installReflectMetadata(): void {
  const reflect = Reflect as unknown as Record<string, unknown>;
  if (typeof reflect.getMetadata === 'function') return;
  const store = new WeakMap<object, Map<unknown, unknown>>();
  const own = (target: object, key: unknown): unknown => store.get(target)?.get(key);
  reflect.defineMetadata = (key: unknown, value: unknown, target: object): void => {
    let map = store.get(target);
    if (!map) {
      map = new Map();
      store.set(target, map);
    }
    map.set(key, value);
  };
  reflect.getOwnMetadata = own;
  reflect.hasOwnMetadata = (key: unknown, target: object): boolean => store.get(target)?.has(key) ?? false;
  const inherited = (key: unknown, target: object): unknown => {
    for (let current: object | null = target; current; current = Object.getPrototypeOf(current)) {
      const map = store.get(current);
      if (map?.has(key)) return map.get(key);
    }
    return undefined;
  };
  reflect.getMetadata = inherited;
  reflect.hasMetadata = (key: unknown, target: object): boolean => inherited(key, target) !== undefined;
}

// Loaded lazily so the polyfill is in place first, and so the API server starts without it.
function loadX509(): Promise<X509Module> {
  if (!x509Module) {
    installReflectMetadata();
    x509Module = import('@peculiar/x509').then((module) => {
      module.cryptoProvider.set(webcrypto as unknown as Parameters<typeof module.cryptoProvider.set>[0]);
      return module;
    });
  }
  return x509Module;
}

const subtle = webcrypto.subtle;

function webcryptoAlgorithms(keyAlgorithm: TestKeyAlgorithm) {
  return keyAlgorithm === 'rsa-2048'
    ? {
        generate: {
          name: 'RSASSA-PKCS1-v1_5',
          hash: 'SHA-256',
          publicExponent: new Uint8Array([1, 0, 1]),
          modulusLength: 2048,
        },
        signing: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      }
    : {
        generate: { name: 'ECDSA', namedCurve: 'P-256' },
        signing: { name: 'ECDSA', hash: 'SHA-256' },
      };
}

/** A PKCS#8 PEM key for a leaf, generated synchronously (fast for EC; RSA takes ~100 ms). */
export function generateLeafKeyPem(keyAlgorithm: TestKeyAlgorithm = 'ec-p256'): string {
  const { privateKey } =
    keyAlgorithm === 'rsa-2048'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

async function generateLeafKeyPemAsync(keyAlgorithm: TestKeyAlgorithm): Promise<string> {
  const { privateKey } =
    keyAlgorithm === 'rsa-2048'
      ? await generateKeyPairAsync('rsa', { modulusLength: 2048 })
      : await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

// Positive (high bit clear) and never zero-led, as RFC 5280 wants for serial numbers.
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x10;
  return bytes.toString('hex');
}

const toPem = (pem: string): string => (pem.endsWith('\n') ? pem : `${pem}\n`);

async function buildPki(keyAlgorithm: TestKeyAlgorithm): Promise<TestPki> {
  const x509 = await loadX509();
  const algorithms = webcryptoAlgorithms(keyAlgorithm);
  const now = Date.now();
  // The CA's validity starts ten years back: tests on a fixed clock in the past still see a chain
  // whose every certificate is valid, as export checks the intermediate's dates too.
  const caNotBefore = new Date(now - 3650 * DAY_MS);

  const rootKeys = (await subtle.generateKey(algorithms.generate, false, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: 'CN=tencent-ssl-sync Local Test Root CA, O=tencent-ssl-sync, C=CN',
    notBefore: caNotBefore,
    notAfter: new Date(now + 3650 * DAY_MS),
    signingAlgorithm: algorithms.signing,
    keys: rootKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });

  const intermediateKeys = (await subtle.generateKey(algorithms.generate, false, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const intermediate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: 'CN=tencent-ssl-sync Local Test DV CA G1, O=tencent-ssl-sync, C=CN',
    issuer: root.subject,
    notBefore: caNotBefore,
    notAfter: new Date(now + 1825 * DAY_MS),
    signingAlgorithm: algorithms.signing,
    publicKey: intermediateKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(intermediateKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });

  const rootPem = toPem(root.toString('pem'));
  const intermediatePem = toPem(intermediate.toString('pem'));

  async function issueLeaf(input: IssueLeafInput): Promise<IssuedLeaf> {
    const privateKeyPem =
      input.privateKeyPem ?? (await generateLeafKeyPemAsync(input.keyAlgorithm ?? keyAlgorithm));
    const leafPrivateKey = createPrivateKey(privateKeyPem);
    const spki = createPublicKey(leafPrivateKey).export({ type: 'spki', format: 'der' });
    const isRsaLeaf = leafPrivateKey.asymmetricKeyType === 'rsa';

    const notBefore = input.notBefore ?? new Date(Date.now() - HOUR_MS);
    const notAfter = input.notAfter ?? new Date(notBefore.getTime() + 90 * DAY_MS);
    const names = [...new Set([input.commonName, ...(input.altNames ?? [])])];
    const serialNumber = randomSerial();

    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: [{ CN: [input.commonName] }],
      issuer: intermediate.subject,
      notBefore,
      notAfter,
      signingAlgorithm: algorithms.signing,
      publicKey: new Uint8Array(spki),
      signingKey: intermediateKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          isRsaLeaf
            ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
            : x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
        await x509.SubjectKeyIdentifierExtension.create(new Uint8Array(spki)),
        await x509.AuthorityKeyIdentifierExtension.create(intermediateKeys.publicKey),
      ],
    });

    const certificatePem = toPem(leaf.toString('pem'));
    return {
      certificatePem,
      chainPem: intermediatePem,
      privateKeyPem: toPem(privateKeyPem),
      fullchainPem: certificatePem + intermediatePem,
      serialNumber,
      fingerprintSha1: createHash('sha1').update(new Uint8Array(leaf.rawData)).digest('hex'),
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
    };
  }

  return { keyAlgorithm, rootPem, intermediatePem, issueLeaf };
}

const cache = new Map<TestKeyAlgorithm, Promise<TestPki>>();

/**
 * A root CA and an intermediate for issuing leaf certificates in tests. Cached per key type: CA
 * keys are the slow part and nothing depends on them being distinct between tests.
 */
export function createTestPki(options: TestPkiOptions = {}): Promise<TestPki> {
  const keyAlgorithm = options.keyAlgorithm ?? 'ec-p256';
  if (options.fresh) return buildPki(keyAlgorithm);
  let pki = cache.get(keyAlgorithm);
  if (!pki) {
    pki = buildPki(keyAlgorithm);
    // A failed build must not poison every later caller.
    pki.catch(() => cache.delete(keyAlgorithm));
    cache.set(keyAlgorithm, pki);
  }
  return pki;
}
