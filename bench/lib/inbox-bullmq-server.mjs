// The ingest side of the `inbox-bullmq` suite, run as a child process (`fork`): one node:http server on 127.0.0.1
// with two routes over the same connection to the suite's redis-server:
// - `/inbox`: a Hookline receiver on `bullmqInbox` (verify, parse, store the event and add its job; no handler);
// - `/floor`: the bare BullMQ floor: read the raw body and `queue.add` it, nothing verified or deduplicated.
//
//   fork("lib/inbox-bullmq-server.mjs", [JSON.stringify({ secret, redisUrl, prefix })])
//
// Messages: it sends `{ port }` once listening.
import { createServer } from "node:http";
import { createReceiver } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { bullmqInbox } from "@hookline/redis/bullmq";
import { Queue } from "bullmq";
import { Redis } from "ioredis";

const { secret, redisUrl, prefix } = JSON.parse(process.argv[2]);
const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
const quiet = { info() {}, warn() {}, error() {} };
const inbox = nodeHandler(createReceiver({ secret, inbox: bullmqInbox({ connection, prefix }), logger: quiet }));
const queue = new Queue("floor", { connection, prefix });
const JOB = { removeOnComplete: true, removeOnFail: true };

const server = createServer((request, response) => {
  if (request.url === "/inbox") return inbox(request, response);
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", async () => {
    await queue.add("event", { payload: Buffer.concat(chunks).toString() }, JOB);
    response.writeHead(200, { "content-type": "application/json" }).end('{"received":true}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
