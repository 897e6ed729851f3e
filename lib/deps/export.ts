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
    ...(options.observer ? { observer: options.observer } : {}),
    settings: {
      nameTemplate: config.secrets.nameTemplate,
      kmsKeyId: config.secrets.kmsKeyId,
      dryRun: config.dryRun,
      allowedDomains: config.allowedDomains,
    },
  };
}
