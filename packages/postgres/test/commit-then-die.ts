/**
 * Sends one message inside a transaction on a pg PoolClient, COMMITs, and kills itself with SIGKILL at once: no
 * cleanup, no NOTIFY sent after the fact, no worker of its own. The test then checks that another process
 * delivers it. Reports the message id over IPC just before the COMMIT.
 */
import { createSender } from "@hookline/core";
import pg from "pg";
import { postgresDeliveries } from "../src/index";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
const store = postgresDeliveries({ client: pool, tablePrefix: process.env.TABLE_PREFIX as string });
const sender = createSender({ store, allow: ["127.0.0.1/32"] });

const client = await pool.connect();
await client.query("BEGIN");
const { messageId } = await sender.send("order.created", { order: process.pid }, { tx: client });
await new Promise((resolve) => process.send?.({ messageId }, resolve));
await client.query("COMMIT");
process.kill(process.pid, "SIGKILL");
