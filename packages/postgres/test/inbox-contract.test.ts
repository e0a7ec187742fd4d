import { PGlite } from "@electric-sql/pglite";
import { runInboxContract, serviceUrl } from "@hookline/testing";
import { CompiledQuery, Kysely, PostgresDialect, type Transaction } from "kysely";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type PostgresInbox, postgresInbox } from "../src/index";

// The published contract, unchanged, on each client and on an ORM's transaction (Kysely through the port), with
// the transaction probe: a probe row written on the job's tx lands only with a processed settlement. Every test
// gets a fresh schema (the contract's workers take every due event of their inbox).

const url = serviceUrl("DATABASE_URL");

/** Fresh schemas on `run`, each with an inbox and a probe table; `drop` removes them all. */
function freshInboxes<Tx>(run: (text: string) => Promise<unknown>, make: (table: string) => PostgresInbox<Tx>) {
  const schemas: string[] = [];
  return {
    schemas,
    async make() {
      const schema = `hookline_inbox_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
      schemas.push(schema);
      await run(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.probe (key text NOT NULL)`);
      const inbox = make(`${schema}.hookline_inbox`);
      await inbox.migrate();
      return inbox;
    },
    /** The schema of the inbox made last: the probe writes there. */
    get current() {
      return schemas[schemas.length - 1] as string;
    },
    async drop() {
      for (const schema of schemas) await run(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
}

const countOf = (rows: unknown[]) => Number((rows[0] as { n: number | string }).n);

describe.skipIf(!url)("postgresInbox on a pg Pool", () => {
  let pool: pg.Pool;
  const inboxes = freshInboxes(
    (text) => pool.query(text),
    (table) => postgresInbox({ client: pool, table }),
  );
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 20 });
  });
  afterAll(async () => {
    await inboxes.drop();
    await pool.end();
  });
  runInboxContract(
    "pg Pool",
    () => inboxes.make(),
    { describe, it },
    {
      transaction: {
        write: async (tx, key) => void (await tx.query(`INSERT INTO ${inboxes.current}.probe VALUES ($1)`, [key])),
        count: async (key) =>
          countOf((await pool.query(`SELECT count(*) AS n FROM ${inboxes.current}.probe WHERE key = $1`, [key])).rows),
      },
    },
  );
});

describe.skipIf(!url)("postgresInbox on postgres.js", () => {
  let sql: postgres.Sql;
  const inboxes = freshInboxes(
    (text) => sql.unsafe(text),
    (table) => postgresInbox({ client: sql, table }),
  );
  beforeAll(() => {
    sql = postgres(url!, { max: 20, onnotice: () => {} });
  });
  afterAll(async () => {
    await inboxes.drop();
    await sql.end({ timeout: 5 });
  });
  runInboxContract(
    "postgres.js",
    () => inboxes.make(),
    { describe, it },
    {
      transaction: {
        write: async (tx, key) => void (await tx.unsafe(`INSERT INTO ${inboxes.current}.probe VALUES ($1)`, [key])),
        count: async (key) =>
          countOf(await sql.unsafe(`SELECT count(*) AS n FROM ${inboxes.current}.probe WHERE key = $1`, [key])),
      },
    },
  );
});

describe("postgresInbox on PGlite", () => {
  let pglite: PGlite;
  const inboxes = freshInboxes(
    (text) => pglite.exec(text),
    (table) => postgresInbox({ client: pglite, table }),
  );
  beforeAll(async () => {
    pglite = await PGlite.create();
  }, 120_000);
  afterAll(async () => {
    await inboxes.drop();
    await pglite.close();
  });
  runInboxContract(
    "PGlite",
    () => inboxes.make(),
    { describe, it },
    {
      transaction: {
        write: async (tx, key) => void (await tx.query(`INSERT INTO ${inboxes.current}.probe VALUES ($1)`, [key])),
        count: async (key) =>
          countOf(
            (await pglite.query(`SELECT count(*) AS n FROM ${inboxes.current}.probe WHERE key = $1`, [key])).rows,
          ),
      },
    },
  );
});

describe.skipIf(!url)("postgresInbox on a Kysely transaction (the port)", () => {
  let pool: pg.Pool;
  let db: Kysely<Record<string, never>>;
  const inboxes = freshInboxes(
    (text) => pool.query(text),
    (table) =>
      // The transaction's type is named: TypeScript cannot read it from a call inside the function's body.
      postgresInbox<Transaction<Record<string, never>>>({
        client: pool,
        table,
        transaction: (run) =>
          db
            .transaction()
            .execute((trx) => run({ query: (text, params) => trx.executeQuery(CompiledQuery.raw(text, params)) }, trx)),
      }),
  );
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 20 });
    db = new Kysely({ dialect: new PostgresDialect({ pool }) });
  });
  afterAll(async () => {
    await inboxes.drop();
    await db.destroy();
  });
  runInboxContract(
    "Kysely",
    () => inboxes.make(),
    { describe, it },
    {
      transaction: {
        write: async (trx, key) =>
          void (await trx.executeQuery(CompiledQuery.raw(`INSERT INTO ${inboxes.current}.probe VALUES ($1)`, [key]))),
        count: async (key) =>
          countOf((await pool.query(`SELECT count(*) AS n FROM ${inboxes.current}.probe WHERE key = $1`, [key])).rows),
      },
    },
  );
});
