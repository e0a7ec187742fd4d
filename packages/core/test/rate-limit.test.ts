import { signedDelivery } from "@hookline/testing";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { describe, expect, it } from "vitest";
import { createReceiver, type ReceiverHooks, type ReceiverOptions } from "../src";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const forged = "whsec_dGhpcyBpcyBub3QgdGhlIHJpZ2h0IHNlY3JldA==";
const silent = { info() {}, warn() {}, error() {} };

function setup(options: Partial<ReceiverOptions>) {
  const rejected: Parameters<NonNullable<ReceiverHooks["onRejected"]>>[0][] = [];
  const receiver = createReceiver({
    secret,
    logger: silent,
    hooks: { onRejected: (info) => rejected.push(info) },
    ...options,
  }).on("order.created", () => {});
  return { receiver, rejected };
}

/** A delivery whose body records whether anything read it. */
async function delivery(remoteAddress: string, key = secret, headers: Record<string, string> = {}) {
  const signed = await signedDelivery({ secret: key, event: { type: "order.created", data: {} } });
  const bytes = new TextEncoder().encode(signed.body as string);
  const read = { pulled: false };
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        read.pulled = true;
        controller.enqueue(bytes);
        controller.close();
      },
    },
    { highWaterMark: 0 }, // pulled only when the receiver reads
  );
  return { input: { method: "POST", headers: { ...signed.headers, ...headers }, body, remoteAddress }, read };
}

describe("rateLimit.requests", () => {
  it("answers 429 rate_limited with Retry-After before reading the body, counted and seen by hooks", async () => {
    const requests = new RateLimiterMemory({ points: 2, duration: 30 });
    const { receiver, rejected } = setup({ rateLimit: { requests } });
    for (let i = 0; i < 2; i++) expect((await receiver.receive((await delivery("192.0.2.1")).input)).status).toBe(200);
    const { input, read } = await delivery("192.0.2.1");
    const answer = await receiver.receive(input);
    expect(answer.status).toBe(429);
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: "rate_limited", message: "Too many deliveries from this address; retry later" },
    });
    expect(Number(answer.headers["retry-after"])).toBeGreaterThanOrEqual(29);
    expect(read.pulled).toBe(false);
    expect(receiver.stats().counts.rate_limited).toBe(1);
    expect(rejected).toEqual([{ code: "rate_limited", status: 429 }]);
    // IPv4-mapped IPv6 is the same peer; another address has its own budget.
    expect((await receiver.receive((await delivery("::ffff:192.0.2.1")).input)).status).toBe(429);
    expect((await receiver.receive((await delivery("192.0.2.2")).input)).status).toBe(200);
  });

  it("counts an IPv6 peer by its /64, so rotating addresses inside it gains nothing", async () => {
    const requests = new RateLimiterMemory({ points: 2, duration: 30 });
    const { receiver } = setup({ rateLimit: { requests } });
    const from = async (address: string) => (await receiver.receive((await delivery(address)).input)).status;
    expect(await from("2001:db8:1:2::1")).toBe(200);
    expect(await from("2001:db8:1:2:ffff::9")).toBe(200);
    expect(await from("2001:db8:1:2:abcd::1")).toBe(429);
    expect(await from("2001:db8:1:3::1")).toBe(200);
    expect(await from("fe80::1%eth0")).toBe(200);
    expect(await requests.get("requests:2001:db8:1:3::/64")).toMatchObject({ consumedPoints: 1 });
  });

  it("keeps requests and failures apart on one limiter (keys requests:<peer> and failures:<peer>)", async () => {
    const shared = new RateLimiterMemory({ points: 3, duration: 30 });
    const { receiver } = setup({ rateLimit: { requests: shared, failures: shared } });
    for (let i = 0; i < 3; i++) expect((await receiver.receive((await delivery("192.0.2.1")).input)).status).toBe(200);
    expect(await shared.get("requests:192.0.2.1")).toMatchObject({ consumedPoints: 3 });
    expect(await shared.get("failures:192.0.2.1")).toBeNull();
  });

  it("keys on the trusted proxy's x-forwarded-for entry, never the client's", async () => {
    const requests = new RateLimiterMemory({ points: 1, duration: 30 });
    const { receiver } = setup({ rateLimit: { requests }, trustProxy: true });
    const from = async (forwardedFor: string) =>
      (await receiver.receive((await delivery("10.0.0.1", secret, { "x-forwarded-for": forwardedFor })).input)).status;
    expect(await from("1.1.1.1, 192.0.2.1")).toBe(200);
    // A client rotating the entries it writes itself is still the peer the proxy saw.
    expect(await from("2.2.2.2, 192.0.2.1")).toBe(429);
    expect(await from("192.0.2.1, 192.0.2.9")).toBe(200);
  });
});

describe("rateLimit options", () => {
  it("refuses at start-up something that is not a limiter with points, consume and get", () => {
    const consumeOnly = { points: 1, consume: async () => ({}) };
    expect(() => createReceiver({ secret, rateLimit: { failures: consumeOnly as never } })).toThrow(
      /rateLimit.failures must be a rate limiter with points, consume and get/,
    );
    const requests = new RateLimiterMemory({ points: 0, duration: 1 });
    expect(() => createReceiver({ secret, rateLimit: { requests } })).toThrow(/rateLimit.requests/);
  });
});

describe("rateLimit.failures", () => {
  it("throttles a peer after `points` failed verifications, before reading its body, valid senders untouched", async () => {
    const failures = new RateLimiterMemory({ points: 2, duration: 600 });
    const { receiver } = setup({ rateLimit: { failures } });
    for (let i = 0; i < 20; i++) expect((await receiver.receive((await delivery("192.0.2.1")).input)).status).toBe(200);
    expect((await receiver.receive((await delivery("198.51.100.1", forged)).input)).status).toBe(401);
    expect((await receiver.receive((await delivery("198.51.100.1", forged)).input)).status).toBe(401);
    const { input, read } = await delivery("198.51.100.1");
    const answer = await receiver.receive(input);
    expect(answer.status).toBe(429);
    expect(JSON.parse(answer.body).error.code).toBe("too_many_failures");
    expect(Number(answer.headers["retry-after"])).toBeGreaterThan(500);
    expect(read.pulled).toBe(false);
    expect((await receiver.receive((await delivery("192.0.2.1")).input)).status).toBe(200);
    expect(receiver.stats().counts).toMatchObject({ no_matching_signature: 2, too_many_failures: 1 });
  });

  it("counts only failed verifications: a body that is not JSON or a 405 spends nothing", async () => {
    const failures = new RateLimiterMemory({ points: 1, duration: 600 });
    const { receiver } = setup({ rateLimit: { failures } });
    const notJson = await signedDelivery({ secret, payload: "not json" });
    for (let i = 0; i < 3; i++) {
      const answer = await receiver.receive({ method: "POST", ...notJson, remoteAddress: "192.0.2.1" });
      expect(answer.status).toBe(400);
      expect(
        (await receiver.receive({ method: "GET", headers: {}, body: null, remoteAddress: "192.0.2.1" })).status,
      ).toBe(405);
    }
    expect((await receiver.receive((await delivery("192.0.2.1")).input)).status).toBe(200);
  });
});
