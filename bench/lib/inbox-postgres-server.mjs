// The ingest side of the `inbox-postgres` suite (`fork`): one node:http route on 127.0.0.1:0, in one of two modes:
// - "inbox": a Hookline receiver with `postgresInbox` through the Node bridge (`nodeHandler`): verify, parse,
//   one INSERT … ON CONFLICT DO NOTHING, NOTIFY, 200;
// - "floor": the same route reading the raw body and doing a bare INSERT of it, then 200 (no verification).
//
//   fork("lib/inbox-postgres-server.mjs", [JSON.stringify({ mode, url, table, secret })])
//
// Messages: `{ port }` once listening; after "stop" it sends the CPU time it used (µs) and exits.
import { createServer } from "node:http";
import { createReceiver } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { postgresInbox } from "@hookline/postgres";
import pg from "pg";

const { mode, url, table, secret } = JSON.parse(process.argv[2]);
const pool = new pg.Pool({ connectionString: url, max: 20 });
let handle;
if (mode === "inbox") {
  const inbox = postgresInbox({ client: pool, table });
  await inbox.migrate();
  handle = nodeHandler(createReceiver({ secret, inbox, logger: { info() {}, warn() {}, error() {} } }));
} else {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id bigserial PRIMARY KEY, body text NOT NULL)`);
  handle = async (request, response) => {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    await pool.query(`INSERT INTO ${table} (body) VALUES ($1)`, [Buffer.concat(chunks).toString("utf8")]);
    response.writeHead(200, { "content-type": "application/json" }).end('{"received":true}');
  };
}
const server = createServer((request, response) => void handle(request, response));
let cpuStart;
server.listen(0, "127.0.0.1", () => {
  cpuStart = process.cpuUsage();
  process.send({ port: server.address().port });
});
process.on("message", async (message) => {
  if (message !== "stop") return;
  const { user, system } = process.cpuUsage(cpuStart);
  server.close();
  await pool.end();
  process.send({ cpuUs: user + system }, () => process.exit(0));
});
