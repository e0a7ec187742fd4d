import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createReceiver, type DeadLetter, generateSecret } from "@hookline/core";
import { runDeadLetterContract, runStoreContract } from "@hookline/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresDeadLetters, postgresSchema, postgresStore } from "../src/index";
import { pgliteDatabase } from "./databases";
import { recordingLogger, signedMessage } from "./delivery";
import { runKeyScenarios } from "./keys";
import { runReceiverScenarios } from "./receiver-scenarios";

// PGlite is PostgreSQL compiled to WebAssembly, in this process: no server, so these suites always run.
let database: Awaited<ReturnType<typeof pgliteDatabase>>;
beforeAll(async () => {
  database = await pgliteDatabase();
}, 120_000);
afterAll(() => database?.close());

const store = () => postgresStore({ client: database.client, table: database.table });
runStoreContract("postgresStore on PGlite", store, { describe, it });
runDeadLetterContract(
  "postgresDeadLetters on PGlite",
  () => postgresDeadLetters({ client: database.client, table: database.deadLetterTable }),
  { describe, it },
);
runReceiverScenarios("PGlite", () => database, { describe, it });
runKeyScenarios("PGlite", () => database, { describe, it });

describe("postgresStore on PGlite", () => {
  it("works with the defaults: new PGlite(), migrate(), default tables", async () => {
    const { pglite } = database;
    const defaults = postgresStore({ client: pglite });
    await defaults.migrate();
    await defaults.migrate(); // idempotent: safe at every start
    const claim = await defaults.claim("default-table");
    expect(claim.status).toBe("claimed");
    const letters = postgresDeadLetters({ client: pglite });
    await letters.migrate();
    expect(await letters.list()).toEqual([]);
  });

  it("the shipped sql/schema.sql is postgresSchema(), and creates exactly the tables migrate() does", async () => {
    const file = readFileSync(new URL("../sql/schema.sql", import.meta.url), "utf8");
    expect(file, "sql/schema.sql is stale: run `pnpm --filter @hookline/postgres schema`").toBe(postgresSchema());

    const { pglite } = database;
    await pglite.exec(`BEGIN; CREATE SCHEMA from_file; SET LOCAL search_path TO from_file; ${file} COMMIT;`);
    const shape = async (schema: string) => ({
      columns: (
        await pglite.query(
          `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
           WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
          [schema],
        )
      ).rows,
      indexes: (
        await pglite.query<{ indexdef: string }>(
          "SELECT replace(indexdef, $1 || '.', '') AS indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname",
          [schema],
        )
      ).rows,
    });
    const fromFile = await shape("from_file");
    expect(fromFile.columns).toHaveLength(74);
    // Seven primary keys; the stores' expiry/order indexes; the sender's for dispatch, listings and the log; the
    // inbox's for claims, order keys and purge.
    expect(fromFile.indexes).toHaveLength(20);
    expect(await shape(database.schema)).toEqual(fromFile);

    const onFileTables = postgresStore({ client: pglite, table: "from_file.hookline_idempotency" });
    expect((await onFileTables.claim("from-file")).status).toBe("claimed");
  });

  it("answers 503 and says to migrate when the table is missing", async () => {
    const missing = postgresStore({ client: database.client, table: `${database.schema}.never_migrated` });
    await expect(missing.claim("k")).rejects.toThrow(/never_migrated.*call migrate\(\)/);
    const secret = generateSecret();
    let runs = 0;
    const receiver = createReceiver({ secret, store: missing, logger: recordingLogger() }).onAny(() => {
      runs++;
    });
    const answer = await receiver.handle((await signedMessage(secret)).request());
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toBe("5");
    expect(runs).toBe(0);
  });

  it("keeps quoted, case-sensitive and schema-qualified table names apart", async () => {
    const upper = postgresStore({ client: database.client, table: `${database.schema}.Claims` });
    const lower = postgresStore({ client: database.client, table: `${database.schema}.claims` });
    await upper.migrate();
    await lower.migrate();
    expect((await upper.claim("same-key")).status).toBe("claimed");
    expect((await lower.claim("same-key")).status).toBe("claimed");
  });

  it("purge() deletes expired claims and expired done ids, and nothing live", async () => {
    const purged = postgresStore({ client: database.client, table: `${database.schema}.purge_test` });
    await purged.migrate();
    const claim = async (key: string, leaseMs: number) => {
      const result = await purged.claim(key, leaseMs);
      if (result.status !== "claimed") throw new Error(`${key} not claimed`);
      return result.token;
    };
    await claim("lease-ends", 100);
    await claim("lease-holds", 60_000);
    await purged.complete("done-ends", await claim("done-ends", 60_000), 100);
    await purged.complete("done-holds", await claim("done-holds", 60_000), 60_000);
    await sleep(300);
    expect(await purged.purge()).toBe(2);
    expect(await purged.purge()).toBe(0);
    expect((await purged.claim("lease-holds")).status).toBe("processing");
    expect((await purged.claim("done-holds")).status).toBe("done");
    expect((await purged.claim("done-ends")).status).toBe("claimed");
  });

  it("keeps dead-letter times exact to the millisecond, and a letter without a timestamp or stack", async () => {
    const letters = postgresDeadLetters({ client: database.client, table: database.deadLetterTable });
    const times = [Date.now(), 0, -1, 1, 253_402_300_799_999, 946_684_800_001, 1_700_000_000_123];
    for (const [index, at] of times.entries()) {
      const letter: DeadLetter = {
        id: `exact-${index}-${crypto.randomUUID()}`,
        type: "t",
        ...(index % 2 ? { timestamp: Math.floor(at / 1000) } : {}),
        payload: "{}",
        error: { name: "Error", message: "" },
        attempts: 1,
        firstFailedAt: at,
        lastFailedAt: at + 1,
      };
      await letters.put(letter);
      expect(await letters.get(letter.id)).toStrictEqual(letter);
      await letters.delete(letter.id);
    }
  });
});
