import { describe, expect, it } from 'vitest';
import {
  cycleHeadline,
  cycleLines,
  isWaitingForCa,
  logLine,
  wroteSomething,
} from '../../infra/local/sandbox-progress.js';
import type { ExportEntry } from '../../lib/export.js';
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
