/**
 * OpenTelemetry for Hookline: traces and metrics of the receiver (and the sender), on `@opentelemetry/api`, an
 * optional peer dependency that only this entry imports. Without a registered SDK the API is a no-op, and so is
 * what this entry does with it (no attribute is set on a span that does not record).
 *
 * @example
 * import { createReceiver } from "@hookline/core";
 * import { receiverTelemetry } from "@hookline/core/otel";
 *
 * const receiver = createReceiver({ secret, events, telemetry: receiverTelemetry() });
 * const sender = createSender({ events, telemetry: senderTelemetry() });
 *
 * @module
 */

import type {
  AttemptInfo,
  AttemptTelemetry,
  DeliveryTelemetry,
  HeaderReader,
  ReceiveOutcome,
  ReceiveRecord,
  ReceiverTelemetry,
  SenderTelemetry,
} from "@hookline/core";
import {
  type Attributes,
  type Context,
  type Counter,
  context,
  type Histogram,
  type Link,
  type Meter,
  type MeterProvider,
  metrics,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";

/** The instrumentation scope's name: the tracer's and the meter's. */
export const INSTRUMENTATION_NAME = "@hookline/core";

/** Options of {@link receiverTelemetry} and {@link senderTelemetry}. */
export interface TelemetryOptions {
  /**
   * Where spans go.
   * @default the global tracer provider (`trace.getTracerProvider()`)
   */
  tracerProvider?: TracerProvider;
  /**
   * Where metrics go.
   * @default the global meter provider (`metrics.getMeterProvider()`)
   */
  meterProvider?: MeterProvider;
}

/** Reads `traceparent` and `tracestate` (or whatever the global propagator reads) through a header reader. */
const headerGetter: TextMapGetter<HeaderReader> = {
  get: (header, key) => header(key),
  // The propagators only `get` the fields they know; no key listing is needed.
  keys: () => [],
};

/** Writes the propagator's fields (`traceparent`, `tracestate`) into an attempt's headers. */
const headerSetter: TextMapSetter<Record<string, string>> = {
  set: (headers, key, value) => {
    headers[key] = value;
  },
};

/** Durations in seconds, as the semantic conventions measure them, with buckets from 5 ms to 10 s. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * Traces and metrics of a receiver, for `createReceiver({ telemetry })`.
 *
 * Each delivery gets a `webhook.receive` span (a child of the active span, such as the HTTP server's, else a
 * server span of its own), linked to the sender's trace when the request carries `traceparent`: a link and not a
 * parent, since the header comes from outside. Its handlers run in its context, so their spans nest under it. It
 * ends when the handlers do (after a 202 too), with `webhook.message.id`, `webhook.event.type`,
 * `webhook.outcome`, `http.response.status_code` and `error.type` (the error code).
 *
 * With an inbox, the queued event keeps the `webhook.receive` span's context (`traceparent` among its stored
 * headers), and each run of a worker gets a `webhook.process` consumer span of its own, linked to it, in whose
 * context the handlers run; it ends with `webhook.outcome` `processed`, `ignored`, `retrying`, `dead_lettered` or
 * `failed` (exhausted with no dead-letter store).
 *
 * Metrics: `hookline.receiver.received`, `.processed`, `.duplicates`, `.rejected` (by `error.type`),
 * `.dead_lettered`, `.failed`, and with an inbox `.queued` and `.retrying` counters, and the
 * `hookline.receiver.handler.duration` histogram (seconds), of a worker's runs too.
 */
export function receiverTelemetry(options: TelemetryOptions = {}): ReceiverTelemetry {
  const { tracer, meter } = instrumentation(options);
  const counter = (name: string, description: string) =>
    meter.createCounter(`hookline.receiver.${name}`, { description, unit: "{delivery}" });
  const received = counter("received", "Deliveries that arrived, before any check");
  const processed = counter("processed", "Deliveries whose handlers succeeded");
  const duplicates = counter("duplicates", "Deliveries of a message already processed, or being processed");
  const rejected = counter("rejected", "Deliveries refused before any handler ran, by error code");
  const deadLettered = counter("dead_lettered", "Deliveries whose handler failed and whose event was dead-lettered");
  const failed = counter(
    "failed",
    "Deliveries whose handler failed with nothing to keep the event: answered 500, or exhausted in an inbox",
  );
  const queued = counter("queued", "Deliveries stored in the inbox for a worker");
  const retrying = counter("retrying", "Inbox runs whose handler failed: the inbox runs the event again later");
  const counters: Partial<Record<ReceiveRecord["outcome"], Counter>> = {
    processed,
    duplicate: duplicates,
    dead_lettered: deadLettered,
    failed,
    queued,
    rejected,
    retrying,
  };
  const handlerDuration = seconds(
    meter,
    "hookline.receiver.handler.duration",
    "How long the handlers of one delivery ran",
  );

  return {
    start(header) {
      received.add(1);
      const active = context.active();
      const kind = trace.getSpan(active) ? SpanKind.INTERNAL : SpanKind.SERVER;
      return follow("webhook.receive", kind, header, active);
    },
    // The worker's loop runs in no request's context: each run is a trace of its own, linked to its delivery's.
    process: (header) => follow("webhook.process", SpanKind.CONSUMER, header, ROOT_CONTEXT),
  };

  /** A span for one delivery or run, linked to the trace its headers carry, and what ends it. */
  function follow(name: string, kind: SpanKind, header: HeaderReader, parent: Context): DeliveryTelemetry {
    const remote = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, header, headerGetter));
    const links: Link[] = remote && trace.isSpanContextValid(remote) ? [{ context: remote }] : [];
    const span = tracer.startSpan(name, { kind, links }, parent);
    // A span that neither records nor carries a trace (the no-op API's) has no context worth entering.
    const spanContext: Context | undefined =
      span.isRecording() || trace.isSpanContextValid(span.spanContext()) ? trace.setSpan(parent, span) : undefined;
    let ended = false;
    return {
      run: (handlers) => (spanContext ? context.with(spanContext, handlers) : handlers()),
      end(record) {
        if (ended) return;
        ended = true;
        count(record);
        if (span.isRecording()) describe(span, record);
        span.end();
      },
      headers() {
        const headers: Record<string, string> = {};
        if (spanContext) propagation.inject(spanContext, headers, headerSetter);
        return headers;
      },
    };
  }

  function count(record: ReceiveRecord) {
    const { type } = record.delivery;
    const byType: Attributes = type === undefined ? {} : { "webhook.event.type": type };
    const counter = counters[record.outcome];
    if (record.outcome === "duplicate") byType["webhook.in_flight"] = record.code === "in_flight";
    if (record.outcome === "rejected") {
      const attributes: Attributes = { "error.type": record.code ?? "unknown" };
      if (record.status !== undefined) attributes["http.response.status_code"] = record.status;
      counter?.add(1, attributes);
    } else counter?.add(1, byType);
    if (record.handlerMs !== undefined) {
      handlerDuration.record(record.handlerMs / 1000, { ...byType, "webhook.outcome": record.outcome });
    }
  }
}

const HANDLER_FAILED = new Set<ReceiveOutcome>(["failed", "dead_lettered", "retrying"]);

function describe(span: Span, record: ReceiveRecord) {
  const attributes: Attributes = { "webhook.outcome": record.outcome };
  if (record.status !== undefined) attributes["http.response.status_code"] = record.status;
  const { id, deliveryId, type } = record.delivery;
  if (id !== undefined) attributes["webhook.message.id"] = id;
  if (deliveryId !== undefined) attributes["webhook.delivery.id"] = deliveryId;
  if (type !== undefined) attributes["webhook.event.type"] = type;
  if (record.code !== undefined) attributes["error.type"] = record.code;
  if (record.late) attributes["webhook.late"] = true;
  span.setAttributes(attributes);
  if (record.error !== undefined) span.recordException(exception(record.error));
  // A refusal (4xx) is the sender's error, not ours: as for HTTP server spans, only 5xx and failed handlers are.
  if ((record.status ?? 0) >= 500 || HANDLER_FAILED.has(record.outcome)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: record.code ?? "handler failed" });
  }
}

/** Lag from a message's creation to its delivery: from 10 ms to a day. */
const LAG_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400];

/**
 * Traces and metrics of a sender, for `createSender({ telemetry })`, following the HTTP client semantic
 * conventions.
 *
 * Each attempt gets a client span named `POST` from its start to its end (the root of a trace of its own), with
 * `http.request.method`, `url.full` (no credentials), `server.address`, `server.port`, `http.response.status_code`,
 * `error.type` (the status for 4xx and 5xx, else `timeout`, `network`, `blocked`, `aborted` or `invalid`),
 * `http.request.resend_count` (from the second attempt on), and `webhook.message.id`, `webhook.delivery.id`,
 * `webhook.endpoint.id`, `webhook.event.type`, `webhook.attempt`, `webhook.outcome` (success, retry, final,
 * disable, blocked). The attempt's request carries that span's context in the headers the global propagator
 * injects (`traceparent` and `tracestate` with the W3C one; none without a registered propagator or SDK), so that
 * the receiver's span links to it. Those headers are not signed.
 *
 * Metrics: `http.client.request.duration` (seconds, the conventions' attributes), the `hookline.sender.attempts`
 * counter by `webhook.response.class` (`2xx`, `4xx`, `5xx`, `timeout`, `network`, `blocked`, …), and the
 * `hookline.sender.delivery.lag` histogram: seconds from the message's creation to its delivery.
 */
export function senderTelemetry(options: TelemetryOptions = {}): SenderTelemetry {
  const { tracer, meter } = instrumentation(options);
  const duration = seconds(meter, "http.client.request.duration", "Duration of HTTP client requests");
  const attempts = meter.createCounter("hookline.sender.attempts", {
    description: "Delivery attempts, by how the endpoint answered",
    unit: "{attempt}",
  });
  const lag = seconds(meter, "hookline.sender.delivery.lag", "From a message's creation to its delivery", LAG_BUCKETS);

  return {
    start(attempt) {
      // The conventions' attributes known before the request, as samplers expect them at the span's start.
      const server = serverAttributes(attempt.url);
      const span = tracer.startSpan(
        "POST",
        { kind: SpanKind.CLIENT, startTime: attempt.startedAt, attributes: { ...server, "url.full": attempt.url } },
        ROOT_CONTEXT,
      );
      const headers: Record<string, string> = {};
      propagation.inject(trace.setSpan(ROOT_CONTEXT, span), headers, headerSetter);
      let ended = false;
      return {
        headers,
        end(info) {
          if (ended) return;
          ended = true;
          const http = httpAttributes(server, info);
          record(info, http);
          if (span.isRecording()) {
            span.setAttributes({
              ...http,
              // The conventions set it only on a request sent again.
              ...(info.attempt > 1 && { "http.request.resend_count": info.attempt - 1 }),
              "webhook.message.id": info.messageId,
              "webhook.delivery.id": info.deliveryId,
              "webhook.endpoint.id": info.endpointId,
              "webhook.event.type": info.type,
              "webhook.attempt": info.attempt,
              "webhook.outcome": info.outcome,
            });
            // As for HTTP client spans: no answer, or a 4xx or 5xx one, is an error.
            if (http["error.type"] !== undefined) {
              span.setStatus({ code: SpanStatusCode.ERROR, ...(info.error !== undefined && { message: info.error }) });
            }
          }
          span.end(info.startedAt + info.durationMs);
        },
      } satisfies AttemptTelemetry;
    },
  };

  function record(info: AttemptInfo, http: Attributes) {
    duration.record(info.durationMs / 1000, http);
    attempts.add(1, { "webhook.response.class": responseClass(info), "webhook.event.type": info.type });
    if (info.status === "delivered") {
      const endedAt = info.startedAt + info.durationMs;
      lag.record(Math.max(0, endedAt - info.createdAt) / 1000, { "webhook.event.type": info.type });
    }
  }
}

/** The method and the server of an attempt, as the HTTP client conventions name them. */
function serverAttributes(endpoint: string): Attributes {
  const attributes: Attributes = { "http.request.method": "POST" };
  try {
    const url = new URL(endpoint);
    attributes["server.address"] = url.hostname;
    attributes["server.port"] = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    attributes["url.scheme"] = url.protocol.slice(0, -1);
  } catch {
    // An invalid URL has no server to name; `error.type` says `invalid`.
  }
  return attributes;
}

/** The HTTP client conventions' attributes of an attempt (those of `http.client.request.duration`). */
function httpAttributes(server: Attributes, info: AttemptInfo): Attributes {
  const attributes = { ...server };
  if (info.httpStatus !== undefined) {
    attributes["http.response.status_code"] = info.httpStatus;
    if (info.httpStatus >= 400) attributes["error.type"] = String(info.httpStatus);
  } else {
    attributes["error.type"] = info.errorKind ?? (info.outcome === "blocked" ? "blocked" : "network");
  }
  return attributes;
}

/** `2xx`, `4xx`, `5xx` (or `1xx`, `3xx`) by the status; `timeout`, `network`, `blocked`, … when none came. */
function responseClass(info: AttemptInfo): string {
  if (info.httpStatus !== undefined) return `${Math.floor(info.httpStatus / 100)}xx`;
  return info.errorKind ?? (info.outcome === "blocked" ? "blocked" : "network");
}

/** The tracer and the meter of Hookline's instrumentation scope, from the options' providers or the global ones. */
function instrumentation(options: TelemetryOptions) {
  return {
    tracer: (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME),
    meter: (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_NAME),
  };
}

/** A histogram of durations in seconds, as the semantic conventions measure them. */
function seconds(meter: Meter, name: string, description: string, buckets = SECONDS_BUCKETS): Histogram {
  return meter.createHistogram(name, { description, unit: "s", advice: { explicitBucketBoundaries: buckets } });
}

/** A thrown value as OpenTelemetry records it: an `Error` as is, anything else as text (never throwing). */
function exception(error: unknown): Error | string {
  if (error instanceof Error) return error;
  try {
    return String(error);
  } catch {
    return `a thrown ${typeof error}`;
  }
}
