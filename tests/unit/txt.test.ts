import { describe, expect, it } from 'vitest';
import { decodeRoute53Name } from '../../lib/route53/names.js';
import { quoteTxt, unquoteTxt } from '../../lib/route53/txt.js';

describe('quoteTxt', () => {
  it('wraps a plain token in double quotes', () => {
    const value = quoteTxt('202412020000001abcdefghijklmnop');

    expect(value).toBe('"202412020000001abcdefghijklmnop"');
  });

  it('escapes double quotes and backslashes', () => {
    const value = quoteTxt('say "hi" \\ bye');

    expect(value).toBe('"say \\"hi\\" \\\\ bye"');
  });

  it('splits text longer than 255 characters into several quoted strings', () => {
    const text = `${'a'.repeat(255)}${'b'.repeat(10)}`;

    const value = quoteTxt(text);

    expect(value).toBe(`"${'a'.repeat(255)}" "${'b'.repeat(10)}"`);
  });

  it('writes bytes outside printable ASCII as octal escapes', () => {
    const value = quoteTxt('tab\there');

    expect(value).toBe('"tab\\011here"');
  });

  it('writes empty text as an empty quoted string', () => {
    expect(quoteTxt('')).toBe('""');
  });
});

describe('unquoteTxt', () => {
  it('removes the surrounding quotes', () => {
    expect(unquoteTxt('"token-123"')).toBe('token-123');
  });

  it('decodes escaped quotes and backslashes', () => {
    expect(unquoteTxt('"say \\"hi\\" \\\\ bye"')).toBe('say "hi" \\ bye');
  });

  it('decodes three-digit octal escapes', () => {
    expect(unquoteTxt('"a\\052b\\011c"')).toBe('a*b\tc');
  });

  it('joins several quoted strings without a separator', () => {
    expect(unquoteTxt('"abc" "def"')).toBe('abcdef');
  });

  it('tolerates a value stored without quotes', () => {
    expect(unquoteTxt('plain-token')).toBe('plain-token');
  });

  it('reverses quoteTxt for long text with special characters', () => {
    const text = `${'x'.repeat(300)} "quoted" \\ é`;

    expect(unquoteTxt(quoteTxt(text))).toBe(text);
  });

  it('decodes a multi-byte character split across two strings', () => {
    const text = `${'a'.repeat(254)}é`;

    expect(unquoteTxt(quoteTxt(text))).toBe(text);
  });
});

describe('decodeRoute53Name', () => {
  it('decodes the octal-escaped wildcard label', () => {
    expect(decodeRoute53Name('\\052.example.com.')).toBe('*.example.com');
  });

  it('lower-cases and drops the trailing dot', () => {
    expect(decodeRoute53Name('_ABC.Example.COM.')).toBe('_abc.example.com');
  });

  it('leaves a name without escapes as it is', () => {
    expect(decodeRoute53Name('_dnsauth.example.com')).toBe('_dnsauth.example.com');
  });
});
