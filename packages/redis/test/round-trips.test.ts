import { createReceiver, generateSecret } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisClient, redisDeadLetters, redisStore } from "../src";
import { type Message, messages, quietLogger, sleep } from "./deliveries";
import { type RedisServer, startRedisServer } from "./redis-server";

const url = serviceUrl("REDIS_URL");

/**
 * The commands clients sent while `work` ran, as MONITOR on a server of this file's own sees them: top-level
 * only (not those a script runs), each as its lower-case name.
 */
async function commandsDuring(monitor: Redis, admin: Redis, work: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const record = (_time: string, args: string[], source: string) => {
    if (source !== "lua") seen.push(args.join(" "));
  };
  const marker = async () => {
    const text = `marker-${crypto.randomUUID()}`;
    await admin.echo(text);
    while (!seen.some((command) => command.endsWith(text))) await sleep(5);
    return seen.length;
  };
  monitor.on("monitor", record);
  try {
    const start = await marker();
    await work();
    const end = await marker();
    return seen.slice(start, end - 1).map((command) => command.split(" ")[0]!.toLowerCase());
  } finally {
    monitor.off("monitor", record);
  }
}

describe.skipIf(!url)("round trips", () => {
  let server: RedisServer;
  let admin: Redis;
  let monitor: Redis;
  const clients: { name: string; client: RedisClient; close(): unknown }[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url);
    monitor = await admin.monitor(); // a connection of its own
    const ioredis = new Redis(server.url);
    const nodeRedis = await createClient({ url: server.url }).connect();
    await ioredis.ping();
    clients.push(
      { name: "ioredis", client: ioredis, close: () => ioredis.disconnect() },
      { name: "node-redis", client: nodeRedis, close: () => nodeRedis.destroy() },
    );
  });

  afterAll(async () => {
    for (const { close } of clients) close();
    monitor?.disconnect();
    admin?.disconnect();
    await server?.kill();
  });

  for (const name of ["ioredis", "node-redis"]) {
    const use = () => clients.find((entry) => entry.name === name)!.client;

    describe(name, () => {
      it("claims and completes a new event in 2 commands, and answers a duplicate in 1", async () => {
        const store = redisStore({ client: use(), prefix: `${name}:store:` });
        // The first use of a script costs the same as every other: no EVALSHA, NOSCRIPT, EVAL.
        expect(
          await commandsDuring(monitor, admin, async () => {
            const claim = await store.claim("evt_new");
            expect(claim.status).toBe("claimed");
            if (claim.status === "claimed") expect(await store.complete("evt_new", claim.token)).toBe(true);
          }),
        ).toEqual(["eval", "eval"]);
        expect(await commandsDuring(monitor, admin, () => store.claim("evt_new"))).toEqual(["eval"]);
      });

      it("costs a receiver 2 commands for a new delivery and 1 for a duplicate", async () => {
        const secret = generateSecret();
        const store = redisStore({ client: use(), prefix: `${name}:receiver:` });
        const receiver = createReceiver({ secret, store, logger: quietLogger }).on("order.created", () => {});
        const [{ headers, body }] = (await messages(secret, `${name}-round-trips`, 1)) as [Message];
        const deliver = () =>
          receiver.handle(new Request("http://localhost/webhooks", { method: "POST", headers, body }));

        expect(await commandsDuring(monitor, admin, async () => expect((await deliver()).status).toBe(200))).toEqual([
          "eval",
          "eval",
        ]);
        expect(
          await commandsDuring(monitor, admin, async () =>
            expect(await (await deliver()).json()).toHaveProperty("duplicate"),
          ),
        ).toEqual(["eval"]);
      });

      it("sends the same one command when the server lost its scripts (restart, failover, SCRIPT FLUSH)", async () => {
        const store = redisStore({ client: use(), prefix: `${name}:flush:` });
        await store.claim("warm-up");
        await admin.script("FLUSH");
        expect(await commandsDuring(monitor, admin, () => store.claim("evt_after_flush"))).toEqual(["eval"]);
      });

      it("keeps each dead-letter operation to 1 command", async () => {
        const letters = redisDeadLetters({ client: use(), prefix: `${name}:dead-letters:` });
        const letter = {
          id: "evt_failed",
          type: "order.created",
          payload: "{}",
          error: { name: "Error", message: "boom" },
          attempts: 1,
          firstFailedAt: 1,
          lastFailedAt: 1,
        };
        await letters.put(letter);
        await letters.get("warm-up");
        await letters.list();
        await letters.delete("warm-up");
        expect(await commandsDuring(monitor, admin, () => letters.put(letter))).toEqual(["eval"]);
        expect(await commandsDuring(monitor, admin, () => letters.get(letter.id))).toEqual(["eval"]);
        expect(await commandsDuring(monitor, admin, () => letters.list())).toEqual(["eval"]);
        expect(await commandsDuring(monitor, admin, () => letters.delete(letter.id))).toEqual(["eval"]);
      });
    });
  }
});
