/**
 * The planner against a hostile or broken Tencent answer: every name other than the two Tencent's
 * CAs validate at (`_<32 hex digits>.<d>` for a CNAME, `_dnsauth.<d>` for a TXT, `<d>` one of the
 * certificate's own domains under ALLOWED_DOMAINS) is refused with its reason, and nothing else
 * is planned. One behaviour per test.
 */
import { describe, expect, it } from 'vitest';
import type { DvAuth } from '../../lib/tencent/schemas.js';
import { type PlanInput, type PlanResult, planValidationRecords } from '../../lib/validation/plan.js';

const HEX = '875bed25cf9e03596931d91cb0a52bd9';
const LABEL = `_${HEX}`;
const CA_TARGET =
  'a3108492878a2d989949fa50522dd2b0.cc7346307ff022fcfa68e025f6dbf6ad.cmcdpcwca5iljv.trust-provider.com';
const TOKEN = '20241202000000kz56kaeffoecwbhljl8babo76pb4';

function item(type: string, fields: Partial<DvAuth>): DvAuth {
  return {
    DvAuthKey: null,
    DvAuthValue: null,
    DvAuthDomain: null,
    DvAuthPath: null,
    DvAuthSubDomain: null,
    DvAuthVerifyType: type,
    ...fields,
  };
}

/** A CNAME item whose DvAuthKey is the full record name. */
const cnameAt = (name: string, domain = 'example.com', target = CA_TARGET) =>
  item('CNAME', { DvAuthKey: name, DvAuthDomain: domain, DvAuthValue: target });

/** A TXT item whose DvAuthKey is the full record name. */
const txtAt = (name: string, domain = 'example.com', value = TOKEN) =>
  item('TXT', { DvAuthKey: name, DvAuthDomain: domain, DvAuthValue: value });

function certificate(dvAuths: DvAuth[], domain = 'example.com', subjectAltName: string[] = []): PlanInput {
  return {
    CertificateId: 'cert-1',
    Domain: domain,
    SubjectAltName: subjectAltName,
    DvAuthDetail: {
      DvAuthKey: null,
      DvAuthValue: null,
      DvAuthDomain: null,
      DvAuthPath: null,
      DvAuthKeySubDomain: null,
      DvAuths: dvAuths,
    },
  };
}

function plan(cert: PlanInput, allowed: string[] | '*' = ['example.com']): PlanResult {
  return planValidationRecords(cert, allowed);
}

/** The single refusal of a plan that must write nothing. */
function onlyRefusal(result: PlanResult) {
  expect(result.records).toEqual([]);
  expect(result.outcomes).toHaveLength(1);
  const [outcome] = result.outcomes;
  expect(outcome?.action).toBe('refused');
  return outcome as NonNullable<typeof outcome>;
}

describe('the names Tencent validates at are planned', () => {
  it('plans a CNAME at _<32 hex digits> above the certificate domain', () => {
    const result = plan(certificate([cnameAt(`${LABEL}.example.com`)]));

    expect(result).toEqual({
      records: [
        {
          certificateId: 'cert-1',
          domain: 'example.com',
          name: `${LABEL}.example.com`,
          type: 'CNAME',
          value: CA_TARGET,
        },
      ],
      outcomes: [],
    });
  });

  it('plans a TXT at _dnsauth above the certificate domain', () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com')]));

    expect(result).toEqual({
      records: [
        {
          certificateId: 'cert-1',
          domain: 'example.com',
          name: '_dnsauth.example.com',
          type: 'TXT',
          value: TOKEN,
        },
      ],
      outcomes: [],
    });
  });

  it('plans the TXT of a wildcard certificate at _dnsauth of its base name', () => {
    const cert = certificate(
      [item('TXT', { DvAuthKey: '_dnsauth', DvAuthDomain: '*.example.com', DvAuthValue: TOKEN })],
      '*.example.com',
    );

    const result = plan(cert);

    expect(result.records.map((r) => [r.domain, r.name, r.type])).toEqual([
      ['example.com', '_dnsauth.example.com', 'TXT'],
    ]);
  });

  it('plans the CNAME of a wildcard certificate at _<hex> of its base name', () => {
    const cert = certificate(
      [item('CNAME', { DvAuthSubDomain: LABEL, DvAuthDomain: '*.example.com', DvAuthValue: CA_TARGET })],
      '*.example.com',
    );

    const result = plan(cert);

    expect(result.records.map((r) => [r.domain, r.name, r.type])).toEqual([
      ['example.com', `${LABEL}.example.com`, 'CNAME'],
    ]);
  });

  it('plans a record of a subject alternative name one label above that name', () => {
    const cert = certificate([txtAt('_dnsauth.www.example.com', 'www.example.com')], 'example.com', [
      'www.example.com',
    ]);

    const result = plan(cert);

    expect(result.records.map((r) => [r.domain, r.name])).toEqual([
      ['www.example.com', '_dnsauth.www.example.com'],
    ]);
  });

  it('reads upper-case hex digits as the same name', () => {
    const result = plan(certificate([cnameAt(`_${HEX.toUpperCase()}.example.com`)]));

    expect(result.records.map((r) => r.name)).toEqual([`${LABEL}.example.com`]);
  });
});

describe('service-critical underscore names are refused', () => {
  it('refuses a CNAME at _acme-challenge, which would let its target obtain certificates', () => {
    const result = plan(
      certificate([cnameAt('_acme-challenge.example.com', 'example.com', 'attacker.example.net')]),
    );

    expect(onlyRefusal(result)).toEqual({
      certificateId: 'cert-1',
      name: '_acme-challenge.example.com',
      type: 'CNAME',
      value: 'attacker.example.net',
      action: 'refused',
      reason:
        'CNAME at _acme-challenge.example.com is refused: a CNAME is validated only at _<32 hex digits>.example.com (_acme-challenge is for ACME certificate validation: a record there lets its holder obtain certificates)',
    });
  });

  it('refuses a TXT at _acme-challenge', () => {
    const result = plan(certificate([txtAt('_acme-challenge.example.com')]));

    expect(onlyRefusal(result).reason).toBe(
      'TXT at _acme-challenge.example.com is refused: a TXT is validated only at _dnsauth.example.com (_acme-challenge is for ACME certificate validation: a record there lets its holder obtain certificates)',
    );
  });

  it('refuses a TXT at _dmarc', () => {
    const result = plan(certificate([txtAt('_dmarc.example.com', 'example.com', 'v=DMARC1; p=none')]));

    expect(onlyRefusal(result).reason).toBe(
      'TXT at _dmarc.example.com is refused: a TXT is validated only at _dnsauth.example.com (_dmarc is for the DMARC e-mail policy)',
    );
  });

  it('refuses a DKIM key at sel._domainkey', () => {
    const result = plan(certificate([txtAt('sel._domainkey.example.com', 'example.com', 'v=DKIM1; p=MIGf')]));

    expect(onlyRefusal(result).reason).toBe(
      "record name sel._domainkey.example.com is 2 labels above the certificate's domain example.com: a validation record is exactly one label above it (_dnsauth.example.com or _<32 hex digits>.example.com) (_domainkey is for DKIM e-mail signing keys)",
    );
  });

  it('refuses a TXT at _mta-sts', () => {
    const result = plan(certificate([txtAt('_mta-sts.example.com', 'example.com', 'v=STSv1; id=1')]));

    expect(onlyRefusal(result).reason).toMatch(/^TXT at _mta-sts\.example\.com is refused: .*MTA-STS/);
  });

  it('refuses a CNAME at the SIP service name _sip._tcp', () => {
    const result = plan(certificate([cnameAt('_sip._tcp.example.com')]));

    expect(onlyRefusal(result).reason).toMatch(
      /^record name _sip\._tcp\.example\.com is 2 labels above the certificate's domain example\.com/,
    );
  });

  it('refuses the service name when it arrives in upper case', () => {
    const result = plan(certificate([cnameAt('_ACME-CHALLENGE.EXAMPLE.COM', 'EXAMPLE.COM')]));

    expect(onlyRefusal(result)).toMatchObject({
      name: '_acme-challenge.example.com',
      reason: expect.stringMatching(/^CNAME at _acme-challenge\.example\.com is refused/),
    });
  });
});

describe('names not exactly one label above a certificate domain are refused', () => {
  it('refuses two underscore labels above the domain', () => {
    const result = plan(certificate([txtAt('_x._y.example.com')]));

    expect(onlyRefusal(result).reason).toBe(
      "record name _x._y.example.com is 2 labels above the certificate's domain example.com: a validation record is exactly one label above it (_dnsauth.example.com or _<32 hex digits>.example.com)",
    );
  });

  it('refuses _dnsauth under a subdomain the certificate does not name', () => {
    const result = plan(certificate([txtAt('_dnsauth.shop.example.com')]));

    expect(onlyRefusal(result).reason).toMatch(/is 2 labels above the certificate's domain example\.com/);
  });

  it('refuses a name under a sibling of the certificate domain', () => {
    const cert = certificate([txtAt('_dnsauth.api.example.com', 'api.example.com')], 'www.example.com');

    const result = plan(cert);

    expect(onlyRefusal(result).reason).toBe(
      "record name _dnsauth.api.example.com is not under any of the certificate's domains (www.example.com)",
    );
  });

  it('refuses a name under the parent of the certificate domain', () => {
    const cert = certificate([cnameAt(`${LABEL}.example.com`)], 'www.example.com');

    const result = plan(cert);

    expect(onlyRefusal(result).reason).toBe(
      `record name ${LABEL}.example.com is not under any of the certificate's domains (www.example.com)`,
    );
  });

  it('refuses a name built on a DvAuthDomain that is not one of the certificate domains', () => {
    const cert = certificate(
      [item('TXT', { DvAuthSubDomain: '_dnsauth', DvAuthDomain: 'example.com', DvAuthValue: TOKEN })],
      'www.example.com',
    );

    const result = plan(cert);

    expect(onlyRefusal(result)).toMatchObject({
      name: '_dnsauth.example.com',
      reason:
        "record name _dnsauth.example.com is not under any of the certificate's domains (www.example.com)",
    });
  });

  it('refuses a record at the certificate domain itself', () => {
    const result = plan(certificate([cnameAt('example.com')]));

    expect(onlyRefusal(result).reason).toBe(
      "record name example.com is the certificate's domain itself, not a validation name (_dnsauth.example.com or _<32 hex digits>.example.com)",
    );
  });

  it('refuses a name above a certificate "domain" that holds an underscore label', () => {
    const cert = certificate(
      [txtAt('_dnsauth._acme-challenge.example.com', '_acme-challenge.example.com')],
      '_acme-challenge.example.com',
    );

    const result = plan(cert, '*');

    expect(onlyRefusal(result).reason).toBe(
      'record name _dnsauth._acme-challenge.example.com cannot be placed: the certificate names no usable domain of its own (Domain and SubjectAltName)',
    );
  });

  it('refuses a hostile name from the top level when DvAuths is empty', () => {
    const cert: PlanInput = {
      ...certificate([]),
      DvAuthDetail: {
        DvAuthKey: '_acme-challenge.example.com',
        DvAuthValue: 'attacker.example.net',
        DvAuthDomain: 'example.com',
        DvAuthPath: null,
        DvAuthKeySubDomain: '_acme-challenge',
        DvAuths: [],
      },
    };

    const result = plan(cert);

    expect(onlyRefusal(result).reason).toMatch(/^CNAME at _acme-challenge\.example\.com is refused/);
  });

  it('refuses a hostile full DvAuthKey offered beside a masked DvAuthDomain', () => {
    const cert = certificate([
      item('CNAME', {
        DvAuthKey: '_acme-challenge.example.com',
        DvAuthDomain: 'ex****le.com',
        DvAuthValue: 'attacker.example.net',
      }),
    ]);

    const result = plan(cert);

    expect(onlyRefusal(result).reason).toMatch(/^CNAME at _acme-challenge\.example\.com is refused/);
  });

  it("checks that the record's domain, not only its name, lies under ALLOWED_DOMAINS", () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com')]), ['_dnsauth.example.com']);

    expect(onlyRefusal(result).reason).toBe(
      'record name _dnsauth.example.com is outside ALLOWED_DOMAINS (_dnsauth.example.com); add its domain to ALLOWED_DOMAINS to have it written',
    );
  });
});

describe('a label of the wrong kind is refused', () => {
  it('refuses a CNAME at _dnsauth', () => {
    const result = plan(certificate([cnameAt('_dnsauth.example.com')]));

    expect(onlyRefusal(result).reason).toBe(
      'CNAME at _dnsauth.example.com is refused: _dnsauth holds TXT validation, a CNAME is validated at _<32 hex digits>.example.com',
    );
  });

  it('refuses a TXT at a _<32 hex digits> label', () => {
    const result = plan(certificate([txtAt(`${LABEL}.example.com`)]));

    expect(onlyRefusal(result).reason).toBe(
      `TXT at ${LABEL}.example.com is refused: a _<32 hex digits> name holds CNAME validation, a TXT is validated at _dnsauth.example.com`,
    );
  });

  it('refuses a CNAME label of 31 hex digits', () => {
    const label = `_${HEX.slice(1)}`;

    const result = plan(certificate([cnameAt(`${label}.example.com`)]));

    expect(onlyRefusal(result).reason).toBe(
      `CNAME at ${label}.example.com is refused: ${label} has 31 hex digits after "_", not 32`,
    );
  });

  it('refuses a CNAME label of 33 hex digits', () => {
    const label = `_${HEX}0`;

    const result = plan(certificate([cnameAt(`${label}.example.com`)]));

    expect(onlyRefusal(result).reason).toBe(
      `CNAME at ${label}.example.com is refused: ${label} has 33 hex digits after "_", not 32`,
    );
  });

  it('refuses a CNAME label of 32 characters that are not all hex digits', () => {
    const label = `_${HEX.slice(0, 31)}g`;

    const result = plan(certificate([cnameAt(`${label}.example.com`)]));

    expect(onlyRefusal(result).reason).toBe(
      `CNAME at ${label}.example.com is refused: a CNAME is validated only at _<32 hex digits>.example.com`,
    );
  });

  it('refuses a CNAME label of 32 hex digits without the leading underscore', () => {
    const result = plan(certificate([cnameAt(`${HEX}.example.com`)]));

    expect(onlyRefusal(result).reason).toMatch(/^CNAME at [0-9a-f]{32}\.example\.com is refused/);
  });
});

describe('spellings that hide another name are refused', () => {
  it('refuses the DNS escape \\052 (a wildcard) in a name', () => {
    const result = plan(certificate([cnameAt('\\052.example.com')]));

    expect(onlyRefusal(result).reason).toBe(
      'DvAuthKey "\\\\052.example.com" contains a backslash (a DNS escape such as \\052): escapes are never decoded into a record name',
    );
  });

  it('refuses an escaped underscore that would spell _acme-challenge', () => {
    const result = plan(certificate([txtAt('\\137acme-challenge.example.com')]));

    expect(onlyRefusal(result).reason).toMatch(/^DvAuthKey ".*" contains a backslash/);
  });

  it('refuses a name ending in two dots', () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com..')]));

    expect(onlyRefusal(result).reason).toBe(
      'record name "_dnsauth.example.com..example.com" has an empty label (".." or a leading dot)',
    );
  });

  it('refuses a look-alike Cyrillic letter in the label', () => {
    const result = plan(certificate([txtAt('_dns\u0430uth.example.com')]));

    expect(onlyRefusal(result).reason).toMatch(
      /^DvAuthKey "_dns\u0430uth\.example\.com" contains non-ASCII characters/,
    );
  });

  it('refuses a full-width dot between labels', () => {
    const result = plan(certificate([txtAt('_dnsauth\uff0eexample.com')]));

    expect(onlyRefusal(result).reason).toMatch(/contains non-ASCII characters/);
  });

  it('refuses the Kelvin sign, which lower-cases to an ASCII k', () => {
    const cert = certificate(
      [
        item('TXT', {
          DvAuthSubDomain: '_dnsauth',
          DvAuthDomain: '\u212Aey.example.com',
          DvAuthValue: TOKEN,
        }),
      ],
      'key.example.com',
    );

    const result = plan(cert);

    expect(onlyRefusal(result).reason).toMatch(/^DvAuthDomain ".*" contains non-ASCII characters/);
  });

  it('does not take the punycode of a look-alike for the certificate domain', () => {
    // xn--exmple-cua.com is "exàmple.com".
    const result = plan(certificate([txtAt('_dnsauth.xn--exmple-cua.com', 'xn--exmple-cua.com')]), '*');

    expect(onlyRefusal(result).reason).toBe(
      "record name _dnsauth.xn--exmple-cua.com is not under any of the certificate's domains (example.com)",
    );
  });

  it('does not match a punycode name to a certificate domain written in unicode', () => {
    const cert = certificate(
      [txtAt('_dnsauth.xn--bcher-kva.example', 'xn--bcher-kva.example')],
      'bücher.example',
    );

    const result = plan(cert, '*');

    expect(onlyRefusal(result).reason).toMatch(/the certificate names no usable domain of its own/);
  });
});

describe('CNAME targets that are not the CA are refused', () => {
  it('refuses a target with a space', () => {
    const result = plan(certificate([cnameAt(`${LABEL}.example.com`, 'example.com', 'ca .example.net')]));

    expect(onlyRefusal(result).reason).toMatch(/^CNAME target "ca \.example\.net" is not a valid DNS name/);
  });

  it('refuses a target with an underscore label outside the certificate domains', () => {
    const result = plan(certificate([cnameAt(`${LABEL}.example.com`, 'example.com', '_x.ca.example.net')]));

    expect(onlyRefusal(result).reason).toBe(
      'CNAME target "_x.ca.example.net" is not a valid host name (letters, digits and "-" only, no label starting or ending with "-")',
    );
  });

  it('refuses an IP address as a target', () => {
    const result = plan(certificate([cnameAt(`${LABEL}.example.com`, 'example.com', '192.0.2.1')]));

    expect(onlyRefusal(result).reason).toBe(
      'CNAME target "192.0.2.1" ends in an all-numeric label: an IP address is not a host name',
    );
  });

  it('refuses a target that is a single label', () => {
    const result = plan(certificate([cnameAt(`${LABEL}.example.com`, 'example.com', 'localhost')]));

    expect(onlyRefusal(result).reason).toMatch(/^CNAME target "localhost" is not a valid DNS name/);
  });

  it("refuses a target in the certificate's own _acme-challenge name", () => {
    const result = plan(
      certificate([cnameAt(`${LABEL}.example.com`, 'example.com', '_acme-challenge.example.com')]),
    );

    expect(onlyRefusal(result).reason).toBe(
      "CNAME target _acme-challenge.example.com lies in the underscore names of the certificate's own domain example.com: a validation CNAME points at the CA, never back into the domains it validates",
    );
  });

  it("refuses a target at another validation name of the certificate's domains", () => {
    const cert = certificate(
      [cnameAt(`${LABEL}.example.com`, 'example.com', '_dnsauth.www.example.com')],
      'example.com',
      ['www.example.com'],
    );

    const result = plan(cert);

    expect(onlyRefusal(result).reason).toMatch(
      /^CNAME target _dnsauth\.www\.example\.com lies in the underscore names/,
    );
  });

  it('refuses an empty target', () => {
    const result = plan(certificate([cnameAt(`${LABEL}.example.com`, 'example.com', '  ')]));

    expect(onlyRefusal(result).reason).toBe('CNAME target is empty');
  });

  it('refuses a target with non-ASCII look-alike letters', () => {
    const result = plan(
      certificate([cnameAt(`${LABEL}.example.com`, 'example.com', 'ca.tr\u0443st-provider.com')]),
    );

    expect(onlyRefusal(result).reason).toMatch(/^CNAME target ".*" contains non-ASCII characters/);
  });
});

describe('TXT values that cannot be carried are refused', () => {
  it('refuses an empty value', () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com', 'example.com', '')]));

    expect(onlyRefusal(result).reason).toBe('TXT value is empty');
  });

  it('refuses a value of blanks', () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com', 'example.com', '   ')]));

    expect(onlyRefusal(result).reason).toBe('TXT value is empty');
  });

  it('accepts a value of exactly 255 bytes', () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com', 'example.com', 'a'.repeat(255))]));

    expect(result.records.map((r) => r.value.length)).toEqual([255]);
  });

  it('refuses a value longer than one 255-byte string', () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com', 'example.com', 'a'.repeat(4000))]));

    expect(onlyRefusal(result).reason).toBe(
      'TXT value is 4000 bytes long (at most 255, one DNS character-string)',
    );
  });

  it('refuses a value with a line break', () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com', 'example.com', 'token\nv=spf1 +all')]));

    expect(onlyRefusal(result).reason).toBe(
      'TXT value contains U+000A at position 5: only printable ASCII can be carried in a TXT string (no control characters, no non-ASCII)',
    );
  });

  it('refuses a value with non-ASCII characters', () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com', 'example.com', 't\u00f6ken')]));

    expect(onlyRefusal(result).reason).toMatch(/^TXT value contains U\+00F6 at position 1/);
  });

  it('carries quotes and backslashes, which the writer escapes', () => {
    const result = plan(certificate([txtAt('_dnsauth.example.com', 'example.com', 'a"b\\c')]));

    expect(result.records.map((r) => r.value)).toEqual(['a"b\\c']);
  });
});
