/**
 * A sender worker process of the chaos run: a pg Pool on DATABASE_URL, `postgresDeliveries` and `sender.start()`,
 * with a short schedule so that the run stays within minutes. Says `{ ready }` once started; "stop" stops it
 * cleanly (its exit code then says whether the pool ended).
 */
import { createSender } from "@hookline/core";
import pg from "pg";
import { postgresDeliveries } from "../src/index";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 8, connectionTimeoutMillis: 2_000 });
pool.on("error", () => {}); // connections dropped by the database's restart are replaced on the next query
const store = postgresDeliveries({ client: pool, tablePrefix: process.env.TABLE_PREFIX, timeoutMs: 2_000 });
const sender = createSender({
  store,
  allow: ["127.0.0.1/32"],
  timeoutMs: 1_000,
  leaseMs: 4_000,
  concurrency: 20,
  perEndpointConcurrency: 10,
  // 25 attempts: with 12% of answers failing, a delivery that exhausts would take a one-in-10^23 run.
  schedule: [0, 100, 200, 400, 800, ...Array.from({ length: 20 }, () => 1_000)],
  retryAfter: { minMs: 200 },
  disableAfter: false,
  logger: { info() {}, warn() {}, error() {} },
});
sender.start();
process.send?.({ ready: process.pid });

process.on("message", async (message) => {
  if (message !== "stop") return;
  await sender.stop();
  await pool.end();
  process.exit(0);
});
process.on("disconnect", () => process.exit(1)); // never outlive the test
