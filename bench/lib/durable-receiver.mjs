// The receiving side of the `durable-bullmq` suite, run as a child process (`fork`): a Hookline receiver (memory
// idempotency store) on 127.0.0.1 and a free port. Every path but `/hang` delivers; `/hang` never answers, so
// the sender's attempts to it run to their timeout.
//
//   fork("lib/durable-receiver.mjs", [JSON.stringify({ secret })])
//
// Messages: it sends `{ port }` once listening, and answers "counts" with the 2xx answers per path so far.
import { createServer } from "node:http";
import { createReceiver } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";

const { secret } = JSON.parse(process.argv[2]);
const quiet = { info() {}, warn() {}, error() {} };
const handle = nodeHandler(createReceiver({ secret, logger: quiet }).on("bench.event", () => {}));
const counts = {};

const server = createServer((request, response) => {
  if (request.url === "/hang") return; // held open until the sender gives up
  response.on("finish", () => {
    if (response.statusCode < 300) counts[request.url] = (counts[request.url] ?? 0) + 1;
  });
  handle(request, response);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
process.on("message", (message) => {
  if (message === "counts") process.send({ counts });
});
