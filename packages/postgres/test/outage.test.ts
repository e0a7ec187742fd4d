import { setTimeout as sleep } from "node:timers/promises";
import { createReceiver, generateSecret, type Receiver } from "@hookline/core";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresClient, postgresStore } from "../src/index";
import { type Answer, answerOf, deliverUntilAcknowledged, type Message, signedMessage } from "./delivery";
import { clusterToolsAvailable, freePort, startThrowawayCluster, type ThrowawayCluster } from "./throwaway-cluster";

const secret = generateSecret();
const quiet = { info() {}, warn() {}, error() {} };

/** A receiver whose handler counts its runs per event id. */
function countingReceiver(client: PostgresClient, options: { leaseMs?: number; timeoutMs?: number } = {}) {
  const runs = new Map<string, number>();
  const receiver = createReceiver({ secret, store: postgresStore({ client, ...options }), logger: quiet }).onAny(
    async (event) => {
      await sleep(2);
      runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
    },
  );
  return { receiver, runs };
}

/** Delivers once and times the answer. */
async function timed(receiver: Receiver, message: Message) {
  const started = performance.now();
  const answer = await answerOf(await receiver.handle(message.request()));
  return { ...answer, ms: performance.now() - started };
}

describe("PostgreSQL unreachable: nothing listens on its port", () => {
  const clients: [string, (port: number) => { client: PostgresClient; close(): Promise<unknown> }][] = [
    [
      "pg Pool",
      (port) => {
        const pool = new pg.Pool({ host: "127.0.0.1", port, user: "postgres", connectionTimeoutMillis: 2_000 });
        return { client: pool, close: () => pool.end() };
      },
    ],
    [
      "postgres.js",
      (port) => {
        const sql = postgres({ host: "127.0.0.1", port, username: "postgres", connect_timeout: 2, max: 1 });
        return { client: sql, close: () => sql.end({ timeout: 1 }) };
      },
    ],
  ];

  it.each(clients)("answers 503 with Retry-After at once through a %s, and runs no handler", async (_, open) => {
    const { client, close } = open(await freePort());
    try {
      const { receiver, runs } = countingReceiver(client);
      const answer = await timed(receiver, await signedMessage(secret));
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe("5");
      expect(JSON.parse(answer.body).error.code).toBe("store_unavailable");
      expect(answer.ms).toBeLessThan(2_000);
      expect(runs.size).toBe(0);
    } finally {
      await close();
    }
  });
});

const tools = await clusterToolsAvailable();

describe.skipIf(!tools)("PostgreSQL stopped or frozen mid-run (a throwaway cluster of our own)", () => {
  let cluster: ThrowawayCluster;
  beforeAll(async () => {
    cluster = await startThrowawayCluster();
  }, 60_000);
  afterAll(() => cluster?.destroy(), 30_000);

  it("stopped mid-run: 503 with Retry-After at once and no handler run; once it is back, every event is processed once", async () => {
    const pool = new pg.Pool({ connectionString: cluster.url, max: 5, connectionTimeoutMillis: 2_000 });
    pool.on("error", () => {}); // the crash drops idle connections; the pool replaces them
    try {
      const { receiver, runs } = countingReceiver(pool, { leaseMs: 1_000, timeoutMs: 2_000 });
      await postgresStore({ client: pool }).migrate();
      // A steady stream of new events, each delivered until acknowledged, runs across the crash and the restart.
      const streamed: Answer[][] = [];
      let streaming = true;
      const sender = async () => {
        while (streaming) {
          const message = await signedMessage(secret);
          streamed.push(
            await deliverUntilAcknowledged(() => receiver.handle(message.request()).then(answerOf), { attempts: 400 }),
          );
        }
      };
      const senders = Promise.all(Array.from({ length: 10 }, sender));
      const acknowledged = async (count: number) => {
        while (streamed.length < count) await sleep(5);
      };

      await acknowledged(50);
      await cluster.stop();
      const probe = await signedMessage(secret);
      const during = await timed(receiver, probe);
      expect(during.status).toBe(503);
      expect(during.retryAfter).toBe("5");
      expect(during.ms).toBeLessThan(2_000);
      expect(runs.has(probe.id)).toBe(false);
      await sleep(300);
      await cluster.start();
      await acknowledged(streamed.length + 50);
      streaming = false;
      await senders;

      await deliverUntilAcknowledged(() => receiver.handle(probe.request()).then(answerOf), { attempts: 200 });
      expect(streamed.flat().some((answer) => answer.status === 503)).toBe(true); // the stream ran into the outage
      expect(runs.size).toBe(streamed.length + 1);
      expect([...runs.values()].filter((count) => count !== 1)).toEqual([]);
    } finally {
      await pool.end();
    }
  }, 60_000);

  it("frozen mid-run: 503 within the store's timeoutMs instead of a hang; once it thaws, each event is processed once", async () => {
    // No connectionTimeoutMillis: the store's own timeoutMs is what bounds the wait.
    const pool = new pg.Pool({ connectionString: cluster.url, max: 2 });
    pool.on("error", () => {});
    try {
      const { receiver, runs } = countingReceiver(pool, { leaseMs: 30_000, timeoutMs: 500 });
      expect((await receiver.handle((await signedMessage(secret)).request())).status).toBe(200);

      cluster.freeze();
      const [onOpenConnection, onNewConnection] = [await signedMessage(secret), await signedMessage(secret)];
      for (const message of [onOpenConnection, onNewConnection]) {
        const answer = await timed(receiver, message);
        expect(answer.status).toBe(503);
        expect(answer.retryAfter).toBe("5");
        expect(answer.ms).toBeGreaterThanOrEqual(450);
        expect(answer.ms).toBeLessThan(1_500);
      }
      expect(runs.size).toBe(1);
      cluster.thaw();

      // The claims that timed out were still waiting (in the frozen backend, in the pool) and run now. Had they
      // kept their 30 s leases, these events would answer 409 for 30 s; the store releases each as it lands.
      for (const message of [onOpenConnection, onNewConnection]) {
        await deliverUntilAcknowledged(() => receiver.handle(message.request()).then(answerOf), { attempts: 100 });
      }
      expect(runs.size).toBe(3);
      expect([...runs.values()]).toEqual([1, 1, 1]);
    } finally {
      cluster.thaw();
      await pool.end();
    }
  }, 30_000);
});
