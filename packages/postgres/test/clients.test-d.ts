import type { PGlite } from "@electric-sql/pglite";
import type pg from "pg";
import type postgres from "postgres";
import { describe, expectTypeOf, it } from "vitest";
import { type PostgresClient, postgresDeadLetters, postgresStore } from "../src/index";

describe("the client option", () => {
  it("takes node-postgres pools and clients", () => {
    expectTypeOf<pg.Pool>().toExtend<PostgresClient>();
    expectTypeOf<pg.PoolClient>().toExtend<PostgresClient>();
    expectTypeOf<pg.Client>().toExtend<PostgresClient>();
  });

  it("takes postgres.js sql instances, with custom types too", () => {
    expectTypeOf<postgres.Sql>().toExtend<PostgresClient>();
    expectTypeOf<postgres.Sql<{ bigint: bigint }>>().toExtend<PostgresClient>();
  });

  it("takes PGlite", () => {
    expectTypeOf<PGlite>().toExtend<PostgresClient>();
  });

  it("refuses anything else", () => {
    expectTypeOf<{ query: (text: string) => Promise<unknown> }>().not.toExtend<PostgresClient>();
    expectTypeOf<string>().not.toExtend<PostgresClient>();
    // @ts-expect-error not a PostgreSQL client
    postgresStore({ client: {} });
    // @ts-expect-error a connection string is not a client
    postgresDeadLetters({ client: "postgres://127.0.0.1/app" });
  });
});
