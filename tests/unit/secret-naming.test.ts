import { describe, expect, it } from 'vitest';
import { secretNameFor } from '../../lib/secrets/naming.js';

const DEFAULT_TEMPLATE = 'tencent-ssl/{domain}';

describe('secretNameFor', () => {
  it('fills the default template with the lower-cased domain', () => {
    const name = secretNameFor(DEFAULT_TEMPLATE, { domain: 'Shop.Example.COM', certificateId: 'abc123' });

    expect(name).toBe('tencent-ssl/shop.example.com');
  });

  it('writes a leading wildcard as "wildcard."', () => {
    const name = secretNameFor(DEFAULT_TEMPLATE, { domain: '*.example.com', certificateId: 'abc123' });

    expect(name).toBe('tencent-ssl/wildcard.example.com');
  });

  it('fills in the certificate id as given', () => {
    const name = secretNameFor('certs/{domain}/{certificateId}', {
      domain: 'example.com',
      certificateId: 'Kx7nR2aB',
    });

    expect(name).toBe('certs/example.com/Kx7nR2aB');
  });

  it('replaces every character Secrets Manager rejects with a hyphen', () => {
    const name = secretNameFor('certs {domain}/{certificateId}#💡', {
      domain: '例え.jp',
      certificateId: 'id:1',
    });

    expect(name).toBe('certs---.jp/id-1--');
  });

  it('keeps every character Secrets Manager allows', () => {
    const name = secretNameFor('a-Z_0/9+=.@{domain}', { domain: 'example.com', certificateId: 'x' });

    expect(name).toBe('a-Z_0/9+=.@example.com');
  });

  it('throws a TypeError naming the template when the name exceeds 512 characters', () => {
    const template = `${'p'.repeat(500)}/{domain}`;

    const act = () => secretNameFor(template, { domain: 'shop.example.com', certificateId: 'x' });

    expect(act).toThrow(TypeError);
    expect(act).toThrow(template);
  });

  it('accepts a name of exactly 512 characters', () => {
    const template = `${'p'.repeat(500)}/{domain}`;

    const name = secretNameFor(template, { domain: 'example.org', certificateId: 'x' });

    expect(name).toHaveLength(512);
  });
});
