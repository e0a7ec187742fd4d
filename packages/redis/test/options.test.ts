import { HooklineError } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisClient, redisDeadLetters, redisStore } from "../src";

describe("options", () => {
  const client = new Redis({ lazyConnect: true }); // a real client that never connects: only options are checked

  it("refuses a client that is neither ioredis nor node-redis", () => {
    const notAClient = { get: async () => null } as unknown as RedisClient;
    expect(() => redisStore({ client: notAClient })).toThrow(HooklineError);
    expect(() => redisDeadLetters({ client: notAClient })).toThrow(/ioredis or a node-redis client/);
  });

  it("refuses durations that are not positive numbers", () => {
    expect(() => redisStore({ client, leaseMs: 0 })).toThrow(/leaseMs/);
    expect(() => redisStore({ client, retentionMs: Number.NaN })).toThrow(/retentionMs/);
    expect(() => redisStore({ client, timeoutMs: -1 })).toThrow(/timeoutMs/);
    // setTimeout would fire at once past 2^31 - 1 ms.
    expect(() => redisDeadLetters({ client, timeoutMs: 2 ** 31 })).toThrow(/timeoutMs/);
  });
});

const url = serviceUrl("REDIS_URL");

describe.skipIf(!url)("defaults and key layout", () => {
  let redis: Redis;
  const id = `evt_defaults_${crypto.randomUUID()}`;

  beforeAll(() => {
    redis = new Redis(url!);
  });

  afterAll(async () => {
    await redis.del(`hookline:idempotency:${id}`);
    await redis.quit();
  });

  it("leases for one minute and retains for three days, as the memory store does, under hookline:idempotency:", async () => {
    const store = redisStore({ client: redis });
    const key = `hookline:idempotency:${id}`;
    const claim = await store.claim(id);
    if (claim.status !== "claimed") throw new Error(`expected a claim, got ${claim.status}`);
    expect(await redis.get(key)).toBe(`claimed:${claim.token}`);
    expect(await redis.pttl(key)).toBeGreaterThan(59_000);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(60_000);

    expect(await store.complete(id, claim.token)).toBe(true);
    expect(await redis.get(key)).toBe("done");
    expect(await redis.pttl(key)).toBeGreaterThan(259_200_000 - 60_000);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(259_200_000);
  });
});
