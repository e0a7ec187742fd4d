/**
 * A worker process of the inbox chaos run: no HTTP, only the inbox, the dead letters and one handler that writes
 * the event's ledger row on the inbox's transaction (`tx`), then waits a little (so that a kill -9 often lands
 * between its write and the commit). Events whose data says `fail` always throw. Reports `{ ready }` over IPC.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createReceiver } from "@hookline/core";
import pg from "pg";
import { postgresDeadLetters, postgresInbox } from "../src/index";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 12 });
pool.on("error", () => {});
const receiver = createReceiver({
  secret: process.env.WEBHOOK_SECRET as string,
  inbox: postgresInbox({ client: pool, table: process.env.INBOX_TABLE as string, pollMs: 500 }),
  deadLetters: postgresDeadLetters({ client: pool, table: process.env.DEAD_LETTER_TABLE as string }),
  schedule: [100, 100],
  logger: { info() {}, warn() {}, error() {} },
}).on("ledger.entry", async (event, { tx }) => {
  const data = event.data as { amount: number; fail?: boolean };
  if (data.fail) throw new Error("designed to fail");
  await (tx as pg.PoolClient).query(`INSERT INTO ${process.env.LEDGER_TABLE} (event_id, amount) VALUES ($1, $2)`, [
    event.id,
    data.amount,
  ]);
  await sleep(Math.floor(Math.random() * 20));
});
receiver.work({ concurrency: 8, leaseMs: 3_000 });
process.send?.({ ready: true });
process.on("disconnect", () => process.exit(1));
