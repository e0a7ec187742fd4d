import { signedRequest } from "@hookline/testing";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import * as z from "zod";
import {
  createReceiver,
  type DeadLetterStore,
  defineEvents,
  HooklineError,
  hmac,
  type IdempotencyStore,
  memoryDeadLetters,
  memoryStore,
  type ReceiverOptions,
  sign,
} from "../src";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const events = defineEvents({
  "invoice.paid": z.object({
    id: z.string(),
    amount: z.number().int(),
    currency: z.string().transform((c) => c.toUpperCase()),
  }),
  "customer.deleted": z.object({ id: z.string() }),
});
const paid = { type: "invoice.paid", data: { id: "in_1", amount: 1250, currency: "eur" } };
const silent = { info() {}, warn() {}, error() {} };

function setup(options: Partial<ReceiverOptions<typeof events>> = {}) {
  const calls: unknown[] = [];
  const receiver = createReceiver({ secret, events, logger: silent, ...options });
  receiver.on("invoice.paid", (event) => {
    calls.push(event);
  });
  return { receiver, calls };
}

async function answer(response: Response) {
  return { status: response.status, body: await response.json(), headers: Object.fromEntries(response.headers) };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("the answer table", () => {
  it("200 { received } runs the handler with the schema's output", async () => {
    const { receiver, calls } = setup();
    const response = await answer(await receiver.handle(await signedRequest({ secret, id: "msg_1", event: paid })));
    expect(response).toMatchObject({ status: 200, body: { received: true } });
    expect(calls).toEqual([
      {
        id: "msg_1",
        type: "invoice.paid",
        timestamp: expect.any(Number),
        data: { id: "in_1", amount: 1250, currency: "EUR" },
      },
    ]);
  });

  it("405 for anything but POST, with Allow", async () => {
    const { receiver, calls } = setup();
    const response = await answer(await receiver.handle(new Request("http://localhost/webhooks")));
    expect(response).toMatchObject({
      status: 405,
      body: { error: { code: "method_not_allowed" } },
      headers: { allow: "POST" },
    });
    expect(calls).toHaveLength(0);
  });

  it("413 from Content-Length without reading the body", async () => {
    const { receiver } = setup({ maxBodyBytes: 1024 });
    const pulled = vi.fn();
    const body = new ReadableStream({ pull: pulled }, { highWaterMark: 0 });
    const request = new Request("http://localhost/", {
      method: "POST",
      body,
      headers: { "content-length": "4096" },
      duplex: "half",
    } as RequestInit);
    expect(await answer(await receiver.handle(request))).toMatchObject({
      status: 413,
      body: { error: { code: "payload_too_large" } },
    });
    expect(pulled).not.toHaveBeenCalled();
  });

  it("413 for a streamed body as soon as it passes the limit, leaving the rest unread", async () => {
    const { receiver } = setup({ maxBodyBytes: 64 * 1024 });
    let chunks = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        chunks++;
        controller.enqueue(new Uint8Array(16 * 1024));
        if (chunks === 512) controller.close(); // 8 MiB in all
      },
    });
    const request = new Request("http://localhost/", { method: "POST", body, duplex: "half" } as RequestInit);
    expect((await receiver.handle(request)).status).toBe(413);
    expect(chunks).toBeLessThan(10);
  });

  it.each([
    ["missing_header", async () => new Request("http://localhost/", { method: "POST", body: "{}" })],
    [
      "no_matching_signature",
      async () => {
        const { headers } = await signedRequest({ secret, event: paid });
        return new Request("http://localhost/", {
          method: "POST",
          headers,
          body: JSON.stringify({ ...paid, amount: 1 }),
        });
      },
    ],
    ["timestamp_too_old", () => signedRequest({ secret, event: paid, timestamp: Math.floor(Date.now() / 1000) - 360 })],
    ["timestamp_too_new", () => signedRequest({ secret, event: paid, timestamp: Math.floor(Date.now() / 1000) + 360 })],
  ])("401 %s, handler not run", async (code, make) => {
    const { receiver, calls } = setup();
    expect(await answer(await receiver.handle(await make()))).toMatchObject({ status: 401, body: { error: { code } } });
    expect(calls).toHaveLength(0);
  });

  it.each([
    ["invalid_json", "{not json"],
    ["invalid_envelope", JSON.stringify({ data: {} })],
    ["invalid_envelope", JSON.stringify([1, 2])],
    ["invalid_event", JSON.stringify({ type: "invoice.paid", data: { id: 1, amount: 1.5, currency: "eur" } })],
  ])("400 %s for a verified but unusable body", async (code, payload) => {
    const { receiver, calls } = setup();
    const response = await answer(await receiver.handle(await signedRequest({ secret, payload })));
    expect(response).toMatchObject({ status: 400, body: { error: { code } } });
    if (code === "invalid_event") {
      expect(response.body.error.issues).toEqual([
        { path: "id", message: expect.any(String) },
        { path: "amount", message: expect.any(String) },
      ]);
    }
    expect(calls).toHaveLength(0);
  });

  it("200 { ignored } for a type with no handler, without touching the store", async () => {
    const store = memoryStore();
    const { receiver } = setup({ store });
    const response = await answer(
      await receiver.handle(await signedRequest({ secret, event: { type: "customer.deleted", data: { id: "c" } } })),
    );
    expect(response).toMatchObject({ status: 200, body: { received: true, ignored: true } });
    expect(store.size).toBe(0);
  });

  it("200 { duplicate } for a message already processed", async () => {
    const { receiver, calls } = setup();
    const first = await signedRequest({ secret, id: "msg_dup", event: paid });
    const again = first.clone();
    expect((await receiver.handle(first)).status).toBe(200);
    expect(await answer(await receiver.handle(again))).toMatchObject({
      status: 200,
      body: { received: true, duplicate: true },
    });
    expect(calls).toHaveLength(1);
  });

  it("409 with Retry-After while the same message is in flight", async () => {
    const gate = deferred();
    const receiver = createReceiver({ secret, events, logger: silent }).on("invoice.paid", () => gate.promise);
    const first = await signedRequest({ secret, id: "msg_busy", event: paid });
    const running = receiver.handle(first.clone());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await answer(await receiver.handle(first));
    expect(second).toMatchObject({ status: 409, body: { error: { code: "in_flight" } } });
    expect(Number(second.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    gate.resolve();
    expect((await running).status).toBe(200);
  });

  it("503 with Retry-After when the store is unreachable, handler not run", async () => {
    const down: IdempotencyStore = {
      claim: () => Promise.reject(new Error("ECONNREFUSED")),
      complete: () => Promise.reject(new Error("ECONNREFUSED")),
      release: () => Promise.reject(new Error("ECONNREFUSED")),
    };
    const { receiver, calls } = setup({ store: down });
    const response = await answer(await receiver.handle(await signedRequest({ secret, event: paid })));
    expect(response).toMatchObject({
      status: 503,
      body: { error: { code: "store_unavailable" } },
      headers: { "retry-after": "5" },
    });
    expect(calls).toHaveLength(0);
  });

  it("500 when a handler throws without dead letters: the claim is released so a redelivery runs again", async () => {
    let attempts = 0;
    const receiver = createReceiver({ secret, events, logger: silent }).on("invoice.paid", () => {
      attempts++;
      if (attempts === 1) throw new Error("database down");
    });
    const request = await signedRequest({ secret, id: "msg_retry", event: paid });
    const failed = await answer(await receiver.handle(request.clone()));
    expect(failed).toMatchObject({ status: 500, body: { error: { code: "handler_failed" } } });
    expect(JSON.stringify(failed.body)).not.toContain("database down");
    expect((await receiver.handle(request)).status).toBe(200);
    expect(attempts).toBe(2);
  });

  it("200 { deadLettered } when a handler throws with dead letters; replay runs it again and clears it", async () => {
    const deadLetters = memoryDeadLetters();
    let fail = true;
    const seen: unknown[] = [];
    const receiver = createReceiver({ secret, events, deadLetters, logger: silent }).on(
      "invoice.paid",
      (event, context) => {
        seen.push({ data: event.data, replay: context.replay });
        if (fail) throw new TypeError("bug in handler");
      },
    );
    const request = await signedRequest({ secret, id: "msg_dead", event: paid });
    expect(await answer(await receiver.handle(request.clone()))).toMatchObject({
      status: 200,
      body: { received: true, deadLettered: true },
    });
    expect(await answer(await receiver.handle(request))).toMatchObject({ body: { duplicate: true } });
    const [letter] = await deadLetters.list();
    expect(letter).toMatchObject({
      id: "msg_dead",
      type: "invoice.paid",
      attempts: 1,
      error: { name: "TypeError", message: "bug in handler" },
    });

    expect(await receiver.replay("msg_dead")).toMatchObject({ status: "failed" });
    expect(await deadLetters.get("msg_dead")).toMatchObject({ attempts: 2 });
    fail = false;
    expect(await receiver.replay("msg_dead")).toEqual({ status: "processed" });
    expect(await deadLetters.get("msg_dead")).toBeUndefined();
    expect(await receiver.replay("msg_dead")).toEqual({ status: "not_found" });
    expect(seen).toEqual([
      { data: { id: "in_1", amount: 1250, currency: "EUR" }, replay: false },
      { data: { id: "in_1", amount: 1250, currency: "EUR" }, replay: true },
      { data: { id: "in_1", amount: 1250, currency: "EUR" }, replay: true },
    ]);
  });

  it("500 and a released claim when the dead letter cannot be stored", async () => {
    const broken: DeadLetterStore = { ...memoryDeadLetters(), put: () => Promise.reject(new Error("disk full")) };
    let runs = 0;
    const receiver = createReceiver({ secret, events, deadLetters: broken, logger: silent }).on("invoice.paid", () => {
      runs++;
      throw new Error("fails");
    });
    const request = await signedRequest({ secret, id: "msg_lost", event: paid });
    expect((await receiver.handle(request.clone())).status).toBe(500);
    expect((await receiver.handle(request)).status).toBe(500);
    expect(runs).toBe(2);
  });

  it("202 when handlers outlive timeoutMs; the work goes on and completes the claim", async () => {
    const gate = deferred();
    const done = vi.fn();
    const receiver = createReceiver({ secret, events, timeoutMs: 30, logger: silent }).on("invoice.paid", async () => {
      await gate.promise;
      done();
    });
    const request = await signedRequest({ secret, id: "msg_slow", event: paid });
    expect(await answer(await receiver.handle(request.clone()))).toMatchObject({
      status: 202,
      body: { received: true, pending: true },
    });
    gate.resolve();
    await receiver.drain();
    expect(done).toHaveBeenCalledOnce();
    expect(await answer(await receiver.handle(request))).toMatchObject({ body: { duplicate: true } });
  });

  it("a handler failing after the 202 is dead-lettered", async () => {
    const deadLetters = memoryDeadLetters();
    const receiver = createReceiver({ secret, events, deadLetters, timeoutMs: 20, logger: silent }).on(
      "invoice.paid",
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 60));
        throw new Error("late failure");
      },
    );
    expect((await receiver.handle(await signedRequest({ secret, id: "msg_late", event: paid }))).status).toBe(202);
    await receiver.drain();
    expect(await deadLetters.get("msg_late")).toMatchObject({ error: { message: "late failure" } });
  });

  it("a handler failing after the 202 without dead letters is logged as lost", async () => {
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const receiver = createReceiver({ secret, events, timeoutMs: 20, logger }).on("invoice.paid", async () => {
      await new Promise((resolve) => setTimeout(resolve, 60));
      throw new Error("late failure");
    });
    expect((await receiver.handle(await signedRequest({ secret, id: "msg_gone", event: paid }))).status).toBe(202);
    await receiver.drain();
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ id: "msg_gone" }),
      expect.stringContaining("lost"),
    );
  });
});

describe("schemas and replay edge cases", () => {
  it("answers 500 (so the sender retries) when a schema throws instead of reporting issues", async () => {
    const throwing = {
      "~standard": {
        version: 1 as const,
        vendor: "test",
        validate: () => {
          throw new Error("schema bug");
        },
      },
    };
    const receiver = createReceiver({ secret, events: defineEvents({ "invoice.paid": throwing }), logger: silent });
    const ran = vi.fn();
    receiver.on("invoice.paid", ran);
    expect((await receiver.handle(await signedRequest({ secret, event: paid }))).status).toBe(500);
    expect(ran).not.toHaveBeenCalled();
  });

  it("replay reports a dead letter that no longer matches its schema, and keeps it", async () => {
    const deadLetters = memoryDeadLetters();
    await deadLetters.put({
      id: "msg_old",
      type: "invoice.paid",
      payload: JSON.stringify({ type: "invoice.paid", data: { id: "in_1" } }),
      error: { name: "Error", message: "x" },
      attempts: 1,
      firstFailedAt: 1,
      lastFailedAt: 1,
    });
    const { receiver, calls } = setup({ deadLetters });
    expect(await receiver.replay("msg_old")).toMatchObject({ status: "invalid", code: "invalid_event" });
    expect(calls).toHaveLength(0);
    expect(await deadLetters.get("msg_old")).toBeDefined();
  });
});

describe("idempotency", () => {
  it("runs the handler once for 100 simultaneous deliveries of one message", async () => {
    let runs = 0;
    const receiver = createReceiver({ secret, events, logger: silent }).on("invoice.paid", async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    });
    const request = await signedRequest({ secret, id: "msg_storm", event: paid });
    const statuses = await Promise.all(
      Array.from({ length: 100 }, () => receiver.handle(request.clone()).then((r) => r.status)),
    );
    expect(runs).toBe(1);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 200 || status === 409)).toBe(true);
  });

  it("keys a message without an id by the SHA-256 of its body", async () => {
    const scheme = hmac({ header: "x-signature", prefix: "sha256=" });
    const seen: string[] = [];
    const receiver = createReceiver({ secret: "plain-secret", scheme, logger: silent }).on("order.created", (event) => {
      seen.push(event.id);
    });
    const payload = JSON.stringify({ type: "order.created", data: { n: 1 } });
    const headers = await sign({ scheme, secret: "plain-secret", payload });
    for (let i = 0; i < 2; i++)
      await receiver.handle(new Request("http://localhost/", { method: "POST", headers, body: payload }));
    expect(seen).toEqual([expect.stringMatching(/^sha256:[0-9a-f]{64}$/)]);
  });
});

describe("handlers, envelope, hooks, stats", () => {
  it("runs type handlers in order, then onAny, which also sees types outside the catalog", async () => {
    const order: string[] = [];
    const receiver = createReceiver({ secret, events, logger: silent })
      .on("invoice.paid", () => void order.push("first"))
      .on("invoice.paid", () => void order.push("second"))
      .onAny((event) => void order.push(`any:${event.type}`));
    await receiver.handle(await signedRequest({ secret, event: paid }));
    await receiver.handle(await signedRequest({ secret, event: { type: "something.else", data: 1 } }));
    expect(order).toEqual(["first", "second", "any:invoice.paid", "any:something.else"]);
  });

  it("reads GitHub-style deliveries through a custom envelope", async () => {
    const { github } = await import("../src");
    const seen: unknown[] = [];
    const receiver = createReceiver({
      secret: "gh-secret",
      scheme: github(),
      logger: silent,
      envelope: (body, { header }) => ({ type: header("x-github-event") ?? "", data: body }),
    }).on("push", (event, context) => void seen.push([event.id, context.header("x-github-delivery"), event.data]));
    const request = await signedRequest({
      secret: "gh-secret",
      scheme: github(),
      id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      payload: JSON.stringify({ ref: "refs/heads/main" }),
      headers: { "x-github-event": "push" },
    });
    expect((await receiver.handle(request)).status).toBe(200);
    // The delivery id is not signed: the key is the signed body's hash; the header stays readable.
    expect(seen).toEqual([
      [expect.stringMatching(/^sha256:/), "72d3162e-cc78-11e3-81ab-4c9367dc0958", { ref: "refs/heads/main" }],
    ]);
  });

  it("calls hooks, survives a throwing hook, and counts outcomes", async () => {
    const hooks = {
      onReceived: vi.fn(),
      onVerified: vi.fn(),
      onRejected: vi.fn(),
      onDuplicate: vi.fn(),
      onProcessed: vi.fn(() => {
        throw new Error("hook bug");
      }),
      onFailed: vi.fn(),
    };
    const { receiver } = setup({ hooks });
    const request = await signedRequest({ secret, id: "msg_hooks", event: paid });
    expect((await receiver.handle(request.clone())).status).toBe(200);
    await receiver.handle(request);
    await receiver.handle(new Request("http://localhost/", { method: "POST", body: "{}" }));
    expect(hooks.onReceived).toHaveBeenCalledTimes(3);
    expect(hooks.onVerified).toHaveBeenCalledTimes(2);
    expect(hooks.onProcessed).toHaveBeenCalledWith({ id: "msg_hooks", type: "invoice.paid", ms: expect.any(Number) });
    expect(hooks.onDuplicate).toHaveBeenCalledWith({ id: "msg_hooks", type: "invoice.paid", inFlight: false });
    expect(hooks.onRejected).toHaveBeenCalledWith({ code: "missing_header", status: 401 });
    const stats = receiver.stats();
    expect(stats).toMatchObject({ processed: 1, counts: { received: 3, duplicate: 1, missing_header: 1 } });
    expect(stats.handlerMs.p50).toBeGreaterThanOrEqual(0);
  });

  it("never logs the payload or the secret", async () => {
    const lines: string[] = [];
    const record = (fields: unknown, message: string) => void lines.push(message + JSON.stringify(fields));
    const receiver = createReceiver({ secret, events, logger: { info: record, warn: record, error: record } }).on(
      "invoice.paid",
      () => {
        throw new Error("x");
      },
    );
    await receiver.handle(
      await signedRequest({
        secret,
        event: { type: "invoice.paid", data: { id: "SENSITIVE", amount: 1, currency: "x" } },
      }),
    );
    await receiver.handle(new Request("http://localhost/", { method: "POST", body: "SENSITIVE" }));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toMatch(/SENSITIVE|MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/);
  });
});

describe("transport checks", () => {
  it("requireHttps refuses plain HTTP and believes x-forwarded-proto only with trustProxy", async () => {
    const make = async (url: string, forwarded?: string) => {
      const request = await signedRequest({
        secret,
        event: paid,
        url,
        ...(forwarded ? { headers: { "x-forwarded-proto": forwarded } } : {}),
      });
      return request;
    };
    const strict = setup({ requireHttps: true }).receiver;
    expect((await strict.handle(await make("http://example.test/hook"))).status).toBe(403);
    expect((await strict.handle(await make("http://example.test/hook", "https"))).status).toBe(403);
    expect((await strict.handle(await make("https://example.test/hook"))).status).toBe(200);
    const proxied = setup({ requireHttps: true, trustProxy: true }).receiver;
    expect((await proxied.handle(await make("http://internal/hook", "https"))).status).toBe(200);
  });

  it("allowIps accepts addresses in the ranges (IPv4, IPv6, IPv4-mapped) and refuses others", async () => {
    const { receiver } = setup({ allowIps: ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"] });
    const status = async (remoteAddress: string | undefined, headers: Record<string, string> = {}) => {
      const { headers: signed, body } = await import("@hookline/testing").then((m) =>
        m.signedDelivery({ secret, event: paid }),
      );
      const input = {
        method: "POST",
        headers: { ...signed, ...headers },
        body,
        ...(remoteAddress ? { remoteAddress } : {}),
      };
      return (await receiver.receive(input)).status;
    };
    expect(await status("192.0.2.44")).toBe(200);
    expect(await status("::ffff:192.0.2.45")).toBe(200);
    expect(await status("2001:db8::1")).toBe(200);
    expect(await status("198.51.100.7")).toBe(200);
    expect(await status("198.51.100.8")).toBe(403);
    expect(await status(undefined)).toBe(403);
    expect(await status("203.0.113.9", { "x-forwarded-for": "192.0.2.1" })).toBe(403);
    expect(() => createReceiver({ secret, allowIps: ["not-an-ip"] })).toThrow(/allowIps/);
  });
});

describe("lower-level receive", () => {
  it("reads a Node-style async iterable body", async () => {
    const { receiver, calls } = setup();
    const { signedDelivery } = await import("@hookline/testing");
    const { headers, body } = await signedDelivery({ secret, event: paid });
    const bytes = new TextEncoder().encode(body as string);
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
    }
    expect((await receiver.receive({ method: "POST", headers, body: chunks() })).status).toBe(200);
    expect(calls).toHaveLength(1);
  });

  it("answers with the code of the HooklineError an adapter gives as the body, and reports it", async () => {
    const rejected: unknown[] = [];
    const { receiver, calls } = setup({ hooks: { onRejected: (info) => rejected.push(info) } });
    const { headers } = await signedRequest({ secret, event: paid });
    const body = new HooklineError("raw_body_unavailable", "a parser read it first");
    const answer = await receiver.receive({ method: "POST", headers, body });
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: "raw_body_unavailable", message: "a parser read it first" },
    });
    expect(rejected).toEqual([{ code: "raw_body_unavailable", status: 500 }]);
    expect(calls).toHaveLength(0);
  });
});

describe("a Request whose body was already read", () => {
  it("500 raw_body_unavailable naming the fix, not a signature failure", async () => {
    const { receiver, calls } = setup();
    const request = await signedRequest({ secret, event: paid });
    await request.json();
    const response = await answer(await receiver.handle(request));
    expect(response).toMatchObject({ status: 500, body: { error: { code: "raw_body_unavailable" } } });
    expect(response.body.error.message).toContain("request.clone()");
    expect(calls).toHaveLength(0);
  });
});

describe("fuzz", () => {
  const documented = new Set([200, 400, 401, 405, 413]);
  it("answers any request with a documented status, never throwing, never 5xx for a client fault", async () => {
    const { receiver } = setup();
    const signedBase = await signedRequest({ secret, event: paid });
    const baseHeaders = Object.fromEntries(signedBase.headers);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("POST", "POST", "GET", "PUT", "DELETE"),
        fc.dictionary(
          fc.constantFrom(
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "svix-signature",
            "content-type",
            "x-other",
          ),
          fc.string({ maxLength: 80 }).filter((value) => /^[\x20-\x7e]*$/.test(value)),
        ),
        fc.oneof(fc.string({ maxLength: 200 }), fc.json(), fc.uint8Array({ maxLength: 200 })),
        fc.boolean(),
        async (method, headers, body, keepSigned) => {
          const request = new Request("http://localhost/", {
            method,
            headers: keepSigned ? { ...baseHeaders, ...headers } : headers,
            body: method === "GET" ? null : body,
          });
          const response = await receiver.handle(request);
          expect(documented.has(response.status)).toBe(true);
          const parsed = await response.json();
          expect(parsed).toBeTypeOf("object");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("verified bodies of any shape get 200 or 400, never 5xx", async () => {
    const { receiver } = setup();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify({ type: "invoice.paid", data: v })),
        ),
        async (payload) => {
          const status = (await receiver.handle(await signedRequest({ secret, payload }))).status;
          expect([200, 400]).toContain(status);
        },
      ),
      { numRuns: 200 },
    );
  });
});
