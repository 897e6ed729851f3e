import type { Config } from './config.js';
import { type BaseDeps, type BaseOptions, createBaseDeps } from './deps/base.js';
import { createExportDeps } from './deps/export.js';
import { createObserver } from './deps/observer.js';
import { createSyncDeps } from './deps/sync.js';
import type { ExportDeps } from './export.js';
import type { SyncDeps } from './sync-types.js';

/** Everything the command line (and the sandbox) can run, built once per process. */
export interface Runtime extends BaseDeps {
  syncDeps(): SyncDeps;
  exportDeps(): ExportDeps;
}

export type RuntimeOptions = BaseOptions;

export function createRuntime(config: Config, options: RuntimeOptions = {}): Runtime {
  const base = createBaseDeps(config, options);
  let sync: SyncDeps | undefined;
  const exportDeps = createExportDeps(base, { observer: createObserver(base) });
  return {
    ...base,
    syncDeps: () => {
      sync ??= createSyncDeps(base);
      return sync;
    },
    exportDeps: () => exportDeps,
  };
}
