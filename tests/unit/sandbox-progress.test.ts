import { describe, expect, it } from 'vitest';
import {
  cycleHeadline,
  cycleLines,
  eventLines,
  isWaitingForCa,
  logLine,
  renewalLines,
  wroteSomething,
} from '../../infra/local/sandbox-progress.js';
import type { DETAIL_TYPES } from '../../lib/events/types.js';
import type { ExportEntry } from '../../lib/export.js';
import type { RenewalReport } from '../../lib/renew.js';
import type { CertificateReport, SyncReport } from '../../lib/sync-types.js';

const zone = { id: 'Z1', name: 'example.com' };

function certificate(overrides: Partial<CertificateReport>): CertificateReport {
  return {
    certificateId: 'AAAA1111',
    domains: ['www.example.com'],
    status: 4,
    statusName: 'to be validated',
    validationDeadline: null,
    outcome: 'validating',
    records: [],
    ...overrides,
  };
}

function report(certificates: CertificateReport[], batches = 0): SyncReport {
  return {
    dryRun: false,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    state: 'off',
    cleanup: [],
    certificates,
    totals: { certificates: certificates.length, byOutcome: {}, records: {}, route53ChangeBatches: batches },
  };
}

const written = certificate({
  insync: true,
  nudged: true,
  records: [
    {
      certificateId: 'AAAA1111',
      name: '_abc.www.example.com',
      type: 'CNAME',
      value: 'x.trust-provider.com',
      zone,
      action: 'created',
    },
  ],
});
const refused = certificate({
  certificateId: 'BBBB2222',
  domains: ['www.example.org'],
  outcome: 'blocked',
  records: [
    {
      certificateId: 'BBBB2222',
      name: '_def.www.example.org',
      type: 'CNAME',
      action: 'refused',
      reason: 'outside ALLOWED_DOMAINS',
    },
  ],
});
const exported = certificate({
  certificateId: 'CCCC3333',
  domains: ['mail.example.com'],
  status: 1,
  outcome: 'issued',
  export: {
    certificateId: 'CCCC3333',
    domain: 'mail.example.com',
    result: 'created',
    secretName: 'tencent-ssl/mail.example.com',
    versionId: '0123456789abcdef',
  },
});

const ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/0000-1111';

const reimported = certificate({
  certificateId: 'DDDD4444',
  domains: ['app.example.com'],
  status: 1,
  outcome: 'issued',
  export: {
    certificateId: 'DDDD4444',
    domain: 'app.example.com',
    result: 'updated',
    secretName: 'tencent-ssl/app.example.com',
    versionId: 'fedcba9876543210',
    acm: { result: 'reimported', arn: ARN },
  },
});

const superseded = certificate({
  certificateId: 'EEEE5555',
  domains: ['app.example.com'],
  status: 1,
  outcome: 'issued',
  export: {
    certificateId: 'EEEE5555',
    domain: 'app.example.com',
    result: 'superseded',
    secretName: 'tencent-ssl/app.example.com',
    reason: 'certificate DDDD4444 for the same secret expires later',
  },
});

const applied: RenewalReport = {
  domain: 'app.example.com',
  state: 'applied',
  certificateId: 'EEEE5555',
  expiresAt: '2026-03-11T08:00:00.000Z',
  dueAt: '2026-02-09T08:00:00.000Z',
  newCertificateId: 'DDDD4444',
  appliedThisRun: true,
  reason: 'applied as DDDD4444, renewing EEEE5555',
};

const fresh: RenewalReport = {
  domain: 'new.example.com',
  state: 'applied',
  certificateId: null,
  expiresAt: null,
  dueAt: null,
  newCertificateId: 'FFFF6666',
  appliedThisRun: true,
  reason: 'applied as FFFF6666',
};

describe('sandbox progress lines', () => {
  it('counts pending and issued certificates in the headline', () => {
    expect(cycleHeadline(1, report([written, refused, exported]))).toBe('> cycle 1: 2 pending, 1 issued');
  });

  it('lists each written record under its certificate, with its zone', () => {
    const lines = cycleLines(report([written], 1), new Set());

    expect(lines).toEqual([
      '  AAAA1111  www.example.com',
      '    CNAME _abc.www.example.com  created in example.com',
      '  Route53: 1 change batch written, INSYNC; CompleteCertificate sent for 1 certificate',
    ]);
  });

  it('says why a record was refused once, not in every cycle', () => {
    const seen = new Set<string>();

    const first = cycleLines(report([refused]), seen);
    const second = cycleLines(report([refused]), seen);

    expect(first).toEqual([
      '  BBBB2222  www.example.org',
      '    CNAME _def.www.example.org  refused: outside ALLOWED_DOMAINS',
    ]);
    expect(second).toEqual([]);
  });

  it('names the secret and version an issued certificate went to', () => {
    expect(cycleLines(report([exported]), new Set())).toEqual([
      '  CCCC3333  mail.example.com  issued, exported to tencent-ssl/mail.example.com (version 01234567...)',
    ]);
  });

  it('says under an export what it did in ACM', () => {
    const imported = {
      ...exported,
      export: { ...(exported.export as ExportEntry), acm: { result: 'imported' as const, arn: ARN } },
    };

    expect(cycleLines(report([reimported, imported]), new Set())).toEqual([
      '  CCCC3333  mail.example.com  issued, exported to tencent-ssl/mail.example.com (version 01234567...)',
      `    ACM: imported as ${ARN}`,
      '  DDDD4444  app.example.com  issued, exported to tencent-ssl/app.example.com (version fedcba98...)',
      `    ACM: reimported into ${ARN} (same ARN, new certificate)`,
    ]);
  });

  it('says once that a certificate was superseded by its renewal', () => {
    const seen = new Set<string>();

    const first = cycleLines(report([superseded]), seen);
    const second = cycleLines(report([superseded]), seen);

    expect(first).toEqual([
      '  EEEE5555  app.example.com  export superseded: certificate DDDD4444 for the same secret expires later',
    ]);
    expect(second).toEqual([]);
  });

  it('shows where each declared domain stands, and again only when that changed', () => {
    const seen = new Set<string>();
    const notDue: RenewalReport = {
      ...applied,
      state: 'not-due',
      certificateId: 'DDDD4444',
      expiresAt: '2026-05-30T08:00:00.000Z',
      dueAt: '2026-04-30T08:00:00.000Z',
      appliedThisRun: undefined,
      newCertificateId: undefined,
      reason: undefined,
    };

    const first = renewalLines({ ...report([]), renewals: [fresh, applied] }, seen);
    const second = renewalLines({ ...report([]), renewals: [fresh, notDue] }, seen);

    expect(first).toEqual([
      '  renewal of CERTIFICATES:',
      '    new.example.com  -         no certificate      ApplyCertificate: applied as FFFF6666',
      '    app.example.com  EEEE5555  expires 2026-03-11  ApplyCertificate: applied as DDDD4444, renewing EEEE5555',
    ]);
    expect(second).toEqual([
      '  renewal of CERTIFICATES:',
      '    app.example.com  DDDD4444  expires 2026-05-30  not due before 2026-04-30',
    ]);
  });

  it('prints one line per event, certificate by certificate in the order of its lifecycle', () => {
    const order = certificate({ certificateId: 'DDDD4444', domains: ['app.example.com'] });
    const sent = (transition: keyof typeof DETAIL_TYPES, certificateId: string) => ({
      transition,
      certificateId,
      result: 'sent' as const,
      eventId: 'e',
    });
    // Tencent lists newest first: the new order DDDD4444 before mail's CCCC3333.
    const run = {
      ...report([order, exported]),
      events: {
        bus: 'sandbox-bus',
        announced: [
          sent('validation-records-written', 'DDDD4444'),
          sent('certificate-exported', 'CCCC3333'),
          sent('renewal-requested', 'DDDD4444'),
          { ...sent('certificate-issued', 'CCCC3333'), result: 'failed' as const, reason: 'throttled' },
        ],
      },
    };

    expect(eventLines(run, new Set())).toEqual([
      '  events on sandbox-bus:',
      '    Certificate Issued          CCCC3333  mail.example.com  not sent: throttled',
      '    Certificate Exported        CCCC3333  mail.example.com',
      '    Renewal Requested           DDDD4444  app.example.com',
      '    Validation Records Written  DDDD4444  app.example.com',
    ]);
  });

  it('says once why no event is sent', () => {
    const seen = new Set<string>();
    const off = { ...report([]), events: { bus: 'b', announced: [], off: 'STATE_TABLE is not set' } };

    expect(eventLines(off, seen)).toEqual(['  events: none sent: STATE_TABLE is not set']);
    expect(eventLines(off, seen)).toEqual([]);
  });

  it('keeps waiting while a certificate has its records in place', () => {
    expect(isWaitingForCa(report([written, exported]))).toBe(true);
    expect(isWaitingForCa(report([refused, exported]))).toBe(false);
  });

  it('knows a run that wrote neither a record nor a secret', () => {
    const unchanged = {
      ...exported,
      export: { ...(exported.export as ExportEntry), result: 'unchanged' as const },
    };
    expect(wroteSomething(report([refused, unchanged]))).toBe(false);
    expect(wroteSomething(report([exported]))).toBe(true);
  });

  it('counts an ACM import and an application as something written', () => {
    const importedOnly = {
      ...exported,
      export: {
        ...(exported.export as ExportEntry),
        result: 'unchanged' as const,
        acm: { result: 'imported' as const, arn: ARN },
      },
    };
    expect(wroteSomething(report([importedOnly]))).toBe(true);
    expect(wroteSomething({ ...report([]), renewals: [fresh] })).toBe(true);
    expect(wroteSomething({ ...report([]), renewals: [{ ...fresh, appliedThisRun: undefined }] })).toBe(
      false,
    );
  });

  it('turns a JSON log line into one readable line', () => {
    const json = JSON.stringify({
      level: 'warn',
      time: 't',
      message: 'cannot read certificate',
      certificateId: 'X',
    });
    expect(logLine(json)).toBe('  ! cannot read certificate (certificateId=X)');
  });
});
