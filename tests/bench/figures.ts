import type { SyncReport } from '../../lib/sync-types.js';

/** What the benchmark worker measures of one sync run. */
export interface RunFigures {
  wallMs: number;
  /** When (ms after the start) the last call of each kind finished: where the time went. */
  lastFinished: Record<string, number>;
  commands: Record<string, number>;
  zonesTouched: number;
  changeBatches: number;
  recordWrites: number;
  secretWrites: number;
  outcomes: SyncReport['totals']['byOutcome'];
  exports: Record<string, number>;
}

/** The one JSON line the worker prints. */
export interface WorkerResult {
  first: RunFigures;
  second: RunFigures;
  /** Epoch ms when the second run started: Tencent calls before it belong to the first. */
  secondStartedAt: number;
  maxRssBytes: number;
}
