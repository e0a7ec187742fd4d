import { PGlite } from "@electric-sql/pglite";
import { createSender, generateSecret, type Sender } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { CompiledQuery, Kysely, sql as kyselySql, PostgresDialect } from "kysely";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresClient, type PostgresDeliveries, postgresDeliveries } from "../src/index";
import { has, startProcess } from "./processes";
import { type WebhookReceiver, webhookReceiver } from "./webhook-receiver";

// The transactional outbox: a message sent on the caller's transaction exists, and is delivered, if and only if
// that transaction commits. Every client's transaction shape, then a thousand transactions with half rolled
// back, then a process killed right after its COMMIT.

const url = serviceUrl("DATABASE_URL");
const secret = generateSecret();

/** A sender on `client` in a fresh schema with an `orders` table, and one endpoint: a Hookline receiver. */
async function outbox(client: PostgresClient, run: (text: string) => Promise<unknown>) {
  const schema = `hookline_outbox_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await run(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.orders (id text PRIMARY KEY)`);
  const store = postgresDeliveries({ client, tablePrefix: `${schema}.hookline_` });
  await store.migrate();
  const receiver = await webhookReceiver(secret);
  const sender = createSender({ store, allow: ["127.0.0.1/32"] });
  await sender.endpoints.create({ url: receiver.url, secret });
  return {
    schema,
    store,
    sender,
    receiver,
    async close() {
      await sender.stop();
      await receiver.close();
      await run(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
}

type Outbox = Awaited<ReturnType<typeof outbox>>;

/** Starts the dispatcher, waits until every committed message was processed, and checks nothing else was. */
async function expectDeliveredExactly(box: Outbox, committed: string[]) {
  box.sender.start();
  await box.receiver.processedAtLeast(committed.length);
  await box.sender.drain();
  expect(new Set(box.receiver.processed)).toEqual(new Set(committed));
  expect(box.receiver.processed).toHaveLength(committed.length);
}

describe.skipIf(!url)("transactional enqueue on a PostgreSQL server", () => {
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 20 });
  });
  afterAll(() => pool.end());

  it("a pg PoolClient between BEGIN and COMMIT/ROLLBACK", async () => {
    const box = await outbox(pool, (text) => pool.query(text));
    try {
      const committed: string[] = [];
      for (const outcome of ["COMMIT", "ROLLBACK"]) {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          await client.query(`INSERT INTO ${box.schema}.orders (id) VALUES ($1)`, [outcome]);
          const sent = await box.sender.send("order.created", { order: outcome }, { tx: client });
          expect(sent.created).toBe(true);
          // Not visible outside the transaction before it commits.
          expect(await box.sender.messages.get(sent.messageId)).toBeUndefined();
          await client.query(outcome);
          if (outcome === "COMMIT") committed.push(sent.messageId);
          else expect(await box.sender.messages.get(sent.messageId)).toBeUndefined();
        } finally {
          client.release();
        }
      }
      await expectDeliveredExactly(box, committed);
    } finally {
      await box.close();
    }
  });

  it("a pg Pool of one connection: send on its PoolClient needs no second connection", async () => {
    const single = new pg.Pool({ connectionString: url, max: 1 });
    const box = await outbox(single, (text) => single.query(text));
    try {
      const client = await single.connect();
      let sent: Awaited<ReturnType<Sender["send"]>>;
      try {
        await client.query("BEGIN");
        sent = await box.sender.send("order.created", { order: "one" }, { tx: client });
        await client.query("COMMIT");
      } finally {
        client.release();
      }
      // (No worker here: its LISTEN would hold the one connection.)
      expect(sent.deliveries).toHaveLength(1);
      expect((await box.sender.deliveries.list({ messageId: sent.messageId })).items).toMatchObject([
        { id: sent.deliveries[0]!.id, status: "pending" },
      ]);
    } finally {
      await box.close();
      await single.end();
    }
  });

  it("a postgres.js sql.begin transaction", async () => {
    const sql = postgres(url!, { max: 4, onnotice: () => {} });
    const box = await outbox(sql, (text) => sql.unsafe(text));
    try {
      const committed = await sql.begin(async (tx) => {
        await tx.unsafe(`INSERT INTO ${box.schema}.orders (id) VALUES ('kept')`);
        return (await box.sender.send("order.created", { order: "kept" }, { tx })).messageId;
      });
      const rolledBack = await sql
        .begin(async (tx) => {
          await box.sender.send("order.created", { order: "lost" }, { tx });
          throw new Error("the order failed");
        })
        .catch(() => "rolled back");
      expect(rolledBack).toBe("rolled back");
      await expectDeliveredExactly(box, [committed]);
    } finally {
      await box.close();
      await sql.end({ timeout: 5 });
    }
  });

  it("postgres.js with one connection: send inside sql.begin needs no second one", async () => {
    const sql = postgres(url!, { max: 1, onnotice: () => {} });
    const box = await outbox(sql, (text) => sql.unsafe(text));
    try {
      const committed = await sql.begin(
        async (tx) => (await box.sender.send("order.created", { order: "one" }, { tx })).messageId,
      );
      await expectDeliveredExactly(box, [committed]);
    } finally {
      await box.close();
      await sql.end({ timeout: 5 });
    }
  });

  it("Kysely, through the one-function port", async () => {
    const db = new Kysely<Record<string, { id: string }>>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 4 }) }),
    });
    const box = await outbox(pool, (text) => pool.query(text));
    try {
      const send = (order: string) =>
        db.transaction().execute(async (trx) => {
          await kyselySql`INSERT INTO ${kyselySql.table(`${box.schema}.orders`)} (id) VALUES (${order})`.execute(trx);
          const sent = await box.sender.send(
            "order.created",
            { order },
            { tx: { query: (text: string, params: unknown[]) => trx.executeQuery(CompiledQuery.raw(text, params)) } },
          );
          if (order === "refused") throw new Error("rolled back");
          return sent.messageId;
        });
      const committed = await send("accepted");
      await expect(send("refused")).rejects.toThrow("rolled back");
      await expectDeliveredExactly(box, [committed]);
    } finally {
      await box.close();
      await db.destroy();
    }
  });

  it("delivers exactly the committed half of 1 000 sends in transactions, half of them rolled back", async () => {
    const box = await outbox(pool, (text) => pool.query(text));
    try {
      box.sender.start(); // delivering while the transactions run
      const committed: string[] = [];
      const rolledBack: string[] = [];
      const transaction = async (index: number) => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          await client.query(`INSERT INTO ${box.schema}.orders (id) VALUES ($1)`, [`order-${index}`]);
          const { messageId } = await box.sender.send("order.created", { index }, { tx: client });
          if (Math.random() < 0.5) {
            await client.query("ROLLBACK");
            rolledBack.push(messageId);
          } else {
            await client.query("COMMIT");
            committed.push(messageId);
          }
        } finally {
          client.release();
        }
      };
      // Ten transactions at a time.
      let next = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (next < 1_000) await transaction(next++);
        }),
      );
      expect(committed.length + rolledBack.length).toBe(1_000);
      await expectDeliveredExactly(box, committed);
      const stored = await pool.query(`SELECT count(*)::int AS n FROM ${box.schema}.hookline_messages`);
      expect(stored.rows[0].n).toBe(committed.length);
      const orders = await pool.query(`SELECT count(*)::int AS n FROM ${box.schema}.orders`);
      expect(orders.rows[0].n).toBe(committed.length);
    } finally {
      await box.close();
    }
  }, 120_000);

  it("delivers a message whose sending process was killed right after its COMMIT", async () => {
    const box = await outbox(pool, (text) => pool.query(text));
    try {
      const child = await startProcess(new URL("./commit-then-die.ts", import.meta.url).pathname, {
        DATABASE_URL: url!,
        TABLE_PREFIX: `${box.schema}.hookline_`,
      });
      const { messageId } = await child.message(has("messageId"));
      expect(await child.exited).toBe("SIGKILL");
      await expectDeliveredExactly(box, [messageId as string]);
    } finally {
      await box.close();
    }
  }, 60_000);
});

describe("transactional enqueue on PGlite", () => {
  let pglite: PGlite;
  beforeAll(async () => {
    pglite = await PGlite.create();
  }, 120_000);
  afterAll(() => pglite.close());

  // PGlite is one session: a query outside a `pglite.transaction(…)` callback waits for the callback to end. So
  // `send` must read its fan-out's endpoints on the callback's `tx`, as it writes the message there.
  it("send inside pglite.transaction(async (tx) => …): stored at its commit, nothing after a rollback", async () => {
    const box = await outbox(pglite, (text) => pglite.exec(text));
    try {
      const kept = await pglite.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${box.schema}.orders (id) VALUES ('kept')`);
        return (await box.sender.send("order.created", { order: "kept" }, { tx })).messageId;
      });
      let lost: string | undefined;
      await pglite.transaction(async (tx) => {
        lost = (await box.sender.send("order.created", { order: "lost" }, { tx })).messageId;
        await tx.rollback();
      });
      const refused = await pglite
        .transaction(async (tx) => {
          await box.sender.send("order.created", { order: "refused" }, { tx, id: "msg_refused" });
          throw new Error("the order failed");
        })
        .catch((error: Error) => error.message);
      expect(refused).toBe("the order failed");
      expect(await box.sender.messages.get(lost as string)).toBeUndefined();
      expect(await box.sender.messages.get("msg_refused")).toBeUndefined();
      expect((await box.sender.deliveries.list()).items.map((delivery) => delivery.messageId)).toEqual([kept]);
      await expectDeliveredExactly(box, [kept]);
    } finally {
      await box.close();
    }
  }, 60_000);

  it("BEGIN/COMMIT on the PGlite instance, the instance as tx", async () => {
    const box = await outbox(pglite, (text) => pglite.exec(text));
    try {
      await pglite.exec("BEGIN");
      await pglite.query(`INSERT INTO ${box.schema}.orders (id) VALUES ('kept')`);
      const kept = (await box.sender.send("order.created", { order: "kept" }, { tx: pglite })).messageId;
      await pglite.exec("COMMIT");
      await pglite.exec("BEGIN");
      const lost = (await box.sender.send("order.created", { order: "lost" }, { tx: pglite })).messageId;
      await pglite.exec("ROLLBACK");
      expect(await box.sender.messages.get(lost)).toBeUndefined();
      await expectDeliveredExactly(box, [kept]);
    } finally {
      await box.close();
    }
  }, 60_000);
});

export type { PostgresDeliveries, Sender, WebhookReceiver };
