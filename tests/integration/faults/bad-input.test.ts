/**
 * Hostile and broken input: certificates whose Tencent payloads are malformed (stored raw through
 * `store.add`, so the local server answers them as they are) and webhook calls that are not what
 * the contract allows. Every one must be refused or reported, never thrown out of the run and
 * never written: the zone holds only what the good certificates ask for.
 */
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CertificateStore, type StoredCertificate } from '../../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../../infra/local/tencent-server.js';
import { loadConfig } from '../../../lib/config.js';
import { type BaseDeps, createBaseDeps } from '../../../lib/deps/base.js';
import { createWebhookDeps } from '../../../lib/deps/webhook.js';
import type { RecordAction } from '../../../lib/route53/types.js';
import type { CertificateOutcome, CertificateReport, SyncReport } from '../../../lib/sync-types.js';
import {
  handleWebhook,
  MAX_BODY_BYTES,
  type WebhookDeps,
  type WebhookRequest,
  webhookSignature,
} from '../../../lib/webhook.js';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.js';
import { type MotoServer, motoEnv, startMoto } from '../../helpers/moto.js';
import {
  createZones,
  strayRecords,
  syncOnce,
  validationRecordSets,
  type WantedRecord,
  wantedRecords,
  type ZoneRecordSet,
} from '../../helpers/sync-harness.js';

const CREDENTIALS = {
  secretId: 'AKIDbadinput00000000000000000000',
  secretKey: 'bad-input-secret-key-00000000000',
};
const WEBHOOK_KEY = 'whk_bad_input_9f8e7d6c5b4a39281706f5e4d3c2b1a0';

let moto: MotoServer;
let proxy: FaultProxy;
let tencent: LocalTencentServer;
let route53: Route53Client;
let zoneId: string;
let env: Record<string, string>;
const store = new CertificateStore({ seed: 1313 });

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint });
  Object.assign(process.env, motoEnv(proxy.endpoint));
  route53 = new Route53Client({ endpoint: moto.endpoint });
  zoneId = (await createZones(route53, ['example.com']))['example.com'] as string;
  tencent = await startTencentServer({ credentials: [CREDENTIALS], store });
  env = {
    ...motoEnv(proxy.endpoint),
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    ALLOWED_DOMAINS: 'example.com',
    WEBHOOK_SECRET: WEBHOOK_KEY,
    WAIT_FOR_INSYNC: 'false',
    LOG_LEVEL: 'error',
  };
}, 60_000);

afterAll(async () => {
  route53?.destroy();
  await tencent?.close();
  await proxy?.close();
  await moto?.stop();
});

const zoneSets = (): Promise<ZoneRecordSet[]> => validationRecordSets(route53, [zoneId]);

// ---------------------------------------------------------------------------------------------
// Malformed certificates

type Raw = Record<string, unknown>;

/** Changes a freshly ordered certificate (`domain` is its own name) into a malformed one. */
type Mutation = (record: Raw, domain: string) => void;

const detailOf = (record: Raw): Raw => record.DvAuthDetail as Raw;
const firstAuth = (record: Raw): Raw => (detailOf(record).DvAuths as Raw[])[0] as Raw;
const withAuth =
  (fields: (auth: Raw, domain: string) => Raw): Mutation =>
  (record, domain) => {
    const auth = firstAuth(record);
    Object.assign(auth, fields(auth, domain));
  };
const TXT = { DvAuthVerifyType: 'TXT', DvAuthKey: '_dnsauth', DvAuthSubDomain: '_dnsauth' };
const LONG = 'a'.repeat(10_000);

interface BadCertificate {
  /** Where the certificate is ordered; default `bad<n>.example.com`. */
  base?: string;
  mutate: Mutation;
  outcome: CertificateOutcome;
  /** The action its record gets when the certificate is read and planned. */
  action?: RecordAction;
}

/** Malformations inside what DescribeCertificate returns: each must cost only its own certificate. */
const IN_VALIDATION_DATA: Array<[string, BadCertificate]> = [
  [
    'a DvAuths item with every field null',
    {
      mutate: withAuth((auth) => Object.fromEntries(Object.keys(auth).map((key) => [key, null]))),
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'a null DvAuthDetail while pending',
    {
      mutate: (record) => Object.assign(record, { DvAuthDetail: null }),
      outcome: 'blocked',
      action: 'skipped',
    },
  ],
  [
    'a DvAuthDetail without DvAuths or a top-level record',
    {
      mutate: (record) =>
        Object.assign(record, {
          DvAuthDetail: { DvAuthKey: null, DvAuthValue: null, DvAuthDomain: null, DvAuthPath: null },
        }),
      outcome: 'blocked',
      action: 'skipped',
    },
  ],
  [
    'DvAuths that is not an array',
    {
      mutate: (record) => Object.assign(detailOf(record), { DvAuths: '_abc CNAME x.example.net' }),
      outcome: 'failed',
    },
  ],
  [
    'DvAuths items that are numbers',
    { mutate: (record) => Object.assign(detailOf(record), { DvAuths: [42] }), outcome: 'failed' },
  ],
  ['a DvAuthValue that is a number', { mutate: withAuth(() => ({ DvAuthValue: 12345 })), outcome: 'failed' }],
  [
    'a DvAuthVerifyType that is an object',
    { mutate: withAuth(() => ({ DvAuthVerifyType: { type: 'CNAME' } })), outcome: 'failed' },
  ],
  [
    'a DvAuthKey of 10 000 characters',
    {
      mutate: withAuth((_auth, domain) => ({ DvAuthKey: `_${LONG}.${domain}` })),
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'a CNAME target of 10 000 characters',
    {
      mutate: withAuth(() => ({ DvAuthValue: `${LONG}.trust-provider.com` })),
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'a TXT value of 10 000 characters',
    { mutate: withAuth(() => ({ ...TXT, DvAuthValue: LONG })), outcome: 'blocked', action: 'refused' },
  ],
  [
    'a Domain of 10 000 characters',
    {
      mutate: (record) => Object.assign(record, { Domain: `${LONG}.example.com` }),
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'a name with an empty label',
    {
      mutate: withAuth((auth, domain) => ({ DvAuthKey: `${auth.DvAuthSubDomain}..${domain}` })),
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'a unicode name',
    {
      base: 'bücher.example.com',
      mutate: () => {},
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'a masked DvAuthDomain',
    {
      mutate: withAuth((auth, domain) => ({
        DvAuthKey: auth.DvAuthSubDomain,
        DvAuthDomain: domain.replace(/^bad/, 'b****'),
      })),
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'the masked ni****ang.online of the documentation',
    {
      base: 'ninghhuang.online',
      mutate: (record) => {
        Object.assign(record, { Domain: 'ni****ang.online' });
        Object.assign(firstAuth(record), {
          DvAuthDomain: 'ni****ang.online',
          DvAuthKey: '_875bed25cf9e03596931d91cb0a52bd9',
        });
      },
      // ninghhuang.online is not in this suite's ALLOWED_DOMAINS: left alone, its record refused all the same.
      outcome: 'outside-allow-list',
      action: 'refused',
    },
  ],
  [
    "a DvAuthKey outside the certificate's domains",
    {
      mutate: withAuth((auth) => ({
        DvAuthKey: `${auth.DvAuthSubDomain}.admin.example.com`,
        DvAuthDomain: 'admin.example.com',
      })),
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'a record name without a leading underscore (the site itself)',
    {
      mutate: withAuth((_auth, domain) => ({ DvAuthKey: domain, DvAuthSubDomain: null })),
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'a CNAME target that is not a host name',
    { mutate: withAuth(() => ({ DvAuthValue: 'not a host name!' })), outcome: 'blocked', action: 'refused' },
  ],
  [
    'a CNAME that points at itself',
    { mutate: withAuth((auth) => ({ DvAuthValue: auth.DvAuthKey })), outcome: 'blocked', action: 'refused' },
  ],
  [
    'a TXT value with a control character',
    {
      mutate: withAuth(() => ({ ...TXT, DvAuthValue: 'token\u0007bell' })),
      outcome: 'blocked',
      action: 'refused',
    },
  ],
  [
    'an unknown DvAuthVerifyType',
    { mutate: withAuth(() => ({ DvAuthVerifyType: 'A' })), outcome: 'blocked', action: 'refused' },
  ],
  [
    'FILE validation',
    {
      mutate: withAuth(() => ({
        DvAuthVerifyType: 'FILE',
        DvAuthKey: '3f2a.txt',
        DvAuthPath: '/.well-known/pki-validation/',
        DvAuthSubDomain: null,
      })),
      outcome: 'blocked',
      action: 'skipped',
    },
  ],
  [
    'a name outside ALLOWED_DOMAINS',
    { base: 'www.example.org', mutate: () => {}, outcome: 'outside-allow-list', action: 'refused' },
  ],
  [
    'every field null but the id',
    {
      mutate: (record) => {
        for (const key of Object.keys(record)) if (key !== 'CertificateId') record[key] = null;
      },
      outcome: 'ignored',
    },
  ],
];

/** Odd spellings of valid names: the reference says to lower-case and drop the trailing dot. */
const ODD_BUT_VALID: Array<[string, Mutation]> = [
  [
    'upper-case names',
    withAuth((auth) => ({
      DvAuthKey: String(auth.DvAuthKey).toUpperCase(),
      DvAuthDomain: String(auth.DvAuthDomain).toUpperCase(),
      DvAuthValue: String(auth.DvAuthValue).toUpperCase(),
    })),
  ],
  [
    'trailing dots',
    withAuth((auth) => ({
      DvAuthKey: `${auth.DvAuthKey}.`,
      DvAuthDomain: `${auth.DvAuthDomain}.`,
      DvAuthValue: `${auth.DvAuthValue}.`,
    })),
  ],
];

/** Malformations in fields DescribeCertificates lists: one of them must not stop the others' sync. */
const IN_LISTING: Array<[string, Mutation]> = [
  ['a Status of "four"', (record) => Object.assign(record, { Status: 'four' })],
  ['a Domain that is a number', (record) => Object.assign(record, { Domain: 42 })],
  [
    'a SubjectAltName that is a string',
    (record, domain) => Object.assign(record, { SubjectAltName: domain }),
  ],
];

/**
 * Oddities in fields the tool does not act on, or times it reads as "not set": the certificate is
 * synced as usual (Tencent's own documented answers carry such values).
 */
const TOLERATED_IN_LISTING: Array<[string, Mutation]> = [
  ['an InsertTime that is not a time', (record) => Object.assign(record, { InsertTime: 'last tuesday' })],
  ['a DVAuthDeadline of "--"', (record) => Object.assign(record, { DVAuthDeadline: '--' })],
  ['an unreadable CertEndTime', (record) => Object.assign(record, { CertEndTime: '2024-11-06 08:00:0' })],
  ['a ProjectId that is an object', (record) => Object.assign(record, { ProjectId: { masked: '0' } })],
];

let counter = 0;

/** Orders a certificate, breaks it with `mutate` and stores it raw; returns its id. */
function addBroken(mutate: Mutation, base?: string): string {
  counter += 1;
  const domain = base ?? `bad${counter}.example.com`;
  const record = store.addPending({ domain }) as Raw;
  mutate(record, domain);
  return store.add(record);
}

const reportOf = (report: SyncReport, id: string): CertificateReport | undefined =>
  report.certificates.find((c) => c.certificateId === id);

describe('malformed certificates from Tencent', () => {
  let good: StoredCertificate;
  let wanted: WantedRecord[];
  const brokenIds = new Map<string, string>();
  const oddIds = new Map<string, string>();
  const listingIds = new Map<string, string>();
  const toleratedIds = new Map<string, string>();

  beforeAll(() => {
    good = store.addPending({ domain: 'good.example.com', altNames: ['www.good.example.com'] });
    for (const [label, row] of IN_VALIDATION_DATA) brokenIds.set(label, addBroken(row.mutate, row.base));
    for (const [label, mutate] of ODD_BUT_VALID) oddIds.set(label, addBroken(mutate));
    for (const [label, mutate] of IN_LISTING) listingIds.set(label, addBroken(mutate));
    for (const [label, mutate] of TOLERATED_IN_LISTING) toleratedIds.set(label, addBroken(mutate));
    wanted = [
      ...wantedRecords(good),
      ...[...oddIds.values(), ...toleratedIds.values()].flatMap((id) =>
        wantedRecords(store.get(id) as StoredCertificate),
      ),
    ];
  });

  describe('in the validation data', () => {
    let run: SyncReport;

    beforeAll(async () => {
      const ids = [String(good.CertificateId), ...brokenIds.values(), ...oddIds.values()];
      ({ report: run } = await syncOnce(env, { certificateIds: ids }));
    }, 60_000);

    it.each(IN_VALIDATION_DATA)('reports %s without writing it', (label, row) => {
      const report = reportOf(run, brokenIds.get(label) as string);
      expect(report?.outcome).toBe(row.outcome);
      if (row.outcome === 'failed') expect(report?.error).toEqual(expect.any(String));
      if (row.action) {
        expect(report?.records).toEqual([
          expect.objectContaining({ action: row.action, reason: expect.any(String) }),
        ]);
      }
    });

    it.each(ODD_BUT_VALID)('writes a record spelled with %s once, in its normalised form', async (label) => {
      const id = oddIds.get(label) as string;
      const [record] = wantedRecords(store.get(id) as StoredCertificate);
      expect(reportOf(run, id)?.outcome).toBe('validating');
      expect((await zoneSets()).filter((set) => set.name === record?.name)).toEqual([
        { zoneId, name: record?.name, type: 'CNAME', values: [record?.value] },
      ]);
    });

    it("writes the good certificate's records and nothing else", async () => {
      expect(reportOf(run, String(good.CertificateId))?.outcome).toBe('validating');
      const sets = await zoneSets();
      expect(strayRecords(wanted, sets)).toEqual([]);
      const tolerated = new Set(toleratedIds.values());
      const written = wanted.filter((record) => !tolerated.has(record.certificateId));
      expect(sets.map((set) => set.name).sort()).toEqual(written.map((record) => record.name).sort());
    });
  });

  describe('in the listing', () => {
    it.each(IN_LISTING)('reports a certificate with %s and still syncs the others', async (label) => {
      const id = listingIds.get(label) as string;
      const { report } = await syncOnce(env, { certificateIds: [String(good.CertificateId), id] });

      expect(reportOf(report, String(good.CertificateId))?.outcome).toBe('validating');
      expect(reportOf(report, id)?.outcome).toMatch(/^(failed|blocked|ignored)$/);
      expect(strayRecords(wanted, await zoneSets())).toEqual([]);
    });

    it.each(TOLERATED_IN_LISTING)('syncs a certificate with %s like any other', async (label) => {
      const id = toleratedIds.get(label) as string;
      const { report } = await syncOnce(env, { certificateIds: [id] });

      expect(reportOf(report, id)?.outcome).toBe('validating');
      expect(strayRecords(wanted, await zoneSets())).toEqual([]);
    });
  });

  it('completes a full run over all of them at once, reporting each and writing only what is valid', async () => {
    const { report } = await syncOnce(env);

    // A full run asks Tencent for statuses 0, 4, 11 and 1 only: a certificate whose Status is
    // garbled is not among them, so Tencent does not return it and there is nothing to report.
    const listed = (id: string) =>
      [0, 4, 11, 1].includes((store.get(id) as { Status: unknown }).Status as number);
    const notValid = [...brokenIds.values(), ...listingIds.values()].filter(listed);
    expect(notValid.length).toBeGreaterThan(20);
    expect(notValid.filter((id) => reportOf(report, id) === undefined)).toEqual([]);
    expect(notValid.filter((id) => reportOf(report, id)?.outcome === 'validating')).toEqual([]);
    expect(strayRecords(wanted, await zoneSets())).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed webhook calls

describe('malformed webhook calls', () => {
  let base: BaseDeps;
  let deps: WebhookDeps;
  let before: ZoneRecordSet[];

  function signed(
    body: string | Buffer,
    options: { key?: string; timestamp?: number; base64?: boolean; method?: string } = {},
  ): WebhookRequest {
    const raw = typeof body === 'string' ? Buffer.from(body) : body;
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    return {
      method: options.method ?? 'POST',
      headers: {
        'content-type': 'application/json',
        'x-timestamp': timestamp,
        'x-signature-256': `sha256=${webhookSignature(options.key ?? WEBHOOK_KEY, timestamp, raw)}`,
      },
      body: options.base64 ? raw.toString('base64') : raw.toString('utf8'),
      isBase64Encoded: options.base64 ?? false,
    };
  }

  const ids = (n: number) =>
    JSON.stringify({ certificateIds: Array.from({ length: n }, (_, i) => `id${i}`) });

  const CALLS: Array<[string, () => WebhookRequest, number]> = [
    ['an empty body', () => signed(''), 400],
    ['a JSON null', () => signed('null'), 400],
    ['a JSON array', () => signed('["abc"]'), 400],
    ['a JSON string', () => signed('"sync everything"'), 400],
    ['truncated JSON', () => signed('{"certificateIds":["abc"'), 400],
    ['bytes that are not UTF-8', () => signed(Buffer.from([0xff, 0xfe, 0x7b, 0x00]), { base64: true }), 400],
    ['JSON nested 5 000 deep', () => signed(`${'['.repeat(5000)}${']'.repeat(5000)}`), 400],
    ['an empty id list', () => signed('{"certificateIds":[]}'), 400],
    ['null ids', () => signed('{"certificateIds":null}'), 400],
    ['ids as one string', () => signed('{"certificateIds":"abc"}'), 400],
    ['ids as numbers', () => signed('{"certificateIds":[42]}'), 400],
    ['a path as an id', () => signed('{"certificateIds":["../../etc/passwd"]}'), 400],
    ['an id of 65 characters', () => signed(JSON.stringify({ certificateIds: ['k'.repeat(65)] })), 400],
    ['an id in full-width unicode', () => signed('{"certificateIds":["Ｋ33dxkOk"]}'), 400],
    ['21 ids', () => signed(ids(21)), 400],
    ['an unknown key', () => signed('{"certificateIds":["abc"],"dryRun":false}'), 400],
    ['a __proto__ key', () => signed('{"__proto__":{"certificateIds":["abc"]}}'), 400],
    [
      'a body over 16 KiB',
      () => signed(JSON.stringify({ certificateIds: ['a'], pad: 'x'.repeat(MAX_BODY_BYTES) })),
      413,
    ],
    [
      'a signature made with another key',
      () => signed('{"certificateIds":["k1"]}', { key: 'not-the-key' }),
      401,
    ],
    [
      'a timestamp ten minutes old',
      () => signed('{"certificateIds":["k2"]}', { timestamp: Math.floor(Date.now() / 1000) - 600 }),
      401,
    ],
    [
      'no signature headers',
      () => ({ method: 'POST', headers: {}, body: '{"certificateIds":["k3"]}', isBase64Encoded: false }),
      401,
    ],
    [
      'a signature that is not hex',
      () => ({
        ...signed('{"certificateIds":["k4"]}'),
        headers: { 'x-timestamp': '1', 'x-signature-256': 'sha256=zz' },
      }),
      401,
    ],
    ['a GET', () => signed('{"certificateIds":["k5"]}', { method: 'GET' }), 405],
  ];

  beforeAll(async () => {
    base = createBaseDeps(loadConfig(env), { write: () => {} });
    deps = createWebhookDeps(base);
    before = await zoneSets();
  });

  afterAll(async () => {
    await base?.close();
  });

  beforeEach(() => {
    tencent.stats.reset();
    proxy.resetRecords();
  });

  it.each(CALLS)('answers %s with its status and touches nothing', async (_label, make, status) => {
    const response = await handleWebhook(deps, make());

    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body)).toEqual({ message: expect.any(String) });
    expect(tencent.stats.count()).toBe(0);
    expect(proxy.requests).toEqual([]);
    expect(await zoneSets()).toEqual(before);
  });
});
