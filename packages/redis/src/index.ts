/**
 * Redis stores for Hookline receivers: `redisStore` records which messages were processed (claims with a lease,
 * fenced by a token) and `redisDeadLetters` keeps the events whose handler failed. Both take a client you
 * create: ioredis 5 or node-redis 5, neither of which this package loads itself.
 *
 * @example
 * import { createReceiver } from "@hookline/core";
 * import { redisDeadLetters, redisStore } from "@hookline/redis";
 * import { Redis } from "ioredis";
 *
 * const client = new Redis(process.env.REDIS_URL!, {
 *   enableOfflineQueue: false, // reject at once while Redis is down: the receiver answers 503
 *   maxRetriesPerRequest: 1,
 *   lazyConnect: true,
 * });
 * await client.connect();
 * const receiver = createReceiver({
 *   secret: process.env.WEBHOOK_SECRET!,
 *   store: redisStore({ client }),
 *   deadLetters: redisDeadLetters({ client }),
 * });
 *
 * @module
 */
export { type RedisDeadLettersOptions, redisDeadLetters } from "./dead-letters";
export type { IoRedisClient, NodeRedisClient, RedisClient } from "./scripts";
export { type RedisStoreOptions, redisStore } from "./store";
