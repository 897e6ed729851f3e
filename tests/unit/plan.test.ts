import { describe, expect, it } from 'vitest';
import { CertificateDetailSchema, type DvAuth, type DvAuthDetail } from '../../lib/tencent/schemas.js';
import {
  ALLOWED_DOMAINS_UNSET_REASON,
  certificateDomains,
  type PlanInput,
  planValidationRecords,
} from '../../lib/validation/plan.js';
import { loadFixture } from '../helpers/fixtures.js';

/** CNAME validation labels: `_` and 32 hex digits, as Tencent's CAs use. */
const A = '_875bed25cf9e03596931d91cb0a52bd9';
const B = '_0f1e2d3c4b5a69788796a5b4c3d2e1f0';

const CNAME_TARGET =
  'a3108492878a2d989949fa50522dd2b0.cc7346307ff022fcfa68e025f6dbf6ad.cmcdpcwca5iljv.trust-provider.com';

function dvAuth(fields: Partial<DvAuth>): DvAuth {
  return {
    DvAuthKey: null,
    DvAuthValue: null,
    DvAuthDomain: null,
    DvAuthPath: null,
    DvAuthSubDomain: null,
    DvAuthVerifyType: null,
    ...fields,
  };
}

function detail(dvAuths: DvAuth[], top: Partial<DvAuthDetail> = {}): DvAuthDetail {
  return {
    DvAuthKey: null,
    DvAuthValue: null,
    DvAuthDomain: null,
    DvAuthPath: null,
    DvAuthKeySubDomain: null,
    DvAuths: dvAuths,
    ...top,
  };
}

function certificate(domain: string, dvAuths: DvAuth[], subjectAltName: string[] = []): PlanInput {
  return {
    CertificateId: 'cert-1',
    Domain: domain,
    SubjectAltName: subjectAltName,
    DvAuthDetail: detail(dvAuths),
  };
}

const cname = (fields: Partial<DvAuth>) => dvAuth({ DvAuthVerifyType: 'CNAME', ...fields });
const txt = (fields: Partial<DvAuth>) => dvAuth({ DvAuthVerifyType: 'TXT', ...fields });

describe('planValidationRecords', () => {
  it('plans the documented CNAME example from its DvAuths item, not the masked top level', () => {
    const parsed = CertificateDetailSchema.parse(
      loadFixture<{ Response: unknown }>('tencent/describe-certificate-detail-pending.json').Response,
    );
    const input: PlanInput = {
      CertificateId: parsed.CertificateId ?? '',
      Domain: parsed.Domain,
      SubjectAltName: parsed.SubjectAltName,
      DvAuthDetail: parsed.DvAuthDetail,
    };

    const plan = planValidationRecords(input, ['ninghhuang.online']);

    expect(plan).toEqual({
      records: [
        {
          certificateId: 'K33dxkOk',
          domain: 'ninghhuang.online',
          name: '_875bed25cf9e03596931d91cb0a52bd9.ninghhuang.online',
          type: 'CNAME',
          value: CNAME_TARGET,
        },
      ],
      outcomes: [],
    });
  });

  it('takes a DvAuthKey that already ends with the domain as the full name', () => {
    const cert = certificate('example.com', [
      cname({
        DvAuthKey: `${A}.example.com`,
        DvAuthSubDomain: '_ignored',
        DvAuthDomain: 'example.com',
        DvAuthValue: 'x.ca.test',
      }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.records.map((r) => r.name)).toEqual([`${A}.example.com`]);
  });

  it('matches the domain suffix of DvAuthKey on label boundaries only', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: `${A}.notexample.com`, DvAuthDomain: 'example.com', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes.map((o) => [o.action, o.name])).toEqual([
      ['refused', `${A}.notexample.com.example.com`],
    ]);
  });

  it('joins a bare DvAuthSubDomain label to the domain', () => {
    const cert = certificate('example.com', [
      cname({
        DvAuthKey: A,
        DvAuthSubDomain: A,
        DvAuthDomain: 'example.com',
        DvAuthValue: 'x.ca.test',
      }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.records.map((r) => r.name)).toEqual([`${A}.example.com`]);
  });

  it('joins a bare DvAuthKey to the domain when there is no subdomain', () => {
    const cert = certificate('example.com', [
      txt({ DvAuthKey: '_dnsauth', DvAuthDomain: 'example.com', DvAuthValue: 'token' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.records).toEqual([
      {
        certificateId: 'cert-1',
        domain: 'example.com',
        name: '_dnsauth.example.com',
        type: 'TXT',
        value: 'token',
      },
    ]);
  });

  it('falls back to the top level when DvAuths is empty, inferring CNAME from a host-name value', () => {
    const cert: PlanInput = {
      CertificateId: 'cert-1',
      Domain: 'example.com',
      SubjectAltName: [],
      DvAuthDetail: detail([], {
        DvAuthKey: `${A}.example.com`,
        DvAuthKeySubDomain: A,
        DvAuthDomain: 'example.com',
        DvAuthValue: 'x.ca.test',
      }),
    };

    const plan = planValidationRecords(cert, '*');

    expect(plan).toEqual({
      records: [
        {
          certificateId: 'cert-1',
          domain: 'example.com',
          name: `${A}.example.com`,
          type: 'CNAME',
          value: 'x.ca.test',
        },
      ],
      outcomes: [],
    });
  });

  it('infers TXT for a top-level value that is not a host name', () => {
    const cert: PlanInput = {
      CertificateId: 'cert-1',
      Domain: 'example.com',
      SubjectAltName: [],
      DvAuthDetail: detail([], {
        DvAuthKeySubDomain: '_dnsauth',
        DvAuthDomain: 'example.com',
        DvAuthValue: '2024120200abc',
      }),
    };

    const plan = planValidationRecords(cert, '*');

    expect(plan.records.map((r) => [r.name, r.type, r.value])).toEqual([
      ['_dnsauth.example.com', 'TXT', '2024120200abc'],
    ]);
  });

  it('skips with a reason when Tencent gives no validation records at all', () => {
    const cert: PlanInput = {
      CertificateId: 'cert-1',
      Domain: 'example.com',
      SubjectAltName: [],
      DvAuthDetail: null,
    };

    const plan = planValidationRecords(cert, '*');

    expect(plan).toEqual({
      records: [],
      outcomes: [
        {
          certificateId: 'cert-1',
          action: 'skipped',
          reason: 'no validation records at Tencent (DvAuthDetail is empty)',
        },
      ],
    });
  });

  it('uses a full DvAuthKey under the certificate domain when the top-level DvAuthDomain is masked', () => {
    const cert: PlanInput = {
      CertificateId: 'cert-1',
      Domain: 'ninghhuang.online',
      SubjectAltName: [],
      DvAuthDetail: detail([], {
        DvAuthKey: `${A}.ninghhuang.online`,
        DvAuthKeySubDomain: A,
        DvAuthDomain: 'ni****ang.online',
        DvAuthValue: 'x.ca.test',
      }),
    };

    const plan = planValidationRecords(cert, '*');

    expect(plan.records).toEqual([
      {
        certificateId: 'cert-1',
        domain: 'ninghhuang.online',
        name: `${A}.ninghhuang.online`,
        type: 'CNAME',
        value: 'x.ca.test',
      },
    ]);
  });

  it('never builds a name from a masked DvAuthDomain', () => {
    const cert = certificate('ninghhuang.online', [
      cname({
        DvAuthKey: A,
        DvAuthSubDomain: A,
        DvAuthDomain: 'ni****ang.online',
        DvAuthValue: 'x.ca.test',
      }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.records).toEqual([]);
    expect(plan.outcomes).toHaveLength(1);
    expect(plan.outcomes[0]?.action).toBe('refused');
    expect(plan.outcomes[0]?.name).toBeUndefined();
    expect(plan.outcomes[0]?.reason).toMatch(/masked/);
  });

  it('plans both TXT values of an apex and wildcard pair at the shared _dnsauth name', () => {
    const cert = certificate(
      'example.com',
      [
        txt({ DvAuthKey: '_dnsauth', DvAuthDomain: 'example.com', DvAuthValue: 'apex-token' }),
        txt({ DvAuthKey: '_dnsauth', DvAuthDomain: '*.example.com', DvAuthValue: 'wildcard-token' }),
      ],
      ['*.example.com'],
    );

    const plan = planValidationRecords(cert, ['example.com']);

    expect(plan.records).toEqual([
      {
        certificateId: 'cert-1',
        domain: 'example.com',
        name: '_dnsauth.example.com',
        type: 'TXT',
        value: 'apex-token',
      },
      {
        certificateId: 'cert-1',
        domain: 'example.com',
        name: '_dnsauth.example.com',
        type: 'TXT',
        value: 'wildcard-token',
      },
    ]);
  });

  it('plans one record per domain of a multi-domain certificate', () => {
    const cert = certificate(
      'example.com',
      [
        cname({ DvAuthKey: `${A}.example.com`, DvAuthDomain: 'example.com', DvAuthValue: 'a.ca.test' }),
        cname({
          DvAuthKey: `${B}.www.example.org`,
          DvAuthDomain: 'www.example.org',
          DvAuthValue: 'b.ca.test',
        }),
      ],
      ['www.example.org'],
    );

    const plan = planValidationRecords(cert, ['example.com', 'example.org']);

    expect(plan.records.map((r) => [r.domain, r.name])).toEqual([
      ['example.com', `${A}.example.com`],
      ['www.example.org', `${B}.www.example.org`],
    ]);
  });

  it('skips FILE validation, which DNS cannot serve', () => {
    const cert = certificate('example.com', [
      dvAuth({
        DvAuthVerifyType: 'FILE',
        DvAuthDomain: 'example.com',
        DvAuthPath: '/.well-known/pki-validation/fileauth.txt',
        DvAuthValue: 'content',
      }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan).toEqual({
      records: [],
      outcomes: [
        {
          certificateId: 'cert-1',
          type: 'FILE',
          action: 'skipped',
          reason: 'FILE validation cannot be served from DNS (path /.well-known/pki-validation/fileauth.txt)',
        },
      ],
    });
  });

  it('refuses an unknown validation type', () => {
    const cert = certificate('example.com', [
      dvAuth({ DvAuthVerifyType: 'EMAIL', DvAuthKey: A, DvAuthDomain: 'example.com', DvAuthValue: 'v' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes).toEqual([
      {
        certificateId: 'cert-1',
        type: 'EMAIL',
        value: 'v',
        action: 'refused',
        reason: 'unsupported validation type "EMAIL" (only CNAME and TXT can be written)',
      },
    ]);
  });

  it('refuses an item without a validation type', () => {
    const cert = certificate('example.com', [
      dvAuth({ DvAuthKey: A, DvAuthDomain: 'example.com', DvAuthValue: 'v' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({
      action: 'refused',
      reason: expect.stringMatching(/DvAuthVerifyType is missing/),
    });
  });

  it('reads the validation type case-insensitively', () => {
    const cert = certificate('example.com', [
      dvAuth({
        DvAuthVerifyType: 'cname',
        DvAuthKey: A,
        DvAuthDomain: 'example.com',
        DvAuthValue: 'x.ca.test',
      }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.records.map((r) => r.type)).toEqual(['CNAME']);
  });

  it('refuses a name outside the certificate domains', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: `${A}.victim.test`, DvAuthDomain: 'victim.test', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes).toEqual([
      {
        certificateId: 'cert-1',
        name: `${A}.victim.test`,
        type: 'CNAME',
        value: 'x.ca.test',
        action: 'refused',
        reason: `record name ${A}.victim.test is not under any of the certificate's domains (example.com)`,
      },
    ]);
  });

  it('refuses a name outside the allow-list', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: A, DvAuthDomain: 'example.com', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, ['example.org']);

    expect(plan.records).toEqual([]);
    expect(plan.outcomes[0]).toMatchObject({
      name: `${A}.example.com`,
      action: 'refused',
      reason: `record name ${A}.example.com is outside ALLOWED_DOMAINS (example.org); add its domain to ALLOWED_DOMAINS to have it written`,
    });
  });

  it('refuses everything, saying how to fix it, when the allow-list is unset', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: A, DvAuthDomain: 'example.com', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, undefined);

    expect(plan.records).toEqual([]);
    expect(plan.outcomes[0]).toMatchObject({
      action: 'refused',
      reason:
        'ALLOWED_DOMAINS is not set: nothing is written until it lists the domains this tool may validate, e.g. ALLOWED_DOMAINS=example.com (or * for every zone)',
    });
    expect(plan.outcomes[0]?.reason).toBe(ALLOWED_DOMAINS_UNSET_REASON);
  });

  it('allows any name under the certificate domains with the * allow-list', () => {
    const cert = certificate('deep.sub.example.net', [
      cname({ DvAuthKey: A, DvAuthDomain: 'deep.sub.example.net', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.records.map((r) => r.name)).toEqual([`${A}.deep.sub.example.net`]);
  });

  it('refuses a name whose first label does not start with an underscore', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: 'www', DvAuthDomain: 'example.com', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({
      name: 'www.example.com',
      action: 'refused',
      reason:
        'CNAME at www.example.com is refused: a CNAME is validated only at _<32 hex digits>.example.com',
    });
  });

  it('refuses a name with an empty label', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: `${A}..example.com`, DvAuthDomain: 'example.com', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({
      action: 'refused',
      reason: expect.stringMatching(/empty label/),
    });
  });

  it('refuses a name with a label longer than 63 characters', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: `_${'a'.repeat(63)}`, DvAuthDomain: 'example.com', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({
      action: 'refused',
      reason: expect.stringMatching(/longer than 63/),
    });
  });

  it('lower-cases names and targets and drops trailing dots', () => {
    const cert = certificate('Example.COM.', [
      cname({
        DvAuthKey: `${A.toUpperCase()}.Example.COM.`,
        DvAuthDomain: 'EXAMPLE.com.',
        DvAuthValue: 'X.CA.Test.',
      }),
    ]);

    const plan = planValidationRecords(cert, ['EXAMPLE.COM']);

    expect(plan.records).toEqual([
      {
        certificateId: 'cert-1',
        domain: 'example.com',
        name: `${A}.example.com`,
        type: 'CNAME',
        value: 'x.ca.test',
      },
    ]);
  });

  it('refuses a unicode name, which must arrive in punycode', () => {
    const cert = certificate('bücher.example', [
      cname({ DvAuthKey: A, DvAuthDomain: 'bücher.example', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({ action: 'refused', reason: expect.stringMatching(/punycode/) });
  });

  it('accepts a name in punycode form', () => {
    const cert = certificate('xn--bcher-kva.example', [
      cname({ DvAuthKey: A, DvAuthDomain: 'xn--bcher-kva.example', DvAuthValue: 'x.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.records.map((r) => r.name)).toEqual([`${A}.xn--bcher-kva.example`]);
  });

  it('refuses a CNAME value that is not a host name', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: A, DvAuthDomain: 'example.com', DvAuthValue: 'not a host name' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({
      name: `${A}.example.com`,
      action: 'refused',
      reason: expect.stringMatching(/^CNAME target "not a host name" is not a valid DNS name/),
    });
  });

  it('refuses a CNAME pointing at its own name', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: A, DvAuthDomain: 'example.com', DvAuthValue: `${A}.example.com.` }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({
      action: 'refused',
      reason: expect.stringMatching(/record name itself/),
    });
  });

  it('refuses a TXT value with control characters', () => {
    const cert = certificate('example.com', [
      txt({ DvAuthKey: '_dnsauth', DvAuthDomain: 'example.com', DvAuthValue: 'abc\ndef' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({
      action: 'refused',
      reason: expect.stringMatching(/printable ASCII/),
    });
  });

  it('refuses a TXT value longer than one 255-byte string', () => {
    const cert = certificate('example.com', [
      txt({ DvAuthKey: '_dnsauth', DvAuthDomain: 'example.com', DvAuthValue: 'a'.repeat(256) }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({
      action: 'refused',
      reason: 'TXT value is 256 bytes long (at most 255, one DNS character-string)',
    });
  });

  it('refuses an item without a value', () => {
    const cert = certificate('example.com', [txt({ DvAuthKey: '_dnsauth', DvAuthDomain: 'example.com' })]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({ action: 'refused', reason: 'DvAuthValue is missing' });
  });

  it('refuses an item without a domain', () => {
    const cert = certificate('example.com', [
      txt({ DvAuthKey: '_dnsauth.example.com', DvAuthValue: 'token' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.outcomes[0]).toMatchObject({
      action: 'refused',
      reason: expect.stringMatching(/DvAuthDomain is missing/),
    });
  });

  it('collapses identical items into one record', () => {
    const item = cname({ DvAuthKey: A, DvAuthDomain: 'example.com', DvAuthValue: 'x.ca.test' });
    const cert = certificate('example.com', [item, { ...item }]);

    const plan = planValidationRecords(cert, '*');

    expect(plan).toEqual({
      records: [
        {
          certificateId: 'cert-1',
          domain: 'example.com',
          name: `${A}.example.com`,
          type: 'CNAME',
          value: 'x.ca.test',
        },
      ],
      outcomes: [],
    });
  });

  it('refuses both CNAMEs when one certificate wants two targets at one name', () => {
    const cert = certificate('example.com', [
      cname({ DvAuthKey: A, DvAuthDomain: 'example.com', DvAuthValue: 'x.ca.test' }),
      cname({ DvAuthKey: A, DvAuthDomain: 'example.com', DvAuthValue: 'y.ca.test' }),
    ]);

    const plan = planValidationRecords(cert, '*');

    expect(plan.records).toEqual([]);
    expect(plan.outcomes.map((o) => [o.action, o.value])).toEqual([
      ['refused', 'x.ca.test'],
      ['refused', 'y.ca.test'],
    ]);
    expect(plan.outcomes[0]?.reason).toMatch(/conflicting CNAME values/);
  });
});

describe('certificateDomains', () => {
  it('lists Domain and SubjectAltName normalized, without wildcards, each once', () => {
    const domains = certificateDomains({
      Domain: 'Example.com.',
      SubjectAltName: ['*.example.com', 'WWW.example.org', 'example.com'],
    });

    expect(domains).toEqual(['example.com', 'www.example.org']);
  });

  it('ignores a missing Domain', () => {
    expect(certificateDomains({ Domain: null, SubjectAltName: ['a.example'] })).toEqual(['a.example']);
  });
});
