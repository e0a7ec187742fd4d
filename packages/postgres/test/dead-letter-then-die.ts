/**
 * An inbox worker that dies with SIGKILL at the worst point for a failing event: its handler wrote on `tx` and
 * threw, the run's transaction was rolled back, and the dead letter is about to be written. Before dying it reports
 * what it saw then over IPC: the handler's write gone, the event still `pending` with no attempt recorded.
 */
import { createReceiver, type DeadLetterStore } from "@hookline/core";
import pg from "pg";
import { postgresDeadLetters, postgresInbox } from "../src/index";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
pool.on("error", () => {});
const inbox = postgresInbox({ client: pool, table: process.env.INBOX_TABLE as string });
const deadLetters: DeadLetterStore = {
  ...postgresDeadLetters({ client: pool, table: process.env.DEAD_LETTER_TABLE as string }),
  async put(letter) {
    const written = await pool.query(`SELECT count(*)::int AS n FROM ${process.env.LEDGER_TABLE} WHERE event_id = $1`, [
      letter.id,
    ]);
    const stored = await inbox.get(letter.id);
    process.send?.({ dying: letter.id, written: written.rows[0].n, stored }, () =>
      process.kill(process.pid, "SIGKILL"),
    );
    await new Promise(() => {}); // never written
  },
};
createReceiver({ inbox, deadLetters, schedule: [10], logger: { info() {}, warn() {}, error() {} } })
  .on("ledger.entry", async (event, { tx }) => {
    await (tx as pg.PoolClient).query(`INSERT INTO ${process.env.LEDGER_TABLE} (event_id, amount) VALUES ($1, 1)`, [
      event.id,
    ]);
    throw new Error("declined for good");
  })
  .work({ concurrency: 1, leaseMs: Number(process.env.LEASE_MS) });
