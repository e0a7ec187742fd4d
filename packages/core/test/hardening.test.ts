// Regression tests for the receiver defects of issue 12 (an adversarial review): each failed before its fix.
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { signedDelivery, signedRequest } from "@hookline/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createReceiver,
  type DeadLetterStore,
  defineEvents,
  github,
  hmac,
  memoryDeadLetters,
  type ReceiverLogger,
  sign,
  stripe,
} from "../src";
import { nodeHandler } from "../src/node";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const silent: ReceiverLogger = { info() {}, warn() {}, error() {} };
const paid = { type: "invoice.paid", data: { id: "in_1" } };

/** A logger that keeps every line, to check what the server's log holds. */
function recordingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void =>
      void lines.push({ level, message, fields });
  return { lines, logger: { info: at("info"), warn: at("warn"), error: at("error") } satisfies ReceiverLogger };
}

async function answer(response: Response) {
  return { status: response.status, body: await response.json(), headers: Object.fromEntries(response.headers) };
}

const post = (headers: Record<string, string>, body: string) =>
  new Request("http://localhost/webhooks", { method: "POST", headers, body });

describe("1. replays through ids the signature does not cover", () => {
  const ghSecret = "gh-secret";
  const githubReceiver = (logger: ReceiverLogger = silent) => {
    const runs: string[] = [];
    const receiver = createReceiver({
      secret: ghSecret,
      scheme: github(),
      logger,
      envelope: (body, { header }) => ({ type: header("x-github-event") ?? "", data: body }),
    }).on("push", (event) => void runs.push(event.id));
    return { receiver, runs };
  };
  const push = JSON.stringify({ ref: "refs/heads/main", after: "4f1c" });

  it("github(): a captured delivery resent with a new, or without, x-github-delivery is a duplicate", async () => {
    const { lines, logger } = recordingLogger();
    const { receiver, runs } = githubReceiver(logger);
    const { headers } = await signedDelivery({
      secret: ghSecret,
      scheme: github(),
      id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      payload: push,
      headers: { "x-github-event": "push" },
    });
    expect((await receiver.handle(post(headers, push))).status).toBe(200);
    const forged = { ...headers, "x-github-delivery": "00000000-0000-0000-0000-000000000001" };
    expect(await answer(await receiver.handle(post(forged, push)))).toMatchObject({
      status: 200,
      body: { received: true, duplicate: true },
    });
    const { "x-github-delivery": _, ...withoutId } = headers;
    expect(await answer(await receiver.handle(post(withoutId, push)))).toMatchObject({ body: { duplicate: true } });
    expect(runs).toEqual([`sha256:${createHash("sha256").update(push).digest("hex")}`]);
    // The id the resend claimed is kept for the logs.
    expect(lines).toContainEqual({
      level: "info",
      message: expect.stringMatching(/duplicate/),
      fields: expect.objectContaining({ deliveryId: "00000000-0000-0000-0000-000000000001" }),
    });
  });

  it("hmac({ idHeader }): the same, keyed by the signed body", async () => {
    const scheme = hmac({ header: "x-signature", prefix: "sha256=", idHeader: "x-webhook-id" });
    const runs: string[] = [];
    const receiver = createReceiver({ secret: "plain", scheme, logger: silent }).on(
      "order.created",
      (event) => void runs.push(event.id),
    );
    const body = JSON.stringify({ type: "order.created", data: { n: 1 } });
    const headers = await sign({ scheme, secret: "plain", payload: body, id: "wh_1" });
    expect((await receiver.handle(post(headers, body))).status).toBe(200);
    for (const id of ["wh_2", "wh_3"]) {
      const response = await answer(await receiver.handle(post({ ...headers, "x-webhook-id": id }, body)));
      expect(response.body).toMatchObject({ duplicate: true });
    }
    expect(runs).toHaveLength(1);
  });

  it("an id the body carries is signed, so it stays the key (Stripe's evt_…, a body id under hmac)", async () => {
    const scheme = hmac({ header: "x-signature", idHeader: "x-webhook-id" });
    const seen: string[] = [];
    const receiver = createReceiver({ secret: "plain", scheme, logger: silent }).on(
      "order.created",
      (event) => void seen.push(event.id),
    );
    const body = JSON.stringify({ id: "evt_body", type: "order.created", data: {} });
    const headers = await sign({ scheme, secret: "plain", payload: body, id: "unsigned" });
    await receiver.handle(post(headers, body));
    expect(seen).toEqual(["evt_body"]);
  });

  it("the scheme says whether its id is signed", () => {
    expect(github().signsId).toBe(false);
    expect(hmac({ header: "x-signature", idHeader: "x-id" }).signsId).toBe(false);
  });
});

describe("2. an empty id header", () => {
  it("never becomes the key: distinct messages with an empty x-github-delivery all run", async () => {
    const runs: unknown[] = [];
    const receiver = createReceiver({
      secret: "gh",
      scheme: github(),
      logger: silent,
      envelope: (body, { header }) => ({ type: header("x-github-event") ?? "", data: body }),
    }).on("push", (event) => void runs.push(event.data));
    for (const n of [1, 2, 3]) {
      const payload = JSON.stringify({ n });
      const { headers } = await signedDelivery({ secret: "gh", scheme: github(), payload });
      const response = await answer(
        await receiver.handle(post({ ...headers, "x-github-delivery": "", "x-github-event": "push" }, payload)),
      );
      expect(response.body).toEqual({ received: true });
    }
    expect(runs).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it("verify() returns no id for an empty or blank id header", async () => {
    const { verify } = await import("../src");
    const scheme = hmac({ header: "x-signature", idHeader: "x-id" });
    const headers = await sign({ scheme, secret: "s", payload: "{}" });
    for (const blank of ["", "   "]) {
      const verified = await verify({ scheme, secret: "s", payload: "{}", headers: { ...headers, "x-id": blank } });
      expect(verified.id).toBeUndefined();
    }
  });
});

describe("7. event types named like Object.prototype members", () => {
  const events = defineEvents({ "invoice.paid": z.object({ id: z.string() }) });
  it.each(["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"])(
    "%s with a catalog is an unknown type (200 ignored), not a 500",
    async (type) => {
      const receiver = createReceiver({ secret, events, logger: silent }).on("invoice.paid", () => {});
      const response = await answer(await receiver.handle(await signedRequest({ secret, event: { type, data: {} } })));
      expect(response).toMatchObject({ status: 200, body: { received: true, ignored: true } });
    },
  );

  it("and reaches onAny handlers as a plain type", async () => {
    const seen: string[] = [];
    const receiver = createReceiver({ secret, events, logger: silent }).onAny((event) => void seen.push(event.type));
    for (const type of ["constructor", "__proto__"]) {
      expect((await receiver.handle(await signedRequest({ secret, event: { type, data: 1 } }))).status).toBe(200);
    }
    expect(seen).toEqual(["constructor", "__proto__"]);
  });
});

describe("9. handler values that String() cannot convert", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => {
    process.off("unhandledRejection", onUnhandled);
  });
  const strange = () => [Object.create(null), { toString: () => ({}) }, { [Symbol.toPrimitive]: () => Symbol() }];

  it("after the 202: dead-lettered, never an unhandled rejection", async () => {
    for (const value of strange()) {
      const deadLetters = memoryDeadLetters();
      const receiver = createReceiver({ secret, deadLetters, timeoutMs: 10, logger: silent }).on(
        "invoice.paid",
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 30));
          throw value;
        },
      );
      const request = await signedRequest({ secret, id: "msg_strange", event: paid });
      expect((await receiver.handle(request)).status).toBe(202);
      await receiver.drain();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await deadLetters.get("msg_strange")).toMatchObject({ error: { name: "Error" } });
    }
    expect(unhandled).toEqual([]);
  });

  it("after the 202 without dead letters, with a logger that throws: logged as lost, nothing unhandled", async () => {
    const receiver = createReceiver({
      secret,
      timeoutMs: 10,
      logger: {
        info() {},
        warn() {},
        error() {
          throw new Error("logger down");
        },
      },
    }).on("invoice.paid", async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      throw Object.create(null);
    });
    expect((await receiver.handle(await signedRequest({ secret, event: paid }))).status).toBe(202);
    await receiver.drain();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(unhandled).toEqual([]);
  });

  it("before the answer: 500 handler_failed and the claim released, so the retry runs", async () => {
    let runs = 0;
    const receiver = createReceiver({ secret, logger: silent }).on("invoice.paid", () => {
      runs++;
      if (runs === 1) throw Object.create(null);
    });
    const request = await signedRequest({ secret, id: "msg_null_proto", event: paid });
    expect(await answer(await receiver.handle(request.clone()))).toMatchObject({
      status: 500,
      body: { error: { code: "handler_failed" } },
    });
    expect((await receiver.handle(request)).status).toBe(200);
    expect(runs).toBe(2);
  });
});

/**
 * A dead-letter store frozen like a stopped server: calls wait in order until `thaw`, and a `put` made while
 * frozen rejects after `timeoutMs` (as the Redis and PostgreSQL stores do) although it still lands on thaw.
 */
function freezable(store: DeadLetterStore, timeoutMs = 10) {
  let queue: (() => Promise<void>)[] | undefined;
  const call = <T>(run: () => Promise<T>, timesOut: boolean): Promise<T> => {
    if (!queue) return run();
    const done = new Promise<T>((resolve, reject) => queue!.push(() => run().then(resolve, reject)));
    if (!timesOut) return done;
    return Promise.race([
      done,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out")), timeoutMs)),
    ]);
  };
  return {
    store: {
      put: (letter) => call(() => store.put(letter), true),
      get: (id) => call(() => store.get(id), false),
      list: (options) => call(() => store.list(options), false),
      delete: (id) => call(() => store.delete(id), false),
    } satisfies DeadLetterStore,
    freeze() {
      queue = [];
    },
    async thaw() {
      const waiting = queue ?? [];
      queue = undefined;
      for (const run of waiting) await run();
    },
  };
}

describe("10. a dead-letter put that timed out but lands later", () => {
  it("leaves no dead letter once a redelivery succeeds, so replay cannot run the handler twice", async () => {
    const real = memoryDeadLetters();
    const frozen = freezable(real);
    let runs = 0;
    const receiver = createReceiver({ secret, deadLetters: frozen.store, logger: silent }).on("invoice.paid", () => {
      runs++;
      if (runs === 1) throw new Error("first attempt fails");
    });
    const request = await signedRequest({ secret, id: "msg_frozen", event: paid });
    frozen.freeze();
    expect((await receiver.handle(request.clone())).status).toBe(500);
    expect((await receiver.handle(request)).status).toBe(200);
    expect(runs).toBe(2);
    await frozen.thaw();
    await receiver.drain();
    expect(await real.get("msg_frozen")).toBeUndefined();
    expect(await receiver.replay("msg_frozen")).toEqual({ status: "not_found" });
    expect(runs).toBe(2);
  });

  it("a replay that succeeds leaves no letter either, even when its put raced it", async () => {
    const deadLetters = memoryDeadLetters();
    let fail = true;
    const receiver = createReceiver({ secret, deadLetters, logger: silent }).on("invoice.paid", () => {
      if (fail) throw new Error("x");
    });
    await receiver.handle(await signedRequest({ secret, id: "msg_replayed", event: paid }));
    fail = false;
    expect(await receiver.replay("msg_replayed")).toEqual({ status: "processed" });
    await receiver.drain();
    expect(await deadLetters.list()).toEqual([]);
  });
});

describe("13. what an unauthenticated caller is told", () => {
  it("401 bodies say only what failed on the caller's side; the diagnostics go to the server's log", async () => {
    const { lines, logger } = recordingLogger();
    const receiver = createReceiver({ secret: ["whsec_current ", "whsec_previous"], scheme: stripe(), logger });
    const { headers } = await signedDelivery({ secret: "whsec_someone_else", scheme: stripe(), event: paid });
    const response = await answer(await receiver.handle(post(headers, JSON.stringify(paid))));
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("no_matching_signature");
    expect(response.body.error.message).not.toMatch(/secret|whitespace|rotation/i);
    const logged = JSON.stringify(lines);
    expect(logged).toMatch(/whitespace/);
    // Said at start-up too, where the default logger (warnings and errors only) shows it.
    expect(lines[0]).toMatchObject({ level: "warn", message: expect.stringMatching(/whitespace/) });
    expect(logged).not.toMatch(/whsec_current|whsec_previous/);
  });
});

describe("smaller points", () => {
  it("409 Retry-After is proportionate to how long handlers take, not the whole lease", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const receiver = createReceiver({ secret, logger: silent }).on("invoice.paid", () => gate);
    const request = await signedRequest({ secret, id: "msg_busy", event: paid });
    const running = receiver.handle(request.clone());
    await new Promise((resolve) => setTimeout(resolve, 10));
    const busy = await answer(await receiver.handle(request));
    expect(busy).toMatchObject({ status: 409, body: { error: { code: "in_flight" } } });
    expect(Number(busy.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(busy.headers["retry-after"])).toBeLessThanOrEqual(5);
    release();
    await running;
  });

  it("a body cut short by the client is 400 invalid_payload", async () => {
    const { headers } = await signedDelivery({ secret, event: paid });
    const receiver = createReceiver({ secret, logger: silent });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"type":"inv'));
        controller.error(new Error("aborted"));
      },
    });
    const request = new Request("http://localhost/", { method: "POST", headers, body, duplex: "half" } as RequestInit);
    expect(await answer(await receiver.handle(request))).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_payload" } },
    });
  });

  it("through a real Node server: a client that hangs up mid-body is counted as 400 invalid_payload", async () => {
    const rejected: unknown[] = [];
    const receiver = createReceiver({ secret, logger: silent, hooks: { onRejected: (info) => rejected.push(info) } });
    const server = createServer(nodeHandler(receiver)).listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { headers, body } = await signedDelivery({ secret, event: paid });
      const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
      await once(socket, "connect");
      const lines = Object.entries({ ...headers, host: "127.0.0.1", "content-length": "4096" }).map(
        ([name, value]) => `${name}: ${value}`,
      );
      socket.write(`POST /webhooks HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n${String(body).slice(0, 20)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      await expect.poll(() => rejected, { timeout: 5_000 }).toEqual([{ code: "invalid_payload", status: 400 }]);
      expect(receiver.stats().counts).toMatchObject({ invalid_payload: 1 });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
