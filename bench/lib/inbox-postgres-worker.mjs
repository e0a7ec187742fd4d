// One worker process of the `inbox-postgres` suite (`fork`): `receiver.work()` on `postgresInbox`, with a
// transactional handler that writes one ledger row on `tx` (the row and the processed mark commit together).
// It records, per event, the time from the enqueue (the event's `sentAt`, this machine's clock) to its handler's
// start.
//
//   fork("lib/inbox-postgres-worker.mjs", [JSON.stringify({ url, table, ledger, concurrency })])
//
// Messages: "ready" once working; after "stop", once its events in flight are settled, `{ cpuUs, waitsMs }`.
import { createReceiver } from "@hookline/core";
import { postgresInbox } from "@hookline/postgres";
import pg from "pg";
import { serveUntilStop } from "./processes.mjs";

const { url, table, ledger, concurrency } = JSON.parse(process.argv[2]);
const pool = new pg.Pool({ connectionString: url, max: concurrency + 2 });
const waitsMs = [];
const receiver = createReceiver({
  inbox: postgresInbox({ client: pool, table }),
  logger: { info() {}, warn() {}, error() {} },
}).on("bench.event", async (event, { tx }) => {
  waitsMs.push(Date.now() - event.data.sentAt);
  await tx.query(`INSERT INTO ${ledger} (event_id, amount) VALUES ($1, $2)`, [event.id, event.data.n]);
});
serveUntilStop({ stop: () => receiver.stop(), close: () => pool.end(), report: () => ({ waitsMs }) });
receiver.work({ concurrency });
