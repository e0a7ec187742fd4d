import { runDeadLetterContract, runStoreContract, serviceUrl } from "@hookline/testing";
import { Cluster } from "ioredis";
import { createCluster } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisClient, redisDeadLetters, redisStore } from "../src";
import { type RedisServer, startRedisServer } from "./redis-server";

// A one-node Redis Cluster of this file's own: it still refuses a command or script whose keys span slots
// (CROSSSLOT), so the contract suites passing here show every operation keeps to one slot.
const url = serviceUrl("REDIS_URL");

describe.skipIf(!url)("on a Redis Cluster", () => {
  let server: RedisServer;
  const clients: Record<string, RedisClient> = {};
  const closers: (() => unknown)[] = [];

  beforeAll(async () => {
    server = await startRedisServer({ cluster: true });

    const ioredis = new Cluster([{ host: "127.0.0.1", port: server.port }]);
    const nodeRedis = createCluster({ rootNodes: [{ url: server.url }] });
    await ioredis.ping();
    await nodeRedis.connect(); // awaited apart: a Promise.all tuple of these types costs tsc seconds
    Object.assign(clients, { "ioredis Cluster": ioredis, "node-redis cluster": nodeRedis });
    closers.push(
      () => ioredis.disconnect(),
      () => nodeRedis.destroy(),
    );
  }, 20_000);

  afterAll(async () => {
    for (const close of closers) close();
    await server?.kill();
  });

  it("refuses keys in two slots, so the suites below would catch a layout that needs them", async () => {
    const cluster = clients["ioredis Cluster"] as Cluster;
    await expect(cluster.eval("return 1", 2, "claim:a", "claim:b")).rejects.toThrow(/CROSSSLOT/);
  });

  // Every test works on keys of its own, so they all run at once: the lease and retention waits overlap.
  const runner = { describe, it: it.concurrent };
  for (const name of ["ioredis Cluster", "node-redis cluster"]) {
    runStoreContract(name, () => redisStore({ client: clients[name]! }), runner);
    runDeadLetterContract(name, () => redisDeadLetters({ client: clients[name]!, prefix: `${name}:` }), runner);
  }
});
