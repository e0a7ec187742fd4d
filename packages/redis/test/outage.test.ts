import { createReceiver, generateSecret, type Receiver } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { describe, expect, it } from "vitest";
import { type RedisClient, redisStore } from "../src";
import { type Answer, deliverUntilAcknowledged, type Message, messages, quietLogger, sleep } from "./deliveries";
import { freePort, startRedisServer } from "./redis-server";

// These tests start their own redis-server; they run where the Redis service does (and skip with it).
const url = serviceUrl("REDIS_URL");

async function send(receiver: Receiver, message: Message) {
  const started = performance.now();
  const response = await receiver.handle(
    new Request("http://localhost/webhooks", { method: "POST", headers: message.headers, body: message.body }),
  );
  const answer: Answer = { status: response.status, body: (await response.json()) as Record<string, unknown> };
  return { ...answer, retryAfter: response.headers.get("retry-after"), ms: performance.now() - started };
}

/** A receiver on `client` that counts the runs of its handler per id. */
function countingReceiver(secret: string, client: RedisClient, timeoutMs: number) {
  const runs = new Map<string, number>();
  const receiver = createReceiver({
    secret,
    store: redisStore({ client, timeoutMs }),
    logger: quietLogger,
  }).on("order.created", (event) => {
    runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
  });
  return { receiver, runs };
}

interface ClientSetup {
  name: string;
  /** Fails fast on its own while Redis is down (rather than queueing until the store's timeout). */
  failsFast: boolean;
  connect(url: string): Promise<{ client: RedisClient; close(): void }>;
}

const setups: ClientSetup[] = [
  {
    name: "ioredis with its defaults (queues while reconnecting)",
    failsFast: false,
    async connect(url) {
      const client = new Redis(url);
      client.on("error", () => {});
      await client.ping();
      return { client, close: () => client.disconnect() };
    },
  },
  {
    name: "ioredis with enableOfflineQueue: false, maxRetriesPerRequest: 1",
    failsFast: true,
    async connect(url) {
      const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
      client.on("error", () => {});
      await client.connect(); // resolves once ready: without the offline queue, nothing may be sent before
      return { client, close: () => client.disconnect() };
    },
  },
  {
    name: "node-redis with its defaults (queues while reconnecting)",
    failsFast: false,
    async connect(url) {
      const client = createClient({ url });
      client.on("error", () => {});
      await client.connect();
      return { client, close: () => client.destroy() };
    },
  },
  {
    name: "node-redis with disableOfflineQueue: true",
    failsFast: true,
    async connect(url) {
      const client = createClient({ url, disableOfflineQueue: true });
      client.on("error", () => {});
      await client.connect();
      return { client, close: () => client.destroy() };
    },
  },
];

describe.skipIf(!url)("when Redis is down", () => {
  const secret = generateSecret();

  it("answers 503 with Retry-After within the store's timeoutMs when Redis is unreachable, and runs no handler", async () => {
    const client = new Redis({ host: "127.0.0.1", port: await freePort(), lazyConnect: false });
    client.on("error", () => {});
    try {
      const { receiver, runs } = countingReceiver(secret, client, 300);
      const [message] = await messages(secret, "unreachable", 1);
      const answer = await send(receiver, message!);
      expect(answer).toMatchObject({ status: 503, retryAfter: "5", body: { error: { code: "store_unavailable" } } });
      expect(answer.ms).toBeGreaterThanOrEqual(290);
      expect(answer.ms).toBeLessThan(1_500);
      expect(runs.size).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it("answers 503 at once with a node-redis client that is not connected", async () => {
    const { receiver, runs } = countingReceiver(secret, createClient({ url: "redis://127.0.0.1:1" }), 10_000);
    const [message] = await messages(secret, "closed", 1);
    const answer = await send(receiver, message!);
    expect(answer).toMatchObject({ status: 503, retryAfter: "5" });
    expect(answer.ms).toBeLessThan(1_000);
    expect(runs.size).toBe(0);
  });

  for (const setup of setups) {
    it(`${setup.name}: 503 while Redis is stopped, then redelivery processes once after it is back`, async () => {
      const server = await startRedisServer();
      let close = () => {};
      try {
        const connected = await setup.connect(server.url);
        close = connected.close;
        const client = connected.client;
        // A client that fails fast answers well before this store timeout; one that queues hits it.
        const timeoutMs = setup.failsFast ? 10_000 : 500;
        const { receiver, runs } = countingReceiver(secret, client, timeoutMs);
        const [before, during] = await messages(secret, `stopped-${setup.failsFast}`, 2);
        expect((await send(receiver, before!)).status).toBe(200);

        await server.kill();
        const down = await send(receiver, during!);
        expect(down).toMatchObject({ status: 503, retryAfter: "5", body: { error: { code: "store_unavailable" } } });
        expect(down.ms).toBeLessThan(setup.failsFast ? 1_000 : 2_000);
        expect(runs.get(during!.id)).toBeUndefined();

        await server.start(); // same port, empty (no persistence)
        const answers = await deliverUntilAcknowledged(() => send(receiver, during!), {
          deadline: Date.now() + 10_000,
          waitMs: 50,
        });
        // Retries while the client reconnects get 503; never 409: a claim that timed out was released behind it.
        expect(answers.at(-1)!.body).toEqual({ received: true });
        expect(answers.every((answer) => answer.status === 200 || answer.status === 503)).toBe(true);
        expect((await send(receiver, during!)).body).toEqual({ received: true, duplicate: true });
        expect(runs.get(during!.id)).toBe(1);
      } finally {
        close();
        await server.kill();
      }
    }, 20_000);
  }

  // Scripts go missing after a restart, a failover or a SCRIPT FLUSH; the release script also the first time a
  // claim ever times out, since nothing else uses it until then.
  const scriptStates = [
    { lost: "lost every script", warmUps: 1 },
    { lost: "has the claim script but never ran the release one", warmUps: 2 },
  ];
  for (const setup of setups.filter((each) => each.failsFast)) {
    for (const { lost, warmUps } of scriptStates) {
      it(`${setup.name}: after a stall, the release of a timed-out claim runs before the retry's claim when Redis ${lost}`, async () => {
        const server = await startRedisServer();
        const admin = new Redis(server.url);
        const { client, close } = await setup.connect(server.url);
        try {
          // The first receiver gives up on Redis quickly; the retry reaches a second one that waits longer.
          const first = countingReceiver(secret, client, 300);
          const retry = countingReceiver(secret, client, 10_000);
          const [message, ...warmUp] = await messages(secret, `stall-${setup.name.split(" ")[0]}`, 3);
          expect((await send(first.receiver, warmUp[0]!)).status).toBe(200);
          await admin.script("FLUSH");
          if (warmUps === 2) expect((await send(first.receiver, warmUp[1]!)).status).toBe(200);

          server.pause();
          const stalled = await send(first.receiver, message!);
          expect(stalled).toMatchObject({ status: 503, body: { error: { code: "store_unavailable" } } });
          // A sender's quick retry: its claim is queued behind the late claim and its release while Redis is frozen.
          const retried = send(retry.receiver, message!);
          await sleep(50);
          server.resume();

          // Redis runs the late claim, then its release, then the retry's claim, which finds the key free.
          expect(await retried).toMatchObject({ status: 200, body: { received: true } });
          expect((await send(retry.receiver, message!)).body).toEqual({ received: true, duplicate: true });
          expect(first.runs.get(message!.id)).toBeUndefined();
          expect(retry.runs.get(message!.id)).toBe(1);
        } finally {
          close();
          admin.disconnect();
          await server.kill();
        }
      }, 20_000);
    }
  }

  it("answers 503 when Redis hangs (SIGSTOP) with the connection up; the late claim is released and redelivery processes once", async () => {
    const server = await startRedisServer();
    const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
    client.on("error", () => {});
    try {
      await client.connect();
      const { receiver, runs } = countingReceiver(secret, client, 300);
      const [message] = await messages(secret, "hung", 1);

      server.pause();
      const hung = await send(receiver, message!);
      expect(hung).toMatchObject({ status: 503, retryAfter: "5" });
      expect(hung.ms).toBeLessThan(1_500);
      expect(runs.size).toBe(0);

      // Redis now runs the queued claim, then the release the store sent behind it: the key is free again.
      server.resume();
      expect((await send(receiver, message!)).body).toEqual({ received: true });
      expect((await send(receiver, message!)).body).toEqual({ received: true, duplicate: true });
      expect(runs.get(message!.id)).toBe(1);
    } finally {
      client.disconnect();
      await server.kill();
    }
  });
});
