import { createHmac } from "node:crypto";
import { createReceiver, type DeadLetter, generateSecret } from "@hookline/core";
import fc from "fast-check";
import { expect } from "vitest";
import { database as connect } from "../src/client";
import { postgresDeadLetters, postgresStore } from "../src/index";
import { HASHED_KEY_PREFIX, MAX_PLAIN_KEY_BYTES, storedKey } from "../src/keys";
import { tableName } from "../src/schema";
import type { TestDatabase } from "./databases";
import { recordingLogger } from "./delivery";

interface Runner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>, timeout?: number): unknown;
}

/** Random hex: incompressible enough that PostgreSQL cannot squeeze a long key into an index entry. */
function randomHex(length: number): string {
  const bytes = new Uint8Array(Math.ceil(length / 2));
  for (let at = 0; at < bytes.length; at += 65_536) crypto.getRandomValues(bytes.subarray(at, at + 65_536));
  return Buffer.from(bytes).toString("hex").slice(0, length);
}

/**
 * A Standard Webhooks delivery signed by hand: the kit's `sign` refuses ids that are not printable ASCII, but a
 * sender may still send one, and the scheme signs whatever the id is.
 */
function signed(secret: string, id: string) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const body = JSON.stringify({ type: "invoice.paid", data: {} });
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  const headers = { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${signature}` };
  return { headers: { ...headers, "content-type": "application/json" }, body };
}

/** Ids that a `text` primary key cannot hold as written, and their near twins, which must stay apart. */
async function awkwardIds(label: string): Promise<Record<string, string>> {
  const long = `${label}_${randomHex(10_000)}`;
  return {
    "10 000 bytes": long,
    "10 000 bytes, last character different": `${long.slice(0, -1)}${long.endsWith("0") ? "1" : "0"}`,
    "a megabyte": `${label}_${randomHex(1_000_000)}`,
    "U+0000": `${label}\0nul`,
    "U+0000 twice": `${label}\0\0nul`,
    "a lone high surrogate": `${label}\uD800`,
    "another lone surrogate": `${label}\uDBFF`,
    "U+FFFD, what a driver makes of a lone surrogate": `${label}\uFFFD`,
    "2 000 bytes of two-byte characters, then more": `${"é".repeat(1000)}${label}`,
    "the hashed form of another id": await storedKey(long),
    "the hashed form's prefix": `${HASHED_KEY_PREFIX}${label}`,
  };
}

/**
 * Message ids of any length or content, on each client: they claim, complete, dead-letter and replay like any
 * other (no permanent 503 or 500), stay apart from each other, and short ids are stored as written.
 */
export function runKeyScenarios(name: string, database: () => TestDatabase, { describe, it }: Runner): void {
  describe(`ids of any length or content: ${name}`, () => {
    const sql = (text: string, params: (string | number | null)[] = []) =>
      connect(database().client, 10_000, []).query(text, params);

    it("claims, completes and releases each id as its own key", async () => {
      const store = postgresStore({ client: database().client, table: database().table });
      const ids = Object.values(await awkwardIds(`claims-${crypto.randomUUID()}`));
      for (const id of ids) {
        const claim = await store.claim(id);
        expect(claim.status, JSON.stringify(id.slice(0, 40))).toBe("claimed");
        if (claim.status !== "claimed") continue;
        expect(await store.claim(id)).toMatchObject({ status: "processing" });
        expect(await store.release(id, claim.token)).toBe(true);
        const again = await store.claim(id);
        if (again.status !== "claimed") throw new Error(`released ${JSON.stringify(id.slice(0, 40))} not claimable`);
        expect(await store.complete(id, again.token)).toBe(true);
      }
      // Each id's claim found no other's row: all of them are done, none was ever "processing" for another.
      for (const id of ids) expect(await store.claim(id)).toEqual({ status: "done" });
      const keys = await Promise.all(ids.map(storedKey));
      expect(new Set(keys).size).toBe(ids.length);
    });

    it("claims any string once, as its own key (arbitrary UTF-16, lone surrogates and U+0000 included)", async () => {
      const store = postgresStore({ client: database().client, table: database().table });
      const anyId = fc.oneof(
        fc.string({ unit: "binary", maxLength: 40 }),
        fc.string({ unit: "binary", minLength: 600, maxLength: 2_500 }),
      );
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(anyId, { minLength: 1, maxLength: 12 }), async (generated) => {
          const label = `any-${crypto.randomUUID()}:`; // each run's ids are new to the table
          const ids = generated.map((id) => label + id);
          for (const id of ids) expect((await store.claim(id)).status).toBe("claimed");
          for (const id of ids) expect((await store.claim(id)).status).toBe("processing");
          const keys = await Promise.all(ids.map(storedKey));
          expect(new Set(keys).size).toBe(ids.length);
          for (const [n, key] of keys.entries()) {
            const plain = key === ids[n];
            expect(plain || /^hookline-sha256:[0-9a-f]{64}$/.test(key)).toBe(true);
            if (plain) expect(key).not.toMatch(/[\0\p{Cs}]/u); // no U+0000, no lone surrogate
          }
        }),
        { numRuns: 25 },
      );
    }, 60_000); // up to 600 sequential statements: seconds on a loaded machine

    it("keeps ids up to 2 000 bytes readable, as written; longer ones as a fixed-size hash", async () => {
      const store = postgresStore({ client: database().client, table: database().table });
      const longest = randomHex(MAX_PLAIN_KEY_BYTES); // incompressible: the largest index entry there can be
      const multiByte = "é".repeat(MAX_PLAIN_KEY_BYTES / 2);
      const tooLong = `${longest}x`;
      for (const id of [longest, multiByte, tooLong, "msg_2LxSvcvXD8fJp6q", "emoji 🦊 and ünïcode"]) {
        expect((await store.claim(id)).status).toBe("claimed");
      }
      const stored = async (key: string) =>
        (await sql(`SELECT count(*)::integer FROM ${quoted(database().table)} WHERE key = $1`, [key]))[0]?.[0];
      for (const id of [longest, multiByte, "msg_2LxSvcvXD8fJp6q", "emoji 🦊 and ünïcode"]) {
        expect(await stored(id)).toBe(1);
      }
      expect(await stored(tooLong)).toBe(0);
      const hashed = await storedKey(tooLong);
      expect(hashed).toMatch(/^hookline-sha256:[0-9a-f]{64}$/);
      expect(await stored(hashed)).toBe(1);

      // The dead-letter index holds the id with a timestamp: the longest plain id fits there too.
      const letters = postgresDeadLetters({ client: database().client, table: database().deadLetterTable });
      const letter: DeadLetter = {
        id: longest,
        type: "t",
        payload: "{}",
        error: { name: "Error", message: "" },
        attempts: 1,
        firstFailedAt: Date.now(),
        lastFailedAt: Date.now(),
      };
      await letters.put(letter);
      expect(await letters.get(longest)).toStrictEqual(letter);
      expect(await letters.delete(longest)).toBe(true);
    });

    /** A table of the test's own, dropped after `use`, so that other tests' letters and shape checks never see it. */
    async function ownTable(use: (table: string) => Promise<void>) {
      const table = `${database().schema}.keys_${crypto.randomUUID().slice(0, 8)}`;
      try {
        await use(table);
      } finally {
        await sql(`DROP TABLE IF EXISTS ${quoted(table)}`);
      }
    }

    it("dead-letters, lists and replays each id exactly as it came", () =>
      ownTable(async (table) => {
        const letters = postgresDeadLetters({ client: database().client, table });
        await letters.migrate();
        const ids = Object.values(await awkwardIds(`letters-${crypto.randomUUID()}`));
        const letterOf = (id: string, n: number): DeadLetter => ({
          id,
          type: "invoice.paid",
          payload: "{}",
          error: { name: "Error", message: `failure ${n}` },
          attempts: 1,
          firstFailedAt: 1_000 + n,
          lastFailedAt: 1_000 + n,
        });
        for (const [n, id] of ids.entries()) await letters.put(letterOf(id, n));
        for (const [n, id] of ids.entries()) expect(await letters.get(id)).toStrictEqual(letterOf(id, n));
        expect((await letters.list({ limit: ids.length })).map((letter) => letter.id)).toEqual(ids);

        await letters.put(letterOf(ids[0]!, 0)); // a second failure merges into the same letter
        expect((await letters.get(ids[0]!))?.attempts).toBe(2);
        for (const id of ids) expect(await letters.delete(id)).toBe(true);
        for (const id of ids) expect(await letters.get(id)).toBeUndefined();
      }));

    it("processes a delivery whose id is 5 000 bytes or holds U+0000 once, and dead-letters and replays it", async () => {
      const secret = generateSecret();
      const store = postgresStore({ client: database().client, table: database().table });
      const deadLetters = postgresDeadLetters({ client: database().client, table: database().deadLetterTable });
      const runs = new Map<string, number>();
      let failing = false;
      const receiver = createReceiver({ secret, store, deadLetters, logger: recordingLogger() }).on(
        "invoice.paid",
        (event) => {
          runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
          if (failing) throw new Error("ledger down");
        },
      );
      const label = crypto.randomUUID();
      for (const id of [`msg_${label}_${randomHex(5_000)}`, `msg_${label}\0nul`]) {
        // receive(), as the Node adapters call it: a Fetch Headers object refuses U+0000, a header record does not.
        const deliver = async (messageId = id) => {
          const { headers, body } = signed(secret, messageId);
          const answer = await receiver.receive({ method: "POST", headers, body });
          return { status: answer.status, body: JSON.parse(answer.body) as unknown };
        };
        failing = false;
        expect(await deliver()).toEqual({ status: 200, body: { received: true } });
        expect(await deliver()).toEqual({ status: 200, body: { received: true, duplicate: true } });
        expect(runs.get(id)).toBe(1);

        failing = true;
        expect(await deliver(`${id}-2`)).toEqual({ status: 200, body: { received: true, deadLettered: true } });
        expect((await deadLetters.get(`${id}-2`))?.id).toBe(`${id}-2`);
        failing = false;
        expect(await receiver.replay(`${id}-2`)).toEqual({ status: "processed" });
        expect(await deadLetters.get(`${id}-2`)).toBeUndefined();
        expect(runs.get(`${id}-2`)).toBe(2);
      }
    });

    it("migrates a dead-letter table made by the previous version in place, keeping its letters", () =>
      ownTable(async (table) => {
        // The previous version's table, as its migrate() and sql/schema.sql created it.
        await sql(`CREATE TABLE ${quoted(table)} (
  id text PRIMARY KEY, type text NOT NULL, signed_at timestamptz, payload text NOT NULL, error_name text NOT NULL,
  error_message text NOT NULL, error_stack text, attempts integer NOT NULL, first_failed_at timestamptz NOT NULL,
  last_failed_at timestamptz NOT NULL
)`);
        await sql(`INSERT INTO ${quoted(table)} VALUES ('evt_old', 't', NULL, '{}', 'Error', 'old', NULL, 3,
  to_timestamp(1), to_timestamp(2))`);

        const letters = postgresDeadLetters({ client: database().client, table });
        await letters.migrate();
        await letters.migrate(); // idempotent on the upgraded table too
        expect(await letters.get("evt_old")).toStrictEqual({
          id: "evt_old",
          type: "t",
          payload: "{}",
          error: { name: "Error", message: "old" },
          attempts: 3,
          firstFailedAt: 1_000,
          lastFailedAt: 2_000,
        });
        const long = `evt_${randomHex(5_000)}\0`;
        await letters.put({ ...(await letters.get("evt_old"))!, id: long });
        expect((await letters.list()).map((letter) => letter.id)).toEqual(["evt_old", long]);
      }));
  });
}

/** `schema.table` quoted as the stores quote it. */
const quoted = (table: string) => tableName("table", table).sql;
