import { SQSClient } from '@aws-sdk/client-sqs';
import type { MetricsSink } from '../events/metrics.js';
import { describeExportState, exportInline, exportViaQueue } from '../export.js';
import { createRoute53Client } from '../route53/client.js';
import { enqueueExports } from '../sqs/export-queue.js';
import type { SyncDeps } from '../sync-types.js';
import type { BaseDeps } from './base.js';
import { createExportDeps } from './export.js';
import { createObserver } from './observer.js';

export interface SyncDepsOptions {
  /** Where each run's metrics go (the Lambda handlers'); none by default. */
  metrics?: MetricsSink;
}

/**
 * Sync's collaborators: Route53, the export hand-off (the queue when configured, else inline),
 * and the observer of finished runs (events, metrics).
 */
export function createSyncDeps(base: BaseDeps, options: SyncDepsOptions = {}): SyncDeps {
  const { config, clock, logger } = base;
  const route53 = createRoute53Client({
    ...(config.route53.roleArn ? { roleArn: config.route53.roleArn } : {}),
    ...(config.route53.externalId ? { externalId: config.route53.externalId } : {}),
    clock,
    logger: logger.child({ system: 'route53' }),
  });
  const exportDeps = createExportDeps(base);
  const queueUrl = config.exportQueueUrl;
  const { state } = base;
  let sqs: SQSClient | undefined;
  base.onClose(() => {
    route53.destroy();
    sqs?.destroy();
  });
  return {
    tencent: base.tencent,
    route53,
    clock,
    logger,
    ...(state ? { state } : {}),
    observer: createObserver(base, { state, metrics: options.metrics }),
    onIssued: queueUrl
      ? exportViaQueue(exportDeps, (ids) => {
          sqs ??= new SQSClient({});
          return enqueueExports(sqs, queueUrl, ids);
        })
      : exportInline(exportDeps),
    exportState: (items) => describeExportState(exportDeps, items),
    settings: {
      allowedDomains: config.allowedDomains,
      zoneOverrides: config.route53.zones,
      recordTtl: config.recordTtl,
      waitForInsync: config.waitForInsync,
      dryRun: config.dryRun,
      ...(config.renewal
        ? { certificates: config.renewal.certificates, renewBeforeDays: config.renewal.renewBeforeDays }
        : {}),
    },
  };
}
