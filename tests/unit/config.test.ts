import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/config.js';

const CREDENTIALS = { TENCENTCLOUD_SECRET_ID: 'AKIDexample', TENCENTCLOUD_SECRET_KEY: 'secret-key-value' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(CREDENTIALS);
    expect(config).toEqual({
      tencent: {
        credentials: { secretId: 'AKIDexample', secretKey: 'secret-key-value', sessionToken: undefined },
        endpoint: 'https://ssl.tencentcloudapi.com',
        rateLimit: 10,
      },
      allowedDomains: undefined,
      route53: { zones: [] },
      recordTtl: 60,
      waitForInsync: true,
      secrets: { nameTemplate: 'tencent-ssl/{domain}' },
      webhook: {},
      dryRun: false,
      logLevel: 'info',
    });
  });

  it('normalises the allow-list: lower case, no trailing dot, no wildcard prefix, no duplicates', () => {
    const config = loadConfig({
      ...CREDENTIALS,
      ALLOWED_DOMAINS: 'Example.COM., *.shop.example.net, example.com',
    });
    expect(config.allowedDomains).toEqual(['example.com', 'shop.example.net']);
  });

  it('accepts * as every zone of the account', () => {
    expect(loadConfig({ ...CREDENTIALS, ALLOWED_DOMAINS: '*' }).allowedDomains).toBe('*');
  });

  it('parses explicit zones and strips the /hostedzone/ prefix', () => {
    const config = loadConfig({
      ...CREDENTIALS,
      ROUTE53_ZONES: 'example.com=Z111111QQQQQQQ, sub.example.com=/hostedzone/Z2222',
    });
    expect(config.route53.zones).toEqual([
      { domain: 'example.com', hostedZoneId: 'Z111111QQQQQQQ' },
      { domain: 'sub.example.com', hostedZoneId: 'Z2222' },
    ]);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({
      TENCENTCLOUD_SECRET_ID: 'AKIDonly',
      RECORD_TTL: 'soon',
      WAIT_FOR_INSYNC: 'maybe',
      ALLOWED_DOMAINS: 'exa mple.com',
      ROUTE53_ZONES: 'example.com',
      LOG_LEVEL: 'chatty',
    });
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(/TENCENTCLOUD_SECRET_KEY is missing/);
    expect(problems.join('\n')).toMatch(/RECORD_TTL/);
    expect(problems.join('\n')).toMatch(/WAIT_FOR_INSYNC/);
    expect(problems.join('\n')).toMatch(/ALLOWED_DOMAINS/);
    expect(problems.join('\n')).toMatch(/ROUTE53_ZONES/);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL/);
  });

  it('says how to provide Tencent credentials when none are set', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/TENCENTCLOUD_CREDENTIALS_SECRET/)]);
  });

  it('uses the credentials secret when no literal credentials are set', () => {
    const config = loadConfig({ TENCENTCLOUD_CREDENTIALS_SECRET: 'tencent/credentials' });
    expect(config.tencent.credentials).toBeUndefined();
    expect(config.tencent.credentialsSecret).toBe('tencent/credentials');
  });

  it('never puts a secret value into an error message', () => {
    const problems = problemsOf({ TENCENTCLOUD_SECRET_KEY: 'super-secret-key-123', RECORD_TTL: '-1' });
    expect(problems.join('\n')).not.toContain('super-secret-key-123');
  });

  it('refuses a secret name template that would put every certificate in one secret', () => {
    expect(problemsOf({ ...CREDENTIALS, SECRET_NAME_TEMPLATE: 'tencent-ssl/cert' })).toEqual([
      expect.stringMatching(/SECRET_NAME_TEMPLATE/),
    ]);
  });

  it('reads DRY_RUN and WAIT_FOR_INSYNC as booleans', () => {
    const config = loadConfig({ ...CREDENTIALS, DRY_RUN: 'yes', WAIT_FOR_INSYNC: '0' });
    expect(config.dryRun).toBe(true);
    expect(config.waitForInsync).toBe(false);
  });
});
