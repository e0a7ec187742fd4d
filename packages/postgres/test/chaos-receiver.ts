/**
 * A receiver process of the chaos run: a Hookline receiver on 127.0.0.1:0 whose idempotency store is Redis
 * (shared by both receivers). It answers 500 to 10% of requests at random and never answers 2% (the sender's
 * timeout ends them); the rest go to the receiver. Reports `{ port }`, then `{ request: webhook-id }` for every
 * request and `{ processed: event id }` for every handler run, over IPC.
 */
import { createServer } from "node:http";
import { createReceiver } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { redisStore } from "@hookline/redis";
import { Redis } from "ioredis";

const redis = new Redis(process.env.REDIS_URL as string, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
const receiver = createReceiver({
  secret: process.env.WEBHOOK_SECRET as string,
  store: redisStore({ client: redis, prefix: process.env.REDIS_PREFIX as string }),
  logger: { info() {}, warn() {}, error() {} },
}).onAny((event) => {
  process.send?.({ processed: event.id });
});
// Both endpoints of this run reach one consumer, so a message's two deliveries meet in flight all the time: the
// second gets 409 in_flight with Retry-After, which the sender retries.
const handle = nodeHandler(receiver);

const server = createServer((request, response) => {
  process.send?.({ request: request.headers["webhook-id"] });
  const draw = Math.random();
  if (draw < 0.1) {
    request.resume();
    response.statusCode = 500;
    response.end("chaos");
  } else if (draw < 0.12) {
    request.resume(); // and no answer: the sender's timeout ends it
  } else {
    void handle(request, response);
  }
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.send?.({ port: typeof address === "object" && address ? address.port : 0 });
});
process.on("message", (message) => {
  if (message === "stop") {
    server.closeAllConnections();
    server.close(() => {
      redis.disconnect();
      process.exit(0);
    });
  }
});
process.on("disconnect", () => process.exit(1));
