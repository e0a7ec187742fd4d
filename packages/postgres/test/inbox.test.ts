import { setTimeout as sleep } from "node:timers/promises";
import { createReceiver, generateSecret } from "@hookline/core";
import { serviceUrl, signedRequest } from "@hookline/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresDeadLetters, postgresInbox } from "../src/index";
import { pgDatabase, pgliteDatabase, type TestDatabase } from "./databases";
import { has, startProcess } from "./processes";

// The inbox behind a real receiver: a transactional handler's writes land once with the processed mark, a failing
// handler's writes never land and its failure is recorded; purge forgets ended ids and never a pending one.

const url = serviceUrl("DATABASE_URL");
const quiet = { info() {}, warn() {}, error() {} };

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

// The dead letters live on the inbox's own database, PGlite included (one session): the receiver writes them once
// the failed run's transaction has been rolled back.
function inboxSuite(
  name: string,
  open: () => Promise<TestDatabase>,
  query: (db: TestDatabase, text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>,
) {
  describe(`postgresInbox behind a receiver: ${name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await open();
      await query(db, `CREATE TABLE ${db.schema}.payments (event_id text NOT NULL, amount integer NOT NULL)`);
    }, 120_000);
    afterAll(() => db.close());

    it("commits a handler's writes on tx with the processed mark; a failing run's writes never land", async () => {
      const secret = generateSecret();
      const table = `${db.schema}.inbox_receiver`;
      const inbox = postgresInbox({ client: db.client, table });
      await inbox.migrate();
      const runs = new Map<string, number>();
      const receiver = createReceiver({
        secret,
        inbox,
        deadLetters: postgresDeadLetters({ client: db.client, table: db.deadLetterTable }),
        schedule: [50, 50],
        logger: quiet,
      }).on("invoice.paid", async (event, { tx }) => {
        runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
        const data = event.data as { amount: number; fail?: boolean };
        await (tx as unknown as { query(text: string, params: unknown[]): Promise<unknown> }).query(
          `INSERT INTO ${db.schema}.payments (event_id, amount) VALUES ($1, $2)`,
          [event.id, data.amount],
        );
        if (data.fail) throw new Error("declined");
      });
      const post = async (id: string, data: unknown) => {
        const request = await signedRequest({ secret, id, event: { type: "invoice.paid", data } });
        const response = await receiver.handle(request);
        return { status: response.status, body: await response.json() };
      };
      expect(await post("evt_paid", { amount: 42 })).toEqual({ status: 200, body: { received: true, queued: true } });
      expect(await post("evt_paid", { amount: 42 })).toEqual({
        status: 200,
        body: { received: true, duplicate: true },
      });
      await post("evt_declined", { amount: 7, fail: true });
      receiver.work({ concurrency: 4, leaseMs: 10_000 });
      try {
        await until("both events ended", async () => {
          const statuses = await Promise.all(
            ["evt_paid", "evt_declined"].map(async (id) => (await inbox.get(id))?.status),
          );
          return statuses[0] === "processed" && statuses[1] === "exhausted";
        });
      } finally {
        await receiver.stop();
      }
      const rows = await query(db, `SELECT event_id, amount FROM ${db.schema}.payments ORDER BY event_id`);
      expect(rows).toEqual([{ event_id: "evt_paid", amount: 42 }]);
      expect(runs.get("evt_paid")).toBe(1);
      const declined = runs.get("evt_declined") ?? 0;
      expect(declined).toBeGreaterThan(1); // retried on the schedule
      expect(await inbox.get("evt_declined")).toMatchObject({
        status: "exhausted",
        attempts: declined,
        lastError: "declined",
      });
      const letter = await postgresDeadLetters({ client: db.client, table: db.deadLetterTable }).get("evt_declined");
      expect(letter?.attempts).toBe(declined);
    }, 30_000);

    it("dead-letters a failing event promptly, well within its lease, and the next event runs", async () => {
      const table = `${db.schema}.inbox_prompt`;
      const deadLetterTable = `${db.schema}.prompt_dead_letters`;
      const inbox = postgresInbox({ client: db.client, table });
      const deadLetters = postgresDeadLetters({ client: db.client, table: deadLetterTable });
      await inbox.migrate();
      await deadLetters.migrate();
      const receiver = createReceiver({ inbox, deadLetters, schedule: [10], logger: quiet }).on(
        "invoice.paid",
        async (event, { tx }) => {
          const data = event.data as { amount: number; fail?: boolean };
          await (tx as unknown as { query(text: string, params: unknown[]): Promise<unknown> }).query(
            `INSERT INTO ${db.schema}.payments (event_id, amount) VALUES ($1, $2)`,
            [event.id, data.amount],
          );
          if (data.fail) throw new Error("declined for good");
        },
      );
      const enqueue = (id: string, data: unknown) =>
        inbox.enqueue({
          id,
          type: "invoice.paid",
          payload: JSON.stringify({ type: "invoice.paid", timestamp: new Date().toISOString(), data }),
          receivedAt: Date.now(),
        });
      await enqueue("evt_prompt_declined", { amount: 1, fail: true });
      await enqueue("evt_prompt_paid", { amount: 2 });
      const started = Date.now();
      // One at a time and a lease of a minute: a dead letter that waited for the run's transaction would hold both.
      receiver.work({ concurrency: 1, leaseMs: 60_000 });
      try {
        await until("the failing event is dead-lettered and the next one processed", async () => {
          const [declined, paid] = await Promise.all([inbox.get("evt_prompt_declined"), inbox.get("evt_prompt_paid")]);
          return declined?.status === "exhausted" && paid?.status === "processed";
        });
      } finally {
        await receiver.stop();
      }
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await deadLetters.get("evt_prompt_declined")).toMatchObject({
        attempts: 1,
        error: { message: "declined for good" },
      });
      const rows = await query(db, `SELECT event_id FROM ${db.schema}.payments WHERE event_id LIKE 'evt_prompt_%'`);
      expect(rows).toEqual([{ event_id: "evt_prompt_paid" }]);
    }, 30_000);

    it("purge forgets ended ids older than the cut-off, never a pending one", async () => {
      const inbox = postgresInbox({ client: db.client, table: `${db.schema}.inbox_purge` });
      await inbox.migrate();
      const event = (id: string) => ({ id, type: "t", payload: "{}", receivedAt: Date.now() });
      for (const id of ["ended", "waiting"]) await inbox.enqueue(event(id));
      const worker = inbox.work(
        async (job) =>
          ({ next: { status: job.event.id === "ended" ? "processed" : "pending", delayMs: 60_000 } }) as never,
        {
          concurrency: 2,
          leaseMs: 10_000,
        },
      );
      await until(
        "one processed, one waiting",
        async () => (await inbox.get("ended"))?.status === "processed" && (await inbox.get("waiting"))?.attempts === 1,
      );
      await worker.stop();
      expect(await inbox.purge({ olderThan: Date.now() - 60_000 })).toBe(0);
      expect(await inbox.purge({ olderThan: new Date(Date.now() + 1_000) })).toBe(1);
      expect(await inbox.get("ended")).toBeUndefined();
      expect((await inbox.get("waiting"))?.status).toBe("pending");
      expect(await inbox.enqueue(event("ended"))).toEqual({ created: true }); // forgotten: it runs again
      expect(await inbox.enqueue(event("waiting"))).toEqual({ created: false });
    });
  });
}

inboxSuite("PGlite", pgliteDatabase, async (db, text, params = []) => {
  const { pglite } = db as TestDatabase & {
    pglite: { query(text: string, params: unknown[]): Promise<{ rows: unknown[] }> };
  };
  return (await pglite.query(text, params)).rows as Record<string, unknown>[];
});
if (url) {
  inboxSuite(
    "pg Pool",
    () => pgDatabase(url),
    async (db, text, params = []) => {
      const { pool } = db as TestDatabase & {
        pool: { query(text: string, params: unknown[]): Promise<{ rows: unknown[] }> };
      };
      return (await pool.query(text, params)).rows as Record<string, unknown>[];
    },
  );
} else describe.skip("postgresInbox behind a receiver: pg Pool (DATABASE_URL unset)", () => {});

describe.skipIf(!url)("postgresInbox on a small pg Pool", () => {
  it("keeps room in the pool: failing runs dead-letter promptly with every connection but two in a transaction", async () => {
    const db = await pgDatabase(url!, { max: 4 });
    try {
      const inbox = postgresInbox({ client: db.pool, table: `${db.schema}.inbox_small` });
      await inbox.migrate();
      const deadLetters = postgresDeadLetters({ client: db.pool, table: db.deadLetterTable });
      const receiver = createReceiver({ inbox, deadLetters, schedule: [10], logger: quiet }).on("t", async () => {
        await sleep(50); // every run in flight at once, all failing together
        throw new Error("declined");
      });
      const ids = Array.from({ length: 12 }, (_, i) => `evt_small_${i}`);
      for (const id of ids) {
        const payload = JSON.stringify({ type: "t", timestamp: new Date().toISOString(), data: {} });
        await inbox.enqueue({ id, type: "t", payload, receivedAt: Date.now() });
      }
      // Concurrency above the pool: were the dead letters written inside the runs' transactions, they would wait
      // for a connection until a lease (a minute) ended.
      receiver.work({ concurrency: 8, leaseMs: 60_000 });
      try {
        await until("every event is dead-lettered", async () => {
          const statuses = await Promise.all(ids.map(async (id) => (await inbox.get(id))?.status));
          return statuses.every((status) => status === "exhausted");
        });
      } finally {
        await receiver.stop();
      }
      expect((await deadLetters.list()).length).toBe(ids.length);
    } finally {
      await db.close();
    }
  }, 30_000);
});

describe.skipIf(!url)("postgresInbox: a worker killed between a failed run's rollback and its dead letter", () => {
  it("leaves the event pending, to be run again and dead-lettered after the lease: never dropped", async () => {
    const db = await pgDatabase(url!);
    try {
      const env = {
        DATABASE_URL: url!,
        INBOX_TABLE: `${db.schema}.inbox_crash`,
        DEAD_LETTER_TABLE: db.deadLetterTable,
        LEDGER_TABLE: `${db.schema}.ledger`,
        LEASE_MS: "2000",
      };
      const inbox = postgresInbox({ client: db.pool, table: env.INBOX_TABLE });
      await inbox.migrate();
      await db.pool.query(`CREATE TABLE ${env.LEDGER_TABLE} (event_id text NOT NULL, amount integer NOT NULL)`);
      const payload = JSON.stringify({ type: "ledger.entry", timestamp: new Date().toISOString(), data: {} });
      await inbox.enqueue({ id: "evt_crash", type: "ledger.entry", payload, receivedAt: Date.now() });

      const child = await startProcess(new URL("./dead-letter-then-die.ts", import.meta.url).pathname, env);
      const seen = await child.message(has("dying"));
      expect(await child.exited).toBe("SIGKILL");
      // At the instant it died: the run's write rolled back, nothing recorded yet.
      expect(seen).toMatchObject({ dying: "evt_crash", written: 0, stored: { status: "pending", attempts: 0 } });
      const deadLetters = postgresDeadLetters({ client: db.pool, table: db.deadLetterTable });
      expect(await deadLetters.get("evt_crash")).toBeUndefined();
      expect(await inbox.get("evt_crash")).toMatchObject({ status: "pending", attempts: 0 });

      // Another worker takes it once the dead worker's lease ends, and dead-letters it.
      const receiver = createReceiver({ inbox, deadLetters, schedule: [10], logger: quiet }).on("ledger.entry", () => {
        throw new Error("declined for good");
      });
      receiver.work({ concurrency: 1, leaseMs: 2_000 });
      try {
        await until("the event is exhausted", async () => (await inbox.get("evt_crash"))?.status === "exhausted");
      } finally {
        await receiver.stop();
      }
      expect(await deadLetters.get("evt_crash")).toMatchObject({
        attempts: 1,
        error: { message: "declined for good" },
      });
      const ledger = await db.pool.query(`SELECT count(*)::int AS n FROM ${env.LEDGER_TABLE}`);
      expect(ledger.rows[0].n).toBe(0);
    } finally {
      await db.close();
    }
  }, 60_000);
});
