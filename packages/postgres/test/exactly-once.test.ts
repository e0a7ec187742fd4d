import { setTimeout as sleep } from "node:timers/promises";
import { createReceiver, generateSecret } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresStore } from "../src/index";
import { pgDatabase } from "./databases";
import { type Answer, answerOf, deliverUntilAcknowledged, inParallel, type Message, signedMessage } from "./delivery";
import { type ReceiverProcess, startReceiverProcess } from "./receiver-processes";

const url = serviceUrl("DATABASE_URL");
const EVENTS = 500;
const COPIES = 3;

/** How the final answers of every delivery split: the one that processed each event, and its duplicates. */
function tally(finals: Answer[]) {
  const bodies = finals.map((answer) => JSON.parse(answer.body) as { duplicate?: boolean });
  return {
    processed: bodies.filter((body) => !body.duplicate).length,
    duplicates: bodies.filter((body) => body.duplicate).length,
  };
}

describe.skipIf(!url)("exactly once across instances sharing one PostgreSQL server", () => {
  let database: Awaited<ReturnType<typeof pgDatabase>>;
  const secret = generateSecret();
  let messages: Message[];
  beforeAll(async () => {
    database = await pgDatabase(url!);
    messages = await Promise.all(Array.from({ length: EVENTS }, () => signedMessage(secret)));
  });
  afterAll(() => database?.close());

  it("two receivers with their own pg Pools process each of 500 events once, each delivered 3 times at once", async () => {
    const pools = [0, 1].map(() => new pg.Pool({ connectionString: url, max: 10 }));
    try {
      const runs = new Map<string, number>();
      const table = `${database.schema}.two_pools`;
      await postgresStore({ client: pools[0]!, table }).migrate();
      const receivers = pools.map((pool) =>
        createReceiver({
          secret,
          store: postgresStore({ client: pool, table }),
          logger: { info() {}, warn() {}, error() {} },
        }).onAny(async (event) => {
          await sleep(Math.random() * 5);
          runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
        }),
      );

      // Copies of one event go to alternating instances, and each retry to the other one; the copies of an event
      // are in flight together.
      const deliveries = messages.flatMap((message, index) =>
        Array.from(
          { length: COPIES },
          (_, copy) => () =>
            deliverUntilAcknowledged((n) =>
              receivers[(index * COPIES + copy + n) % 2]!.handle(message.request()).then(answerOf),
            ),
        ),
      );
      const outcomes = await inParallel(deliveries, 90);

      expect(runs.size).toBe(EVENTS);
      expect([...runs.values()].filter((count) => count !== 1)).toEqual([]);
      expect(tally(outcomes.map((answers) => answers.at(-1)!))).toEqual({
        processed: EVENTS,
        duplicates: EVENTS * (COPIES - 1),
      });
      const inFlight = outcomes.flat().filter((answer) => answer.status === 409);
      expect(inFlight.length).toBeGreaterThan(0); // the copies really did race
      expect(inFlight.every((answer) => Number(answer.retryAfter) >= 1)).toBe(true);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  }, 60_000);

  it("one of two receiver processes killed (-9) mid-run: nothing processed twice, everything processed", async () => {
    const table = `${database.schema}.two_processes`;
    const processed = `${database.schema}.processed`;
    await postgresStore({ client: database.pool, table }).migrate();
    await database.pool.query(`CREATE TABLE ${processed} (id text NOT NULL, pid integer NOT NULL)`);
    const env = {
      DATABASE_URL: url!,
      TABLE: table,
      PROCESSED_TABLE: processed,
      WEBHOOK_SECRET: secret,
      LEASE_MS: "3000",
    };
    const instances: ReceiverProcess[] = [];
    try {
      instances.push(await startReceiverProcess(env));
      instances.push(await startReceiverProcess(env));
      const [doomed, survivor] = instances as [ReceiverProcess, ReceiverProcess];
      const post = (instance: ReceiverProcess, message: Message) =>
        fetch(`http://127.0.0.1:${instance.port}/webhooks`, {
          method: "POST",
          headers: message.headers,
          body: message.body,
          signal: AbortSignal.timeout(5_000),
        }).then(answerOf);

      let acknowledged = 0;
      const tasks = messages.flatMap((message, index) =>
        Array.from({ length: COPIES }, (_, copy) => async () => {
          const answers = await deliverUntilAcknowledged(
            (n) => post(instances[(index * COPIES + copy + n) % 2]!, message),
            {
              attempts: 400,
            },
          );
          acknowledged++;
          return answers;
        }),
      );
      const crash = (async () => {
        while (acknowledged < (EVENTS * COPIES) / 4) await sleep(5);
        await doomed.hang();
        await sleep(200); // handlers past the hang point finish recording and completing
        await doomed.kill();
      })();
      const outcomes = await inParallel(tasks, 60);
      await crash;

      const { rows } = await database.pool.query<{ id: string; times: number; pids: number[] }>(
        `SELECT id, count(*)::int AS times, array_agg(pid) AS pids FROM ${processed} GROUP BY id`,
      );
      // A handler slower than the 3 s lease would be run again by design; that would be the machine, not the store.
      const warnings = [...doomed.warnings, ...survivor.warnings];
      expect(warnings.filter((warning) => warning.startsWith("The claim expired"))).toEqual([]);
      expect(rows).toHaveLength(EVENTS);
      expect(rows.filter((row) => row.times !== 1)).toEqual([]);
      expect(new Set(rows.map((row) => row.id))).toEqual(new Set(messages.map((message) => message.id)));
      // The killed instance held claims on these when it died; the survivor took them over once the leases ended.
      expect(doomed.hung.size).toBeGreaterThan(0);
      for (const row of rows.filter((row) => doomed.hung.has(row.id))) expect(row.pids).toEqual([survivor.pid]);
      expect(tally(outcomes.map((answers) => answers.at(-1)!))).toEqual({
        processed: EVENTS,
        duplicates: EVENTS * (COPIES - 1),
      });
    } finally {
      await Promise.all(instances.map((instance) => instance.stop()));
    }
  }, 60_000);
});
