import { ACMClient } from '@aws-sdk/client-acm';
import { AcmImporter } from '../acm/import.js';
import type { ExportDeps, ExportObserver } from '../export.js';
import type { BaseDeps } from './base.js';

export interface ExportDepsOptions {
  /** Told about each finished export (the export function, the `export` command); sync's inline export goes without. */
  observer?: ExportObserver;
}

export function createExportDeps(base: BaseDeps, options: ExportDepsOptions = {}): ExportDeps {
  const { config } = base;
  return {
    tencent: base.tencent,
    secrets: base.secrets,
    clock: base.clock,
    logger: base.logger,
    ...(base.trust ? { trust: base.trust } : {}),
    ...(base.state ? { state: base.state } : {}),
    ...(config.acm.import ? { acm: createAcmImporter(base) } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
    settings: {
      nameTemplate: config.secrets.nameTemplate,
      kmsKeyId: config.secrets.kmsKeyId,
      dryRun: config.dryRun,
      allowedDomains: config.allowedDomains,
    },
  };
}

/** ACM in ACM_REGION (CloudFront reads us-east-1 only), else the SDK's own region. */
function createAcmImporter(base: BaseDeps): AcmImporter {
  const region = base.config.acm.region;
  const client = new ACMClient(region ? { region } : {});
  base.onClose(() => client.destroy());
  return new AcmImporter({ client, clock: base.clock, logger: base.logger.child({ system: 'acm' }) });
}
