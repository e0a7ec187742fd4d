// One worker process of the `durable-bullmq` suite (`fork`), in one of two modes:
// - "engine": `createSender` on `bullmqDeliveries`, started: the BullMQ engine's whole path (claim, attempt,
//   settle, next job);
// - "floor": a bare BullMQ `Worker` whose processor makes the same attempt (`deliver`: sign, POST, read the answer)
//   from the job's own data, with nothing stored: what BullMQ and the POST cost on their own.
//
//   fork("lib/durable-bullmq-worker.mjs", [JSON.stringify({ mode, redisUrl, prefix, concurrency, … })])
//
// Messages: it sends "ready" once working; after "stop", once what it holds is settled, it sends the CPU time it
// used while working (user + system, µs) and exits.
import { createDeliveryAgent, createSender } from "@hookline/core";
import { bullmqDeliveries } from "@hookline/redis/bullmq";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { serveUntilStop } from "./processes.mjs";

const { mode, redisUrl, prefix, concurrency, perEndpointConcurrency, timeoutMs } = JSON.parse(process.argv[2]);
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
const allow = ["127.0.0.1/32"];
let stop;

if (mode === "engine") {
  const store = bullmqDeliveries({ connection, prefix });
  const sender = createSender({
    store,
    allow,
    concurrency,
    perEndpointConcurrency,
    timeoutMs,
    schedule: [0, ...Array.from({ length: 20 }, () => 1_000)],
    retryAfter: { maxFactor: 2, minMs: 1_000 },
    logger: { info() {}, warn() {}, error() {} },
  });
  sender.start();
  stop = async () => {
    await sender.stop();
    await store.close();
  };
} else {
  const agent = createDeliveryAgent({ allow });
  const worker = new Worker(
    "floor",
    async (job) => {
      const { url, payload, id, secret } = job.data;
      const result = await agent.deliver({ url, payload, id, secret, timeoutMs });
      if (result.outcome.kind !== "success") throw new Error(`attempt failed: ${result.status ?? result.error}`);
    },
    { connection, prefix, concurrency },
  );
  await worker.waitUntilReady();
  stop = async () => {
    await worker.close();
    await agent.close();
  };
}

serveUntilStop({ stop: () => stop(), close: async () => connection.disconnect() });
