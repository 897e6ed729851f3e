import {
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';

const CREDENTIALS = {
  secretId: 'AKIDhandler00000000000000000000000',
  secretKey: 'handler-secret-key-0000000000000',
};
const scheduledEvent = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-11-28T01:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/tencent-ssl-sync-schedule'],
  detail: {},
};
const context = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

let moto: MotoServer;
let tencent: LocalTencentServer;
let handler: (
  event: unknown,
  context: { getRemainingTimeInMillis(): number },
) => Promise<Record<string, unknown>>;
let zoneId: string;
const store = new CertificateStore({ seed: 3 });
const logLines: string[] = [];

beforeAll(async () => {
  moto = await startMoto();
  tencent = await startTencentServer({ credentials: [CREDENTIALS], store });
  for (const [key, value] of Object.entries({
    ...motoEnv(moto.endpoint),
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    ALLOWED_DOMAINS: 'example.com',
  })) {
    vi.stubEnv(key, value);
  }
  const route53 = new Route53Client({});
  const zone = await route53.send(
    new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: 'handler' }),
  );
  zoneId = String(zone.HostedZone?.Id);
  route53.destroy();
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    logLines.push(String(chunk));
    return true;
  });
  ({ handler } = await import('../../functions/sync.js'));
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await tencent?.close();
  await moto?.stop();
});

describe('sync Lambda handler', () => {
  it('runs a full sync on the schedule and returns its summary', async () => {
    const cert = store.addPending({ domain: 'www.example.com' });
    const summary = await handler(scheduledEvent, context(300_000));

    expect(summary).toMatchObject({
      dryRun: false,
      certificates: 1,
      byOutcome: { validating: 1 },
      route53ChangeBatches: 1,
    });
    const route53 = new Route53Client({});
    const sets = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    route53.destroy();
    expect(sets.ResourceRecordSets?.map((s) => s.Name)).toContain(
      `${String((cert.DvAuthDetail as { DvAuths: Array<{ DvAuthKey: string }> }).DvAuths[0]?.DvAuthKey)}.`,
    );
  });

  it('logs one structured summary line and never the secret key', () => {
    const summaries = logLines.filter((line) => line.includes('"sync summary"'));
    expect(summaries).toHaveLength(1);
    expect(JSON.parse(summaries[0] as string)).toMatchObject({ level: 'info', certificates: 1 });
    expect(logLines.join('')).not.toContain(CREDENTIALS.secretKey);
  });

  it('writes the run metrics once, in the embedded metric format under TencentSslSync', () => {
    const documents = logLines
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const emf = documents[0] ?? {};
    const { CloudWatchMetrics: directives } = emf._aws as {
      CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }>;
    };

    expect(documents).toHaveLength(1);
    expect(directives[0]?.Namespace).toBe('TencentSslSync');
    expect(directives[0]?.Dimensions).toEqual([['service']]);
    expect(emf).toMatchObject({ CertificatesValidating: 1, RecordsWritten: 1, BlockedCertificates: 0 });
    // No state table here: how long a certificate has been blocked is not known.
    expect(emf).not.toHaveProperty('BlockedForMoreThanAnHour');
  });

  it('syncs only the certificates a direct invoke names', async () => {
    const other = store.addPending({ domain: 'api.example.com' });
    const summary = await handler({ certificateIds: [other.CertificateId] }, context(300_000));
    expect(summary).toMatchObject({ certificates: 1, route53ChangeBatches: 1 });
  });

  it('leaves the work for the next run when the invocation has no time left', async () => {
    const late = store.addPending({ domain: 'late.example.com' });
    const summary = await handler({ certificateIds: [late.CertificateId] }, context(0));
    expect(summary).toMatchObject({ deferred: [late.CertificateId], route53ChangeBatches: 0 });
  });

  it('fails the invocation on an event it does not understand', async () => {
    await expect(handler({ certificateIds: 'all' }, context(300_000))).rejects.toThrow(
      /unsupported sync event/,
    );
  });

  it('fails the invocation when Tencent rejects the credentials, so alarms see it', async () => {
    tencent.setCredentials([
      { secretId: 'AKIDsomeoneelse000000000000000000', secretKey: 'x-other-key-000000' },
    ]);
    await expect(handler(scheduledEvent, context(300_000))).rejects.toMatchObject({
      code: 'AuthFailure.SecretIdNotFound',
    });
    tencent.setCredentials([CREDENTIALS]);
  });
});
