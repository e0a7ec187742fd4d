import { type ClaimResult, claimToken, type IdempotencyStore } from "@hookline/core";
import { type LuaScript, positive, type RedisClient, scriptRunner } from "./scripts";

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /**
   * A connected ioredis or node-redis client (or cluster). Make it fail fast while Redis is down
   * (ioredis: `enableOfflineQueue: false, maxRetriesPerRequest: 1`; node-redis: `disableOfflineQueue: true`),
   * so that a delivery gets 503 at once instead of after `timeoutMs`.
   */
  client: RedisClient;
  /**
   * Put before every message id to make its key. One key per message id, so ids spread over a Cluster.
   * @default "hookline:idempotency:"
   */
  prefix?: string;
  /**
   * How long a claim holds before another delivery may take it over (a crashed handler's claim frees itself).
   * Keep it longer than your slowest handler.
   * @default 60_000 (one minute)
   */
  leaseMs?: number;
  /**
   * How long a processed message id is remembered. Cover the sender's whole retry window.
   * @default 259_200_000 (three days, the Standard Webhooks retry schedule)
   */
  retentionMs?: number;
  /**
   * How long to wait for Redis before rejecting, so that the receiver answers 503 instead of hanging when
   * Redis is down or stalled. When a claim times out, the store also sends a release of it, so that the claim
   * cannot linger for a whole lease if Redis runs it late.
   * @default 2_000
   */
  timeoutMs?: number;
}

/**
 * A claim: absent → claimed for the lease; claimed → processing, with the lease left; done → done.
 * Values are `claimed:<token>` or `done`, so no token a caller passes can ever match a done key.
 */
const CLAIM: LuaScript = {
  source: `local value = redis.call("GET", KEYS[1])
if not value then
  redis.call("SET", KEYS[1], "claimed:" .. ARGV[1], "PX", ARGV[2])
  return {"claimed"}
end
if value == "done" then return {"done"} end
return {"processing", redis.call("PTTL", KEYS[1])}`,
};

/** Marks the key done for the retention, only while this token holds the claim. */
const COMPLETE: LuaScript = {
  source: `if redis.call("GET", KEYS[1]) ~= "claimed:" .. ARGV[1] then return 0 end
redis.call("SET", KEYS[1], "done", "PX", ARGV[2])
return 1`,
};

/** Drops the claim, only while this token holds it. */
const RELEASE: LuaScript = {
  source: `if redis.call("GET", KEYS[1]) ~= "claimed:" .. ARGV[1] then return 0 end
return redis.call("DEL", KEYS[1])`,
};

const milliseconds = (ms: number) => String(Math.ceil(ms));

/**
 * An idempotency store on Redis, shared by every receiver instance. Each operation is one Lua script on one
 * key (one round trip, atomic, Cluster-safe), sent as EVAL so that it runs in the order it was sent.
 *
 * @example
 * import { Redis } from "ioredis";
 * const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
 * await client.connect();
 * const receiver = createReceiver({ secret, store: redisStore({ client }) });
 */
export function redisStore(options: RedisStoreOptions): IdempotencyStore {
  const prefix = options.prefix ?? "hookline:idempotency:";
  const defaultLease = positive("leaseMs", options.leaseMs ?? 60_000);
  const defaultRetention = positive("retentionMs", options.retentionMs ?? 3 * 24 * 60 * 60 * 1000);
  const run = scriptRunner(options.client, options.timeoutMs ?? 2_000);

  return {
    async claim(key, leaseMs = defaultLease): Promise<ClaimResult> {
      const token = claimToken();
      const reply = await run(CLAIM, [prefix + key], [token, milliseconds(leaseMs)]).catch((error: unknown) => {
        // If Redis runs the claim late, the release queued behind it drops it rather than leaving it for a lease.
        run(RELEASE, [prefix + key], [token]).catch(() => {});
        throw error;
      });
      const [status, leaseLeft] = (Array.isArray(reply) ? reply : []) as [string?, number?];
      if (status === "claimed") return { status, token };
      if (status === "done") return { status };
      if (status === "processing") return { status, retryAfterMs: Math.max(1, Number(leaseLeft)) };
      throw new Error(`Unexpected reply to a claim from Redis: ${JSON.stringify(reply)}`);
    },

    async complete(key, token, retentionMs = defaultRetention) {
      return Number(await run(COMPLETE, [prefix + key], [token, milliseconds(retentionMs)])) === 1;
    },

    async release(key, token) {
      return Number(await run(RELEASE, [prefix + key], [token])) === 1;
    },
  } satisfies IdempotencyStore;
}
