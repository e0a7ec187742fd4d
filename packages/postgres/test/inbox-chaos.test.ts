import { setTimeout as sleep } from "node:timers/promises";
import { createReceiver, generateSecret } from "@hookline/core";
import { signedDelivery } from "@hookline/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresDeadLetters, postgresInbox } from "../src/index";
import { has, startProcess, type TestProcess } from "./processes";
import { clusterToolsAvailable, throwawayClusterForSuite } from "./throwaway-cluster";

// Issue 10 §2 on PostgreSQL, on a cluster of our own.
// 1. Ingest then crash: 2 000 events through two receiver processes; two worker processes whose handler writes a
//    ledger row on the inbox's transaction are killed with SIGKILL at random points and restarted, all through
//    ingest and processing. At the end every event's row exists exactly once (count, distinct count and sum),
//    and only the events designed to fail are exhausted, each in the dead letters.
// 2. The inbox down during ingest (the cluster frozen with SIGSTOP, then crashed): answers are 200 or 503 with
//    Retry-After, and every event answered 200 is stored.

const EVENTS = Number(process.env.CHAOS_EVENTS ?? 2_000);
const FAILING = 20; // every 100th event throws, always
const entry = (path: string) => new URL(path, import.meta.url).pathname;
const amountOf = (index: number) => (index % 97) + 1;

describe("the PostgreSQL inbox under chaos", async () => {
  const tools = await clusterToolsAvailable();
  const suite = throwawayClusterForSuite(tools, { beforeAll, afterAll }, 6);

  it.skipIf(!tools)(
    "ingest then crash: every event's ledger row exists exactly once, only the failing ones dead-lettered",
    async () => {
      const { cluster, admin } = suite;
      const secret = generateSecret();
      const env = {
        DATABASE_URL: cluster.url,
        WEBHOOK_SECRET: secret,
        INBOX_TABLE: "chaos_inbox",
        DEAD_LETTER_TABLE: "chaos_dead_letters",
        LEDGER_TABLE: "chaos_ledger",
      };
      await postgresInbox({ client: admin, table: env.INBOX_TABLE }).migrate();
      await postgresDeadLetters({ client: admin, table: env.DEAD_LETTER_TABLE }).migrate();
      // No unique key on event_id: a doubled write must show up in the counts, not fail.
      await admin.query(`CREATE TABLE ${env.LEDGER_TABLE} (event_id text NOT NULL, amount integer NOT NULL)`);

      const receivers = await Promise.all([0, 1].map(() => startProcess(entry("./inbox-receiver.ts"), env)));
      const ports = await Promise.all(receivers.map(async (receiver) => (await receiver.message(has("port"))).port));
      const startWorker = async () => {
        const started = await startProcess(entry("./inbox-worker.ts"), env);
        await started.message(has("ready"));
        return started;
      };
      const workers: TestProcess[] = await Promise.all([0, 1].map(startWorker));

      // The killer: every 300–900 ms one worker, at random, dies with SIGKILL and a new one starts.
      let killing = true;
      let kills = 0;
      const killer = (async () => {
        while (killing) {
          await sleep(300 + Math.random() * 600);
          if (!killing) break;
          const slot = Math.floor(Math.random() * workers.length);
          await workers[slot]!.kill();
          kills++;
          workers[slot] = await startWorker();
        }
      })();

      // Ingest: 16 senders at once, each event to one receiver or the other, until acknowledged.
      const answers = new Map<string, unknown>();
      let next = 0;
      const send = async () => {
        for (let index = next++; index < EVENTS; index = next++) {
          const id = `evt_chaos_${index}`;
          const data = { amount: amountOf(index), ...(index % (EVENTS / FAILING) === 0 && { fail: true }) };
          const { headers, body } = await signedDelivery({ secret, id, event: { type: "ledger.entry", data } });
          for (let attempt = 0; ; attempt++) {
            const port = ports[(index + attempt) % ports.length];
            const response = await fetch(`http://127.0.0.1:${port}/webhooks`, {
              method: "POST",
              headers,
              body: body as string,
            }).catch(() => undefined);
            if (response?.status === 200) {
              answers.set(id, await response.json());
              break;
            }
            await response?.text();
            await sleep(50);
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, send));
      expect([...answers.values()].every((answer) => (answer as { queued?: boolean }).queued === true)).toBe(true);

      // Processing goes on under the killer until nothing is pending, then the killer stops.
      const count = async (text: string) => Number((await admin.query(text)).rows[0].n);
      const deadline = Date.now() + 150_000;
      while ((await count(`SELECT count(*) AS n FROM ${env.INBOX_TABLE} WHERE status = 'pending'`)) > 0) {
        expect(Date.now(), "every event ended within 150 s").toBeLessThan(deadline);
        await sleep(250);
      }
      killing = false;
      await killer;
      await Promise.all(workers.map((worker) => worker.kill()));
      await Promise.all(receivers.map((receiver) => receiver.kill()));

      const failing = Array.from({ length: EVENTS }, (_, index) => index).filter(
        (index) => index % (EVENTS / FAILING) === 0,
      );
      const expectedSum = Array.from({ length: EVENTS }, (_, index) => index)
        .filter((index) => index % (EVENTS / FAILING) !== 0)
        .reduce((sum, index) => sum + amountOf(index), 0);
      const ledger = (
        await admin.query(
          `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS events, coalesce(sum(amount), 0)::int AS sum
           FROM ${env.LEDGER_TABLE}`,
        )
      ).rows[0];
      console.info(`inbox chaos: ${EVENTS} events, ${kills} worker kills, ledger ${JSON.stringify(ledger)}`);
      expect(kills).toBeGreaterThanOrEqual(3);
      expect(ledger).toEqual({ rows: EVENTS - failing.length, events: EVENTS - failing.length, sum: expectedSum });
      const statuses = (
        await admin.query(`SELECT status, count(*)::int AS n FROM ${env.INBOX_TABLE} GROUP BY status ORDER BY status`)
      ).rows;
      expect(statuses).toEqual([
        { status: "exhausted", n: failing.length },
        { status: "processed", n: EVENTS - failing.length },
      ]);
      const dead = (await admin.query(`SELECT id FROM ${env.DEAD_LETTER_TABLE} ORDER BY id`)).rows.map((row) => row.id);
      expect(dead).toEqual(failing.map((index) => `evt_chaos_${index}`).sort());
      const failedRows = await count(
        `SELECT count(*) AS n FROM ${env.LEDGER_TABLE} WHERE event_id IN (SELECT id FROM ${env.DEAD_LETTER_TABLE})`,
      );
      expect(failedRows).toBe(0);
    },
    240_000,
  );

  it.skipIf(!tools)(
    "inbox down during ingest: 503 with Retry-After, and every event answered 200 is stored",
    async () => {
      const { cluster } = suite;
      const secret = generateSecret();
      const table = "outage_inbox";
      const pool = new pg.Pool({ connectionString: cluster.url, max: 8, connectionTimeoutMillis: 1_000 });
      pool.on("error", () => {});
      const inbox = postgresInbox({ client: pool, table, timeoutMs: 1_000 });
      await inbox.migrate();
      const receiver = createReceiver({ secret, inbox, logger: { info() {}, warn() {}, error() {} } });
      const answered = new Map<string, { status: number; retryAfter: string | null }>();
      let index = 0;
      let sending = true;
      const send = async () => {
        while (sending) {
          const id = `evt_outage_${index++}`;
          const { headers, body } = await signedDelivery({ secret, id, event: { type: "ledger.entry", data: {} } });
          const response = await receiver.handle(
            new Request("http://127.0.0.1/webhooks", { method: "POST", headers, body: body as string }),
          );
          await response.text();
          answered.set(id, { status: response.status, retryAfter: response.headers.get("retry-after") });
          await sleep(10);
        }
      };
      try {
        const senders = Array.from({ length: 4 }, send);
        await sleep(500);
        cluster.freeze(); // connections hang: statements time out
        await sleep(2_500);
        cluster.thaw();
        await sleep(500);
        await cluster.stop(); // connections drop, new ones are refused
        await sleep(2_000);
        await cluster.start();
        await sleep(2_000);
        sending = false;
        await Promise.all(senders);

        const answers = [...answered.values()];
        const unavailable = answers.filter((answer) => answer.status === 503);
        console.info(`inbox outage: ${answers.length} deliveries, ${unavailable.length} answered 503`);
        expect(answers.every((answer) => answer.status === 200 || answer.status === 503)).toBe(true);
        expect(unavailable.length).toBeGreaterThan(0);
        expect(unavailable.every((answer) => Number(answer.retryAfter) > 0)).toBe(true);
        const acknowledged = [...answered].filter(([, answer]) => answer.status === 200).map(([id]) => id);
        expect(acknowledged.length).toBeGreaterThan(0);
        const stored = await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE id = ANY($1::text[])`, [
          acknowledged,
        ]);
        expect(stored.rows[0].n).toBe(acknowledged.length);
      } finally {
        await pool.end().catch(() => {});
      }
    },
    120_000,
  );
});
