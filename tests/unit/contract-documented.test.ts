/**
 * Tencent's own documented answers (tests/fixtures/tencent/documented, sources in SOURCES.md) run
 * through the schemas and the planner: a real account answers in these shapes, quirks included,
 * so every certificate in them must be readable and every pending one must plan exactly the
 * records its DvAuths describe.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { CallOptions, TencentClient } from '../../lib/tencent/client.js';
import { TencentApiError } from '../../lib/tencent/errors.js';
import { classifyApiError } from '../../lib/tencent/retry-policy.js';
import {
  ApplyCertificateResponseSchema,
  CertificateDetailSchema,
  CompleteCertificateResponseSchema,
  DescribeCertificatesResponseSchema,
  EnvelopeSchema,
} from '../../lib/tencent/schemas.js';
import { applyFailureOf, PENDING_STATUSES, TencentSslApi } from '../../lib/tencent/ssl-api.js';
import { certificateDomains, planValidationRecords } from '../../lib/validation/plan.js';
import { type DocumentedExample, documentedNames, loadDocumented } from '../helpers/fixtures.js';

type Raw = Record<string, unknown>;

const LISTS = documentedNames('describe-certificates');
const DETAILS = [
  ...documentedNames('describe-certificate.'),
  'describe-certificate',
  ...documentedNames('describe-certificate-detail'),
];

const response = (name: string): Raw => loadDocumented(name).response.Response;

/** What a DvAuths item asks for, read straight off the documented JSON. */
function documentedRecords(raw: Raw): Array<{ name: string; type: string; value: string }> {
  const detail = raw.DvAuthDetail as { DvAuths?: Raw[] | null } | null;
  return (detail?.DvAuths ?? []).map((auth) => ({
    name: String(auth.DvAuthKey),
    type: String(auth.DvAuthVerifyType),
    value: String(auth.DvAuthValue),
  }));
}

describe('documented DescribeCertificates answers', () => {
  it('are all there', () => {
    expect(LISTS).toEqual([
      'describe-certificates',
      'describe-certificates.placeholders',
      'describe-certificates.search-alias',
      'describe-certificates.search-domain',
      'describe-certificates.search-id',
    ]);
  });

  it.each(LISTS)('%s: every certificate listed is readable', (name) => {
    const raw = response(name);
    const page = DescribeCertificatesResponseSchema.parse(raw);

    expect(page.invalid).toEqual([]);
    expect(page.Certificates.map((c) => c.CertificateId)).toEqual(
      (raw.Certificates as Raw[]).map((c) => c.CertificateId),
    );
    expect(page.TotalCount).toBe(raw.TotalCount);
  });

  it('reads "--" and "" times as not set, without a warning', () => {
    const page = DescribeCertificatesResponseSchema.parse(response('describe-certificates.search-domain'));
    expect(page.Certificates[0]).toMatchObject({
      CertificateId: 'LtIaSxlb',
      Status: 1,
      ValidationPassedTime: null,
      CertEndTime: new Date('2025-05-13T23:59:59.000Z'),
      DVAuthDeadline: new Date('2025-02-19T02:11:21.000Z'),
      ProjectId: '0',
      CertificateExtra: expect.objectContaining({ DomainNumber: 1 }),
    });
    expect(page.warnings).toEqual([]);
  });

  it('reads the truncated CertBeginTime "2024-11-06 08:00:0" as not set: the tool does not act on it', () => {
    const page = DescribeCertificatesResponseSchema.parse(response('describe-certificates'));
    expect(page.Certificates[0]).toMatchObject({
      CertificateId: 'hdhd**',
      CertBeginTime: null,
      CertEndTime: new Date('2025-12-01T23:59:59.000Z'),
      ProjectId: 'zr*****',
      SubjectAltName: ['zrh'],
    });
    expect(page.warnings).toEqual([]);
  });

  it('warns about the "abc" expiry and deadline of the placeholder revision, keeping the certificate', () => {
    const page = DescribeCertificatesResponseSchema.parse(response('describe-certificates.placeholders'));
    expect(page.Certificates[0]).toMatchObject({
      CertificateId: 'abc',
      CertEndTime: null,
      DVAuthDeadline: null,
    });
    expect(page.warnings.map((w) => [w.certificateId, w.field])).toEqual([
      ['abc', 'CertEndTime'],
      ['abc', 'DVAuthDeadline'],
    ]);
  });
});

describe('documented DescribeCertificate and DescribeCertificateDetail answers', () => {
  it('are all there', () => {
    expect(DETAILS).toEqual([
      'describe-certificate.placeholders',
      'describe-certificate',
      'describe-certificate-detail.pending',
      'describe-certificate-detail.pending-ov',
      'describe-certificate-detail.placeholders',
    ]);
  });

  it.each(DETAILS)('%s: the certificate is readable', (name) => {
    const raw = response(name);
    const detail = CertificateDetailSchema.parse(raw);
    expect(detail.CertificateId).toBe(raw.CertificateId);
    expect(detail.Status).toBe(raw.Status);
  });

  const pending = DETAILS.filter((name) => PENDING_STATUSES.includes(response(name).Status as number));

  it('include pending certificates', () => {
    expect(pending).toEqual([
      'describe-certificate-detail.pending',
      'describe-certificate-detail.pending-ov',
    ]);
  });

  it.each(pending)('%s: plans exactly the records its DvAuths describe', (name) => {
    const raw = response(name);
    const detail = CertificateDetailSchema.parse(raw);
    const input = {
      CertificateId: detail.CertificateId as string,
      Domain: detail.Domain,
      SubjectAltName: detail.SubjectAltName,
      DvAuthDetail: detail.DvAuthDetail,
    };

    const plan = planValidationRecords(input, certificateDomains(input));

    expect(plan.outcomes).toEqual([]);
    expect(plan.records.map(({ name, type, value }) => ({ name, type, value }))).toEqual(
      documentedRecords(raw),
    );
  });

  it('reads an issued certificate whose DvAuths is null and DvAuthKeySubDomain empty', () => {
    const detail = CertificateDetailSchema.parse(response('describe-certificate'));
    expect(detail).toMatchObject({
      CertificateId: 'Juz8JAxn',
      Status: 1,
      SubjectAltName: ['www.zrhh.online'],
      CertEndTime: new Date('2025-02-25T23:59:59.000Z'),
      DvAuthDetail: { DvAuths: [], DvAuthKey: null, DvAuthKeySubDomain: '' },
    });
  });
});

describe('other documented answers', () => {
  it('CompleteCertificate: names the certificate', () => {
    expect(CompleteCertificateResponseSchema.parse(response('complete-certificate'))).toEqual({
      CertificateId: 'gdLGWRev',
    });
  });

  it('ApplyCertificate: names the new order', () => {
    expect(ApplyCertificateResponseSchema.parse(response('apply-certificate'))).toEqual({
      CertificateId: 'a9TsmZkL',
    });
  });

  it('ApplyCertificate: an answer without the new id is refused, not read as an order', () => {
    const { CertificateId: _, ...withoutId } = response('apply-certificate');
    expect(ApplyCertificateResponseSchema.safeParse(withoutId).success).toBe(false);
  });

  it.each(['download-certificate', 'apply-certificate', 'complete-certificate'])(
    '%s: a success envelope with a RequestId',
    (name) => {
      const envelope = EnvelopeSchema.parse(loadDocumented(name).response);
      expect(envelope.Response.Error).toBeUndefined();
      expect(envelope.Response.RequestId).toEqual(expect.any(String));
    },
  );

  it.each(documentedNames('errors/'))('%s: an error envelope with a code and a RequestId', (name) => {
    const envelope = EnvelopeSchema.parse(loadDocumented(name).response);
    expect(envelope.Response.Error?.Code).toMatch(/^[A-Z][A-Za-z]+(\.[A-Za-z]+)*$/);
    expect(envelope.Response.RequestId).toEqual(expect.any(String));
  });
});

describe('documented errors', () => {
  it.each([
    ['errors/signature-failure', 'refresh-credentials', true],
    ['errors/cam-authorized-fail', 'refresh-credentials', true],
    ['errors/system-error', 'retry', false],
    ['errors/service-unavailable', 'retry', false],
    ['errors/unsupported-operation', 'fail', false],
  ] as const)('%s: %s, credential failure %s', (name, decision, credentials) => {
    const { Code, Message } = loadDocumented(name).response.Response.Error as {
      Code: string;
      Message: string;
    };
    const error = new TencentApiError({ code: Code, message: Message, action: 'A', retryable: false });

    expect(classifyApiError(Code)).toBe(decision);
    expect(error.isAuthFailure).toBe(credentials);
  });
});

describe('documented errors of ApplyCertificate', () => {
  it.each([
    ['errors/exceeds-free-limit', 'refused-for-good'],
    ['errors/main-domain-certificate-count-limit', 'refused-for-good'],
    ['errors/cam-authorized-fail', 'not-permitted'],
    ['errors/signature-failure', 'not-permitted'],
    ['errors/system-error', 'unknown'],
    ['errors/service-unavailable', 'refused'],
    ['errors/unsupported-operation', 'refused'],
  ] as const)('%s: %s', (name, kind) => {
    const { Code, Message } = loadDocumented(name).response.Response.Error as {
      Code: string;
      Message: string;
    };
    const error = new TencentApiError({
      code: Code,
      message: Message,
      action: 'ApplyCertificate',
      requestId: 'r-1',
      retryable: false,
    });

    expect(applyFailureOf(error)).toEqual({ kind, code: Code, message: Message, requestId: 'r-1' });
  });
});

describe('the requests this tool sends', () => {
  /** A client that records what it is asked to send and answers with the documented response. */
  function recording(example: DocumentedExample) {
    const sent: Array<{ action: string; params: Raw }> = [];
    const client = {
      async call<S extends z.ZodType>(action: string, params: Raw, schema: S, _options?: CallOptions) {
        sent.push({ action, params });
        return { data: schema.parse(example.response.Response), requestId: 'r' };
      },
    } as unknown as TencentClient;
    return { api: new TencentSslApi(client), sent };
  }

  it.each([
    [
      'describe-certificate',
      'DescribeCertificate',
      (api: TencentSslApi) => api.describeCertificate('hhe**jjsj'),
    ],
    [
      'describe-certificate-detail.pending',
      'DescribeCertificateDetail',
      (api: TencentSslApi) => api.describeCertificateDetail('aClRkC90'),
    ],
    [
      'complete-certificate',
      'CompleteCertificate',
      (api: TencentSslApi) => api.completeCertificate('gdLGWRev'),
    ],
    [
      'apply-certificate',
      'ApplyCertificate',
      (api: TencentSslApi) => api.applyCertificate({ DvAuthMethod: 'DNS_AUTO', DomainName: 'wgc.red' }),
    ],
  ] as const)('%s: sends the documented request body', async (name, action, send) => {
    const example = loadDocumented(name);
    const { api, sent } = recording(example);

    await send(api);

    expect(sent).toEqual([{ action, params: example.request }]);
  });

  it('describe-certificates.placeholders: lists the certificate and hands on one warning per unreadable field', async () => {
    const { api } = recording(loadDocumented('describe-certificates.placeholders'));
    const warnings: string[] = [];

    const items = await api.listCertificates({
      onWarning: (w) => warnings.push(`${w.certificateId} ${w.field}`),
    });

    expect(items.map((item) => item.CertificateId)).toEqual(['abc']);
    expect(warnings).toEqual(['abc CertEndTime', 'abc DVAuthDeadline']);
  });

  it('describe-certificates: pages with the documented Offset and Limit, as numbers', async () => {
    const example = loadDocumented('describe-certificates');
    const { api, sent } = recording(example);

    await api.listCertificates({ pageSize: 1 });

    expect(sent[0]?.params).toEqual(example.request);
  });
});
