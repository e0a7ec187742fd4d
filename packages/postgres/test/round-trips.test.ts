import { createReceiver, generateSecret } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import pg from "pg";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { type PostgresClient, postgresStore } from "../src/index";
import { signedMessage } from "./delivery";
import { roundTripCounter } from "./wire";

const url = serviceUrl("DATABASE_URL");

/** One connection, so that every statement goes through the counter. */
const drivers: [
  string,
  (url: string) => { client: PostgresClient; sql(text: string): Promise<unknown>; end(): Promise<unknown> },
][] = [
  [
    "pg Pool",
    (url) => {
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      return { client: pool, sql: (text) => pool.query(text), end: () => pool.end() };
    },
  ],
  [
    "postgres.js",
    (url) => {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      return { client: sql, sql: (text) => sql.unsafe(text), end: () => sql.end({ timeout: 5 }) };
    },
  ],
];

describe.skipIf(!url)("round trips on the wire", () => {
  it.each(drivers)("%s: a new event costs 2 (claim, complete), a duplicate 1", async (_, open) => {
    const counter = await roundTripCounter(new URL(url!));
    const driver = open(counter.url);
    const schema = `hookline_round_trips_${crypto.randomUUID().slice(0, 8)}`;
    try {
      await driver.sql(`CREATE SCHEMA ${schema}`);
      const store = postgresStore({ client: driver.client, table: `${schema}.claims` });
      await store.migrate();
      const secret = generateSecret();
      const receiver = createReceiver({ secret, store }).on("invoice.paid", () => {});
      // A connection's first use of a statement may prepare it (postgres.js does); measure once that is done.
      await receiver.handle((await signedMessage(secret)).request());

      const message = await signedMessage(secret);
      let before = counter.roundTrips();
      expect((await receiver.handle(message.request())).status).toBe(200);
      expect(counter.roundTrips() - before).toBe(2);

      before = counter.roundTrips();
      expect(await (await receiver.handle(message.request())).json()).toEqual({ received: true, duplicate: true });
      expect(counter.roundTrips() - before).toBe(1);
    } finally {
      await driver.sql(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
      await driver.end();
      await counter.close();
    }
  });
});
