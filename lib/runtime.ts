import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import { describeExportState, type ExportDeps, exportInline, exportViaQueue } from './export.js';
import { JsonLogger, type Logger } from './logger.js';
import { Redactor } from './redact.js';
import { createRoute53Client } from './route53/client.js';
import { invokeAsync } from './lambda/invoke.js';
import { readTencentCredentialsSecret, readTextSecret } from './secrets/credentials.js';
import { enqueueExports } from './sqs/export-queue.js';
import { runSync, type SyncDeps } from './sync.js';
import { TencentClient, type TencentCredentials } from './tencent/client.js';
import { TencentSslApi } from './tencent/ssl-api.js';
import { ReplayGuard, type WebhookDeps } from './webhook.js';

/** The real collaborators of the core, built once per process (a Lambda cold start, a CLI run). */
export interface Runtime {
  config: Config;
  logger: Logger;
  redactor: Redactor;
  clock: Clock;
  tencent: TencentSslApi;
  route53: Route53Client;
  secrets: SecretsManagerClient;
  syncDeps(): SyncDeps;
  exportDeps(): ExportDeps;
  webhookDeps(): WebhookDeps;
  close(): Promise<void>;
}

/** The webhook key is read again after this long, so a rotated key takes effect without a deploy. */
const WEBHOOK_KEY_TTL_MS = 5 * 60 * 1000;

export interface RuntimeOptions {
  /** Where log lines go (stderr by default). */
  write?: (line: string) => void;
  clock?: Clock;
}

export function createRuntime(config: Config, options: RuntimeOptions = {}): Runtime {
  const clock = options.clock ?? systemClock;
  const redactor = new Redactor([
    config.tencent.credentials?.secretKey,
    config.tencent.credentials?.sessionToken,
  ]);
  const logger = new JsonLogger({
    level: config.logLevel,
    redactor,
    ...(options.write ? { write: options.write } : {}),
  });
  const secrets = new SecretsManagerClient({});
  const literal = config.tencent.credentials;
  const secretName = config.tencent.credentialsSecret;
  const credentials = async (): Promise<TencentCredentials> => {
    if (literal) return literal;
    if (!secretName) throw new Error('no Tencent credentials configured');
    const loaded = await readTencentCredentialsSecret(secrets, secretName);
    redactor.add(loaded.secretKey);
    redactor.add(loaded.sessionToken);
    return loaded;
  };
  const tencentClient = new TencentClient({
    endpoint: config.tencent.endpoint,
    credentials,
    rateLimit: config.tencent.rateLimit,
    clock,
    logger: logger.child({ system: 'tencent' }),
  });
  const route53 = createRoute53Client({
    ...(config.route53.roleArn ? { roleArn: config.route53.roleArn } : {}),
    ...(config.route53.externalId ? { externalId: config.route53.externalId } : {}),
    clock,
    logger: logger.child({ system: 'route53' }),
  });
  const tencent = new TencentSslApi(tencentClient);
  const exportDeps: ExportDeps = {
    tencent,
    secrets,
    clock,
    logger,
    settings: {
      nameTemplate: config.secrets.nameTemplate,
      kmsKeyId: config.secrets.kmsKeyId,
      dryRun: config.dryRun,
    },
  };
  const queueUrl = config.exportQueueUrl;
  let sqs: SQSClient | undefined;
  const onIssued = queueUrl
    ? exportViaQueue(exportDeps, (ids) => {
        sqs ??= new SQSClient({});
        return enqueueExports(sqs, queueUrl, ids);
      })
    : exportInline(exportDeps);
  const syncDeps = (): SyncDeps => ({
    tencent,
    route53,
    clock,
    logger,
    onIssued,
    exportState: (items) => describeExportState(exportDeps, items),
    settings: {
      allowedDomains: config.allowedDomains,
      zoneOverrides: config.route53.zones,
      recordTtl: config.recordTtl,
      waitForInsync: config.waitForInsync,
      dryRun: config.dryRun,
    },
  });
  let lambda: LambdaClient | undefined;
  let webhookKey: { value: string | undefined; until: number } | undefined;
  const replays = new ReplayGuard();
  const webhookDeps = (): WebhookDeps => ({
    clock,
    logger,
    replays,
    async getKey() {
      if (config.webhook.secret) return config.webhook.secret;
      const name = config.webhook.secretName;
      if (!name) return undefined;
      if (!webhookKey || webhookKey.until <= clock.now()) {
        const value = await readTextSecret(secrets, name);
        redactor.add(value);
        webhookKey = { value, until: clock.now() + WEBHOOK_KEY_TTL_MS };
      }
      return webhookKey.value;
    },
    syncCertificates: (certificateIds) => runSync(syncDeps(), { certificateIds }),
    async startFullRun() {
      const functionName = config.webhook.syncFunctionName;
      if (!functionName) throw new Error('SYNC_FUNCTION_NAME is not set: the webhook cannot start a full run');
      lambda ??= new LambdaClient({});
      await invokeAsync(lambda, functionName, {});
    },
  });
  return {
    config,
    logger,
    redactor,
    clock,
    tencent,
    route53,
    secrets,
    exportDeps: () => exportDeps,
    syncDeps,
    webhookDeps,
    async close() {
      await tencentClient.close();
      route53.destroy();
      secrets.destroy();
      sqs?.destroy();
      lambda?.destroy();
    },
  };
}
