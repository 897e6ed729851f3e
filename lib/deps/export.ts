import type { ExportDeps } from '../export.js';
import type { BaseDeps } from './base.js';

export function createExportDeps(base: BaseDeps): ExportDeps {
  const { config } = base;
  return {
    tencent: base.tencent,
    secrets: base.secrets,
    clock: base.clock,
    logger: base.logger,
    ...(base.trust ? { trust: base.trust } : {}),
    ...(base.state ? { state: base.state } : {}),
    settings: {
      nameTemplate: config.secrets.nameTemplate,
      kmsKeyId: config.secrets.kmsKeyId,
      dryRun: config.dryRun,
      allowedDomains: config.allowedDomains,
    },
  };
}
