// One worker process of the `durable-postgres` suite (`fork`), in one of two modes:
// - "engine": `createSender` on `postgresDeliveries`, started: the PostgreSQL engine's whole path (claim with
//   FOR UPDATE SKIP LOCKED, attempt, settle with the attempt log, LISTEN/NOTIFY wake-up);
// - "floor": a bare loop over a one-table queue: claim a batch with `FOR UPDATE SKIP LOCKED` under a lease, make
//   the same attempt (`deliver`: sign, POST, read the answer) from the row, mark the row done; polls when idle.
//
//   fork("lib/durable-postgres-worker.mjs", [JSON.stringify({ mode, url, prefix, concurrency, … })])
//
// Messages: it sends "ready" once working; after "stop", once what it holds is settled, it sends the CPU time it
// used while working (user + system, µs) and exits.
import { createDeliveryAgent, createSender } from "@hookline/core";
import { postgresDeliveries } from "@hookline/postgres";
import pg from "pg";
import { serveUntilStop } from "./processes.mjs";

const { mode, url, prefix, concurrency, perEndpointConcurrency, timeoutMs, secret } = JSON.parse(process.argv[2]);
const pool = new pg.Pool({ connectionString: url, max: 20 });
const allow = ["127.0.0.1/32"];
let stop;

if (mode === "engine") {
  const sender = createSender({
    store: postgresDeliveries({ client: pool, tablePrefix: prefix }),
    allow,
    concurrency,
    perEndpointConcurrency,
    timeoutMs,
    leaseMs: timeoutMs + 15_000,
    schedule: [0, ...Array.from({ length: 20 }, () => 1_000)],
    retryAfter: { maxFactor: 2, minMs: 1_000 },
    logger: { info() {}, warn() {}, error() {} },
  });
  sender.start();
  stop = () => sender.stop();
} else {
  const agent = createDeliveryAgent({ allow });
  const table = `${prefix}floor`;
  const inFlight = new Set();
  let stopped = false;
  const attempt = async ({ id, url: target, payload, message_id }) => {
    const result = await agent.deliver({ url: target, payload, id: message_id, secret, timeoutMs });
    if (result.outcome.kind === "success") await pool.query(`UPDATE ${table} SET done = true WHERE id = $1`, [id]);
  };
  const loop = async () => {
    while (!stopped) {
      const free = concurrency - inFlight.size;
      const { rows } =
        free > 0
          ? await pool.query(
              `UPDATE ${table} SET lease_until = now() + interval '30 seconds'
               WHERE id IN (SELECT id FROM ${table} WHERE NOT done AND lease_until < now()
                 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING id, url, payload, message_id`,
              [free],
            )
          : { rows: [] };
      for (const row of rows) {
        const running = attempt(row).finally(() => inFlight.delete(running));
        inFlight.add(running);
      }
      if (rows.length === 0) await new Promise((resolve) => setTimeout(resolve, inFlight.size >= concurrency ? 1 : 5));
    }
  };
  const looping = loop();
  stop = async () => {
    stopped = true;
    await looping;
    await Promise.all(inFlight);
    await agent.close();
  };
}

serveUntilStop({ stop: () => stop(), close: () => pool.end() });
