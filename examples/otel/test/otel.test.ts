import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

it("prints each delivery's span, each attempt's client span and every metric, and exits 0 by itself", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["otel.mjs"], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    timeout: 30_000,
  });
  expect(stdout).toMatch(/Receiver listening on http:\/\/127\.0\.0\.1:\d+\/webhooks/);
  expect(stdout).toContain("forged delivery → 401; delivery with a traceparent → 200");
  // Four deliveries reach the receiver (two sent, one forged, one with a traceparent); two attempts leave the sender.
  expect(stdout.match(/name: 'webhook\.receive'/g)).toHaveLength(4);
  expect(stdout.match(/name: 'POST'/g)).toHaveLength(2);
  expect(stdout.match(/name: 'billing\.markPaid'/g)).toHaveLength(3);
  expect(stdout).toContain("'webhook.outcome': 'processed'");
  expect(stdout).toContain("'error.type': 'no_matching_signature'");
  expect(stdout).toContain("traceId: '0af7651916cd43dd8448eb211c80319c'"); // the link to the incoming trace
  expect(stdout).toContain("'http.response.status_code': 200");
  for (const metric of [
    "hookline.receiver.received",
    "hookline.receiver.processed",
    "hookline.receiver.rejected",
    "hookline.receiver.handler.duration",
    "http.client.request.duration",
    "hookline.sender.attempts",
    "hookline.sender.delivery.lag",
  ]) {
    expect(stdout.match(new RegExp(`name: '${metric.replaceAll(".", "\\.")}'`, "g"))).toHaveLength(1);
  }
  // Each attempt's POST span is what its delivery's traceparent names and what its webhook.receive span links to.
  const spans = stdout.split(/^\{$/m).slice(1);
  const field = (span: string, name: string) => span.match(new RegExp(`^  ${name}: '([0-9a-f]+)'`, "m"))?.[1];
  const attempts = spans.filter((span) => span.includes("name: 'POST'"));
  const links = spans
    .filter((span) => span.includes("name: 'webhook.receive'"))
    .flatMap((span) => [...span.matchAll(/traceId: '([0-9a-f]{32})',\s+spanId: '([0-9a-f]{16})'/g)])
    .map(([, traceId, spanId]) => `${traceId}-${spanId}`);
  expect(attempts).toHaveLength(2);
  for (const attempt of attempts) {
    const traceId = field(attempt, "traceId");
    const spanId = field(attempt, "id");
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(links).toContain(`${traceId}-${spanId}`);
    expect(stdout).toMatch(new RegExp(`in_[12] arrived with traceparent 00-${traceId}-${spanId}-01`));
  }
  expect(stdout).toContain("Done: spans and metrics printed above.");
});
