// The receiving side of the `send` suite, run as a child process (`fork`) so that the sender being measured does
// not share its event loop: a Hookline receiver (verify, JSON parse, memory idempotency store, one handler) over
// `nodeHandler` on 127.0.0.1 and a free port.
//
//   fork("lib/send-receiver.mjs", [JSON.stringify({ secret })])
//
// It sends `{ port }` once listening, answers "stats" with the receiver's counts, so that the suite can check that
// every delivery it counted was verified and processed once, and "gc" once it has collected its garbage.
import { createServer } from "node:http";
import { createReceiver, memoryStore } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";

const { secret } = JSON.parse(process.argv[2]);
const warnings = [];
const keep = (fields, message) => warnings.length < 20 && warnings.push({ message, fields });
let handled = 0;
const receiver = createReceiver({
  secret,
  store: memoryStore({ maxEntries: 2_000_000 }),
  logger: { info() {}, warn: keep, error: keep },
}).on("invoice.paid", () => {
  handled++;
});

const server = createServer(nodeHandler(receiver));
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1");
await new Promise((resolve, reject) => server.once("listening", resolve).once("error", reject));

process.on("message", (message) => {
  if (message === "stats") process.send({ stats: receiver.stats(), handled, warnings });
  // Before each run (forked with --expose-gc): the previous run's garbage is not collected during the next one.
  if (message === "gc") {
    globalThis.gc?.();
    process.send({ collected: true });
  }
});
// The suite's process went away: do not outlive it.
process.on("disconnect", () => process.exit(0));
process.send({ port: server.address().port });
