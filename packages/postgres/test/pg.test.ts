import { runDeadLetterContract, runStoreContract, serviceUrl } from "@hookline/core/testing";
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
