/**
 * Rate limits shared by two receiver instances, each behind its own real HTTP server, on one limiter store. The
 * Redis and PostgreSQL suites run these on their real servers (the memory limiter cannot be shared); the file lives
 * here, where the PostgreSQL suite (which has @hookline/redis as a devDependency) can reach it with its imports.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createReceiver, generateSecret, type RateLimiter, type Receiver } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { type ContractRunner, signedDelivery } from "@hookline/testing";
import { expect } from "vitest";

/** Makes a limiter on the shared store; the same `name` on two calls must share its counts. */
export type LimiterFactory = (name: string, options: { points: number; duration: number }) => Promise<RateLimiter>;

const quiet = { info() {}, warn() {}, error() {} };
const secret = generateSecret();
const forged = generateSecret();

async function instance(rateLimit: { requests?: RateLimiter; failures?: RateLimiter }) {
  // Behind a proxy (trustProxy), so that tests can speak for several peers over loopback.
  const receiver = createReceiver({ secret, logger: quiet, trustProxy: true, rateLimit }).on("order.created", () => {});
  const server = createServer(nodeHandler(receiver)).listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    receiver,
    url: `http://127.0.0.1:${port}/webhooks`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function post(url: string, peer: string, key = secret) {
  const { headers, body } = await signedDelivery({ secret: key, event: { type: "order.created", data: {} } });
  const response = await fetch(url, {
    method: "POST",
    headers: { ...headers, "x-forwarded-for": `203.0.113.250, ${peer}` },
    body: body as string,
    signal: AbortSignal.timeout(5_000),
  });
  const answer = (await response.json()) as { error?: { code: string } };
  return { status: response.status, code: answer.error?.code, retryAfter: response.headers.get("retry-after") };
}

const refusals = (receivers: Receiver[], code: string) =>
  receivers.reduce((sum, receiver) => sum + (receiver.stats().counts[code] ?? 0), 0);

/** Two receivers on one limiter store: the limits hold across them. */
export function runSharedRateLimitScenarios(name: string, limiter: LimiterFactory, { describe, it }: ContractRunner) {
  describe(`rate limits shared by two receivers: ${name}`, () => {
    it("lets a peer make `points` deliveries in all, across both instances, then answers 429", async () => {
      const key = `requests-${crypto.randomUUID()}`;
      const a = await instance({ requests: await limiter(key, { points: 4, duration: 60 }) });
      const b = await instance({ requests: await limiter(key, { points: 4, duration: 60 }) });
      try {
        const answers = [];
        for (let i = 0; i < 6; i++) answers.push(await post((i % 2 ? b : a).url, "192.0.2.1"));
        expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 429, 429]);
        expect(answers[4]).toMatchObject({ code: "rate_limited" });
        expect(Number(answers[4]!.retryAfter)).toBeGreaterThanOrEqual(1);
        // Another peer has its own budget.
        expect((await post(a.url, "192.0.2.2")).status).toBe(200);
        expect(refusals([a.receiver, b.receiver], "rate_limited")).toBe(2);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("throttles a peer's failed verifications across instances, never a valid sender", async () => {
      const key = `failures-${crypto.randomUUID()}`;
      const a = await instance({ failures: await limiter(key, { points: 3, duration: 60 }) });
      const b = await instance({ failures: await limiter(key, { points: 3, duration: 60 }) });
      try {
        const guesses = [];
        for (let i = 0; i < 5; i++) guesses.push(await post((i % 2 ? b : a).url, "198.51.100.1", forged));
        expect(guesses.map((answer) => answer.status)).toEqual([401, 401, 401, 429, 429]);
        expect(guesses[3]).toMatchObject({ code: "too_many_failures" });
        // Once throttled, even a correctly signed delivery from that peer waits.
        expect((await post(b.url, "198.51.100.1")).status).toBe(429);
        // A valid sender never spends from the failure budget, however much it sends.
        const valid = [];
        for (let i = 0; i < 8; i++) valid.push((await post((i % 2 ? b : a).url, "192.0.2.1")).status);
        expect(valid).toEqual(Array(8).fill(200));
        expect(refusals([a.receiver, b.receiver], "too_many_failures")).toBe(3);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
}
