import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../events/metrics.js';

/**
 * Powertools Metrics for a Lambda handler: the embedded metric format, written to stdout (the
 * function's log) when flushed, no API call. The `service` dimension is POWERTOOLS_SERVICE_NAME,
 * which Powertools reads itself (the stack sets it to `<service>-<stage>`).
 */
export function createMetrics(): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE });
}

/** Writes what this invocation recorded, once; an invocation that recorded nothing writes nothing. */
export function flushMetrics(metrics: Metrics): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}
