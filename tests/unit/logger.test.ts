import { describe, expect, it } from 'vitest';
import { JsonLogger } from '../../lib/logger.js';
import { Redactor } from '../../lib/redact.js';

const KEY_PEM = `-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----`;

function capture(redactor = new Redactor()) {
  const lines: string[] = [];
  const logger = new JsonLogger({ write: (line) => lines.push(line), redactor, now: () => 0 });
  return { logger, lines };
}

describe('JsonLogger', () => {
  it('writes one JSON object per line with level, time and fields', () => {
    const { logger, lines } = capture();
    logger.child({ run: 'r1' }).info('synced', { certificates: 3 });
    expect(JSON.parse(lines[0] as string)).toEqual({
      level: 'info',
      time: '1970-01-01T00:00:00.000Z',
      message: 'synced',
      run: 'r1',
      certificates: 3,
    });
  });

  it('drops below its level', () => {
    const lines: string[] = [];
    const logger = new JsonLogger({ level: 'warn', write: (line) => lines.push(line) });
    logger.info('quiet');
    logger.warn('loud');
    expect(lines).toHaveLength(1);
  });

  it('masks registered secret values wherever they appear', () => {
    const { logger, lines } = capture(new Redactor(['tencent-secret-key-1']));
    logger.error('failed', { detail: 'signed with tencent-secret-key-1 at noon' });
    expect(lines[0]).not.toContain('tencent-secret-key-1');
    expect(lines[0]).toContain('[REDACTED]');
  });

  it('never writes a private key block or a field named like a secret', () => {
    const { logger, lines } = capture();
    logger.info('detail', {
      body: `x ${KEY_PEM} y`,
      secretKey: 'abc',
      nested: { privateKey: 'k', sessionToken: 't' },
    });
    const entry = JSON.parse(lines[0] as string);
    expect(lines[0]).not.toContain('MIGHAgEAMBMGByqGSM49');
    expect(entry.secretKey).toBe('[REDACTED]');
    expect(entry.nested).toEqual({ privateKey: '[REDACTED]', sessionToken: '[REDACTED]' });
  });

  it('serialises errors with their fields and cause', () => {
    const { logger, lines } = capture();
    const error = Object.assign(new Error('outer', { cause: new Error('inner') }), { code: 'X' });
    logger.error('boom', { error });
    expect(JSON.parse(lines[0] as string).error).toMatchObject({
      message: 'outer',
      code: 'X',
      cause: { message: 'inner' },
    });
  });
});
