import type { DeadLetter, DeadLetterStore } from "@hookline/core";
import { type LuaScript, type RedisClient, scriptRunner } from "./scripts";

/** Options of {@link redisDeadLetters}. */
export interface RedisDeadLettersOptions {
  /** A connected ioredis or node-redis client (or cluster); see `redisStore` for the options that fail fast. */
  client: RedisClient;
  /**
   * Put before the three keys. They share the hash tag `{letters}` so that each script's keys are in one
   * Cluster slot; a prefix with its own hash tag (such as `"app:{app-dead-letters}:"`) chooses the slot.
   * @default "hookline:dead-letters:"
   */
  prefix?: string;
  /**
   * How long to wait for Redis before rejecting (a `put` that rejects makes the receiver answer 500, so that
   * the sender delivers again).
   * @default 2_000
   */
  timeoutMs?: number;
}

// KEYS: the letters hash (id → JSON), the attempts hash (id → count), the first-failure sorted set (id by ms).

/** Replaces the letter, adds to its attempts, and keeps its first failure time (ZADD NX), in one step. */
const PUT: LuaScript = {
  source: `redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
redis.call("HINCRBY", KEYS[2], ARGV[1], ARGV[3])
redis.call("ZADD", KEYS[3], "NX", ARGV[4], ARGV[1])
return 1`,
};

const GET: LuaScript = {
  source: `return {
  redis.call("HGET", KEYS[1], ARGV[1]),
  redis.call("HGET", KEYS[2], ARGV[1]),
  redis.call("ZSCORE", KEYS[3], ARGV[1])
}`,
};

/** The oldest first failures: letter, attempts and first failure time for each. */
const LIST: LuaScript = {
  source: `local ids = redis.call("ZRANGE", KEYS[3], 0, tonumber(ARGV[1]) - 1, "WITHSCORES")
local letters = {}
for i = 1, #ids, 2 do
  table.insert(letters, redis.call("HGET", KEYS[1], ids[i]) or "")
  table.insert(letters, redis.call("HGET", KEYS[2], ids[i]) or "0")
  table.insert(letters, ids[i + 1])
end
return letters`,
};

const DELETE: LuaScript = {
  source: `redis.call("HDEL", KEYS[2], ARGV[1])
redis.call("ZREM", KEYS[3], ARGV[1])
return redis.call("HDEL", KEYS[1], ARGV[1])`,
};

/** The stored letter with its authoritative attempts and first failure time (set in place, keeping key order). */
function letterFrom(json: unknown, attempts: unknown, firstFailedAt: unknown): DeadLetter | undefined {
  if (typeof json !== "string" || json === "") return undefined;
  const letter = JSON.parse(json) as DeadLetter;
  letter.attempts = Number(attempts);
  letter.firstFailedAt = Number(firstFailedAt);
  return letter;
}

/**
 * Dead letters in Redis: a hash of letters, a hash of attempt counts and a sorted set by first failure, all in
 * one Cluster slot. Each method is one Lua script, so a `put` merges atomically even when two instances fail
 * the same event at once. Letters stay until deleted (or replayed).
 *
 * @example
 * const deadLetters = redisDeadLetters({ client });
 * const receiver = createReceiver({ secret, store: redisStore({ client }), deadLetters });
 */
export function redisDeadLetters(options: RedisDeadLettersOptions): DeadLetterStore {
  const prefix = options.prefix ?? "hookline:dead-letters:";
  const keys = [`${prefix}{letters}`, `${prefix}{letters}:attempts`, `${prefix}{letters}:first-failed`];
  const run = scriptRunner(options.client, options.timeoutMs ?? 2_000);

  return {
    async put(letter) {
      await run(PUT, keys, [letter.id, JSON.stringify(letter), String(letter.attempts), String(letter.firstFailedAt)]);
    },

    async get(id) {
      const [json, attempts, firstFailedAt] = (await run(GET, keys, [id])) as unknown[];
      return letterFrom(json, attempts, firstFailedAt);
    },

    async list({ limit = 100 } = {}) {
      const count = Math.floor(limit);
      if (!(count > 0)) return [];
      const flat = (await run(LIST, keys, [String(count)])) as unknown[];
      const letters: DeadLetter[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        const letter = letterFrom(flat[i], flat[i + 1], flat[i + 2]);
        if (letter) letters.push(letter);
      }
      return letters;
    },

    async delete(id) {
      return Number(await run(DELETE, keys, [id])) === 1;
    },
  } satisfies DeadLetterStore;
}
