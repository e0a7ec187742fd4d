import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { signedDelivery } from "@hookline/testing";
import { afterEach, describe, expect, it } from "vitest";
import * as z from "zod";
import {
  createReceiver,
  defineEvents,
  type EventCatalog,
  type EventSchemas,
  HooklineError,
  type InboxStore,
  memoryDeadLetters,
  memoryInbox,
  type Receiver,
  type ReceiverOptions,
} from "../src";
import { nodeHandler } from "../src/node";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const events = defineEvents({
  "invoice.paid": z.object({ id: z.string(), customer: z.string(), amount: z.number().int() }),
  "customer.deleted": z.object({ id: z.string() }),
});
const silent = { info() {}, warn() {}, error() {} };
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

type Catalog = typeof events extends EventCatalog<infer C extends EventSchemas> ? C : never;

/** A receiver with the memory inbox behind a real node:http server on a loopback port. */
async function serve(options: Partial<ReceiverOptions<Catalog>> = {}) {
  const inbox = (options.inbox as InboxStore | undefined) ?? memoryInbox();
  const receiver = createReceiver({ secret, events, logger: silent, ...options, inbox });
  const server = createServer(nodeHandler(receiver)).listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  cleanup.push(async () => {
    await receiver.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  async function post(id: string, event: { type: string; data: unknown } | { payload: string }) {
    const signed = await signedDelivery({ secret, id, ...("payload" in event ? event : { event }) });
    const response = await fetch(url, { method: "POST", headers: signed.headers, body: signed.body as BodyInit });
    return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.json() };
  }
  return { receiver, inbox, post, url };
}

const invoice = (id: string, customer = "cus_1", amount = 100) => ({
  type: "invoice.paid",
  data: { id, customer, amount },
});

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("a receiver with an inbox, over HTTP", () => {
  it("answers 200 { queued } once the event is stored, and runs the handlers only in work()", async () => {
    const { receiver, inbox, post } = await serve();
    const seen: unknown[] = [];
    receiver.on("invoice.paid", (event, context) => {
      seen.push({ event, replay: context.replay, payload: context.payload, tx: context.tx });
    });
    const answer = await post("msg_q1", invoice("in_1"));
    expect(answer).toMatchObject({ status: 200, body: { received: true, queued: true } });
    expect((await inbox.get("msg_q1"))?.status).toBe("pending");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual([]);
    receiver.work();
    await until("the event is processed", async () => (await inbox.get("msg_q1"))?.status === "processed");
    expect(seen).toEqual([
      {
        event: { id: "msg_q1", type: "invoice.paid", timestamp: expect.any(Number), data: invoice("in_1").data },
        replay: false,
        payload: expect.stringContaining('"id":"msg_q1"'),
        tx: undefined,
      },
    ]);
    expect(receiver.stats().counts).toMatchObject({ received: 1, queued: 1 });
    expect(receiver.stats().processed).toBe(1);
  });

  it("answers a redelivered id 200 { duplicate }, while pending and once processed, and stores nothing new", async () => {
    const { receiver, inbox, post } = await serve();
    let runs = 0;
    receiver.on("invoice.paid", () => {
      runs++;
    });
    await post("msg_d1", invoice("in_1"));
    expect(await post("msg_d1", invoice("in_1"))).toMatchObject({
      status: 200,
      body: { received: true, duplicate: true },
    });
    receiver.work();
    await until("processed", async () => (await inbox.get("msg_d1"))?.status === "processed");
    expect(await post("msg_d1", invoice("in_1"))).toMatchObject({ status: 200, body: { duplicate: true } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runs).toBe(1);
    expect(receiver.stats().counts.duplicate).toBe(2);
  });

  it("answers a bad event 400 (or a bad signature 401) and never queues it", async () => {
    const { inbox, post, url } = await serve();
    expect(await post("msg_b1", { payload: "not json" })).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_json" } },
    });
    expect(await post("msg_b2", { type: "invoice.paid", data: { id: "in_1" } })).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_event" } },
    });
    expect(await post("msg_b3", { payload: '{"data":{}}' })).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_envelope" } },
    });
    const forged = await signedDelivery({
      secret: "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      id: "msg_b4",
      event: invoice("x"),
    });
    const refused = await fetch(url, { method: "POST", headers: forged.headers, body: forged.body as BodyInit });
    expect(refused.status).toBe(401);
    for (const id of ["msg_b1", "msg_b2", "msg_b3", "msg_b4"]) expect(await inbox.get(id)).toBeUndefined();
  });

  it("queues an event of a type with no handler here: the handlers may live in a worker process", async () => {
    const { inbox, post } = await serve();
    expect(await post("msg_n1", { type: "customer.deleted", data: { id: "cus_1" } })).toMatchObject({
      status: 200,
      body: { queued: true },
    });
    expect((await inbox.get("msg_n1"))?.status).toBe("pending");
  });

  it("answers 503 inbox_unavailable with Retry-After when the inbox cannot store, acknowledging nothing", async () => {
    const working = memoryInbox();
    const down: InboxStore = {
      ...working,
      enqueue: async () => {
        throw new HooklineError("store_unavailable", "connection refused");
      },
    };
    const { post } = await serve({ inbox: down });
    const answer = await post("msg_u1", invoice("in_1"));
    expect(answer).toMatchObject({ status: 503, body: { error: { code: "inbox_unavailable" } } });
    expect(Number(answer.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(await working.get("msg_u1")).toBeUndefined();
  });

  it("runs a failing event again on the schedule, counting attempts, until it is processed", async () => {
    const { receiver, inbox, post } = await serve({ schedule: [0, 30, 30, 30] });
    let runs = 0;
    receiver.on("invoice.paid", () => {
      runs++;
      if (runs < 3) throw new Error(`flaky ${runs}`);
    });
    await post("msg_r1", invoice("in_1"));
    const started = Date.now();
    receiver.work();
    await until("processed", async () => (await inbox.get("msg_r1"))?.status === "processed");
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(runs).toBe(3);
    expect(await inbox.get("msg_r1")).toMatchObject({ attempts: 3, lastError: "flaky 2" });
    expect(receiver.stats().counts.failed).toBe(2);
  });

  it("tells onFailed when the event runs again", async () => {
    const failures: unknown[] = [];
    const { receiver, inbox, post } = await serve({
      schedule: [0, 20],
      hooks: { onFailed: (info) => failures.push({ id: info.id, retryInMs: info.retryInMs, kept: info.deadLettered }) },
    });
    receiver.on("invoice.paid", () => {
      throw new Error("down");
    });
    await post("msg_h1", invoice("in_1"));
    receiver.work();
    await until("exhausted", async () => (await inbox.get("msg_h1"))?.status === "exhausted");
    expect(failures).toEqual([
      { id: "msg_h1", retryInMs: 20, kept: false },
      { id: "msg_h1", retryInMs: undefined, kept: false },
    ]);
  });

  it("dead-letters an exhausted event with its attempts, and replay runs it and clears the letter", async () => {
    const deadLetters = memoryDeadLetters();
    const { receiver, inbox, post } = await serve({ schedule: [0, 10, 10], deadLetters });
    let broken = true;
    const processed: string[] = [];
    receiver.on("invoice.paid", (event, context) => {
      if (broken) throw new Error("the ledger is down");
      processed.push(`${event.data.id}:${context.replay}`);
    });
    await post("msg_x1", invoice("in_9"));
    receiver.work();
    await until("exhausted", async () => (await inbox.get("msg_x1"))?.status === "exhausted");
    const letter = await deadLetters.get("msg_x1");
    expect(letter).toMatchObject({
      id: "msg_x1",
      type: "invoice.paid",
      attempts: 3,
      error: { message: "the ledger is down" },
    });
    expect(letter?.payload).toContain('"in_9"');
    expect(receiver.stats().counts.dead_lettered).toBe(1);
    expect(await post("msg_x1", invoice("in_9"))).toMatchObject({ body: { duplicate: true } });
    broken = false;
    expect(await receiver.replay("msg_x1")).toEqual({ status: "processed" });
    expect(processed).toEqual(["in_9:true"]);
    expect(await deadLetters.get("msg_x1")).toBeUndefined();
  });

  it("runs the events of one orderBy key one at a time in arrival order; a retry holds its key, not others", async () => {
    const clock = { at: Date.now() };
    const inbox = memoryInbox({ now: () => clock.at });
    const { receiver, post } = await serve({
      inbox,
      schedule: [0, 60_000],
      orderBy: (event) => (event.data as { customer: string }).customer,
    });
    const order = new Map<string, string[]>();
    const holding = new Map<string, number>();
    let most = 0;
    let failedOnce = false;
    receiver.on("invoice.paid", async (event) => {
      const key = event.data.customer;
      const held = (holding.get(key) ?? 0) + 1;
      holding.set(key, held);
      most = Math.max(most, held);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 8));
      holding.set(key, held - 1);
      if (event.id === "msg_o_a_2" && !failedOnce) {
        failedOnce = true;
        throw new Error("once");
      }
      order.set(key, [...(order.get(key) ?? []), event.id]);
    });
    const ids: Record<string, string[]> = { a: [], b: [] };
    for (let i = 0; i < 6; i++) {
      for (const key of ["a", "b"]) {
        const id = `msg_o_${key}_${i}`;
        ids[key]?.push(id);
        await post(id, invoice(`in_${key}${i}`, key));
      }
    }
    const statuses = (list: string[]) => Promise.all(list.map(async (id) => (await inbox.get(id))?.status));
    receiver.work({ concurrency: 8 });
    receiver.work({ concurrency: 8 });
    await until("key b is done while a waits for its retry", async () => {
      return (await statuses(ids.b ?? [])).every((status) => status === "processed") && failedOnce;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order.get("a")).toEqual(ids.a?.slice(0, 2));
    expect(await statuses(ids.a?.slice(2) ?? [])).toEqual(Array(4).fill("pending"));
    clock.at += 60_000;
    inbox.tick();
    await until("key a is done", async () => (await statuses(ids.a ?? [])).every((status) => status === "processed"));
    expect(most).toBe(1);
    expect(order.get("a")).toEqual(ids.a);
    expect(order.get("b")).toEqual(ids.b);
  });

  it("stop() finishes the events in flight and takes no more", async () => {
    const { receiver, inbox, post } = await serve();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    receiver.on("invoice.paid", async () => {
      started++;
      await gate;
    });
    await post("msg_s1", invoice("in_1"));
    receiver.work();
    await until("the handler runs", () => started === 1);
    let stopped = false;
    const stopping = receiver.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect((await inbox.get("msg_s1"))?.status).toBe("processed");
    await post("msg_s2", invoice("in_2"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(started).toBe(1);
    expect((await inbox.get("msg_s2"))?.status).toBe("pending");
  });

  it("works the inbox from a worker receiver with no secret and no HTTP, reading the payload with its own schemas", async () => {
    const inbox = memoryInbox();
    const { post } = await serve({ inbox });
    await post("msg_w1", invoice("in_1", "cus_7", 4200));
    const worker: Receiver<Catalog> = createReceiver({ events, inbox, logger: silent });
    const seen: number[] = [];
    worker.on("invoice.paid", (event) => {
      seen.push(event.data.amount);
    });
    worker.work({ concurrency: 2 });
    cleanup.push(() => worker.stop());
    await until("processed", async () => (await inbox.get("msg_w1"))?.status === "processed");
    expect(seen).toEqual([4200]);
    const answer = await worker.handle(new Request("http://localhost/", { method: "POST", body: "{}" }));
    expect(answer.status).toBe(500);
  });

  it("keeps the headers the envelope read, so that the worker reads the event the same way", async () => {
    const { receiver, inbox, url } = await serve({
      envelope: (body, { header }) => ({ type: `invoice.${header("x-github-event")}`, data: body }),
    });
    const seen: string[] = [];
    receiver.on("invoice.paid", (event, context) => {
      seen.push(`${event.data.id} ${context.header("x-github-event")} ${context.header("x-other")}`);
    });
    const signed = await signedDelivery({
      secret,
      id: "msg_e1",
      payload: JSON.stringify({ id: "in_1", customer: "cus_1", amount: 5 }),
      headers: { "x-github-event": "paid", "x-other": "unread" },
    });
    const response = await fetch(url, { method: "POST", headers: signed.headers, body: signed.body as BodyInit });
    expect(response.status).toBe(200);
    expect((await inbox.get("msg_e1"))?.event.headers).toEqual({ "x-github-event": "paid" });
    receiver.work();
    await until("processed", async () => (await inbox.get("msg_e1"))?.status === "processed");
    expect(seen).toEqual(["in_1 paid undefined"]);
  });

  it("keeps an exhausted event pending while its dead letter cannot be stored, and dead-letters it later", async () => {
    const clock = { at: Date.now() };
    const inbox = memoryInbox({ now: () => clock.at });
    const deadLetters = memoryDeadLetters({ maxEntries: 1 });
    await deadLetters.put({
      id: "msg_old",
      type: "invoice.paid",
      payload: "{}",
      error: { name: "Error", message: "old" },
      attempts: 1,
      firstFailedAt: 0,
      lastFailedAt: 0,
    });
    const { receiver, post } = await serve({ inbox, deadLetters, schedule: [0] });
    let runs = 0;
    receiver.on("invoice.paid", () => {
      runs++;
      throw new Error("always");
    });
    await post("msg_f1", invoice("in_1"));
    receiver.work();
    await until("the first run failed", () => runs === 1);
    await until("settled", async () => (await inbox.get("msg_f1"))?.attempts === 1);
    expect(await inbox.get("msg_f1")).toMatchObject({ status: "pending", lastError: "always" });
    await deadLetters.delete("msg_old");
    clock.at += 60_000;
    inbox.tick();
    await until("exhausted", async () => (await inbox.get("msg_f1"))?.status === "exhausted");
    expect(await deadLetters.get("msg_f1")).toMatchObject({ attempts: 2 });
  });

  it("dead-letters at once a stored event that no longer validates against the worker's schemas", async () => {
    const inbox = memoryInbox();
    const deadLetters = memoryDeadLetters();
    const { post } = await serve({ inbox });
    await post("msg_v1", invoice("in_1", "cus_1", 100));
    const stricter = defineEvents({ "invoice.paid": z.object({ id: z.string(), amount: z.number().min(1000) }) });
    const worker = createReceiver({ events: stricter, inbox, deadLetters, logger: silent });
    let runs = 0;
    worker.on("invoice.paid", () => {
      runs++;
    });
    worker.work();
    cleanup.push(() => worker.stop());
    await until("exhausted", async () => (await inbox.get("msg_v1"))?.status === "exhausted");
    expect(runs).toBe(0);
    expect((await deadLetters.get("msg_v1"))?.error.message).toMatch(/no longer reads: invalid_event/);
    expect(await worker.replay("msg_v1")).toMatchObject({ status: "invalid", code: "invalid_event" });
  });

  it("tells onQueued and onDuplicate", async () => {
    const seen: string[] = [];
    const { post } = await serve({
      hooks: {
        onQueued: (info) => seen.push(`queued ${info.id} ${info.type}`),
        onDuplicate: (info) => seen.push(`duplicate ${info.id}`),
      },
    });
    await post("msg_k1", invoice("in_1"));
    await post("msg_k1", invoice("in_1"));
    expect(seen).toEqual(["queued msg_k1 invoice.paid", "duplicate msg_k1"]);
  });

  it("refuses options that cannot work together", () => {
    expect(() => createReceiver({ events })).toThrow(/secret is required/);
    expect(() => createReceiver({ secret, inbox: memoryInbox(), store: memoryDeadLetters() as never })).toThrow(
      /not both/,
    );
    expect(() => createReceiver({ secret }).work()).toThrow(/inbox/);
    expect(() => createReceiver({ secret, orderBy: () => "k" })).toThrow(/orderBy needs an inbox/);
    const unordered: InboxStore = { ...memoryInbox(), ordered: false };
    expect(() => createReceiver({ secret, inbox: unordered, orderBy: () => "k" })).toThrow(/cannot keep orderBy/);
  });
});
