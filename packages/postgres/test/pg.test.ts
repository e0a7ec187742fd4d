import { runDeadLetterContract, runStoreContract, serviceUrl } from "@hookline/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresDeadLetters, postgresStore } from "../src/index";
import { pgDatabase } from "./databases";
import { runKeyScenarios } from "./keys";
import { runReceiverScenarios } from "./receiver-scenarios";

const url = serviceUrl("DATABASE_URL");

describe.skipIf(!url)("PostgreSQL server through a pg Pool", () => {
  let database: Awaited<ReturnType<typeof pgDatabase>>;
  beforeAll(async () => {
    database = await pgDatabase(url!);
  });
  afterAll(() => database?.close());

  runStoreContract(
    "postgresStore on a pg Pool",
    () => postgresStore({ client: database.pool, table: database.table }),
    {
      describe,
      it,
    },
  );
  runDeadLetterContract(
    "postgresDeadLetters on a pg Pool",
    () => postgresDeadLetters({ client: database.pool, table: database.deadLetterTable }),
    { describe, it },
  );
  runReceiverScenarios("pg Pool", () => database, { describe, it });
  runKeyScenarios("pg Pool", () => database, { describe, it });

  it("works on a single pg Client too", async () => {
    const client = await database.pool.connect();
    try {
      const store = postgresStore({ client, table: database.table });
      const claim = await store.claim(`client-${crypto.randomUUID()}`);
      expect(claim.status).toBe("claimed");
    } finally {
      client.release();
    }
  });

  it("prepares each statement once per connection, and runs unprepared when a pooler loses it", async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const store = postgresStore({ client, table: database.table });
      const prepared = async () =>
        (await client.query("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'hookline\\_%'")).rows.map(
          (row: { statement: string }) => row.statement.split(/\s/)[0],
        );
      for (let n = 0; n < 3; n++) {
        const key = `prepared-${crypto.randomUUID()}`;
        const claim = await store.claim(key);
        if (claim.status !== "claimed") throw new Error(`${key} not claimed`);
        expect(await store.complete(key, claim.token)).toBe(true);
      }
      // Parsed and planned once here, then only bound and executed: one claim and one complete statement.
      expect((await prepared()).sort()).toEqual(["INSERT", "UPDATE"]);

      // A pooler in transaction mode hands the next statement to a session without it, as DEALLOCATE does here.
      await client.query("DEALLOCATE ALL");
      const key = `deallocated-${crypto.randomUUID()}`;
      const claim = await store.claim(key);
      expect(claim.status).toBe("claimed");
      if (claim.status === "claimed") expect(await store.complete(key, claim.token)).toBe(true);
      expect(await store.claim(key)).toEqual({ status: "done" });
      expect(await prepared()).toEqual([]); // from then on, unnamed
    } finally {
      await client.end();
    }
  });

  it("releases a claim that timed out waiting for a pool connection as soon as it finally runs", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const store = postgresStore({ client: pool, table: database.table, timeoutMs: 200 });
      const busy = pool.query("SELECT pg_sleep(0.5)"); // the only connection
      const key = `queued-${crypto.randomUUID()}`;
      await expect(store.claim(key)).rejects.toThrow("PostgreSQL did not answer within 200 ms");
      await busy; // the queued claim runs now (with the default 60 s lease), and is released right behind it
      const started = Date.now();
      let claim = await store.claim(key);
      while (claim.status !== "claimed" && Date.now() - started < 2_000) claim = await store.claim(key);
      expect(claim.status).toBe("claimed");
    } finally {
      await pool.end();
    }
  });

  it("migrates safely when many instances start at once", async () => {
    const table = `${database.schema}.started_together`;
    const instances = Array.from({ length: 8 }, () => postgresStore({ client: database.pool, table }));
    await Promise.all(instances.map((store) => store.migrate()));
    expect((await instances[0]!.claim("k")).status).toBe("claimed");
    expect((await instances[1]!.claim("k")).status).toBe("processing");
  });
});
