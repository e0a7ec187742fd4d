import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { signedDelivery } from "@hookline/testing";
import { context, propagation, SpanKind, SpanStatusCode, type TextMapPropagator, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { TraceState, W3CTraceContextPropagator } from "@opentelemetry/core";
import { B3InjectEncoding, B3Propagator } from "@opentelemetry/propagator-b3";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import {
  createReceiver,
  createSender,
  defineEvents,
  github,
  hmac,
  type InboxStore,
  memoryDeadLetters,
  memoryInbox,
  type ReceiverOptions,
  type SenderOptions,
  standardWebhooks,
  stripe,
  type WebhookScheme,
} from "../src";
import { nodeHandler } from "../src/node";
import { receiverTelemetry, senderTelemetry } from "../src/otel";
import { loopbackServer } from "./sender/loopback";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const events = defineEvents({ "invoice.paid": z.object({ id: z.string(), amount: z.number().int() }) });
const paid = { type: "invoice.paid", data: { id: "in_1", amount: 1250 } };
const silent = { info() {}, warn() {}, error() {} };
const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  // The two globals an SDK would register: without them no context reaches the handlers and no header is read.
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(() => {
  context.disable();
  propagation.disable();
});

/** Providers that keep what they get in memory; `collect()` reads the metrics so far, by name. */
function inMemory(sampler?: Sampler) {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(spans)],
    ...(sampler && { sampler }),
  });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  async function collect() {
    await reader.forceFlush();
    const points = new Map<string, { attributes: Record<string, unknown>; value: unknown }[]>();
    for (const resource of exporter.getMetrics().slice(-1)) {
      for (const scope of resource.scopeMetrics) {
        expect(scope.scope.name).toBe("@hookline/core");
        for (const metric of scope.metrics) {
          points.set(
            metric.descriptor.name,
            metric.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value })),
          );
        }
      }
    }
    return points;
  }
  return { tracerProvider, meterProvider, spans: () => spans.getFinishedSpans(), collect };
}

/** A receiver whose telemetry goes to in-memory exporters. */
function instrumented(options: Partial<ReceiverOptions<typeof events>> = {}) {
  const { tracerProvider, meterProvider, spans, collect } = inMemory();
  const receiver = createReceiver({
    secret,
    events,
    logger: silent,
    telemetry: receiverTelemetry({ tracerProvider, meterProvider }),
    ...options,
  });
  return { receiver, spans, collect };
}

async function request(options: {
  id: string;
  event?: { type: string; data: unknown };
  secret?: string;
  headers?: Record<string, string>;
}) {
  const delivery = await signedDelivery({
    secret: options.secret ?? secret,
    id: options.id,
    event: options.event ?? paid,
  });
  return new Request("http://localhost/webhooks", {
    method: "POST",
    headers: { ...delivery.headers, ...options.headers },
    body: delivery.body as BodyInit,
  });
}

describe("receiverTelemetry", () => {
  it("a processed delivery: one webhook.receive span linked to the sender's trace, its handler's span nested", async () => {
    const { receiver, spans, collect } = instrumented();
    const handlerTracer = trace.getTracer("app");
    receiver.on("invoice.paid", () => {
      // The handler runs in the delivery's context: its spans are children of webhook.receive.
      handlerTracer.startSpan("app.markPaid").end();
    });
    // The app's spans go to the global provider: register the test's for them.
    const appSpans = new InMemorySpanExporter();
    const appProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(appSpans)] });
    trace.setGlobalTracerProvider(appProvider);
    try {
      const response = await receiver.handle(await request({ id: "msg_1", headers: { traceparent: TRACEPARENT } }));
      expect(response.status).toBe(200);
    } finally {
      trace.disable();
    }

    const [span, ...others] = spans();
    expect(others).toEqual([]);
    expect(span?.name).toBe("webhook.receive");
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.attributes).toEqual({
      "webhook.outcome": "processed",
      "http.response.status_code": 200,
      "webhook.message.id": "msg_1",
      "webhook.event.type": "invoice.paid",
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    // Linked, not parented: the header comes from outside.
    expect(span?.links.map((link) => link.context.traceId)).toEqual(["0af7651916cd43dd8448eb211c80319c"]);
    expect(span?.spanContext().traceId).not.toBe("0af7651916cd43dd8448eb211c80319c");
    const [child] = appSpans.getFinishedSpans();
    expect(child?.name).toBe("app.markPaid");
    expect(child?.spanContext().traceId).toBe(span?.spanContext().traceId);
    expect(child?.parentSpanContext?.spanId).toBe(span?.spanContext().spanId);

    const metrics = await collect();
    expect(metrics.get("hookline.receiver.received")).toEqual([{ attributes: {}, value: 1 }]);
    expect(metrics.get("hookline.receiver.processed")).toEqual([
      { attributes: { "webhook.event.type": "invoice.paid" }, value: 1 },
    ]);
    const [duration] = metrics.get("hookline.receiver.handler.duration") ?? [];
    expect(duration?.attributes).toEqual({ "webhook.event.type": "invoice.paid", "webhook.outcome": "processed" });
    expect(duration?.value).toMatchObject({ count: 1 });
  });

  it("refusals by code, duplicates, and a child span under an active one with no link when there is no traceparent", async () => {
    const { receiver, spans, collect } = instrumented();
    receiver.on("invoice.paid", () => {});
    expect((await receiver.handle(await request({ id: "msg_1" }))).status).toBe(200);
    expect((await receiver.handle(await request({ id: "msg_1" }))).status).toBe(200); // duplicate
    const forged = await request({ id: "msg_2", secret: "whsec_dGhpcyBpcyBub3QgdGhlIHJpZ2h0IHNlY3JldA==" });
    expect((await receiver.handle(forged)).status).toBe(401);
    const invalid = await request({ id: "msg_3", event: { type: "invoice.paid", data: { id: 1 } } });
    expect((await receiver.handle(invalid)).status).toBe(400);

    const server = new BasicTracerProvider().getTracer("http").startSpan("POST /webhooks");
    const answer = await context.with(trace.setSpan(context.active(), server), async () =>
      receiver.handle(await request({ id: "msg_4" })),
    );
    expect(answer.status).toBe(200);

    const finished = spans();
    expect(finished.map((span) => [span.attributes["webhook.outcome"], span.attributes["error.type"]])).toEqual([
      ["processed", undefined],
      ["duplicate", undefined],
      ["rejected", "no_matching_signature"],
      ["rejected", "invalid_event"],
      ["processed", undefined],
    ]);
    expect(finished.every((span) => span.links.length === 0)).toBe(true);
    expect(finished[2]?.attributes["http.response.status_code"]).toBe(401);
    // A 4xx is the sender's error: the span's status stays unset.
    expect(finished[2]?.status.code).toBe(SpanStatusCode.UNSET);
    expect(finished[3]?.attributes["webhook.message.id"]).toBe("msg_3");
    const nested = finished[4];
    expect(nested?.kind).toBe(SpanKind.INTERNAL);
    expect(nested?.parentSpanContext?.spanId).toBe(server.spanContext().spanId);

    const metrics = await collect();
    expect(metrics.get("hookline.receiver.received")).toEqual([{ attributes: {}, value: 5 }]);
    expect(metrics.get("hookline.receiver.duplicates")).toEqual([
      { attributes: { "webhook.event.type": "invoice.paid", "webhook.in_flight": false }, value: 1 },
    ]);
    expect(metrics.get("hookline.receiver.rejected")).toEqual([
      { attributes: { "error.type": "no_matching_signature", "http.response.status_code": 401 }, value: 1 },
      { attributes: { "error.type": "invalid_event", "http.response.status_code": 400 }, value: 1 },
    ]);
    expect(metrics.get("hookline.receiver.processed")?.[0]?.value).toBe(2);
  });

  it("a failed handler: dead-lettered (200) or failed (500), the span in error with the exception", async () => {
    const boom = new Error("boom");
    const kept = instrumented({ deadLetters: memoryDeadLetters() });
    kept.receiver.on("invoice.paid", () => {
      throw boom;
    });
    expect((await kept.receiver.handle(await request({ id: "msg_1" }))).status).toBe(200);
    const lost = instrumented();
    lost.receiver.on("invoice.paid", async () => {
      throw boom;
    });
    expect((await lost.receiver.handle(await request({ id: "msg_1" }))).status).toBe(500);

    for (const [{ spans, collect }, outcome, status] of [
      [kept, "dead_lettered", 200],
      [lost, "failed", 500],
    ] as const) {
      const [span] = spans();
      expect(span?.attributes["webhook.outcome"]).toBe(outcome);
      expect(span?.attributes["http.response.status_code"]).toBe(status);
      expect(span?.status.code).toBe(SpanStatusCode.ERROR);
      expect(span?.events.map((event) => [event.name, event.attributes?.["exception.message"]])).toEqual([
        ["exception", "boom"],
      ]);
      const metrics = await collect();
      expect(metrics.get(`hookline.receiver.${outcome}`)).toEqual([
        { attributes: { "webhook.event.type": "invoice.paid" }, value: 1 },
      ]);
      expect(metrics.get("hookline.receiver.handler.duration")?.[0]?.attributes).toEqual({
        "webhook.event.type": "invoice.paid",
        "webhook.outcome": outcome,
      });
    }
    expect(lost.spans()[0]?.attributes["error.type"]).toBe("handler_failed");
  });

  it("after a 202 the span ends when the handlers do, with the late outcome", async () => {
    const { receiver, spans } = instrumented({ timeoutMs: 20 });
    let finish!: () => void;
    const running = new Promise<void>((resolve) => {
      finish = resolve;
    });
    receiver.on("invoice.paid", () => running);
    expect((await receiver.handle(await request({ id: "msg_1" }))).status).toBe(202);
    expect(spans()).toEqual([]);
    finish();
    await receiver.drain();
    const [span] = spans();
    expect(span?.attributes).toMatchObject({
      "webhook.outcome": "processed",
      "http.response.status_code": 202,
      "webhook.late": true,
    });
  });

  it("with no SDK registered the global no-op API records nothing and changes no answer", async () => {
    const receiver = createReceiver({ secret, events, logger: silent, telemetry: receiverTelemetry() });
    let ran = 0;
    receiver.on("invoice.paid", () => {
      ran++;
    });
    expect((await receiver.handle(await request({ id: "msg_1" }))).status).toBe(200);
    expect((await receiver.handle(await request({ id: "msg_1" }))).status).toBe(200);
    expect(ran).toBe(1);
  });

  it("telemetry that throws is logged; the delivery is answered as without it", async () => {
    const errors: string[] = [];
    const logger = { ...silent, error: (_: unknown, message: string) => void errors.push(message) };
    const throwing = createReceiver({
      secret,
      events,
      logger,
      telemetry: {
        start() {
          throw new Error("no");
        },
      },
    }).on("invoice.paid", () => {});
    expect((await throwing.handle(await request({ id: "msg_1" }))).status).toBe(200);
    const ending = createReceiver({
      secret,
      events,
      logger,
      telemetry: {
        start: () => ({
          run: (handlers) => handlers(),
          end() {
            throw new Error("no");
          },
        }),
      },
    }).on("invoice.paid", () => {});
    expect((await ending.handle(await request({ id: "msg_1" }))).status).toBe(200);
    expect(errors).toEqual(["The telemetry failed to start a delivery", "The telemetry failed to end a delivery"]);
  });
});

describe("senderTelemetry", () => {
  it("a client span per attempt, http.client.request.duration, attempts by class and the delivery lag", async () => {
    const ok = await loopbackServer((_, response) => response.end("ok"));
    const failing = await loopbackServer((_, response) => response.writeHead(503).end());
    const missing = await loopbackServer((_, response) => response.writeHead(404).end());
    const hanging = await loopbackServer(() => {});
    const gone = await loopbackServer();
    await gone.close(); // its port now refuses connections
    const { tracerProvider, meterProvider, spans, collect } = inMemory();
    const endpoints = new Map<string, string>();
    const outbox = createSender({
      allow: ["127.0.0.1/32"],
      schedule: [0],
      timeoutMs: 200,
      logger: silent,
      telemetry: senderTelemetry({ tracerProvider, meterProvider }),
    });
    try {
      const urls = {
        "2xx": `http://user:secret@127.0.0.1:${ok.port}/hooks?x=1`,
        "5xx": `${failing.origin}/hooks`,
        "4xx": `${missing.origin}/hooks`,
        timeout: `${hanging.origin}/hooks`,
        network: `${gone.origin}/hooks`,
        blocked: "https://127.0.0.2:9/hooks", // refused by the guard before any connection
      };
      for (const [kind, url] of Object.entries(urls)) {
        endpoints.set((await outbox.endpoints.create({ url })).id, kind);
      }
      outbox.start();
      const sent = await outbox.send("invoice.paid", { id: "in_1", amount: 1 }, { id: "msg_otel" });
      await outbox.drain();
      expect(sent.deliveries).toHaveLength(6);
    } finally {
      await outbox.stop();
      for (const server of [ok, failing, missing, hanging]) await server.close();
    }

    const byKind = new Map(
      spans().map((span) => [endpoints.get(String(span.attributes["webhook.endpoint.id"])), span]),
    );
    expect([...byKind.keys()].sort()).toEqual(["2xx", "4xx", "5xx", "blocked", "network", "timeout"]);
    for (const span of byKind.values()) {
      expect(span.name).toBe("POST");
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.attributes).toMatchObject({
        "http.request.method": "POST",
        "webhook.message.id": "msg_otel",
        "webhook.event.type": "invoice.paid",
        "webhook.attempt": 1,
      });
    }
    for (const span of byKind.values()) expect(span.attributes["http.request.resend_count"]).toBeUndefined();
    const delivered = byKind.get("2xx");
    expect(delivered?.attributes).toMatchObject({
      "url.full": `http://127.0.0.1:${ok.port}/hooks?x=1`, // no credentials
      "server.address": "127.0.0.1",
      "server.port": ok.port,
      "http.response.status_code": 200,
      "webhook.outcome": "success",
    });
    expect(delivered?.attributes["error.type"]).toBeUndefined();
    expect(delivered?.status.code).toBe(SpanStatusCode.UNSET);
    const errors = Object.fromEntries(
      [...byKind].map(([kind, span]) => [kind, [span.attributes["error.type"], span.status.code]]),
    );
    expect(errors).toEqual({
      "2xx": [undefined, SpanStatusCode.UNSET],
      "4xx": ["404", SpanStatusCode.ERROR],
      "5xx": ["503", SpanStatusCode.ERROR],
      timeout: ["timeout", SpanStatusCode.ERROR],
      network: ["network", SpanStatusCode.ERROR],
      blocked: ["blocked", SpanStatusCode.ERROR],
    });

    const metrics = await collect();
    const attempts = metrics.get("hookline.sender.attempts") ?? [];
    expect(
      Object.fromEntries(attempts.map((point) => [point.attributes["webhook.response.class"], point.value])),
    ).toEqual({ "2xx": 1, "4xx": 1, "5xx": 1, timeout: 1, network: 1, blocked: 1 });
    const durations = metrics.get("http.client.request.duration") ?? [];
    expect(durations.map((point) => point.attributes["error.type"] ?? "none").sort()).toEqual([
      "404",
      "503",
      "blocked",
      "network",
      "none",
      "timeout",
    ]);
    expect(durations.find((point) => point.attributes["http.response.status_code"] === 200)?.attributes).toEqual({
      "http.request.method": "POST",
      "http.response.status_code": 200,
      "server.address": "127.0.0.1",
      "server.port": ok.port,
      "url.scheme": "http",
    });
    const [lag, ...more] = metrics.get("hookline.sender.delivery.lag") ?? [];
    expect(more).toEqual([]);
    expect(lag?.attributes).toEqual({ "webhook.event.type": "invoice.paid" });
    expect(lag?.value).toMatchObject({ count: 1 });
  });
});

/** A receiver with `receiverTelemetry` behind node:http on 127.0.0.1, port 0; it keeps each request's headers. */
async function receivingServer(
  scheme: WebhookScheme,
  options: Partial<ReceiverOptions<typeof events, unknown>> = {},
  handler: () => void = () => {},
) {
  const telemetry = inMemory();
  const receiver = createReceiver({
    secret,
    scheme,
    events,
    logger: silent,
    telemetry: receiverTelemetry(telemetry),
    ...options,
  }).on("invoice.paid", handler);
  const headers: IncomingHttpHeaders[] = [];
  const handle = nodeHandler(receiver);
  const server = createServer((request, response) => {
    headers.push(request.headers);
    return handle(request, response);
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`,
    headers,
    spans: telemetry.spans,
    collect: telemetry.collect,
    receiver,
    async [Symbol.asyncDispose]() {
      await receiver.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Sends one `invoice.paid` through a started sender to `url` and waits until it is attempted. */
async function sendOnce(url: string, options: SenderOptions & { endpointHeaders?: Record<string, string> } = {}) {
  const { endpointHeaders, ...senderOptions } = options;
  const sender = createSender({ allow: ["127.0.0.1/32"], schedule: [0], logger: silent, ...senderOptions });
  try {
    await sender.endpoints.create({ url, secret, ...(endpointHeaders && { headers: endpointHeaders }) });
    sender.start();
    const sent = await sender.send("invoice.paid", paid.data, { id: "msg_linked" });
    await sender.drain();
    const [delivery] = sent.deliveries;
    return await sender.deliveries.get(delivery?.id ?? "");
  } finally {
    await sender.stop();
  }
}

/** The one attempt span and the one `webhook.receive` span, which must be linked to it. */
function linkedPair(attempts: ReadableSpan[], receives: ReadableSpan[]) {
  expect(attempts).toHaveLength(1);
  expect(receives).toHaveLength(1);
  const [attempt] = attempts as [ReadableSpan];
  const [receive] = receives as [ReadableSpan];
  expect(receive.name).toBe("webhook.receive");
  // The receiver's documented behaviour: a link to the sender's span, not a parent (the header comes from outside).
  expect(receive.links.map((link) => [link.context.traceId, link.context.spanId])).toEqual([
    [attempt.spanContext().traceId, attempt.spanContext().spanId],
  ]);
  expect(receive.parentSpanContext).toBeUndefined();
  return { attempt, receive };
}

describe("senderTelemetry, attempt by attempt", () => {
  it("the conventions' attributes reach the sampler at the span's start; a retry counts as a resend", async () => {
    let answered = 0;
    const flaky = await loopbackServer((_, response) => response.writeHead(answered++ === 0 ? 503 : 200).end());
    const sampled: Record<string, unknown>[] = [];
    const recording: Sampler = {
      shouldSample: (_context, _traceId, _name, _kind, attributes) => {
        sampled.push({ ...attributes });
        return new AlwaysOnSampler().shouldSample();
      },
    };
    const { spans, ...providers } = inMemory(recording);
    try {
      expect(
        (await sendOnce(`${flaky.origin}/hooks`, { schedule: [0, 0], telemetry: senderTelemetry(providers) }))?.status,
      ).toBe("delivered");
    } finally {
      await flaky.close();
    }
    const server = {
      "http.request.method": "POST",
      "server.address": "127.0.0.1",
      "server.port": flaky.port,
      "url.scheme": "http",
      "url.full": `${flaky.origin}/hooks`,
    };
    expect(sampled).toEqual([server, server]);
    expect(
      spans().map((span) => [
        span.attributes["webhook.attempt"],
        span.attributes["http.request.resend_count"],
        span.attributes["http.response.status_code"],
      ]),
    ).toEqual([
      [1, undefined, 503],
      [2, 1, 200],
    ]);
    // Each attempt is a span, and a trace, of its own: each request named its own.
    const [first, second] = flaky.requests.map((request) => request.headers.traceparent);
    expect(first).toBe(`00-${spans()[0]?.spanContext().traceId}-${spans()[0]?.spanContext().spanId}-01`);
    expect(second).toBe(`00-${spans()[1]?.spanContext().traceId}-${spans()[1]?.spanContext().spanId}-01`);
  });
});

describe("trace propagation, sender to receiver over HTTP", () => {
  const schemes: [string, WebhookScheme][] = [
    ["standardWebhooks", standardWebhooks()],
    ["stripe", stripe()],
    ["github", github()],
    ["hmac", hmac({ header: "x-webhook-signature", prefix: "sha256=" })],
  ];
  for (const [name, scheme] of schemes) {
    it(`${name}: the attempt's traceparent is sent unsigned, the receiver verifies it and links to the attempt`, async () => {
      await using receiving = await receivingServer(scheme);
      const sending = inMemory();
      const delivery = await sendOnce(receiving.url, {
        scheme,
        telemetry: senderTelemetry(sending),
      });
      expect(delivery?.status).toBe("delivered");

      const { attempt, receive } = linkedPair(sending.spans(), receiving.spans());
      const { traceId, spanId } = attempt.spanContext();
      expect(attempt.kind).toBe(SpanKind.CLIENT);
      expect(attempt.parentSpanContext).toBeUndefined(); // each attempt is a trace of its own
      expect(receiving.headers.map((headers) => headers.traceparent)).toEqual([`00-${traceId}-${spanId}-01`]);
      expect(receiving.headers[0]?.tracestate).toBeUndefined(); // nothing to carry: the span has no trace state
      expect(receive.attributes).toMatchObject({
        "webhook.outcome": "processed",
        "http.response.status_code": 200,
        "webhook.event.type": "invoice.paid",
      });
    });
  }

  it("carries tracestate when the attempt's span has one", async () => {
    await using receiving = await receivingServer(standardWebhooks());
    const stateful: Sampler = {
      shouldSample: () => ({
        ...new AlwaysOnSampler().shouldSample(),
        traceState: new TraceState("hookline=attempt,vendor=1"),
      }),
    };
    const sending = inMemory(stateful);
    await sendOnce(receiving.url, { telemetry: senderTelemetry(sending) });

    const { attempt, receive } = linkedPair(sending.spans(), receiving.spans());
    expect(receiving.headers[0]?.tracestate).toBe("hookline=attempt,vendor=1");
    expect(attempt.spanContext().traceState?.serialize()).toBe("hookline=attempt,vendor=1");
    expect(receive.links[0]?.context.traceState?.serialize()).toBe("hookline=attempt,vendor=1");
  });

  it("the registered propagator decides the headers: B3 instead of traceparent", async () => {
    const b3: TextMapPropagator = new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER });
    propagation.disable();
    propagation.setGlobalPropagator(b3);
    try {
      await using receiving = await receivingServer(standardWebhooks());
      const sending = inMemory();
      await sendOnce(receiving.url, { telemetry: senderTelemetry(sending) });

      const { attempt } = linkedPair(sending.spans(), receiving.spans());
      const [headers] = receiving.headers;
      expect(headers?.traceparent).toBeUndefined();
      expect(headers?.["x-b3-traceid"]).toBe(attempt.spanContext().traceId);
      expect(headers?.["x-b3-spanid"]).toBe(attempt.spanContext().spanId);
      expect(headers?.["x-b3-sampled"]).toBe("1");
    } finally {
      propagation.disable();
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });

  it("the attempt's trace headers replace an endpoint's custom ones of the same name", async () => {
    await using receiving = await receivingServer(standardWebhooks());
    const sending = inMemory();
    const stale = "00-11111111111111111111111111111111-2222222222222222-01";
    await sendOnce(receiving.url, {
      telemetry: senderTelemetry(sending),
      endpointHeaders: { TraceParent: stale, "x-tenant": "acme" },
    });
    const { attempt } = linkedPair(sending.spans(), receiving.spans());
    const [headers] = receiving.headers;
    expect(headers?.traceparent).toBe(`00-${attempt.spanContext().traceId}-${attempt.spanContext().spanId}-01`);
    expect(headers?.["x-tenant"]).toBe("acme");
  });

  it("no SDK: no header at all, with or without a registered propagator", async () => {
    await using receiving = await receivingServer(standardWebhooks());
    // The W3C propagator is registered (beforeAll) but no tracer provider: the no-op span has no valid context.
    expect((await sendOnce(receiving.url, { telemetry: senderTelemetry() }))?.status).toBe("delivered");
    propagation.disable();
    try {
      expect((await sendOnce(receiving.url, { telemetry: senderTelemetry() }))?.status).toBe("delivered");
    } finally {
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
    expect(receiving.headers).toHaveLength(2);
    for (const headers of receiving.headers) {
      expect(Object.keys(headers).filter((name) => /trace|b3|baggage/.test(name))).toEqual([]);
    }
    // Its webhook.receive spans are roots without links.
    expect(receiving.spans().map((span) => span.links.length)).toEqual([0, 0]);
  });

  it("telemetry that throws or hands over a header that cannot be sent changes no delivery", async () => {
    await using receiving = await receivingServer(standardWebhooks());
    const errors: unknown[] = [];
    const logger = { ...silent, error: (fields: unknown) => void errors.push(fields) };
    const throwing = await sendOnce(receiving.url, {
      logger,
      telemetry: {
        start() {
          throw new Error("no");
        },
      },
    });
    expect(throwing?.status).toBe("delivered");
    expect(errors).toEqual([{ hook: "telemetry", error: new Error("no") }]);
    const ended: string[] = [];
    const unsendable = await sendOnce(receiving.url, {
      telemetry: {
        start: () => ({
          headers: { traceparent: "line\nbreak", "bad name": "x", "x-trace": "fine" },
          end: (info) => void ended.push(info.status),
        }),
      },
    });
    expect(unsendable?.status).toBe("delivered");
    expect(ended).toEqual(["delivered"]);
    expect(receiving.headers[1]?.traceparent).toBeUndefined();
    expect(receiving.headers[1]?.["x-trace"]).toBe("fine");
  });
});

describe("an inbox worker's runs", () => {
  /** Waits for the inbox to hold the event in `status`, the worker running meanwhile. */
  async function settled(inbox: InboxStore, id: string, status: string) {
    for (let waited = 0; (await inbox.get(id))?.status !== status; waited += 10) {
      if (waited > 10_000) throw new Error(`${id} never reached ${status}: ${JSON.stringify(await inbox.get(id))}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it("sender attempt ← webhook.receive (queued) ← webhook.process, the handler's span nested in the last", async () => {
    const inbox = memoryInbox();
    const appSpans = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(appSpans)] }));
    try {
      await using receiving = await receivingServer(standardWebhooks(), { inbox }, () => {
        trace.getTracer("app").startSpan("app.markPaid").end();
      });
      const sending = inMemory();
      expect((await sendOnce(receiving.url, { telemetry: senderTelemetry(sending) }))?.status).toBe("delivered");
      receiving.receiver.work();
      await settled(inbox, "msg_linked", "processed");
      await receiving.receiver.stop();

      const [receive, process, ...others] = receiving.spans();
      expect(others).toEqual([]);
      const { attempt } = linkedPair(sending.spans(), [receive as ReadableSpan]);
      expect(receive?.attributes["webhook.outcome"]).toBe("queued");
      expect(process?.name).toBe("webhook.process");
      expect(process?.kind).toBe(SpanKind.CONSUMER);
      expect(process?.parentSpanContext).toBeUndefined();
      expect(process?.links.map((link) => link.context.spanId)).toEqual([receive?.spanContext().spanId]);
      expect(process?.spanContext().traceId).not.toBe(attempt.spanContext().traceId);
      expect(process?.attributes).toEqual({
        "webhook.outcome": "processed",
        "webhook.message.id": "msg_linked",
        "webhook.event.type": "invoice.paid",
      });
      const [handled] = appSpans.getFinishedSpans();
      expect(handled?.parentSpanContext?.spanId).toBe(process?.spanContext().spanId);

      const metrics = await receiving.collect();
      expect(metrics.get("hookline.receiver.received")?.[0]?.value).toBe(1);
      expect(metrics.get("hookline.receiver.queued")?.[0]?.value).toBe(1);
      expect(metrics.get("hookline.receiver.processed")).toEqual([
        { attributes: { "webhook.event.type": "invoice.paid" }, value: 1 },
      ]);
      const [duration] = metrics.get("hookline.receiver.handler.duration") ?? [];
      expect(duration?.attributes).toEqual({ "webhook.event.type": "invoice.paid", "webhook.outcome": "processed" });
      expect(duration?.value).toMatchObject({ count: 1 });
    } finally {
      trace.disable();
    }
  });

  it("a failing handler: a retrying run, then a dead-lettered one, both in error; exhausted without a store: failed", async () => {
    const boom = new Error("boom");
    const kept = memoryInbox();
    await using keeping = await receivingServer(
      standardWebhooks(),
      { inbox: kept, deadLetters: memoryDeadLetters(), schedule: [0, 0] },
      () => {
        throw boom;
      },
    );
    const lost = memoryInbox();
    await using losing = await receivingServer(standardWebhooks(), { inbox: lost, schedule: [0] }, () => {
      throw boom;
    });
    for (const [receiving, inbox] of [
      [keeping, kept],
      [losing, lost],
    ] as const) {
      await sendOnce(receiving.url);
      receiving.receiver.work();
      await settled(inbox, "msg_linked", "exhausted");
      await receiving.receiver.stop();
    }

    const runs = (spans: ReadableSpan[]) =>
      spans
        .filter((span) => span.name === "webhook.process")
        .map((span) => [
          span.attributes["webhook.outcome"],
          span.status.code,
          span.events[0]?.attributes?.["exception.message"],
        ]);
    expect(runs(keeping.spans())).toEqual([
      ["retrying", SpanStatusCode.ERROR, "boom"],
      ["dead_lettered", SpanStatusCode.ERROR, "boom"],
    ]);
    expect(runs(losing.spans())).toEqual([["failed", SpanStatusCode.ERROR, "boom"]]);
    const keptMetrics = await keeping.collect();
    expect(keptMetrics.get("hookline.receiver.retrying")?.[0]?.value).toBe(1);
    expect(keptMetrics.get("hookline.receiver.dead_lettered")?.[0]?.value).toBe(1);
    expect(keptMetrics.get("hookline.receiver.processed")).toBeUndefined();
    expect(
      keptMetrics.get("hookline.receiver.handler.duration")?.map((point) => point.attributes["webhook.outcome"]),
    ).toEqual(["retrying", "dead_lettered"]);
    expect((await losing.collect()).get("hookline.receiver.failed")?.[0]?.value).toBe(1);
  });
});
