// OpenTelemetry for both halves of Hookline, printed to the console. A receiver on 127.0.0.1 with
// `receiverTelemetry()`, a sender with `senderTelemetry()` delivering to it, and the OpenTelemetry SDK set up as an
// app would (a tracer and a meter provider, the AsyncLocalStorage context manager, the W3C propagator), with
// console exporters: each delivery's `webhook.receive` span and each attempt's `POST` client span, then the metrics.
// Each attempt carries its span's context in `traceparent` (not signed), so each `webhook.receive` span links to the
// `POST` span of the attempt that delivered it: the same trace id and span id under `links`.
//
//   pnpm --filter @hookline/example-otel start
import { createServer } from "node:http";
import { createReceiver, createSender, defineEvents, generateSecret, sign } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { receiverTelemetry, senderTelemetry } from "@hookline/core/otel";
import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { z } from "zod";

// The SDK, as an app registers it (NodeSDK from @opentelemetry/sdk-node does the same with OTLP exporters).
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())],
});
const reader = new PeriodicExportingMetricReader({
  exporter: new ConsoleMetricExporter(),
  exportIntervalMillis: 60_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const events = defineEvents({ "invoice.paid": z.object({ invoiceId: z.string(), amountCents: z.number().int() }) });
const secret = generateSecret();
const app = trace.getTracer("billing");

// The receiving side: its handler's own span nests under the delivery's webhook.receive span.
const receiver = createReceiver({ secret, events, telemetry: receiverTelemetry() }).on(
  "invoice.paid",
  (event, { header }) => {
    app.startSpan("billing.markPaid", { attributes: { "invoice.id": event.data.invoiceId } }).end();
    console.log(`${event.data.invoiceId} arrived with traceparent ${header("traceparent") ?? "(none)"}`);
  },
);
const server = createServer(nodeHandler(receiver));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/webhooks`;
console.log(`Receiver listening on ${url}`);

// The sending side: one client span per attempt, and the attempt and lag metrics.
const sender = createSender({ events, allow: ["127.0.0.1/32"], telemetry: senderTelemetry() });
await sender.endpoints.create({ url, secret });
sender.start();
await sender.send("invoice.paid", { invoiceId: "in_1", amountCents: 4200 });
await sender.send("invoice.paid", { invoiceId: "in_2", amountCents: 1250 });
await sender.drain();
await sender.stop();

// Two deliveries from outside the sender: one whose signature is wrong (401, a rejected span and counter), one that
// carries a traceparent (its webhook.receive span links to that trace).
const payload = JSON.stringify({ type: "invoice.paid", data: { invoiceId: "in_3", amountCents: 1 } });
const forged = await sign({ secret: generateSecret(), payload });
const forgedAnswer = await fetch(url, { method: "POST", headers: forged, body: payload });
const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const linked = await sign({ secret, payload });
const linkedAnswer = await fetch(url, { method: "POST", headers: { ...linked, traceparent }, body: payload });
console.log(`forged delivery → ${forgedAnswer.status}; delivery with a traceparent → ${linkedAnswer.status}`);

await receiver.drain();
await new Promise((resolve) => server.close(resolve));
// Shutting down prints the metrics now rather than in a minute.
await meterProvider.shutdown();
await tracerProvider.shutdown();
console.log("Done: spans and metrics printed above.");
