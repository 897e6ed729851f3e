import { X509Certificate } from 'node:crypto';
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StoredCertificate } from '../../infra/local/certificate-store.js';
import { type RunningSandbox, runSandbox } from '../../infra/local/sandbox.js';
import type { SandboxCertificate } from '../../infra/local/sandbox-account.js';
import { listManagedCertificates, type ManagedAcmCertificate } from '../../lib/acm/acm-client.js';
import { main } from '../../lib/cli.js';
import { DETAIL_TYPES } from '../../lib/events/types.js';

interface AcmHeld extends ManagedAcmCertificate {
  /** As ACM describes it: moto writes the serial number in decimal. */
  serial: string;
}

interface FinalState {
  statusOutput: string;
  secrets: Record<string, Record<string, unknown>>;
  /** The tool's ACM certificates, by the secret they mirror. */
  acm: Record<string, AcmHeld[]>;
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
  return {
    route53: new Route53Client(config),
    secrets: new SecretsManagerClient(config),
    acm: new ACMClient(config),
  };
}

/** What moto, the store and `status` hold at the end, read while the stand-ins are still up. */
async function inspect(sandbox: RunningSandbox): Promise<FinalState> {
  const { route53, secrets, acm } = awsClients(sandbox.env);
  const state: FinalState = { statusOutput: '', secrets: {}, acm: {}, zones: {}, statuses: {} };
  await main(['status'], { stdout: (t) => (state.statusOutput += t), stderr: () => {}, env: sandbox.env });
  for (const zone of sandbox.zones) {
    const out = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.id }));
    state.zones[`${zone.name}${zone.private ? ' (private)' : ''}`] = out.ResourceRecordSets ?? [];
  }
  for (const certificate of sandbox.certificates) {
    state.statuses[certificate.id] = sandbox.store.get(certificate.id)?.Status;
  }
  const delivered = [
    ...sandbox.certificates.filter((c) => c.expect === 'exported').map((c) => c.domains[0]),
    ...Object.values(sandbox.declared),
  ];
  for (const domain of delivered) {
    const name = `tencent-ssl/${domain}`;
    const value = await secrets.send(new GetSecretValueCommand({ SecretId: name }));
    state.secrets[name] = JSON.parse(String(value.SecretString)) as Record<string, unknown>;
  }
  for (const held of await listManagedCertificates(acm)) {
    const described = await acm.send(new DescribeCertificateCommand({ CertificateArn: held.arn }));
    const serial = String(described.Certificate?.Serial);
    state.acm[held.secretName] = [...(state.acm[held.secretName] ?? []), { ...held, serial }];
  }
  route53.destroy();
  secrets.destroy();
  acm.destroy();
  return state;
}

/** A certificate's serial number in decimal, as moto's ACM writes it. */
function serialOf(record: StoredCertificate | undefined): string {
  const pem = String(record?.CertificatePublicKey).split(/(?<=-----END CERTIFICATE-----)/)[0];
  return BigInt(`0x${new X509Certificate(String(pem)).serialNumber}`).toString();
}

const EVENT_LINE = new RegExp(`^ {4}(${Object.values(DETAIL_TYPES).join('|')}) +(\\w{8})  (.+)$`);

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

  /** The orders the run applied for a declared name: its certificates that were not seeded. */
  const ordersFor = (domain: string) =>
    sandbox.store
      .list()
      .filter((r) => r.Domain === domain && !sandbox.certificates.some((c) => c.id === r.CertificateId));

  const exportOf = (certificateId: string) =>
    sandbox.reports
      .flatMap((report) => report.certificates)
      .filter((c) => c.certificateId === certificateId && c.export)
      .map((c) => c.export);

  it('exits 0 well within a minute, telling the story on the way', () => {
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(elapsedMs).toBeLessThan(50_000);
    expect(lines).toContain('> cycle 1: 6 pending, 2 issued');
    expect(lines).toContain('  waiting for the CA...');
    expect(lines.at(-2)).toMatch(
      /^Done in [\d.]+ s, \d sync runs: 6 of 6 certificates issued, exported and imported into ACM /,
    );
  });

  it('converges in at most three sync runs', () => {
    expect(sandbox.reports.length).toBeLessThanOrEqual(3);
  });

  it('issues every certificate it should and puts each in its secret and in ACM', () => {
    const exported = byRole('exported');
    expect(exported.map((c) => c.domains[0]).sort()).toEqual([
      'example.com',
      'mail.example.com',
      'shop.example.net',
      'www.example.com',
    ]);
    for (const certificate of exported) {
      const secret = `tencent-ssl/${certificate.domains[0]}`;
      expect(state.statuses[certificate.id]).toBe(1);
      expect(state.secrets[secret]).toMatchObject({
        certificateId: certificate.id,
        certificate: expect.stringContaining('-----BEGIN CERTIFICATE-----'),
        privateKey: expect.stringContaining('PRIVATE KEY-----'),
      });
      expect(state.acm[secret]).toEqual([expect.objectContaining({ certificateId: certificate.id })]);
    }
  });

  it('applies for the declared domain that has no certificate and delivers it end to end', () => {
    const domain = sandbox.declared.fresh;
    const orders = ordersFor(domain);
    expect(orders).toHaveLength(1);
    const id = String(orders[0]?.CertificateId);
    expect(orders[0]).toMatchObject({
      Status: 1,
      VerifyType: 'DNS',
      CertificateExtra: expect.objectContaining({ OriginCertificateId: null }),
    });
    expect(sandbox.reports[0]?.renewals).toContainEqual(
      expect.objectContaining({ domain, state: 'applied', newCertificateId: id, appliedThisRun: true }),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^ {4}${domain} +- +no certificate +ApplyCertificate: applied as ${id}$`),
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^ {4}CNAME _[0-9a-f]{32}\\.${domain}  created in example\\.com$`)),
    );
    expect(state.secrets[`tencent-ssl/${domain}`]).toMatchObject({ certificateId: id });
    expect(state.acm[`tencent-ssl/${domain}`]).toEqual([expect.objectContaining({ certificateId: id })]);
    expect(exportOf(id)).toContainEqual(
      expect.objectContaining({ result: 'created', acm: expect.objectContaining({ result: 'imported' }) }),
    );
  });

  it('renews the certificate due for renewal once, with OldCertificateId', () => {
    const [due] = byRole('renewed');
    const domain = sandbox.declared.due;
    expect(due?.domains).toEqual([domain]);
    const orders = ordersFor(domain);
    expect(orders).toEqual([
      expect.objectContaining({
        CertificateExtra: expect.objectContaining({ OriginCertificateId: due?.id }),
        Status: 1,
      }),
    ]);
    const id = String(orders[0]?.CertificateId);
    const applied = sandbox.reports.flatMap((r) => r.renewals ?? []).filter((r) => r.appliedThisRun);
    expect(applied.filter((r) => r.domain === domain)).toEqual([
      expect.objectContaining({
        certificateId: due?.id,
        newCertificateId: id,
        reason: `applied as ${id}, renewing ${due?.id}`,
      }),
    ]);
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^ {4}${domain} +${due?.id} +expires \\S+ +ApplyCertificate: applied as ${id}, renewing ${due?.id}$`,
        ),
      ),
    );
  });

  it('moves the secret and the ACM ARN of the renewed name and ACM ARN to the new certificate: same ARN, new serial', () => {
    const [due] = byRole('renewed');
    const secret = `tencent-ssl/${sandbox.declared.due}`;
    const id = String(ordersFor(sandbox.declared.due)[0]?.CertificateId);
    const [first] = exportOf(String(due?.id));
    const [renewed] = exportOf(id);
    expect(first).toMatchObject({ result: 'created', acm: { result: 'imported' } });
    const arn = String(first?.acm?.arn);
    expect(renewed).toMatchObject({ result: 'updated', acm: { result: 'reimported', arn } });
    expect(state.secrets[secret]).toMatchObject({ certificateId: id });
    expect(state.acm[secret]).toEqual([expect.objectContaining({ arn, certificateId: id })]);
    const serial = state.acm[secret]?.[0]?.serial;
    expect(serial).toBe(serialOf(sandbox.store.get(id)));
    expect(serial).not.toBe(serialOf(sandbox.store.get(String(due?.id))));
    expect(lines).toContain(`    ACM: reimported into ${arn} (same ARN, new certificate)`);
  });

  it('prints every event announced, each once', () => {
    const printed = lines.flatMap((line) => {
      const match = EVENT_LINE.exec(line);
      return match ? [`${match[1]} ${match[2]}`] : [];
    });
    const announced = sandbox.reports.flatMap((r) => r.events?.announced ?? []);
    expect(announced.every((a) => a.result === 'sent')).toBe(true);
    expect(printed.sort()).toEqual(
      announced.map((a) => `${DETAIL_TYPES[a.transition]} ${a.certificateId}`).sort(),
    );
    expect(new Set(printed).size).toBe(printed.length);
    const [due] = byRole('renewed');
    const renewal = String(ordersFor(sandbox.declared.due)[0]?.CertificateId);
    const fresh = String(ordersFor(sandbox.declared.fresh)[0]?.CertificateId);
    expect(printed).toEqual(
      expect.arrayContaining([
        `Certificate Expiring ${due?.id}`,
        `Renewal Requested ${renewal}`,
        `Renewal Requested ${fresh}`,
        `Validation Records Written ${fresh}`,
        `Certificate Issued ${fresh}`,
        `Certificate Exported ${fresh}`,
        `Certificate Imported ${fresh}`,
        `Certificate Imported ${renewal}`,
      ]),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^ {4}Renewal Requested +${renewal}  ${sandbox.declared.due}$`)),
    );
  });

  it('lists the ACM certificates beside the secrets at the end', () => {
    const start = lines.findIndex((line) => line.startsWith('Certificates in ACM'));
    const after = lines.slice(start + 1);
    const rows = after.slice(0, after.indexOf(''));
    expect(rows).toHaveLength(6);
    for (const row of rows)
      expect(row).toMatch(/^ {2}arn:aws:acm:us-east-1:\d+:certificate\/\S+ +tencent-ssl\//);
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
    ).toHaveLength(7);
    for (const name of ['example.com', 'dev.example.com', 'example.net']) {
      expect(typesOf(state.zones[name]).filter((r) => /^(CNAME|TXT) _/.test(r))).toEqual([]);
    }
  });

  it('shows every certificate with its export state in status against the sandbox', () => {
    for (const certificate of sandbox.certificates) expect(state.statusOutput).toContain(certificate.id);
    expect(state.statusOutput.match(/export: exported \(secret tencent-ssl\//g)).toHaveLength(6);
    expect(state.statusOutput).toContain('Renewal of CERTIFICATES:');
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
