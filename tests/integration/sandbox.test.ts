import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningSandbox, runSandbox } from '../../infra/local/sandbox.js';
import type { SandboxCertificate } from '../../infra/local/sandbox-account.js';
import { main } from '../../lib/cli.js';

interface FinalState {
  statusOutput: string;
  secrets: Record<string, Record<string, unknown>>;
  /** Record sets per zone, by zone name and privacy (`example.com (private)`). */
  zones: Record<string, Array<{ Name?: string; Type?: string }>>;
  statuses: Record<string, unknown>;
}

function awsClients(env: Record<string, string>) {
  const config = {
    endpoint: env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION,
    credentials: {
      accessKeyId: String(env.AWS_ACCESS_KEY_ID),
      secretAccessKey: String(env.AWS_SECRET_ACCESS_KEY),
    },
  };
  return { route53: new Route53Client(config), secrets: new SecretsManagerClient(config) };
}

/** What moto, the store and `status` hold at the end, read while the stand-ins are still up. */
async function inspect(sandbox: RunningSandbox): Promise<FinalState> {
  const { route53, secrets } = awsClients(sandbox.env);
  const state: FinalState = { statusOutput: '', secrets: {}, zones: {}, statuses: {} };
  await main(['status'], { stdout: (t) => (state.statusOutput += t), stderr: () => {}, env: sandbox.env });
  for (const zone of sandbox.zones) {
    const out = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.id }));
    state.zones[`${zone.name}${zone.private ? ' (private)' : ''}`] = out.ResourceRecordSets ?? [];
  }
  for (const certificate of sandbox.certificates) {
    state.statuses[certificate.id] = sandbox.store.get(certificate.id)?.Status;
    if (certificate.expect !== 'exported') continue;
    const name = `tencent-ssl/${certificate.domains[0]}`;
    const value = await secrets.send(new GetSecretValueCommand({ SecretId: name }));
    state.secrets[name] = JSON.parse(String(value.SecretString)) as Record<string, unknown>;
  }
  route53.destroy();
  secrets.destroy();
  return state;
}

const typesOf = (sets: Array<{ Name?: string; Type?: string }> | undefined) =>
  (sets ?? []).map((set) => `${set.Type} ${set.Name}`).sort();

describe('npm start (the sandbox), headless', () => {
  const lines: string[] = [];
  const errors: string[] = [];
  let code: number;
  let elapsedMs: number;
  let sandbox: RunningSandbox;
  let state: FinalState;
  // A user's own AWS settings, which the sandbox must neither use nor lose.
  const userAws = {
    AWS_PROFILE: 'production',
    AWS_ENDPOINT_URL: 'https://aws.invalid',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: 'https://secretsmanager.invalid',
  };

  beforeAll(async () => {
    for (const [key, value] of Object.entries(userAws)) vi.stubEnv(key, value);
    const started = performance.now();
    code = await runSandbox({
      write: (line) => lines.push(line),
      error: (line) => errors.push(line),
      beforeStop: async (running) => {
        sandbox = running;
        state = await inspect(running);
      },
    });
    elapsedMs = performance.now() - started;
  }, 60_000);

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  const byRole = (expect: SandboxCertificate['expect']) =>
    sandbox.certificates.filter((c) => c.expect === expect);

  it('exits 0 well within a minute, telling the story on the way', () => {
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(elapsedMs).toBeLessThan(50_000);
    expect(lines).toContain('> cycle 1: 4 pending, 1 issued');
    expect(lines).toContain('  waiting for the CA...');
    expect(lines.at(-2)).toMatch(
      /^Done in [\d.]+ s, \d sync runs: 4 of 4 certificates issued and exported\.$/,
    );
  });

  it('converges in at most three sync runs', () => {
    expect(sandbox.reports.length).toBeLessThanOrEqual(3);
  });

  it('issues every certificate it should and puts each in its secret', () => {
    const exported = byRole('exported');
    expect(exported.map((c) => c.domains[0]).sort()).toEqual([
      'example.com',
      'mail.example.com',
      'shop.example.net',
      'www.example.com',
    ]);
    for (const certificate of exported) {
      expect(state.statuses[certificate.id]).toBe(1);
      expect(state.secrets[`tencent-ssl/${certificate.domains[0]}`]).toMatchObject({
        certificateId: certificate.id,
        certificate: expect.stringContaining('-----BEGIN CERTIFICATE-----'),
        privateKey: expect.stringContaining('PRIVATE KEY-----'),
      });
    }
  });

  it('leaves the certificate outside ALLOWED_DOMAINS pending, with no record written', () => {
    const [outside] = byRole('blocked');
    expect(outside?.domains).toEqual(['www.example.org']);
    expect(state.statuses[outside?.id as string]).toBe(4);
    expect(typesOf(state.zones['example.org'])).toEqual([
      'A www.example.org.',
      'NS example.org.',
      'SOA example.org.',
    ]);
  });

  it('leaves the failed certificate failed', () => {
    const [failed] = byRole('failed');
    expect(state.statuses[failed?.id as string]).toBe(2);
  });

  it('never writes into the private zone of the same name', () => {
    expect(typesOf(state.zones['example.com (private)'])).toEqual([
      'A db.example.com.',
      'A www.example.com.',
      'NS example.com.',
      'SOA example.com.',
    ]);
  });

  it('writes the sub-zone record into the delegated zone, not its parent', () => {
    const written = lines.filter((line) =>
      /CNAME _[0-9a-f]{32}\.api\.dev\.example\.com {2}created in /.test(line),
    );
    expect(written).toEqual([expect.stringMatching(/created in dev\.example\.com$/)]);
    const parent = typesOf(state.zones['example.com']).filter((r) => r.includes('.dev.example.com'));
    expect(parent).toEqual([]);
  });

  it('removes every validation record it wrote once the certificates are issued', () => {
    expect(
      lines.filter((line) => line.startsWith('  cleanup: ') && line.includes(' removed in ')),
    ).toHaveLength(5);
    for (const name of ['example.com', 'dev.example.com', 'example.net']) {
      expect(typesOf(state.zones[name]).filter((r) => /^(CNAME|TXT) _/.test(r))).toEqual([]);
    }
  });

  it('shows every certificate with its export state in status against the sandbox', () => {
    for (const certificate of sandbox.certificates) expect(state.statusOutput).toContain(certificate.id);
    expect(state.statusOutput.match(/export: exported \(secret tencent-ssl\//g)).toHaveLength(4);
    expect(state.statusOutput).toMatch(
      /refused: record name _\w+\.www\.example\.org is outside ALLOWED_DOMAINS/,
    );
    expect(state.statusOutput).toContain('[2 review failed]');
  });

  it("puts the user's AWS settings back as they were", () => {
    for (const [key, value] of Object.entries(userAws)) expect(process.env[key]).toBe(value);
  });
});

describe('the sandbox without moto', () => {
  it('exits 2 with one line saying how to install it, starting nothing', async () => {
    const lines: string[] = [];
    const errors: string[] = [];

    const code = await runSandbox({
      write: (line) => lines.push(line),
      error: (line) => errors.push(line),
      motoInstalled: async () => false,
    });

    expect(code).toBe(2);
    expect(errors).toEqual(["The sandbox needs Python 3 with moto: python3 -m pip install 'moto[server]'"]);
    expect(lines).toEqual([]);
  });
});

describe('the sandbox interrupted', () => {
  it('exits 130, not 2, when Ctrl-C lands during the moto check', async () => {
    const controller = new AbortController();
    const errors: string[] = [];

    const code = await runSandbox({
      write: () => {},
      error: (line) => errors.push(line),
      signal: controller.signal,
      // Ctrl-C kills the checking python3 too, which fails the check.
      motoInstalled: async () => {
        controller.abort(new Error('interrupted'));
        return false;
      },
    });

    expect(code).toBe(130);
    expect(errors).toEqual([]);
  });

  it('stops both stand-ins and exits 130', async () => {
    const controller = new AbortController();
    const lines: string[] = [];

    const code = await runSandbox({
      write: (line) => {
        lines.push(line);
        if (line.startsWith('Tencent certificates')) controller.abort(new Error('interrupted'));
      },
      signal: controller.signal,
    });

    expect(code).toBe(130);
    expect(lines.at(-1)).toBe('Interrupted: stopping the stand-ins.');
    const endpoints = lines.flatMap((line) => line.match(/http:\/\/127\.0\.0\.1:\d+/g) ?? []);
    expect(endpoints).toHaveLength(2);
    for (const endpoint of endpoints) await expect(request(endpoint)).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);
});
