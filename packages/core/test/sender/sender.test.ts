import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createReceiver,
  createSender,
  cryptoBackend,
  defineEvents,
  type EventSchemas,
  generateSecret,
  HooklineError,
  memoryDeliveries,
  type Sender,
  type SenderOptions,
  type UntypedCatalog,
  verify,
} from "../../src";
import { nodeHandler } from "../../src/node";
import { type Answer, type LoopbackServer, loopbackServer } from "./loopback";

const allow = ["127.0.0.1/32"];
const quiet = { info() {}, warn() {}, error() {} };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function sender<const Catalog extends EventSchemas = UntypedCatalog>(options: SenderOptions<Catalog>): Sender<Catalog> {
  const created = createSender({ allow, logger: quiet, ...options });
  cleanup.push(() => created.stop());
  return created;
}

/** A loopback server answering each request with the next answer of `script` (the last one repeats). */
async function scripted(...script: (number | Answer)[]): Promise<LoopbackServer> {
  let next = 0;
  const server = await loopbackServer((request, response) => {
    const answer = script[Math.min(next++, script.length - 1)]!;
    if (typeof answer === "function") answer(request, response);
    else response.writeHead(answer).end(`answer ${answer}`);
  });
  cleanup.push(() => server.close());
  return server;
}

function fakeClock(start = Date.parse("2026-12-01T00:00:00Z")) {
  const clock = { at: start, now: () => clock.at };
  return clock;
}

const expectCode = async (promise: Promise<unknown>, code: string) => {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HooklineError);
  expect((error as HooklineError).code).toBe(code);
  return error as HooklineError;
};

const events = defineEvents({
  "invoice.paid": z.object({ invoiceId: z.string(), amountCents: z.number().int().positive() }),
  "invoice.voided": z.object({ invoiceId: z.string() }),
});

describe("send", () => {
  it("delivers a typed event that a Hookline receiver with the default envelope reads back typed", async () => {
    const outbox = sender({ events });
    const handled: { id: string; amountCents: number; timestamp?: number }[] = [];
    const secret = generateSecret();
    const receiver = createReceiver({ secret, events, logger: quiet }).on("invoice.paid", (event) => {
      const amount: number = event.data.amountCents; // typed by the catalog
      handled.push({ id: event.id, amountCents: amount, ...(event.timestamp && { timestamp: event.timestamp }) });
    });
    const receiverServer = createServer(nodeHandler(receiver));
    await new Promise<void>((resolve) => receiverServer.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise((resolve) => receiverServer.close(() => resolve())));
    const { port } = receiverServer.address() as AddressInfo;
    await outbox.endpoints.create({ url: `http://127.0.0.1:${port}/webhooks`, secret });

    outbox.start();
    const sent = await outbox.send("invoice.paid", { invoiceId: "in_1", amountCents: 1250 });
    await outbox.drain();
    expect(handled).toEqual([{ id: sent.messageId, amountCents: 1250, timestamp: expect.any(Number) }]);
    const [attempt] = await outbox.attempts.list(sent.deliveries[0]!.id);
    expect(attempt).toMatchObject({ status: 200, outcome: "success", responseBody: '{"received":true}' });
    expect((await outbox.deliveries.get(sent.deliveries[0]!.id))?.status).toBe("delivered");
  });

  it("validates data against the catalog and stores nothing when it fails", async () => {
    const outbox = sender({ events });
    const endpoint = await outbox.endpoints.create({ url: "https://example.com/hooks" });
    const error = await expectCode(
      outbox.send("invoice.paid", { invoiceId: "in_1", amountCents: -5 }, { id: "msg_invalid" }),
      "invalid_event",
    );
    expect(error.status).toBe(400);
    expect(error.issues).toEqual([{ path: "amountCents", message: expect.any(String) }]);
    expect(error.toJSON().issues).toEqual(error.issues);
    // @ts-expect-error: not a type of the catalog
    await expectCode(outbox.send("invoice.unknown", {}), "invalid_event");
    await expectCode(outbox.send("invoice.voided", { invoiceId: 1n } as never), "invalid_event");
    expect(await outbox.messages.get("msg_invalid")).toBeUndefined();
    expect((await outbox.deliveries.list({ endpointId: endpoint.id })).items).toEqual([]);
  });

  it("builds { type, timestamp, data } once: the same bytes and webhook-id on every attempt, a fresh signature", async () => {
    const server = await scripted(503, 200);
    const outbox = sender({ schedule: [0, 1100] });
    const endpoint = await outbox.endpoints.create({ url: `${server.origin}/hooks`, headers: { "x-tenant": "acme" } });
    outbox.start();
    const timestamp = new Date("2026-12-01T10:00:00.000Z");
    const sent = await outbox.send("order.created", { total: 12.5, note: "Zoë 🎉" }, { id: "msg_fixed", timestamp });
    await outbox.drain({ withinMs: 2000 });
    const [first, second] = server.requests;
    const expected = JSON.stringify({
      type: "order.created",
      timestamp: timestamp.toISOString(),
      data: { total: 12.5, note: "Zoë 🎉" },
    });
    expect(first?.body.toString()).toBe(expected);
    expect(second?.body.equals(first!.body)).toBe(true);
    expect(sent.messageId).toBe("msg_fixed");
    expect([first?.headers["webhook-id"], second?.headers["webhook-id"]]).toEqual(["msg_fixed", "msg_fixed"]);
    expect(first?.headers["x-tenant"]).toBe("acme");
    // The signed timestamp is the attempt's own, a second or more later on the retry.
    expect(Number(second?.headers["webhook-timestamp"])).toBeGreaterThan(Number(first?.headers["webhook-timestamp"]));
    for (const request of [first!, second!]) {
      await verify({ secret: endpoint.secrets[0]!.secret, payload: request.body, headers: request.headers as never });
    }
    expect((await outbox.messages.get("msg_fixed"))?.payload).toBe(expected);
  });

  it("fans out by type, tenant and endpointIds, skipping disabled endpoints; the same id sends once", async () => {
    const outbox = sender({});
    const url = "https://example.com/hooks";
    const all = await outbox.endpoints.create({ url });
    const paidOnly = await outbox.endpoints.create({ url, types: ["invoice.paid"] });
    const voidedOnly = await outbox.endpoints.create({ url, types: ["invoice.voided"] });
    const acme = await outbox.endpoints.create({ url, tenant: "acme" });
    const acmePaid = await outbox.endpoints.create({ url, tenant: "acme", types: ["invoice.paid"] });
    const disabled = await outbox.endpoints.create({ url });
    await outbox.endpoints.disable(disabled.id);
    const targets = async (result: Promise<{ deliveries: { endpointId: string }[] }>) =>
      (await result).deliveries.map((delivery) => delivery.endpointId).sort();

    expect(await targets(outbox.send("invoice.paid", {}))).toEqual([all.id, paidOnly.id].sort());
    expect(await targets(outbox.send("invoice.voided", {}))).toEqual([all.id, voidedOnly.id].sort());
    expect(await targets(outbox.send("invoice.paid", {}, { tenant: "acme" }))).toEqual([acme.id, acmePaid.id].sort());
    expect(await targets(outbox.send("invoice.paid", {}, { tenant: "other" }))).toEqual([]);
    expect(await targets(outbox.send("invoice.paid", {}, { endpointIds: [paidOnly.id, voidedOnly.id] }))).toEqual([
      paidOnly.id,
    ]);

    const first = await outbox.send("invoice.paid", { n: 1 }, { id: "order-42" });
    const again = await outbox.send("invoice.paid", { n: 2 }, { id: "order-42" });
    expect(first.created).toBe(true);
    expect(again).toEqual({ ...first, created: false });
    expect(JSON.parse((await outbox.messages.get("order-42"))!.payload).data).toEqual({ n: 1 });
    await expectCode(outbox.send("invoice.paid", {}, { id: "has space" }), "invalid_option");
  });
});

describe("outcomes", () => {
  it("retries 503 on the schedule, then delivers, keeping every attempt with its answer", async () => {
    const server = await scripted(503, 503, 200);
    const attempts: { attempt: number; status: string; retryInMs?: number }[] = [];
    const outbox = sender({
      schedule: [0, 20, 40, 80],
      hooks: {
        onAttempt: ({ attempt, status, retryInMs }) =>
          attempts.push({ attempt, status, ...(retryInMs !== undefined && { retryInMs }) }),
      },
    });
    await outbox.endpoints.create({ url: server.origin });
    outbox.start();
    const sent = await outbox.send("ping", {});
    await outbox.drain({ withinMs: 1000 });
    expect(attempts).toEqual([
      { attempt: 1, status: "pending", retryInMs: 20 },
      { attempt: 2, status: "pending", retryInMs: 40 },
      { attempt: 3, status: "delivered" },
    ]);
    const log = await outbox.attempts.list(sent.deliveries[0]!.id);
    expect(log.map((attempt) => [attempt.status, attempt.responseBody])).toEqual([
      [503, "answer 503"],
      [503, "answer 503"],
      [200, "answer 200"],
    ]);
    expect(await outbox.deliveries.get(sent.deliveries[0]!.id)).toMatchObject({ status: "delivered", attempts: 3 });
    expect(outbox.stats()).toMatchObject({ attempts: 3, inFlight: 0, counts: { retrying: 2, delivered: 1 } });
  });

  it("delivers all the same when a hook and the logger both throw", async () => {
    const server = await scripted(503, 200);
    const throwing = () => {
      throw new Error("broken observer");
    };
    const outbox = sender({
      schedule: [0, 20],
      logger: { info: throwing, warn: throwing, error: throwing },
      hooks: { onAttempt: throwing, onDelivered: throwing },
    });
    await outbox.endpoints.create({ url: server.origin });
    outbox.start();
    const sent = await outbox.send("ping", {});
    await outbox.drain({ withinMs: 1000 });
    expect(await outbox.deliveries.get(sent.deliveries[0]!.id)).toMatchObject({ status: "delivered", attempts: 2 });
  });

  it("keeps the answer in the attempt log cut at maxResponseBytes, and times out at timeoutMs", async () => {
    const long = await scripted((_, response) => response.writeHead(503).end("0123456789"));
    const hang = await scripted(() => {});
    const outbox = sender({ maxResponseBytes: 4, timeoutMs: 200, schedule: [0] });
    const a = await outbox.endpoints.create({ url: long.origin });
    await outbox.endpoints.create({ url: hang.origin });
    outbox.start();
    const { deliveries } = await outbox.send("ping", {});
    await outbox.drain();
    for (const { id, endpointId } of deliveries) {
      const [attempt] = await outbox.attempts.list(id);
      if (endpointId === a.id) expect(attempt).toMatchObject({ status: 503, responseBody: "0123" });
      else expect(attempt).toMatchObject({ outcome: "retry", error: expect.stringMatching(/^timeout after 200 ms/) });
      expect((await outbox.deliveries.get(id))?.status).toBe("exhausted");
    }
  });

  it("ends a delivery failed on a 4xx or webhook-delivery: abort-message, without retrying", async () => {
    const bad = await scripted(400);
    const abort = await scripted((_, response) =>
      response.writeHead(503, { "webhook-delivery": "abort-message" }).end(),
    );
    const failed: string[] = [];
    const outbox = sender({ schedule: [0, 10, 10], hooks: { onFailed: (info) => failed.push(info.endpointId) } });
    const a = await outbox.endpoints.create({ url: bad.origin });
    const b = await outbox.endpoints.create({ url: abort.origin });
    outbox.start();
    const sent = await outbox.send("ping", {});
    await outbox.drain({ withinMs: 500 });
    expect(failed.sort()).toEqual([a.id, b.id].sort());
    expect([bad.requests.length, abort.requests.length]).toEqual([1, 1]);
    for (const { id } of sent.deliveries) expect((await outbox.deliveries.get(id))?.status).toBe("failed");
  });

  it("disables an endpoint that answers 410; its deliveries wait and resume when it is enabled", async () => {
    const server = await scripted(410, 200);
    const disabled: { endpointId: string; reason: string }[] = [];
    const outbox = sender({ schedule: [0, 10, 10], hooks: { onEndpointDisabled: (info) => disabled.push(info) } });
    const endpoint = await outbox.endpoints.create({ url: server.origin });
    outbox.start();
    const sent = await outbox.send("ping", {});
    await outbox.drain({ withinMs: 200 });
    expect(disabled).toEqual([{ endpointId: endpoint.id, reason: "gone" }]);
    expect(await outbox.endpoints.get(endpoint.id)).toMatchObject({ disabled: true, disabledReason: "gone" });
    expect(await outbox.deliveries.get(sent.deliveries[0]!.id)).toMatchObject({ status: "pending", lastStatus: 410 });
    expect((await outbox.send("ping", {})).deliveries).toEqual([]); // a disabled endpoint gets no new messages
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.requests.length).toBe(1);

    await outbox.endpoints.enable(endpoint.id);
    await outbox.drain({ withinMs: 200 });
    expect(await outbox.deliveries.get(sent.deliveries[0]!.id)).toMatchObject({ status: "delivered", attempts: 2 });
    expect(await outbox.endpoints.get(endpoint.id)).toMatchObject({ disabled: false });
    expect((await outbox.endpoints.get(endpoint.id))?.disabledReason).toBeUndefined();
  });

  it("holds deliveries to an endpoint disabled by hand until it is enabled", async () => {
    const server = await scripted(200);
    const outbox = sender({});
    const endpoint = await outbox.endpoints.create({ url: server.origin });
    const sent = await outbox.send("ping", {});
    await outbox.endpoints.disable(endpoint.id, "maintenance");
    outbox.start();
    await outbox.drain();
    expect(server.requests.length).toBe(0);
    expect(await outbox.endpoints.get(endpoint.id)).toMatchObject({ disabled: true, disabledReason: "maintenance" });
    await outbox.endpoints.enable(endpoint.id);
    await outbox.drain();
    expect((await outbox.deliveries.get(sent.deliveries[0]!.id))?.status).toBe("delivered");
  });

  it("blocks a loopback address that allow does not cover, with no connection made", async () => {
    const blockedServer = await loopbackServer(undefined, "127.0.0.2");
    cleanup.push(() => blockedServer.close());
    const failed: { outcome: string; error?: string }[] = [];
    const outbox = sender({
      hooks: { onFailed: ({ outcome, error }) => failed.push({ outcome, ...(error && { error }) }) },
    });
    // https is accepted at create; the guard refuses the address at delivery.
    await outbox.endpoints.create({ url: `https://127.0.0.2:${blockedServer.port}/hooks` });
    outbox.start();
    const sent = await outbox.send("ping", {});
    await outbox.drain();
    expect(failed).toEqual([{ outcome: "blocked", error: expect.stringContaining("127.0.0.2") }]);
    expect(blockedServer.connections).toBe(0);
    expect(await outbox.deliveries.get(sent.deliveries[0]!.id)).toMatchObject({ status: "failed", attempts: 1 });
    expect(outbox.stats().counts).toMatchObject({ blocked: 1, failed: 1 });
  });

  it("keeps at most perEndpointConcurrency attempts in flight to one endpoint, without starving the others", async () => {
    let held = 0;
    let most = 0;
    const waiting: (() => void)[] = [];
    const slow = await scripted((_, response) => {
      held++;
      most = Math.max(most, held);
      waiting.push(() => {
        held--;
        response.end("ok");
      });
    });
    const fast = await scripted(200);
    const outbox = sender({ perEndpointConcurrency: 2, concurrency: 10 });
    await outbox.endpoints.create({ url: slow.origin, types: ["slow"] });
    await outbox.endpoints.create({ url: fast.origin, types: ["fast"] });
    outbox.start();
    for (let i = 0; i < 6; i++) await outbox.send("slow", { i });
    await expect.poll(() => held).toBe(2);
    for (let i = 0; i < 5; i++) await outbox.send("fast", { i });
    await expect.poll(() => fast.requests.length).toBe(5);
    expect(held).toBe(2);
    while (slow.requests.length < 6 || waiting.length > 0) {
      waiting.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await outbox.drain();
    expect(most).toBe(2);
    expect(slow.requests.length).toBe(6);
  });
});

describe("schedules and Retry-After, on a fake clock", () => {
  async function oneRetry(answer: number | Answer, options: Partial<SenderOptions> = {}) {
    const clock = fakeClock();
    const store = memoryDeliveries({ now: clock.now });
    const server = await scripted(answer);
    const outbox = sender({ store, now: clock.now, schedule: [0, 5_000, 300_000], timeoutMs: 300, ...options });
    await outbox.endpoints.create({ url: server.origin });
    outbox.start();
    const sent = await outbox.send("ping", {});
    await outbox.drain();
    const delivery = await outbox.deliveries.get(sent.deliveries[0]!.id);
    return { clock, store, outbox, server, delivery, delayMs: delivery!.nextAttemptAt! - clock.at };
  }
  const withRetryAfter =
    (status: number, value: string): Answer =>
    (_, response) =>
      response.writeHead(status, { "retry-after": value }).end();

  it("waits the scheduled delay, then attempts when the clock gets there", async () => {
    const { clock, store, outbox, server, delayMs, delivery } = await oneRetry(503);
    expect(delayMs).toBe(5_000);
    expect(delivery).toMatchObject({ status: "pending", attempts: 1, lastStatus: 503 });
    clock.at += 4_999;
    store.tick();
    await outbox.drain();
    expect(server.requests.length).toBe(1);
    clock.at += 1;
    store.tick();
    await outbox.drain();
    expect(server.requests.length).toBe(2);
    const after = await outbox.deliveries.get(delivery!.id);
    expect(after!.nextAttemptAt! - clock.at).toBe(300_000);
  });

  it("lets Retry-After stretch the delay up to twice the schedule's, never shorten it", async () => {
    expect((await oneRetry(withRetryAfter(503, "7"))).delayMs).toBe(7_000);
    expect((await oneRetry(withRetryAfter(503, "3600"))).delayMs).toBe(10_000);
    expect((await oneRetry(withRetryAfter(503, "1"))).delayMs).toBe(5_000);
    const date = new Date(Date.now() + 8_000).toUTCString(); // an HTTP date, counted from the answer's arrival
    const { delayMs } = await oneRetry(withRetryAfter(503, date));
    expect(delayMs).toBeGreaterThan(5_000);
    expect(delayMs).toBeLessThanOrEqual(8_000);
    expect((await oneRetry(withRetryAfter(503, "30"), { retryAfter: { maxFactor: 10 } })).delayMs).toBe(30_000);
  });

  it("waits at least a minute after a 429 or a timeout", async () => {
    expect((await oneRetry(429)).delayMs).toBe(60_000);
    expect((await oneRetry(withRetryAfter(429, "100"))).delayMs).toBe(60_000);
    const hang: Answer = () => {}; // never answers: the 300 ms timeout ends the attempt
    const timedOut = await oneRetry(hang);
    expect(timedOut.delayMs).toBe(60_000);
    expect(timedOut.delivery?.lastError).toMatch(/^timeout/);
    expect((await oneRetry(429, { retryAfter: { minMs: 0 } })).delayMs).toBe(5_000);
    expect((await oneRetry(408)).delayMs).toBe(5_000);
  });

  it("spreads the default schedule by ±20%", async () => {
    const delays = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const { delayMs } = await oneRetry(503, { schedule: undefined as never });
      expect(delayMs).toBeGreaterThanOrEqual(4_000);
      expect(delayMs).toBeLessThanOrEqual(6_000);
      delays.add(delayMs);
    }
    expect(delays.size).toBeGreaterThan(1);
  });

  it("exhausts a delivery after its last attempt and keeps it as a dead letter", async () => {
    const exhausted: string[] = [];
    const { clock, store, outbox, delivery } = await oneRetry(500, {
      schedule: [0, 1_000],
      hooks: { onExhausted: (info) => exhausted.push(info.deliveryId) },
    });
    clock.at += 1_000;
    store.tick();
    await outbox.drain();
    expect(await outbox.deliveries.get(delivery!.id)).toMatchObject({ status: "exhausted", attempts: 2 });
    expect((await outbox.deliveries.get(delivery!.id))?.nextAttemptAt).toBeUndefined();
    expect(exhausted).toEqual([delivery!.id]);
    expect((await outbox.deliveries.list({ status: "exhausted" })).items.map((item) => item.id)).toEqual([
      delivery!.id,
    ]);
  });

  it("disables an endpoint whose deliveries kept exhausting for disableAfter; a delivered one resets the count", async () => {
    const clock = fakeClock();
    const store = memoryDeliveries({ now: clock.now });
    let status = 500;
    const server = await scripted((_, response) => response.writeHead(status).end());
    const disabled: string[] = [];
    const outbox = sender({
      store,
      now: clock.now,
      schedule: [0],
      disableAfter: 3_600_000,
      hooks: { onEndpointDisabled: ({ reason }) => disabled.push(reason) },
    });
    const endpoint = await outbox.endpoints.create({ url: server.origin });
    outbox.start();
    const started = clock.at;
    await outbox.send("ping", {});
    await outbox.drain();
    expect((await outbox.endpoints.get(endpoint.id))?.failingSince).toBe(started);

    clock.at += 1_800_000;
    status = 200;
    await outbox.send("ping", {});
    await outbox.drain();
    expect((await outbox.endpoints.get(endpoint.id))?.failingSince).toBeUndefined();

    status = 500;
    const restarted = clock.at;
    await outbox.send("ping", {});
    await outbox.drain();
    clock.at += 3_599_999;
    await outbox.send("ping", {});
    await outbox.drain();
    expect(await outbox.endpoints.get(endpoint.id)).toMatchObject({ disabled: false, failingSince: restarted });
    clock.at += 1;
    await outbox.send("ping", {});
    await outbox.drain();
    expect(await outbox.endpoints.get(endpoint.id)).toMatchObject({ disabled: true, disabledReason: "failing" });
    expect(disabled).toEqual(["failing"]);
    await outbox.endpoints.enable(endpoint.id);
    expect((await outbox.endpoints.get(endpoint.id))?.failingSince).toBeUndefined();
  });
});

describe("recovery", () => {
  it("retry attempts a delivery again now, whatever its state, on a fresh schedule", async () => {
    const server = await scripted(500, 200);
    const outbox = sender({ schedule: [0] });
    await outbox.endpoints.create({ url: server.origin });
    outbox.start();
    const { deliveries } = await outbox.send("ping", {});
    const id = deliveries[0]!.id;
    await outbox.drain();
    expect((await outbox.deliveries.get(id))?.status).toBe("exhausted");
    expect(await outbox.retry(id)).toBe(true);
    await outbox.drain();
    expect(await outbox.deliveries.get(id)).toMatchObject({ status: "delivered", attempts: 1 });
    expect((await outbox.attempts.list(id)).map((attempt) => attempt.status)).toEqual([500, 200]);
    expect(await outbox.retry(id)).toBe(true); // delivered ones too
    await outbox.drain();
    expect(server.requests.length).toBe(3);
    await expectCode(outbox.retry("dlv_missing"), "not_found");
    await outbox.endpoints.delete(deliveries[0]!.endpointId);
    await expectCode(outbox.retry(id), "not_found");
  });

  it("replay requeues an endpoint's deliveries in a time range and state, and counts them", async () => {
    const clock = fakeClock();
    const store = memoryDeliveries({ now: clock.now });
    let up = false;
    const server = await scripted((_, response) => response.writeHead(up ? 200 : 503).end());
    const outbox = sender({ store, now: clock.now, schedule: [0] });
    const endpoint = await outbox.endpoints.create({ url: server.origin });
    outbox.start();
    const sent: string[] = [];
    for (let i = 0; i < 4; i++) {
      sent.push((await outbox.send("ping", { i })).deliveries[0]!.id);
      clock.at += 1_000;
    }
    await outbox.drain();
    const since = clock.at - 3_000; // the last three
    up = true;
    expect(await outbox.replay({ endpointId: endpoint.id, since, status: "exhausted" })).toBe(3);
    await outbox.drain();
    const statuses = await Promise.all(sent.map(async (id) => (await outbox.deliveries.get(id))?.status));
    expect(statuses).toEqual(["exhausted", "delivered", "delivered", "delivered"]);
    expect(await outbox.replay({ endpointId: endpoint.id, since: 0, status: "exhausted" })).toBe(1);
    await outbox.drain();
    expect(
      await outbox.replay({ endpointId: endpoint.id, since: new Date(0), until: new Date(clock.at - 3_500) }),
    ).toBe(1);
  });
});

describe("endpoints", () => {
  it("creates with a whsec_ secret, validates URLs, updates, disables, enables and deletes", async () => {
    const outbox = createSender({ logger: quiet, allow: ["10.0.0.0/8"] });
    const endpoint = await outbox.endpoints.create({ url: "https://example.com/hooks", metadata: { plan: "pro" } });
    expect(endpoint).toMatchObject({ id: expect.stringMatching(/^ep_/), disabled: false, metadata: { plan: "pro" } });
    expect(endpoint.secrets[0]?.secret).toMatch(/^whsec_/);
    expect(await outbox.endpoints.get(endpoint.id)).toEqual(endpoint);
    await expectCode(outbox.endpoints.create({ url: "http://example.com/hooks" }), "invalid_url");
    await expectCode(outbox.endpoints.create({ url: "ftp://example.com/" }), "invalid_url");
    await expectCode(outbox.endpoints.create({ url: "not a url" }), "invalid_url");
    await expectCode(outbox.endpoints.create({ url: "http://127.0.0.1/" }), "invalid_url");
    expect((await outbox.endpoints.create({ url: "http://10.1.2.3:8080/" })).url).toBe("http://10.1.2.3:8080/");
    await expectCode(outbox.endpoints.create({ url: "https://example.com/", id: endpoint.id }), "invalid_option");

    const updated = await outbox.endpoints.update(endpoint.id, { url: "https://example.com/v2", types: ["a"] });
    expect(updated).toMatchObject({ url: "https://example.com/v2", types: ["a"], metadata: { plan: "pro" } });
    await expectCode(outbox.endpoints.update(endpoint.id, { url: "http://example.com/" }), "invalid_url");
    await expectCode(outbox.endpoints.update("ep_missing", { url: "https://example.com/" }), "not_found");
    expect(await outbox.endpoints.disable(endpoint.id)).toMatchObject({ disabled: true, disabledReason: "manual" });
    await expectCode(outbox.endpoints.enable("ep_missing"), "not_found");
    expect((await outbox.endpoints.list()).items).toHaveLength(2);
    expect(await outbox.endpoints.delete(endpoint.id)).toBe(true);
    expect(await outbox.endpoints.delete(endpoint.id)).toBe(false);
    expect(await outbox.endpoints.get(endpoint.id)).toBeUndefined();
  });

  it("generates Ed25519 (v1a) keys with secretKind whsk: receivers verify with the whpk_ public key", async () => {
    const server = await scripted(200);
    const outbox = sender({ secretKind: "whsk" });
    const endpoint = await outbox.endpoints.create({ url: server.origin });
    const [key] = endpoint.secrets;
    expect(key).toEqual({ secret: expect.stringMatching(/^whsk_/), publicKey: expect.stringMatching(/^whpk_/) });
    outbox.start();
    await outbox.send("ping", {});
    await outbox.drain();
    const [request] = server.requests;
    expect(request?.headers["webhook-signature"]).toMatch(/^v1a,/);
    await verify({ secret: key!.publicKey!, payload: request!.body, headers: request!.headers as never });
    const rotated = await outbox.endpoints.rotateSecret(endpoint.id);
    expect(rotated.secrets[0]?.publicKey).toMatch(/^whpk_/);
    expect(rotated.secrets[1]).toMatchObject({ secret: key!.secret, publicKey: key!.publicKey });
    expect(() => createSender({ secretKind: "rsa" as never })).toThrow(/secretKind/);
  });

  it("lists by tenant", async () => {
    const outbox = createSender({ logger: quiet });
    await outbox.endpoints.create({ url: "https://a.example/", tenant: "acme" });
    await outbox.endpoints.create({ url: "https://b.example/", tenant: "globex" });
    expect((await outbox.endpoints.list({ tenant: "acme" })).items.map((item) => item.url)).toEqual([
      "https://a.example/",
    ]);
  });

  it("rotates a secret: old and new both sign during the grace, then only the new one", async () => {
    const clock = fakeClock();
    const server = await scripted(200);
    const outbox = sender({ store: memoryDeliveries({ now: clock.now }), now: clock.now });
    const endpoint = await outbox.endpoints.create({ url: server.origin });
    const old = endpoint.secrets[0]!.secret;
    const rotated = await outbox.endpoints.rotateSecret(endpoint.id, { graceMs: 60_000 });
    const fresh = rotated.secrets[0]!.secret;
    expect(fresh).not.toBe(old);
    expect(rotated.secrets).toEqual([{ secret: fresh }, { secret: old, expiresAt: clock.at + 60_000 }]);
    outbox.start();
    await outbox.send("ping", {});
    await outbox.drain();
    clock.at += 60_000;
    await outbox.send("ping", {});
    await outbox.drain();
    const [during, after] = server.requests;
    const check = (secret: string, request = during!) =>
      verify({ secret, payload: request.body, headers: request.headers as never }).then(
        () => true,
        () => false,
      );
    expect([await check(old), await check(fresh)]).toEqual([true, true]);
    expect([await check(old, after), await check(fresh, after)]).toEqual([false, true]);
    await expectCode(outbox.endpoints.rotateSecret("ep_missing"), "not_found");

    // Two rotations at once: one atomic step each in the engine, so neither new secret is lost.
    const both = await Promise.all([
      outbox.endpoints.rotateSecret(endpoint.id),
      outbox.endpoints.rotateSecret(endpoint.id),
    ]);
    const stored = (await outbox.endpoints.get(endpoint.id))!.secrets.map((item) => item.secret);
    expect(stored).toEqual(expect.arrayContaining(both.map((item) => item.secrets[0]!.secret)));
  });
});

describe("stop", () => {
  it("can be started again after a stop", async () => {
    const server = await scripted(200);
    const outbox = sender({});
    await outbox.endpoints.create({ url: server.origin });
    outbox.start();
    await outbox.stop();
    const { deliveries } = await outbox.send("ping", {});
    outbox.start();
    outbox.start(); // a second start does nothing
    await outbox.drain();
    expect((await outbox.deliveries.get(deliveries[0]!.id))?.status).toBe("delivered");
  });

  it("lets the attempt in flight finish, then holds no timer or socket", async () => {
    const count = () => {
      const counts: Record<string, number> = {};
      for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
      return counts;
    };
    const baseline = count();
    let release!: () => void;
    const server = await scripted((_, response) => {
      release = () => response.end("late");
    });
    const outbox = createSender({ allow, logger: quiet });
    await outbox.endpoints.create({ url: server.origin });
    outbox.start();
    const { deliveries } = await outbox.send("ping", {});
    await expect.poll(() => server.requests.length).toBe(1);
    let stopped = false;
    const stopping = outbox.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect((await outbox.deliveries.get(deliveries[0]!.id))?.status).toBe("delivered");
    await server.close();
    cleanup.pop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The fetch transport (WebCrypto build) pools in the global fetch; the Node build's connection is the sender's.
    if (cryptoBackend === "node") {
      const after = count();
      for (const kind of ["Timeout", "TCPSocketWrap", "TCPServerWrap"]) {
        expect(after[kind] ?? 0, kind).toBeLessThanOrEqual(baseline[kind] ?? 0);
      }
    }
  });
});
