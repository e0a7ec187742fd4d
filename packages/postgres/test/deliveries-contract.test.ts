import { PGlite } from "@electric-sql/pglite";
import { runDeliveryStoreContract, serviceUrl } from "@hookline/testing";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type PostgresClient, postgresDeliveries } from "../src/index";

// The published contract, unchanged, on each client. Every test gets a fresh schema (the contract's workers take
// every due delivery of their engine); the schemas are dropped with the file.

const url = serviceUrl("DATABASE_URL");

/** A fresh schema per engine on `client`; `drop` removes them all. */
function freshEngines(client: () => PostgresClient, run: (text: string) => Promise<unknown>) {
  const schemas: string[] = [];
  return {
    async make() {
      const schema = `hookline_contract_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
      schemas.push(schema);
      await run(`CREATE SCHEMA ${schema}`);
      const store = postgresDeliveries({ client: client(), tablePrefix: `${schema}.hookline_` });
      await store.migrate();
      return store;
    },
    async drop() {
      for (const schema of schemas) await run(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
}

describe.skipIf(!url)("postgresDeliveries on a pg Pool", () => {
  let pool: pg.Pool;
  const engines = freshEngines(
    () => pool,
    (text) => pool.query(text),
  );
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 10 });
  });
  afterAll(async () => {
    await engines.drop();
    await pool.end();
  });
  runDeliveryStoreContract(
    "pg Pool",
    engines.make,
    { describe, it },
    {
      // The PoolClient between BEGIN and COMMIT is the tx, as an application passes it.
      async transaction(body) {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          const result = await body(client);
          await client.query("COMMIT");
          return result;
        } catch (error) {
          await client.query("ROLLBACK");
          throw error;
        } finally {
          client.release();
        }
      },
    },
  );
});

describe.skipIf(!url)("postgresDeliveries on postgres.js", () => {
  let sql: postgres.Sql;
  const engines = freshEngines(
    () => sql,
    (text) => sql.unsafe(text),
  );
  beforeAll(() => {
    sql = postgres(url!, { max: 10, onnotice: () => {} });
  });
  afterAll(async () => {
    await engines.drop();
    await sql.end({ timeout: 5 });
  });
  runDeliveryStoreContract(
    "postgres.js",
    engines.make,
    { describe, it },
    { transaction: (body) => sql.begin((tx) => body(tx)) as never },
  );
});

describe("postgresDeliveries on PGlite", () => {
  let pglite: PGlite;
  const engines = freshEngines(
    () => pglite,
    (text) => pglite.exec(text),
  );
  beforeAll(async () => {
    pglite = await PGlite.create();
  }, 120_000);
  afterAll(async () => {
    await engines.drop();
    await pglite.close();
  });
  runDeliveryStoreContract(
    "PGlite",
    engines.make,
    { describe, it },
    { transaction: (body) => pglite.transaction((tx) => body(tx)) },
  );
});
