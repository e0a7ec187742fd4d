import { errorFields } from "./log";
import type { DeliveryTelemetry, ReceiveRecord, ReceiverLogger } from "./types";

/**
 * The receiver's calls into its telemetry, none of which can fail a delivery: a telemetry that throws is logged, and
 * the delivery goes on without it.
 */
export function guardedTelemetry(logger: ReceiverLogger) {
  return {
    /** The telemetry's follower of one delivery, or none when starting it threw. */
    start(start: () => DeliveryTelemetry | undefined): DeliveryTelemetry | undefined {
      try {
        return start();
      } catch (error) {
        logger.error({ error: errorFields(error) }, "The telemetry failed to start a delivery");
        return undefined;
      }
    },

    /** Tells the telemetry how a delivery ended; a throw changes no answer. */
    end(trace: DeliveryTelemetry, record: ReceiveRecord): void {
      try {
        trace.end(record);
      } catch (error) {
        logger.error({ error: errorFields(error) }, "The telemetry failed to end a delivery");
      }
    },

    /** The trace headers to store with a queued event, names in lower case; none when the telemetry threw. */
    headers(trace: DeliveryTelemetry): Record<string, string> {
      try {
        const headers: Record<string, string> = {};
        // Stored names are lower case, as the worker's header reader expects (B3 writes `X-B3-TraceId`).
        for (const [name, value] of Object.entries(trace.headers?.() ?? {})) headers[name.toLowerCase()] = value;
        return headers;
      } catch (error) {
        logger.error({ error: errorFields(error) }, "The telemetry failed to give a delivery's trace headers");
        return {};
      }
    },
  };
}
