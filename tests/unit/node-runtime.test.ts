import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('the test runtime', () => {
  it('is the Node.js major the Lambda functions are deployed on', () => {
    const serverless = readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8');
    const runtime = /^\s*runtime:\s*nodejs(\d+)\.x\s*$/m.exec(serverless);

    expect(runtime?.[1]).toBeDefined();
    expect(process.versions.node.split('.')[0]).toBe(runtime?.[1]);
  });
});
