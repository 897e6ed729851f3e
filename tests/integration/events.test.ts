/**
 * Lifecycle events through moto's EventBridge: a bus with a rule that sends everything from
 * `tencent-ssl-sync` to an SQS queue, read back after each run. A run that writes records, finds
 * a certificate blocked and exports an issued one announces each transition once; the next run,
 * with nothing new, announces nothing; the CA issuing the pending certificate is news again.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../infra/local/certificate-store.js';
import { type LocalTencentServer, startTencentServer } from '../../infra/local/tencent-server.js';
import { loadConfig } from '../../lib/config.js';
import { exportSqsBatch } from '../../lib/export-batch.js';
import { createRuntime } from '../../lib/runtime.js';
import { ensureStateTable } from '../../lib/state/setup.js';
import type { SyncReport } from '../../lib/sync-types.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';
import { createZones, syncOnce } from '../helpers/sync-harness.js';

const CREDENTIALS = {
  secretId: 'AKIDevents000000000000000000000000',
  secretKey: 'events-secret-key-00000000000000',
};
const BUS = 'tencent-ssl-sync-events';
const TABLE = 'tencent-ssl-sync-events-state';

interface ReceivedEvent {
  source: string;
  'detail-type': string;
  detail: { transition: string; certificateId: string; [key: string]: unknown };
}

let moto: MotoServer;
let tencent: LocalTencentServer;
let sqs: SQSClient;
let queueUrl: string;
let env: Record<string, string>;
const store = new CertificateStore({ seed: 2424 });
let pendingId: string;
let blockedId: string;
let expiringId: string;
const runs: Record<string, { report: SyncReport; events: ReceivedEvent[] }> = {};

/** Every event the rule delivered since the last call (the queue is emptied). */
async function delivered(): Promise<ReceivedEvent[]> {
  const events: ReceivedEvent[] = [];
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return events;
    events.push(...messages.map((m) => JSON.parse(String(m.Body)) as ReceivedEvent));
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: String(m.ReceiptHandle) })),
      }),
    );
  }
}

const kinds = (events: ReceivedEvent[]) =>
  events.map((e) => `${e['detail-type']} ${e.detail.certificateId}`).sort();

async function run(name: string): Promise<void> {
  const { report } = await syncOnce(env, {}, { route53RateLimit: 50 });
  runs[name] = { report, events: await delivered() };
}

beforeAll(async () => {
  moto = await startMoto();
  const aws = motoEnv(moto.endpoint);
  Object.assign(process.env, aws);
  const { Route53Client } = await import('@aws-sdk/client-route-53');
  const route53 = new Route53Client({});
  await createZones(route53, ['example.com']);
  route53.destroy();
  const dynamo = new DynamoDBClient({});
  await ensureStateTable(dynamo, TABLE);
  dynamo.destroy();

  sqs = new SQSClient({});
  queueUrl = String((await sqs.send(new CreateQueueCommand({ QueueName: 'certificate-events' }))).QueueUrl);
  const queue = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const eventBridge = new EventBridgeClient({});
  await eventBridge.send(new CreateEventBusCommand({ Name: BUS }));
  await eventBridge.send(
    new PutRuleCommand({
      Name: 'everything-from-tencent-ssl-sync',
      EventBusName: BUS,
      EventPattern: JSON.stringify({ source: ['tencent-ssl-sync'] }),
    }),
  );
  await eventBridge.send(
    new PutTargetsCommand({
      Rule: 'everything-from-tencent-ssl-sync',
      EventBusName: BUS,
      Targets: [{ Id: 'queue', Arn: String(queue.Attributes?.QueueArn) }],
    }),
  );
  eventBridge.destroy();

  pendingId = String(store.addPending({ domain: 'www.example.com' }).CertificateId);
  // One name inside ALLOWED_DOMAINS, one outside: it cannot be issued, so it is blocked.
  blockedId = String(
    store.addPending({ domain: 'shop.example.com', altNames: ['shop.example.org'] }).CertificateId,
  );
  expiringId = String((await store.addIssued({ domain: 'mail.example.com', validDays: 20 })).CertificateId);

  tencent = await startTencentServer({ credentials: [CREDENTIALS], store, rateLimit: 1000 });
  env = {
    ...aws,
    TENCENTCLOUD_SSL_ENDPOINT: tencent.url,
    TENCENTCLOUD_SSL_ALLOW_HTTP: 'true',
    TENCENTCLOUD_SECRET_ID: CREDENTIALS.secretId,
    TENCENTCLOUD_SECRET_KEY: CREDENTIALS.secretKey,
    TENCENTCLOUD_RATE_LIMIT: '1000',
    ALLOWED_DOMAINS: 'example.com',
    STATE_TABLE: TABLE,
    EVENT_BUS_NAME: BUS,
    WAIT_FOR_INSYNC: 'false',
    LOG_LEVEL: 'error',
  };

  await run('first');
  await run('idle');
  await store.issue(pendingId);
  await run('issued');
  await run('idleAgain');
}, 120_000);

afterAll(async () => {
  sqs?.destroy();
  await tencent?.close();
  await moto?.stop();
});

describe('events on EventBridge', () => {
  it('announces each transition of a run that writes records, finds a certificate blocked and exports one', () => {
    expect(kinds(runs.first?.events ?? [])).toEqual(
      [
        `Certificate Blocked ${blockedId}`,
        `Certificate Expiring ${expiringId}`,
        `Certificate Exported ${expiringId}`,
        `Certificate Issued ${expiringId}`,
        `Validation Records Written ${pendingId}`,
        // Its name inside ALLOWED_DOMAINS got its record all the same.
        `Validation Records Written ${blockedId}`,
      ].sort(),
    );
    expect(runs.first?.events.every((e) => e.source === 'tencent-ssl-sync')).toBe(true);
  });

  it('says in the report what it announced', () => {
    const announced = runs.first?.report.events;

    expect(announced?.bus).toBe(BUS);
    expect(announced?.announced).toHaveLength(6);
    expect(announced?.announced.every((a) => a.result === 'sent' && a.eventId)).toBe(true);
  });

  it('delivers details people and rules can read: the records, the reasons, the secret and its version', () => {
    const events = runs.first?.events ?? [];
    const byType = Object.fromEntries(events.map((e) => [e['detail-type'], e.detail]));
    const written = events.find(
      (e) => e['detail-type'] === 'Validation Records Written' && e.detail.certificateId === pendingId,
    );

    expect(written?.detail).toMatchObject({
      transition: 'validation-records-written',
      domains: ['www.example.com'],
      records: [expect.objectContaining({ type: 'CNAME', action: 'created', zone: expect.any(Object) })],
    });
    expect(byType['Certificate Blocked']).toMatchObject({
      domains: ['shop.example.com', 'shop.example.org'],
      reasons: expect.arrayContaining([
        expect.objectContaining({ reason: expect.stringMatching(/ALLOWED_DOMAINS/) }),
      ]),
    });
    expect(byType['Certificate Exported']).toMatchObject({
      result: 'created',
      secretName: 'tencent-ssl/mail.example.com',
      versionId: expect.any(String),
    });
    expect(byType['Certificate Expiring']).toMatchObject({ daysLeft: 19, renewBeforeDays: 30 });
  });

  it('never puts a key or a certificate into an event', () => {
    const text = JSON.stringify(Object.values(runs).flatMap((r) => r.events));

    expect(text).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE|privateKey/);
  });

  it('announces nothing on the next run, which has nothing new', () => {
    expect(runs.idle?.events).toEqual([]);
    expect(runs.idle?.report.events).toEqual({ bus: BUS, announced: [] });
  });

  it('announces the certificate the CA issued and its export, once', () => {
    expect(kinds(runs.issued?.events ?? [])).toEqual(
      [`Certificate Exported ${pendingId}`, `Certificate Issued ${pendingId}`].sort(),
    );
    expect(runs.idleAgain?.events).toEqual([]);
  });
});

describe("events from the export function's batch", () => {
  it('announces the export the batch wrote, once, after the sync announced the issued certificate it queued', async () => {
    const exportQueueUrl = String(
      (await sqs.send(new CreateQueueCommand({ QueueName: 'certificate-exports' }))).QueueUrl,
    );
    const queuedEnv = { ...env, EXPORT_QUEUE_URL: exportQueueUrl };
    const shop = await store.addIssued({ domain: 'shop2.example.com' });
    const { report } = await syncOnce(queuedEnv, {}, { route53RateLimit: 50 });
    const fromSync = await delivered();
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: exportQueueUrl, MaxNumberOfMessages: 10 }),
    );
    const records = (received.Messages ?? []).map((m) => ({
      messageId: String(m.MessageId),
      body: String(m.Body),
      eventSource: 'aws:sqs' as const,
    }));
    const batch = async () => {
      const runtime = createRuntime(loadConfig(queuedEnv), { write: () => {} });
      try {
        return (await exportSqsBatch(runtime.exportDeps(), records)).report;
      } finally {
        await runtime.close();
      }
    };

    const exported = await batch();
    const fromBatch = await delivered();
    const again = await batch();

    expect(report.certificates.find((c) => c.certificateId === shop.CertificateId)?.export?.result).toBe(
      'queued',
    );
    expect(kinds(fromSync)).toEqual([`Certificate Issued ${shop.CertificateId}`]);
    expect(exported.events?.announced).toEqual([
      expect.objectContaining({ transition: 'certificate-exported', result: 'sent' }),
    ]);
    expect(fromBatch.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        certificateId: shop.CertificateId,
        domains: ['shop2.example.com'],
        secretName: 'tencent-ssl/shop2.example.com',
        result: 'created',
      }),
    ]);
    expect(again.events).toEqual({ bus: BUS, announced: [] });
    expect(await delivered()).toEqual([]);
  });
});
