import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadStateTableName } from '../../lib/config.js';

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
      acm: { import: false },
      renewBeforeDays: 30,
      dryRun: false,
      logLevel: 'info',
    });
  });

  it('imports into ACM in the region named by ACM_REGION', () => {
    const config = loadConfig({ ...CREDENTIALS, ACM_IMPORT: 'true', ACM_REGION: 'us-east-1' });

    expect(config.acm).toEqual({ import: true, region: 'us-east-1' });
  });

  it('refuses an ACM_IMPORT that is not a boolean and an ACM_REGION that is not a region name', () => {
    const problems = problemsOf({ ...CREDENTIALS, ACM_IMPORT: 'sometimes', ACM_REGION: 'US East' });

    expect(problems).toEqual([
      'ACM_IMPORT must be true or false, got "sometimes"',
      'ACM_REGION must be an AWS region name such as us-east-1, got "US East"',
    ]);
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

  it('accepts an https endpoint and keeps only its origin', () => {
    const env = { ...CREDENTIALS, TENCENTCLOUD_SSL_ENDPOINT: 'https://ssl.intl.tencentcloudapi.com/' };

    const config = loadConfig(env);

    expect(config.tencent.endpoint).toBe('https://ssl.intl.tencentcloudapi.com');
  });

  it('refuses an http endpoint, since private keys travel over it', () => {
    const env = { ...CREDENTIALS, TENCENTCLOUD_SSL_ENDPOINT: 'http://ssl.tencentcloudapi.com' };

    const problems = problemsOf(env);

    expect(problems).toEqual([
      expect.stringMatching(
        /TENCENTCLOUD_SSL_ENDPOINT must be an https URL.*TENCENTCLOUD_SSL_ALLOW_HTTP=true/,
      ),
    ]);
  });

  it('accepts an http endpoint when TENCENTCLOUD_SSL_ALLOW_HTTP is true', () => {
    const env = {
      ...CREDENTIALS,
      TENCENTCLOUD_SSL_ENDPOINT: 'http://127.0.0.1:8443',
      TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    };

    const config = loadConfig(env);

    expect(config.tencent.endpoint).toBe('http://127.0.0.1:8443');
  });

  it('refuses an http endpoint when TENCENTCLOUD_SSL_ALLOW_HTTP is false', () => {
    const env = {
      ...CREDENTIALS,
      TENCENTCLOUD_SSL_ENDPOINT: 'http://127.0.0.1:8443',
      TENCENTCLOUD_SSL_ALLOW_HTTP: 'false',
    };

    const problems = problemsOf(env);

    expect(problems).toEqual([expect.stringMatching(/TENCENTCLOUD_SSL_ENDPOINT must be an https URL/)]);
  });

  it('refuses an endpoint of another scheme even with TENCENTCLOUD_SSL_ALLOW_HTTP', () => {
    const env = {
      ...CREDENTIALS,
      TENCENTCLOUD_SSL_ENDPOINT: 'ftp://ssl.tencentcloudapi.com',
      TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    };

    const problems = problemsOf(env);

    expect(problems).toEqual([expect.stringMatching(/TENCENTCLOUD_SSL_ENDPOINT must be an https URL/)]);
  });

  it('reports an unreadable TENCENTCLOUD_SSL_ALLOW_HTTP', () => {
    const env = { ...CREDENTIALS, TENCENTCLOUD_SSL_ALLOW_HTTP: 'sometimes' };

    const problems = problemsOf(env);

    expect(problems).toEqual([expect.stringMatching(/TENCENTCLOUD_SSL_ALLOW_HTTP must be true or false/)]);
  });

  it.each([
    ['an ICANN suffix', 'com'],
    ['a second-level ICANN suffix', 'co.uk'],
    ['a private suffix', 'github.io'],
    ['a wildcard over a suffix', '*.co.uk'],
    ['a suffix of a wildcard rule', 'anything.ck'],
  ])('refuses %s in ALLOWED_DOMAINS (%s)', (_kind, entry) => {
    const env = { ...CREDENTIALS, ALLOWED_DOMAINS: `example.com,${entry}` };

    const problems = problemsOf(env);

    expect(problems).toEqual([
      expect.stringMatching(
        new RegExp(`ALLOWED_DOMAINS: "${entry.replace(/[*.]/g, '\\$&')}" is a public suffix`),
      ),
    ]);
  });

  it('accepts a domain registered under a public suffix', () => {
    const env = { ...CREDENTIALS, ALLOWED_DOMAINS: 'example.co.uk,my-project.github.io' };

    const config = loadConfig(env);

    expect(config.allowedDomains).toEqual(['example.co.uk', 'my-project.github.io']);
  });

  it('refuses a public suffix as a ROUTE53_ZONES domain', () => {
    const env = { ...CREDENTIALS, ROUTE53_ZONES: 'example.com=Z111,co.uk=Z222' };

    const problems = problemsOf(env);

    expect(problems).toEqual(['ROUTE53_ZONES: co.uk is a public suffix, not a domain of yours']);
  });

  it('refuses a ROUTE53_ZONES domain listed twice', () => {
    const env = { ...CREDENTIALS, ROUTE53_ZONES: 'example.com=Z111,Example.com.=Z222' };

    const problems = problemsOf(env);

    expect(problems).toEqual(['ROUTE53_ZONES: example.com is listed twice']);
  });

  it('reads DRY_RUN and WAIT_FOR_INSYNC as booleans', () => {
    const config = loadConfig({ ...CREDENTIALS, DRY_RUN: 'yes', WAIT_FOR_INSYNC: '0' });
    expect(config.dryRun).toBe(true);
    expect(config.waitForInsync).toBe(false);
  });

  it('reads STATE_TABLE as the state table, absent when unset', () => {
    expect(loadConfig({ ...CREDENTIALS, STATE_TABLE: ' tencent-ssl-sync.prod_state ' }).stateTable).toBe(
      'tencent-ssl-sync.prod_state',
    );
    expect(loadConfig(CREDENTIALS)).not.toHaveProperty('stateTable');
  });

  it.each([
    ['too short', 'ab'],
    ['a character DynamoDB refuses', 'state/table'],
    ['too long', 'a'.repeat(256)],
  ])('refuses a STATE_TABLE that is %s', (_, name) => {
    const problems = problemsOf({ ...CREDENTIALS, STATE_TABLE: name });

    expect(problems).toEqual([
      `STATE_TABLE must be a DynamoDB table name (3 to 255 letters, digits, _, . or -), got ${JSON.stringify(name)}`,
    ]);
  });

  it('reads EVENT_BUS_NAME as a bus name or ARN, absent when unset', () => {
    const arn = 'arn:aws-cn:events:cn-north-1:111122223333:event-bus/certificates';

    expect(loadConfig({ ...CREDENTIALS, EVENT_BUS_NAME: ' certificates ' }).eventBusName).toBe(
      'certificates',
    );
    expect(loadConfig({ ...CREDENTIALS, EVENT_BUS_NAME: arn }).eventBusName).toBe(arn);
    expect(loadConfig(CREDENTIALS)).not.toHaveProperty('eventBusName');
  });

  it('refuses an EVENT_BUS_NAME EventBridge would refuse', () => {
    expect(problemsOf({ ...CREDENTIALS, EVENT_BUS_NAME: 'my bus' })).toEqual([
      'EVENT_BUS_NAME must be an EventBridge event bus name or ARN, got "my bus"',
    ]);
  });

  it('reads RENEW_BEFORE_DAYS as a number of days, 30 by default', () => {
    expect(loadConfig({ ...CREDENTIALS, RENEW_BEFORE_DAYS: '21' }).renewBeforeDays).toBe(21);
    expect(problemsOf({ ...CREDENTIALS, RENEW_BEFORE_DAYS: '0' })).toEqual([
      'RENEW_BEFORE_DAYS must be a whole number of days from 1 to 80, got "0"',
    ]);
  });
});

describe('loadStateTableName', () => {
  it('reads STATE_TABLE without asking for Tencent credentials', () => {
    expect(loadStateTableName({ STATE_TABLE: 'tss-state' })).toBe('tss-state');
    expect(loadStateTableName({})).toBeUndefined();
  });

  it('throws a ConfigError for an invalid name', () => {
    expect(() => loadStateTableName({ STATE_TABLE: 'no spaces allowed' })).toThrow(ConfigError);
  });
});

describe('CERTIFICATES and RENEW_BEFORE_DAYS', () => {
  const ALLOWED = { ...CREDENTIALS, ALLOWED_DOMAINS: 'example.com' };

  it('leaves renewal out when CERTIFICATES is unset', () => {
    expect(loadConfig(ALLOWED).renewal).toBeUndefined();
  });

  it('reads the names like the allow-list, with a 30-day window by default', () => {
    const config = loadConfig({
      ...ALLOWED,
      CERTIFICATES: 'WWW.Example.com., api.example.com,www.example.com',
    });

    expect(config.renewal).toEqual({
      certificates: ['www.example.com', 'api.example.com'],
      renewBeforeDays: 30,
    });
  });

  it('reads RENEW_BEFORE_DAYS as whole days from 1 to 80', () => {
    const at = (days: string) =>
      loadConfig({ ...ALLOWED, CERTIFICATES: 'example.com', RENEW_BEFORE_DAYS: days });

    expect(at('1').renewal?.renewBeforeDays).toBe(1);
    expect(at('80').renewal?.renewBeforeDays).toBe(80);
    for (const bad of ['0', '81', '7.5', 'soon']) {
      expect(problemsOf({ ...ALLOWED, RENEW_BEFORE_DAYS: bad })).toEqual([
        `RENEW_BEFORE_DAYS must be a whole number of days from 1 to 80, got "${bad}"`,
      ]);
    }
  });

  it('refuses a wildcard: free certificates cover a single name', () => {
    expect(problemsOf({ ...ALLOWED, CERTIFICATES: '*.example.com' })).toEqual([
      expect.stringMatching(
        /^CERTIFICATES: "\*\.example\.com" is a wildcard, and Tencent's free certificates .* cover a single name, never a wildcard/,
      ),
    ]);
  });

  it('refuses a name outside ALLOWED_DOMAINS, naming the allow-list', () => {
    expect(problemsOf({ ...ALLOWED, CERTIFICATES: 'www.example.com,www.example.org' })).toEqual([
      expect.stringMatching(/^CERTIFICATES: www\.example\.org lies outside ALLOWED_DOMAINS \(example\.com\)/),
    ]);
  });

  it('accepts any name with ALLOWED_DOMAINS=*, and none without ALLOWED_DOMAINS', () => {
    expect(
      loadConfig({ ...CREDENTIALS, ALLOWED_DOMAINS: '*', CERTIFICATES: 'www.example.org' }).renewal,
    ).toEqual({
      certificates: ['www.example.org'],
      renewBeforeDays: 30,
    });
    expect(problemsOf({ ...CREDENTIALS, CERTIFICATES: 'www.example.org' })).toEqual([
      expect.stringMatching(/^CERTIFICATES is set but ALLOWED_DOMAINS is not/),
    ]);
  });

  it('refuses a public suffix and what is no host name, with every other problem', () => {
    expect(
      problemsOf({
        ...CREDENTIALS,
        ALLOWED_DOMAINS: '*',
        CERTIFICATES: 'co.uk,_dmarc.example.com,exa mple.com',
      }),
    ).toEqual([
      'CERTIFICATES: "co.uk" is a public suffix, not a domain of yours',
      'CERTIFICATES: "_dmarc.example.com" is not a host name',
      'CERTIFICATES: "exa mple.com" is not a host name',
    ]);
  });
});
