import type { PGlite, Transaction } from "@electric-sql/pglite";
import type pg from "pg";
import type postgres from "postgres";
import { describe, expectTypeOf, it } from "vitest";
import {
  type InboxTransactionOf,
  type PostgresClient,
  type PostgresInbox,
  postgresDeadLetters,
  postgresInbox,
  postgresStore,
  type SqlPort,
} from "../src/index";

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

describe("the inbox's transaction (context.tx)", () => {
  it("is what each client's own transaction is", () => {
    expectTypeOf<InboxTransactionOf<pg.Pool>>().toEqualTypeOf<pg.PoolClient>();
    expectTypeOf<InboxTransactionOf<postgres.Sql>>().toEqualTypeOf<postgres.TransactionSql>();
    expectTypeOf<InboxTransactionOf<PGlite>>().toEqualTypeOf<Transaction>();
    // One connection cannot hold a transaction per job.
    expectTypeOf<InboxTransactionOf<pg.Client>>().toBeNever();
  });

  it("reaches the handlers through the inbox's type", () => {
    expectTypeOf(postgresInbox({ client: {} as pg.Pool })).toExtend<PostgresInbox<pg.PoolClient>>();
    expectTypeOf(postgresInbox({ client: {} as PGlite })).toExtend<PostgresInbox<Transaction>>();
    expectTypeOf(postgresInbox({ client: {} as PGlite })).not.toExtend<PostgresInbox<pg.PoolClient>>();
  });

  it("is an ORM's own transaction through the port", () => {
    const inbox = postgresInbox({
      client: {} as pg.Pool,
      transaction: <T>(run: (port: SqlPort, tx: { orm: true }) => Promise<T>) =>
        run({ query: async () => [] }, { orm: true }),
    });
    expectTypeOf(inbox).toExtend<PostgresInbox<{ orm: true }>>();
    expectTypeOf(inbox).not.toExtend<PostgresInbox<pg.PoolClient>>();
  });
});
