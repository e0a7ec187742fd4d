/**
 * One receiver instance as its own process (started by `startReceiverProcess`): a Node http server on
 * 127.0.0.1:0 with a pg Pool, `postgresStore` and a handler that records each event it processes in the
 * `PROCESSED_TABLE`, with its pid, so that a test can count across processes. It reports its port over IPC.
 *
 * Messages from the test: "stop" closes it cleanly; "hang" makes every handler that has not yet recorded its
 * event hang (each reports `{ hung: id }`), so that a kill -9 lands while handlers hold claims. The receiver's
 * warnings and errors are reported as `{ warning }`.
 */
import { createServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { createReceiver } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import pg from "pg";
import { postgresStore } from "../src/index";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const send = (message: unknown) => process.send?.(message);

const pool = new pg.Pool({ connectionString: env("DATABASE_URL"), max: 20 });
pool.on("error", () => {});
const store = postgresStore({ client: pool, table: env("TABLE"), leaseMs: Number(env("LEASE_MS")) });
const processed = env("PROCESSED_TABLE");
let hanging = false;

const receiver = createReceiver({
  secret: env("WEBHOOK_SECRET"),
  store,
  // Warnings and errors go to the test: a claim that expired while its handler ran would explain a duplicate.
  logger: {
    info() {},
    warn: (_, message) => send({ warning: message }),
    error: (_, message) => send({ warning: message }),
  },
}).onAny(async (event) => {
  await sleep(Math.random() * 10);
  if (hanging) {
    send({ hung: event.id });
    await new Promise(() => {});
  }
  await pool.query(`INSERT INTO ${processed} (id, pid) VALUES ($1, $2)`, [event.id, process.pid]);
});

const server = createServer(nodeHandler(receiver));
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  send({ port: typeof address === "object" && address ? address.port : 0 });
});

process.on("message", (message) => {
  if (message === "hang") {
    hanging = true;
    send("hanging");
  }
  if (message === "stop") {
    server.closeAllConnections();
    server.close(() => void pool.end().finally(() => process.exit(0)));
  }
});
// Never outlive the test that started this process.
process.on("disconnect", () => process.exit(1));
