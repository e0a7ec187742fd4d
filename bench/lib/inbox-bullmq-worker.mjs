// One worker process of the `inbox-bullmq` suite (`fork`): a receiver with no secret on `bullmqInbox`, working it
// (`receiver.work`), whose handler counts the events and keeps each one's wait from its enqueue (`receivedAt`) to
// the handler's start.
//
//   fork("lib/inbox-bullmq-worker.mjs", [JSON.stringify({ redisUrl, prefix, concurrency })])
//
// Messages: "ready" once working; "count" → `{ count, waits }` (and the waits are cleared); "stop" → stops and exits.
import { createReceiver } from "@hookline/core";
import { bullmqInbox } from "@hookline/redis/bullmq";
import { Redis } from "ioredis";

const { redisUrl, prefix, concurrency } = JSON.parse(process.argv[2]);
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
const inbox = bullmqInbox({ connection, prefix });
let count = 0;
let waits = [];
const receiver = createReceiver({ inbox, logger: { info() {}, warn() {}, error() {} } }).on(
  "bench.event",
  (_event, context) => {
    waits.push(Date.now() - context.receivedAt.getTime());
    count++;
  },
);
receiver.work({ concurrency });
process.send("ready");
process.on("message", async (message) => {
  if (message === "count") {
    process.send({ count, waits });
    waits = [];
  } else if (message === "stop") {
    await receiver.stop();
    await inbox.close();
    connection.disconnect();
    process.exit(0);
  }
});
