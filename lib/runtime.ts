import type { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import { describeExportState, type ExportDeps, exportInline, exportViaQueue } from './export.js';
import { JsonLogger, type Logger } from './logger.js';
import { Redactor } from './redact.js';
import { createRoute53Client } from './route53/client.js';
import { readTencentCredentialsSecret } from './secrets/credentials.js';
import { enqueueExports } from './sqs/export-queue.js';
import type { SyncDeps } from './sync.js';
import { TencentClient, type TencentCredentials } from './tencent/client.js';
import { TencentSslApi } from './tencent/ssl-api.js';

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
  close(): Promise<void>;
}

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
  return {
    config,
    logger,
    redactor,
    clock,
    tencent,
    route53,
    secrets,
    exportDeps: () => exportDeps,
    syncDeps: () => ({
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
    }),
    async close() {
      await tencentClient.close();
      route53.destroy();
      secrets.destroy();
      sqs?.destroy();
    },
  };
}
