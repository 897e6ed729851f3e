import { describe, expect, it } from 'vitest';
import { applicationClaimKey, type ListedCertificate, planRenewals } from '../../lib/renew.js';

const NOW = Date.parse('2026-06-01T00:00:00.000Z');
const DAY = 86_400_000;
const at = (days: number) => new Date(NOW + days * DAY);

/** A listed certificate: `end` and `placed` in days from now (negative: in the past). */
function cert(
  id: string,
  domain: string,
  options: { status?: number; end?: number | null; placed?: number | null; alt?: string[] } = {},
): ListedCertificate {
  const end = options.end === undefined ? 60 : options.end;
  const placed = options.placed === undefined ? -30 : options.placed;
  return {
    CertificateId: id,
    Domain: domain,
    // The list holds the main domain in SubjectAltName too.
    SubjectAltName: [domain, ...(options.alt ?? [])],
    Status: options.status ?? 1,
    CertEndTime: end === null ? null : at(end),
    InsertTime: placed === null ? null : at(placed),
  };
}

const plan = (domains: string[], certificates: ListedCertificate[], window = 30) =>
  planRenewals(domains, certificates, NOW, window);

describe('planRenewals', () => {
  it('is not due while the newest issued certificate expires after the window opens', () => {
    const [entry] = plan(['www.example.com'], [cert('Old1', 'www.example.com', { end: 60 })]);

    expect(entry).toEqual({
      domain: 'www.example.com',
      state: 'not-due',
      certificateId: 'Old1',
      expiresAt: at(60).toISOString(),
      dueAt: at(30).toISOString(),
    });
  });

  it('is due within the window, renewing the old certificate by its id', () => {
    const [entry] = plan(['www.example.com'], [cert('Old1', 'www.example.com', { end: 20 })]);

    expect(entry).toMatchObject({
      state: 'due',
      certificateId: 'Old1',
      dueAt: at(-10).toISOString(),
      follows: 'Old1',
      oldCertificateId: 'Old1',
    });
  });

  it('opens the window exactly RENEW_BEFORE_DAYS before the expiry', () => {
    const justDue = cert('A', 'a.example.com', { end: 30 });
    const notYet: ListedCertificate = {
      ...cert('B', 'b.example.com'),
      CertEndTime: new Date(NOW + 30 * DAY + 1),
    };

    const states = plan(['a.example.com', 'b.example.com'], [justDue, notYet]).map((e) => e.state);

    expect(states).toEqual(['due', 'not-due']);
  });

  it('renews without OldCertificateId while more than 30 days are left: Tencent links renewals in the last 30 only', () => {
    const [entry] = plan(['www.example.com'], [cert('Old1', 'www.example.com', { end: 40 })], 45);

    expect(entry?.state).toBe('due');
    expect(entry).not.toHaveProperty('oldCertificateId');
    expect(entry?.follows).toBe('Old1');
  });

  it('is missing when Tencent lists nothing for the domain: a new application', () => {
    const [entry] = plan(['new.example.com'], [cert('Other', 'www.example.com')]);

    expect(entry).toEqual({
      domain: 'new.example.com',
      state: 'missing',
      certificateId: null,
      expiresAt: null,
      dueAt: null,
      follows: 'new',
    });
  });

  it('is missing once the newest certificate expired, showing the expired one', () => {
    const entries = plan(
      ['a.example.com', 'b.example.com'],
      [cert('Gone1', 'a.example.com', { end: -1 }), cert('Gone2', 'b.example.com', { status: 3, end: -5 })],
    );

    expect(entries.map((e) => [e.state, e.certificateId, e.follows])).toEqual([
      ['missing', 'Gone1', 'Gone1'],
      ['missing', 'Gone2', 'Gone2'],
    ]);
    expect(entries[0]).not.toHaveProperty('oldCertificateId');
  });

  it('is applied while an order is pending, whatever its validation status (0, 4, 11)', () => {
    const entries = plan(
      ['a.example.com', 'b.example.com', 'c.example.com'],
      [
        cert('P0', 'a.example.com', { status: 0, end: null }),
        cert('P4', 'b.example.com', { status: 4, end: null }),
        cert('P11', 'c.example.com', { status: 11, end: null }),
      ],
    );

    expect(entries.map((e) => [e.state, e.newCertificateId])).toEqual([
      ['applied', 'P0'],
      ['applied', 'P4'],
      ['applied', 'P11'],
    ]);
  });

  it('does not renew when a newer order is pending', () => {
    const [entry] = plan(
      ['www.example.com'],
      [
        cert('Old1', 'www.example.com', { end: 10, placed: -80 }),
        cert('New1', 'www.example.com', { status: 4, end: null, placed: -1 }),
      ],
    );

    expect(entry).toMatchObject({ state: 'applied', certificateId: 'Old1', newCertificateId: 'New1' });
  });

  it('renews although an order older than the certificate is still pending', () => {
    const [entry] = plan(
      ['www.example.com'],
      [
        cert('Stale', 'www.example.com', { status: 4, end: null, placed: -90 }),
        cert('Old1', 'www.example.com', { end: 10, placed: -80 }),
      ],
    );

    expect(entry).toMatchObject({ state: 'due', oldCertificateId: 'Old1' });
  });

  it.each([
    [2, 'review failed'],
    [7, 'cancelled'],
    [10, 'revoked'],
  ])('does not count an order in status %i (%s), which then names the need', (status) => {
    const [entry] = plan(
      ['www.example.com'],
      [
        cert('Old1', 'www.example.com', { end: 10, placed: -80 }),
        cert('Dead1', 'www.example.com', { status, end: null, placed: -2 }),
      ],
    );

    expect(entry).toMatchObject({ state: 'due', follows: 'Dead1', oldCertificateId: 'Old1' });
  });

  it('makes a rejected order a new need: its key differs from the one that made it', () => {
    const before = plan(['new.example.com'], [])[0];
    const after = plan(
      ['new.example.com'],
      [cert('R1', 'new.example.com', { status: 2, end: null, placed: -3 })],
    )[0];

    expect(before?.state).toBe('missing');
    expect(after?.state).toBe('missing');
    expect(applicationClaimKey(before as never)).toBe('apply#new.example.com#new');
    expect(applicationClaimKey(after as never)).toBe('apply#new.example.com#R1');
  });

  it('covers a domain only by a certificate naming it exactly: a wildcard covers only itself', () => {
    const entries = plan(
      ['www.example.com', 'example.com', '*.example.com'],
      [cert('W', '*.example.com', { end: 60 })],
    );

    expect(entries.map((e) => [e.domain, e.state])).toEqual([
      ['www.example.com', 'missing'],
      ['example.com', 'missing'],
      ['*.example.com', 'not-due'],
    ]);
  });

  it('counts the other names of a certificate, compared without case', () => {
    const entries = plan(
      ['API.example.com', 'www.example.com'],
      [cert('Multi', 'Example.COM', { alt: ['api.EXAMPLE.com', 'www.example.com'], end: 60 })],
    );

    expect(entries.map((e) => [e.domain, e.state, e.certificateId])).toEqual([
      ['api.example.com', 'not-due', 'Multi'],
      ['www.example.com', 'not-due', 'Multi'],
    ]);
  });

  it('judges by the certificate that expires last', () => {
    const [entry] = plan(
      ['www.example.com'],
      [
        cert('Old1', 'www.example.com', { end: 5, placed: -85 }),
        cert('New1', 'www.example.com', { end: 85, placed: -5 }),
      ],
    );

    expect(entry).toMatchObject({ state: 'not-due', certificateId: 'New1' });
  });

  it('is blocked while an order waits for documents at Tencent', () => {
    const [entry] = plan(['www.example.com'], [cert('Docs', 'www.example.com', { status: 13, end: null })]);

    expect(entry).toMatchObject({
      state: 'blocked',
      reason: expect.stringMatching(/order Docs waits for a person/),
    });
  });

  it('is blocked when the only issued certificate has no readable expiry', () => {
    const [entry] = plan(['www.example.com'], [cert('NoEnd', 'www.example.com', { end: null })]);

    expect(entry).toMatchObject({
      state: 'blocked',
      certificateId: 'NoEnd',
      reason: expect.stringMatching(/no readable expiry/),
    });
  });

  it('follows the newest order when order times are missing, in a fixed order', () => {
    const listing = [
      cert('B', 'www.example.com', { status: 2, end: null, placed: null }),
      cert('A', 'www.example.com', { status: 7, end: null, placed: null }),
    ];

    const forward = plan(['www.example.com'], listing)[0];
    const backward = plan(['www.example.com'], [...listing].reverse())[0];

    expect(forward?.follows).toBe(backward?.follows);
  });
});
