import { Cluster, Redis } from "ioredis";
import { createClient, createClientPool, createCluster } from "redis";
import { describe, expectTypeOf, it } from "vitest";
import { type RedisClient, redisDeadLetters, redisStore } from "../src";

describe("the client option", () => {
  it("takes ioredis clients and clusters", () => {
    expectTypeOf(new Redis()).toExtend<RedisClient>();
    expectTypeOf(new Cluster([])).toExtend<RedisClient>();
    redisStore({ client: new Redis({ keyPrefix: "app:" }) });
    redisDeadLetters({ client: new Cluster([]) });
  });

  it("takes node-redis clients, clusters and pools, including RESP3 ones and ones with modules", () => {
    expectTypeOf(createClient()).toExtend<RedisClient>();
    expectTypeOf(createClient({ RESP: 3 })).toExtend<RedisClient>();
    expectTypeOf(createCluster({ rootNodes: [] })).toExtend<RedisClient>();
    expectTypeOf(createClientPool()).toExtend<RedisClient>();
    redisStore({ client: createClient() });
    redisDeadLetters({ client: createCluster({ rootNodes: [] }) });
  });

  it("refuses anything else", () => {
    expectTypeOf({ get: async (key: string) => key }).not.toExtend<RedisClient>();
    // @ts-expect-error not a Redis client
    redisStore({ client: {} });
  });
});
