import { setTimeout as sleep } from "node:timers/promises";
import { createSender, generateSecret } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresDeliveries } from "../src/index";
import { has, startProcess, type TestProcess } from "./processes";
import { clusterToolsAvailable, throwawayClusterForSuite } from "./throwaway-cluster";

// The chaos run: 3 sender worker processes on a PostgreSQL of our own, 2 Hookline receiver processes sharing a
// Redis idempotency store (one endpoint each), 2 000 messages. Receivers answer 500 to 10% of requests and never
// answer 2%; one worker is killed with SIGKILL mid-run and restarted; PostgreSQL crashes (immediate stop) for
// 5 s mid-run and comes back. At the end every delivery is delivered, each message was processed once by the
// receivers' handlers, nothing is pending, and every delivery's attempts are in the log.

const redisUrl = serviceUrl("REDIS_URL");
const MESSAGES = Number(process.env.CHAOS_MESSAGES ?? 2_000);
const worker = (path: string) => new URL(path, import.meta.url).pathname;

describe.skipIf(!redisUrl)("chaos: sender workers, receivers, a killed worker and a database outage", async () => {
  const tools = await clusterToolsAvailable();
  const suite = throwawayClusterForSuite(tools, { beforeAll, afterAll });

  it.skipIf(!tools)(
    "delivers every message to every endpoint, each processed once, nothing stuck, every attempt logged",
    async () => {
      const { cluster, admin } = suite;
      const secret = generateSecret();
      const store = postgresDeliveries({ client: admin, timeoutMs: 2_000 });
      await store.migrate();
      const env = { DATABASE_URL: cluster.url, TABLE_PREFIX: "hookline_" };

      // Both receivers share one Redis prefix: two instances of one consumer.
      const prefix = `hookline:chaos:${crypto.randomUUID()}:`;
      const receivers = await Promise.all(
        [0, 1].map(() =>
          startProcess(worker("./chaos-receiver.ts"), {
            REDIS_URL: redisUrl!,
            REDIS_PREFIX: prefix,
            WEBHOOK_SECRET: secret,
          }),
        ),
      );
      const ports = await Promise.all(receivers.map(async (receiver) => (await receiver.message(has("port"))).port));

      const sender = createSender({ store, allow: ["127.0.0.1/32"], logger: { info() {}, warn() {}, error() {} } });
      for (const port of ports) await sender.endpoints.create({ url: `http://127.0.0.1:${port}/webhooks`, secret });

      const startWorker = async () => {
        const started = await startProcess(worker("./chaos-worker.ts"), env);
        await started.message(has("ready"));
        return started;
      };
      const workers: TestProcess[] = await Promise.all([0, 1, 2].map(startWorker));

      // The application: sends with its own ids, and sends again whatever failed while the database was down
      // (idempotent: an id whose enqueue committed before the failure is not stored twice).
      let sent = 0;
      let killed = false;
      let crashed: Promise<void> | undefined;
      const sendOne = async (index: number) => {
        for (;;) {
          try {
            await sender.send("chaos.tick", { index }, { id: `msg_chaos_${index}` });
            return;
          } catch {
            await sleep(200);
          }
        }
      };
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < MESSAGES) {
            const index = next++;
            await sendOne(index);
            sent++;
            if (sent === 600 && !killed) {
              killed = true;
              const victim = workers[0]!;
              await victim.kill();
              workers[0] = await startWorker();
            }
            if (sent === 1_300 && !crashed) {
              crashed = (async () => {
                await cluster.stop();
                await sleep(5_000);
                await cluster.start();
              })();
            }
          }
        }),
      );
      await crashed;

      const count = async (where: string) => {
        for (;;) {
          try {
            const { rows } = await admin.query(`SELECT count(*)::int AS n FROM hookline_deliveries WHERE ${where}`);
            return rows[0].n as number;
          } catch {
            await sleep(200);
          }
        }
      };
      const deadline = Date.now() + 180_000;
      while ((await count("status = 'delivered'")) < 2 * MESSAGES && Date.now() < deadline) {
        await sleep(500);
      }

      await Promise.all(workers.map(async (item) => item.send("stop")));
      const exits = await Promise.all(workers.map((item) => item.exited));
      // A request's identity on the wire: the receiver (one endpoint each) and the webhook-id.
      const wire = receivers.flatMap((receiver, index) =>
        receiver.messages.filter(has("request")).map((message) => `${index}:${message.request}`),
      );
      const processed = receivers.flatMap((receiver) =>
        receiver.messages.filter(has("processed")).map((message) => message.processed as string),
      );
      await Promise.all(receivers.map((receiver) => receiver.send("stop")));
      await Promise.all(receivers.map((receiver) => receiver.exited));

      const statuses = await admin.query(
        "SELECT status, count(*)::int AS n FROM hookline_deliveries GROUP BY status ORDER BY status",
      );
      const logged = await admin.query(`SELECT count(*)::int AS attempts,
          count(*) FILTER (WHERE outcome = 'success')::int AS successes,
          count(DISTINCT delivery_id)::int AS deliveries
        FROM hookline_attempts`);
      const unlogged = await admin.query(`SELECT count(*)::int AS n FROM hookline_deliveries d
        WHERE d.attempts > (SELECT count(*) FROM hookline_attempts a WHERE a.delivery_id = d.id)
           OR NOT EXISTS (SELECT 1 FROM hookline_attempts a WHERE a.delivery_id = d.id AND a.outcome = 'success')`);
      const perMessage = new Map<string, number>();
      for (const id of processed) perMessage.set(id, (perMessage.get(id) ?? 0) + 1);
      const duplicates = wire.length - new Set(wire).size;
      console.log(
        `chaos: ${MESSAGES} messages, ${2 * MESSAGES} deliveries; ${wire.length} requests on the wire ` +
          `(${duplicates} repeating a delivery: retries after 500s, timeouts and in-flight answers, ` +
          `redeliveries after the kill and the outage); ${logged.rows[0].attempts} attempts logged; ` +
          `handlers ran ${processed.length} times for ${perMessage.size} messages`,
      );

      expect(exits).toEqual([0, 0, 0]);
      expect(statuses.rows).toEqual([{ status: "delivered", n: 2 * MESSAGES }]);
      expect(perMessage.size).toBe(MESSAGES);
      expect([...perMessage.values()].every((times) => times === 1)).toBe(true);
      expect(logged.rows[0].deliveries).toBe(2 * MESSAGES);
      expect(logged.rows[0].successes).toBeGreaterThanOrEqual(2 * MESSAGES);
      expect(unlogged.rows[0].n).toBe(0);
    },
    300_000,
  );
});
