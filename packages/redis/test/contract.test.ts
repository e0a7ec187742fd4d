import { runDeadLetterContract, runStoreContract, serviceUrl } from "@hookline/testing";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type RedisClient, redisDeadLetters, redisStore } from "../src";
import { deleteKeys, uniquePrefix } from "./redis-server";

const url = serviceUrl("REDIS_URL");

describe.skipIf(!url)("the published contract suites on Redis", () => {
  const prefix = uniquePrefix("contract");
  const clients: Record<string, RedisClient> = {};
  const closers: (() => unknown)[] = [];
  let admin: Redis;

  beforeAll(async () => {
    admin = new Redis(url!);
    const ioredis = new Redis(url!);
    const nodeRedis = await createClient({ url: url! }).connect();
    const nodeRedis3 = await createClient({ url: url!, RESP: 3 }).connect();
    Object.assign(clients, { ioredis, "node-redis": nodeRedis, "node-redis, RESP3": nodeRedis3 });
    closers.push(
      () => ioredis.quit(),
      () => nodeRedis.close(),
      () => nodeRedis3.close(),
    );
  });

  afterAll(async () => {
    await deleteKeys(admin, prefix);
    await Promise.all(closers.map((close) => close()));
    await admin.quit();
  });

  // Every test works on keys of its own, so they all run at once: the lease and retention waits overlap.
  const runner = { describe, it: it.concurrent };
  for (const name of ["ioredis", "node-redis", "node-redis, RESP3"]) {
    const client = () => clients[name]!;
    runStoreContract(`redis (${name})`, () => redisStore({ client: client(), prefix: `${prefix}${name}:` }), runner);
    runDeadLetterContract(
      `redis (${name})`,
      () => redisDeadLetters({ client: client(), prefix: `${prefix}${name}:dead-letters:` }),
      runner,
    );
  }
});
