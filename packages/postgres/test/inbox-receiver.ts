/**
 * A receiver process of the inbox chaos run: a Hookline receiver on 127.0.0.1:0 whose inbox is PostgreSQL. It
 * runs no handler: it verifies, stores and answers. Reports `{ port }` over IPC.
 */
import { createServer } from "node:http";
import { createReceiver } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import pg from "pg";
import { postgresInbox } from "../src/index";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 8 });
pool.on("error", () => {});
const receiver = createReceiver({
  secret: process.env.WEBHOOK_SECRET as string,
  inbox: postgresInbox({ client: pool, table: process.env.INBOX_TABLE as string, timeoutMs: 2_000 }),
  logger: { info() {}, warn() {}, error() {} },
});
const server = createServer(nodeHandler(receiver));
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.send?.({ port: typeof address === "object" && address ? address.port : 0 });
});
process.on("disconnect", () => process.exit(1));
