import { setTimeout as sleep } from "node:timers/promises";
import { createReceiver, generateSecret } from "@hookline/core";
import { expect } from "vitest";
import { type PgClient, type PostgresClient, postgresDeadLetters, postgresStore } from "../src/index";
import type { TestDatabase } from "./databases";
import { recordingLogger, signedMessage } from "./delivery";

interface Runner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>, timeout?: number): unknown;
}

/** The same client, with every statement it runs written down (one call is one round trip). */
function counting(client: PostgresClient, statements: string[]): PostgresClient {
  if ("unsafe" in client) {
    const sql = client;
    return {
      unsafe: (text, params, options) => {
        statements.push(text);
        return sql.unsafe(text, params, options);
      },
    };
  }
  if ("exec" in client) {
    const pglite = client;
    return {
      query: (text, params, options) => {
        statements.push(text);
        return pglite.query(text, params, options);
      },
      exec: (text) => pglite.exec(text),
    };
  }
  const pg = client;
  const tapped: PgClient = {
    query: (config) => {
      statements.push(config.text);
      return pg.query(config);
    },
  };
  return tapped;
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

async function until(condition: () => boolean, what: string, ms = 5_000) {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A receiver on the store, end to end: the statements each delivery costs, dead letters, and what a short lease
 * does when a handler outlives it. `database()` is the file's opened database, its tables migrated.
 */
export function runReceiverScenarios(name: string, database: () => TestDatabase, { describe, it }: Runner): void {
  const secret = generateSecret();

  describe(`receiver on postgresStore: ${name}`, () => {
    it("costs 2 statements for a new event (claim, complete), 1 for a duplicate, 2 for a failure (claim, release)", async () => {
      const statements: string[] = [];
      const client = counting(database().client, statements);
      const store = postgresStore({ client, table: database().table });
      let failing = true;
      const receiver = createReceiver({ secret, store, logger: recordingLogger() })
        .on("invoice.paid", () => {})
        .on("invoice.voided", () => {
          if (failing) throw new Error("ledger down");
        });

      const paid = await signedMessage(secret);
      expect((await receiver.handle(paid.request())).status).toBe(200);
      expect(statements.map((text) => text.split(/\s/)[0])).toEqual(["INSERT", "UPDATE"]);

      statements.length = 0;
      const duplicate = await receiver.handle(paid.request());
      expect(await duplicate.json()).toEqual({ received: true, duplicate: true });
      expect(statements).toHaveLength(1);

      statements.length = 0;
      const voided = await signedMessage(secret, { type: "invoice.voided" });
      expect((await receiver.handle(voided.request())).status).toBe(500);
      expect(statements.map((text) => text.split(/\s/)[0])).toEqual(["INSERT", "DELETE"]);

      failing = false;
      expect((await receiver.handle(voided.request())).status).toBe(200); // released: the redelivery runs at once
    });

    it("dead-letters a failure durably and replays it", async () => {
      const store = postgresStore({ client: database().client, table: database().table });
      const deadLetters = postgresDeadLetters({ client: database().client, table: database().deadLetterTable });
      let failing = true;
      const receiver = createReceiver({ secret, store, deadLetters, logger: recordingLogger() }).on(
        "invoice.paid",
        () => {
          if (failing) throw new TypeError("ledger down");
        },
      );
      const message = await signedMessage(secret);
      expect(await (await receiver.handle(message.request())).json()).toEqual({ received: true, deadLettered: true });
      const letter = await deadLetters.get(message.id);
      expect(letter).toMatchObject({ id: message.id, type: "invoice.paid", payload: message.body, attempts: 1 });
      expect(letter?.error).toMatchObject({ name: "TypeError", message: "ledger down" });
      expect(await (await receiver.handle(message.request())).json()).toEqual({ received: true, duplicate: true });

      failing = false;
      expect(await receiver.replay(message.id)).toEqual({ status: "processed" });
      expect(await deadLetters.get(message.id)).toBeUndefined();
    });

    it("lets another instance take over an expired lease; the stale instance's release cannot free it", async () => {
      const table = database().table;
      const [gateA, gateB] = [deferred(), deferred()];
      let [runsA, runsB] = [0, 0];
      const a = createReceiver({
        secret,
        store: postgresStore({ client: database().client, table, leaseMs: 600 }),
        logger: recordingLogger(),
      }).on("invoice.paid", async () => {
        runsA++;
        await gateA.promise;
        throw new Error("failed after its lease ended");
      });
      const b = createReceiver({
        secret,
        store: postgresStore({ client: database().client, table }),
        logger: recordingLogger(),
      }).on("invoice.paid", async () => {
        runsB++;
        await gateB.promise;
      });
      const message = await signedMessage(secret);

      const first = a.handle(message.request());
      await until(() => runsA === 1, "A's handler");
      const early = await b.handle(message.request());
      expect(early.status).toBe(409); // A's lease still holds
      expect(Number(early.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

      await sleep(800); // A's 600 ms lease ends while its handler still runs
      const second = b.handle(message.request());
      await until(() => runsB === 1, "B's handler, after A's lease expired");

      gateA.resolve();
      expect((await first).status).toBe(500); // A failed and released… with its stale token
      expect((await a.handle(message.request())).status).toBe(409); // …which left B's claim in place

      gateB.resolve();
      expect((await second).status).toBe(200);
      expect(await (await a.handle(message.request())).json()).toEqual({ received: true, duplicate: true });
      expect([runsA, runsB]).toEqual([1, 1]);
    });

    it("fences out a handler that outlives its lease: its late completion cannot complete the new claim", async () => {
      const table = database().table;
      const [gateA, gateB] = [deferred(), deferred()];
      let [runsA, runsB] = [0, 0];
      const loggerA = recordingLogger();
      const a = createReceiver({
        secret,
        store: postgresStore({ client: database().client, table, leaseMs: 600 }),
        logger: loggerA,
      }).on("invoice.paid", async () => {
        runsA++;
        await gateA.promise;
      });
      const b = createReceiver({
        secret,
        store: postgresStore({ client: database().client, table }),
        logger: recordingLogger(),
      }).on("invoice.paid", async () => {
        runsB++;
        await gateB.promise;
      });
      const message = await signedMessage(secret);

      const first = a.handle(message.request());
      await until(() => runsA === 1, "A's handler");
      await sleep(800);
      const second = b.handle(message.request());
      await until(() => runsB === 1, "B's handler, after A's lease expired");

      gateA.resolve();
      expect((await first).status).toBe(200); // the handler did run: A answers 200…
      expect(loggerA.messages).toContain("The claim expired while handlers ran; raise the store's leaseMs");
      expect((await a.handle(message.request())).status).toBe(409); // …but did not mark it done: B still holds it

      gateB.resolve();
      expect((await second).status).toBe(200);
      expect(await (await b.handle(message.request())).json()).toEqual({ received: true, duplicate: true });
    });
  });
}
