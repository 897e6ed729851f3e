import type { Clock } from '../clock.js';
import { errorMessage } from '../error-text.js';
import type { ExportObserver, ExportReport } from '../export.js';
import type { Logger } from '../logger.js';
import type { StateStore } from '../state/types.js';
import type { SyncObserver, SyncReport } from '../sync-types.js';
import { announce } from './announce.js';
import { trackBlocked } from './blocked.js';
import type { BusEvent, PutOutcome } from './event-bus.js';
import { exportRunMetrics, type MetricsSink, type RunMetric, syncRunMetrics } from './metrics.js';
import { transitionsOf } from './transitions.js';
import type { EventsReport } from './types.js';

export interface ObserverDeps {
  clock: Clock;
  logger: Logger;
  /** RENEW_BEFORE_DAYS: when an issued certificate is expiring. */
  renewBeforeDays: number;
  /** The state table: what was announced, since when certificates are blocked. */
  state?: Pick<StateStore, 'claim' | 'complete' | 'release' | 'claimOf'> | undefined;
  /** EVENT_BUS_NAME and PutEvents on it; absent: no events. */
  events?: { busName: string; send: (events: BusEvent[]) => Promise<PutOutcome[]> } | undefined;
  /** Where the run's metrics go (the Lambda handlers' Powertools Metrics); absent: none. */
  metrics?: MetricsSink | undefined;
}

/** Without the state table nothing could tell a transition already announced from a new one. */
export const NO_STATE_FOR_EVENTS =
  'EVENT_BUS_NAME is set but STATE_TABLE is not: no events are sent, as nothing would remember what was announced';

/**
 * What a finished run tells others: the blocked-since memory, the events of its transitions (each
 * once), its metrics. Runs after the report is final; never fails the run.
 */
export function createRunObserver(deps: ObserverDeps): SyncObserver & ExportObserver {
  const { clock, logger } = deps;

  const record = (metrics: RunMetric[]) => {
    for (const metric of metrics) deps.metrics?.addMetric(metric.name, metric.unit, metric.value);
  };

  async function announceReport(report: SyncReport | ExportReport): Promise<EventsReport | undefined> {
    if (!deps.events) return undefined;
    const { busName, send } = deps.events;
    if (!deps.state) {
      logger.warn(NO_STATE_FOR_EVENTS);
      return { bus: busName, announced: [], off: NO_STATE_FOR_EVENTS };
    }
    const transitions = transitionsOf(report, { now: clock.now(), renewBeforeDays: deps.renewBeforeDays });
    const announced = await announce({ state: deps.state, send, logger }, transitions);
    if (announced.length > 0)
      logger.info('events announced', {
        bus: busName,
        sent: announced.filter((a) => a.result === 'sent').length,
        failed: announced.filter((a) => a.result === 'failed').length,
      });
    return { bus: busName, announced };
  }

  return {
    async afterSync(report, run) {
      try {
        if (deps.state) {
          try {
            await trackBlocked(deps.state, report, clock);
          } catch (error) {
            logger.warn('cannot read or write since when certificates are blocked', {
              error: errorMessage(error),
            });
          }
        }
        const events = await announceReport(report);
        record(syncRunMetrics(report, { now: clock.now(), partial: run.partial }));
        return events;
      } catch (error) {
        logger.error('cannot tell what the run did', { error: errorMessage(error) });
        return undefined;
      }
    },

    async afterExport(report) {
      try {
        const events = await announceReport(report);
        record(exportRunMetrics(report));
        return events;
      } catch (error) {
        logger.error('cannot tell what the export did', { error: errorMessage(error) });
        return undefined;
      }
    },
  };
}
