import type { Delivery, DeliveryJob, Endpoint, Message, Settlement } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresDeliveries, postgresDeliveries } from "../src/index";

// What the contract cannot see: several engines on one database (as separate processes are), NOTIFY between
// them, connections given back by stop(), a LISTEN connection lost and replaced, purge.

const url = serviceUrl("DATABASE_URL");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

const endpoint = (): Endpoint => ({
  id: `ep_${crypto.randomUUID()}`,
  url: "https://example.com/webhooks",
  headers: {},
  metadata: {},
  secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }],
  disabled: false,
  createdAt: Date.now(),
  updatedAt: Date.now(),
});

function message(endpointIds: string[]): [Message, Delivery[]] {
  const id = `msg_${crypto.randomUUID()}`;
  const at = Date.now();
  return [
    { id, type: "t", payload: "{}", createdAt: at },
    endpointIds.map((endpointId) => ({
      id: `dlv_${crypto.randomUUID()}`,
      messageId: id,
      endpointId,
      status: "pending",
      attempts: 0,
      createdAt: at,
      updatedAt: at,
    })),
  ];
}

const delivered = (): Settlement => ({
  attempt: { startedAt: Date.now(), durationMs: 1, outcome: "success", status: 200 },
  next: { status: "delivered" },
});

describe.skipIf(!url)("postgresDeliveries: several engines on one PostgreSQL", () => {
  const pools: pg.Pool[] = [];
  const pool = (max = 5) => {
    const created = new pg.Pool({ connectionString: url, max });
    created.on("error", () => {}); // a terminated idle connection is replaced on the next query
    pools.push(created);
    return created;
  };
  let admin: pg.Pool;
  let schema: string;
  let tablePrefix: string;
  beforeAll(async () => {
    admin = pool();
    schema = `hookline_engines_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    tablePrefix = `${schema}.hookline_`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    await postgresDeliveries({ client: admin, tablePrefix }).migrate();
  });
  afterAll(async () => {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await Promise.all(pools.map((item) => item.end().catch(() => {})));
  });

  /** Runs a test on tables of its own (the workers take every due delivery of their tables). */
  async function fresh(): Promise<string> {
    const prefix = `${schema}.t${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}_`;
    await postgresDeliveries({ client: admin, tablePrefix: prefix }).migrate();
    return prefix;
  }

  it("an idle worker is woken by another engine's enqueue (NOTIFY), not by its poll", async () => {
    const prefix = await fresh();
    const listening = pool();
    const seen: string[] = [];
    const idle = postgresDeliveries({ client: listening, tablePrefix: prefix, pollMs: 600_000 });
    const worker = idle.work(
      async (job) => {
        seen.push(job.message.id);
        return delivered();
      },
      { concurrency: 4, perKeyConcurrency: 4, leaseMs: 30_000 },
    );
    const sending = postgresDeliveries({ client: pool(), tablePrefix: prefix });
    const target = endpoint();
    await sending.endpoints.create(target);
    await sleep(200); // the worker has claimed nothing and sleeps for its 10-minute poll
    const [sent, deliveries] = message([target.id]);
    await sending.messages.enqueue(sent, deliveries);
    await until("the worker got the message", () => seen.includes(sent.id));

    // And a message enqueued in a transaction wakes it when the transaction commits.
    const client = await admin.connect();
    const [inTx, itsDeliveries] = message([target.id]);
    try {
      await client.query("BEGIN");
      await sending.messages.enqueue(inTx, itsDeliveries, { tx: client });
      await sleep(100);
      expect(seen).not.toContain(inTx.id);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    await until("the worker got the committed message", () => seen.includes(inTx.id));
    await worker.stop();
  });

  it("stop() gives back the LISTEN connection: nothing checked out, no session listening, pool.end() returns", async () => {
    const prefix = await fresh();
    const own = new pg.Pool({ connectionString: url, max: 3 });
    const engine = postgresDeliveries({ client: own, tablePrefix: prefix });
    const worker = engine.work(async () => delivered(), { concurrency: 2, perKeyConcurrency: 2, leaseMs: 30_000 });
    const listeners = async () =>
      (
        await admin.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()",
          [`LISTEN "${prefix}deliveries"`],
        )
      ).rows[0].n as number;
    await until("the worker listens", async () => (await listeners()) === 1);
    expect(own.totalCount - own.idleCount).toBeGreaterThanOrEqual(1); // the LISTEN one, and a claim maybe
    await worker.stop();
    expect(own.totalCount - own.idleCount).toBe(0);
    expect(await listeners()).toBe(0);
    await own.end(); // resolves: nothing of Hookline's holds a connection
  });

  it("postgres.js: stop() unlistens, and sql.end() returns at once", async () => {
    const prefix = await fresh();
    const sql = postgres(url!, { max: 2, onnotice: () => {} });
    const seen: string[] = [];
    const engine = postgresDeliveries({ client: sql, tablePrefix: prefix, pollMs: 600_000 });
    const worker = engine.work(
      async (job) => {
        seen.push(job.message.id);
        return delivered();
      },
      { concurrency: 2, perKeyConcurrency: 2, leaseMs: 30_000 },
    );
    const other = postgresDeliveries({ client: admin, tablePrefix: prefix });
    const target = endpoint();
    await other.endpoints.create(target);
    await sleep(200);
    const [sent, deliveries] = message([target.id]);
    await other.messages.enqueue(sent, deliveries);
    await until("the postgres.js worker was notified", () => seen.includes(sent.id));
    await worker.stop();
    const started = Date.now();
    await sql.end({ timeout: 5 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("replaces a LISTEN connection that the server terminated, and still hears notifications", async () => {
    const prefix = await fresh();
    const seen: string[] = [];
    const engine = postgresDeliveries({ client: pool(), tablePrefix: prefix, pollMs: 600_000 });
    const errors: unknown[] = [];
    const worker = engine.work(
      async (job) => {
        seen.push(job.message.id);
        return delivered();
      },
      { concurrency: 2, perKeyConcurrency: 2, leaseMs: 30_000, onError: (error) => errors.push(error) },
    );
    const listeningPid = async () =>
      (
        await admin.query("SELECT pid FROM pg_stat_activity WHERE query = $1", [`LISTEN "${prefix}deliveries"`])
      ).rows.map((row) => row.pid as number);
    await until("the worker listens", async () => (await listeningPid()).length === 1);
    const [first] = await listeningPid();
    await admin.query("SELECT pg_terminate_backend($1)", [first]);
    await until("a new connection listens", async () => {
      const pids = await listeningPid();
      return pids.length === 1 && pids[0] !== first;
    });
    expect(errors.length).toBeGreaterThan(0); // the lost connection was reported
    const other = postgresDeliveries({ client: admin, tablePrefix: prefix });
    const target = endpoint();
    await other.endpoints.create(target);
    const [sent, deliveries] = message([target.id]);
    await other.messages.enqueue(sent, deliveries);
    await until("the worker heard the notification", () => seen.includes(sent.id));
    await worker.stop();
  });

  it("keeps perEndpointConcurrency across engines on separate pools (separate processes alike)", async () => {
    const prefix = await fresh();
    const slow = endpoint();
    const setup = postgresDeliveries({ client: admin, tablePrefix: prefix });
    await setup.endpoints.create(slow);
    for (let i = 0; i < 12; i++) {
      const [sent, deliveries] = message([slow.id]);
      await setup.messages.enqueue(sent, deliveries);
    }
    let inFlight = 0;
    let most = 0;
    let done = 0;
    const processor = async (_: DeliveryJob) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await sleep(30);
      inFlight--;
      done++;
      return delivered();
    };
    const workers = Array.from({ length: 3 }, () =>
      postgresDeliveries({ client: pool(), tablePrefix: prefix }).work(processor, {
        concurrency: 5,
        perKeyConcurrency: 2,
        leaseMs: 30_000,
      }),
    );
    await until("all twelve delivered", () => done === 12);
    await Promise.all(workers.map((worker) => worker.stop()));
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBeGreaterThan(0);
  });

  it("purge({ olderThan }) deletes ended messages with their deliveries and attempts, never pending ones", async () => {
    const prefix = await fresh();
    const engine: PostgresDeliveries = postgresDeliveries({ client: admin, tablePrefix: prefix });
    const target = endpoint();
    await engine.endpoints.create(target);
    const [ended, endedDeliveries] = message([target.id]);
    const [waiting, waitingDeliveries] = message([target.id]);
    await engine.messages.enqueue(ended, endedDeliveries);
    let handled = 0;
    const worker = engine.work(
      async () => {
        handled++;
        return delivered();
      },
      { concurrency: 1, perKeyConcurrency: 1, leaseMs: 30_000 },
    );
    await until("the first message was delivered", () => handled === 1);
    await worker.stop();
    await engine.messages.enqueue(waiting, waitingDeliveries);
    expect(await engine.purge({ olderThan: new Date(Date.now() - 60_000) })).toBe(0);
    expect(await engine.purge({ olderThan: Date.now() + 1_000 })).toBe(1);
    expect(await engine.messages.get(ended.id)).toBeUndefined();
    expect(await engine.attempts.list(endedDeliveries[0]!.id)).toEqual([]);
    expect((await engine.messages.get(waiting.id))?.id).toBe(waiting.id);
    expect((await engine.deliveries.get(waitingDeliveries[0]!.id))?.status).toBe("pending");
  });
});
