import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { putEvents } from '../events/event-bus.js';
import type { MetricsSink } from '../events/metrics.js';
import { createRunObserver } from '../events/observer.js';
import type { ExportObserver } from '../export.js';
import type { StateStore } from '../state/types.js';
import type { SyncObserver } from '../sync-types.js';
import type { BaseDeps } from './base.js';
import { createStateStore } from './state.js';

export interface ObserverOptions {
  /** The state table the caller already has; else one is made for STATE_TABLE (none when unset). */
  state?: StateStore | undefined;
  /** Where metrics go (a Lambda handler's Powertools Metrics); none by default. */
  metrics?: MetricsSink | undefined;
}

/** The observer of finished runs: events on EVENT_BUS_NAME, the blocked-since memory, metrics. */
export function createObserver(base: BaseDeps, options: ObserverOptions = {}): SyncObserver & ExportObserver {
  const { config, clock, logger } = base;
  const own = options.state ? undefined : createStateStore(config, clock);
  if (own) base.onClose(() => own.destroy());
  const state = options.state ?? own;
  let client: EventBridgeClient | undefined;
  base.onClose(() => client?.destroy());
  const busName = config.eventBusName;
  return createRunObserver({
    clock,
    logger: logger.child({ system: 'events' }),
    renewBeforeDays: config.renewBeforeDays,
    state,
    events: busName
      ? {
          busName,
          send: (events) => {
            client ??= new EventBridgeClient({ retryMode: 'standard' });
            return putEvents(client, busName, events, clock);
          },
        }
      : undefined,
    metrics: options.metrics,
  });
}
