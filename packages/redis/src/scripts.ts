import { HooklineError } from "@hookline/core";

/**
 * An ioredis 5 client or cluster (`new Redis(…)`, `new Cluster(…)`). Only `eval` is called (`evalsha` tells
 * ioredis apart from node-redis), so any object with these two methods in ioredis's shape fits.
 */
export interface IoRedisClient {
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/**
 * A node-redis 5 client, cluster or pool (`createClient`, `createCluster`, `createClientPool`), connected.
 * Only `eval` is called (`evalSha` tells node-redis apart from ioredis), so any object with these two methods
 * in node-redis's shape fits.
 */
export interface NodeRedisClient {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** The clients the Redis stores accept: ioredis or node-redis, told apart by `evalSha` (node-redis only). */
export type RedisClient = IoRedisClient | NodeRedisClient;

/** A Lua script of a store. */
export interface LuaScript {
  source: string;
}

/** Runs a script with its keys (all in one Cluster slot) and arguments; rejects after `timeoutMs`, if given. */
export type ScriptRunner = (script: LuaScript, keys: string[], args: string[]) => Promise<unknown>;

const MAX_TIMER_MS = 2_147_483_647;

/** `value`, if it is a positive number up to `max`; otherwise throws `invalid_option` naming the option. */
export function positive(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw new HooklineError("invalid_option", `${name} must be a positive number up to ${max}, got ${value}`);
  }
  return value;
}

function isNodeRedis(client: RedisClient): client is NodeRedisClient {
  return typeof (client as Partial<NodeRedisClient>).evalSha === "function";
}

/**
 * One EVAL per call, carrying the script's source (Redis caches the compiled script by its SHA-1, so only the few
 * hundred bytes of source cost anything). Never EVALSHA: on NOSCRIPT (a restarted server, a failover, a
 * `SCRIPT FLUSH`, or simply a script's first use on this server) its EVAL fallback would go out a round trip
 * late, behind commands sent after it. A release sent right behind a claim that timed out would then run after a
 * retry's claim, which would find the key taken and wait a whole lease. With EVAL, Redis runs each connection's
 * commands in the order they were sent, always.
 */
export function scriptRunner(client: RedisClient, timeoutMs?: number): ScriptRunner {
  if (timeoutMs !== undefined) positive("timeoutMs", timeoutMs, MAX_TIMER_MS);
  // Async, so that a client that throws (rather than rejects) still makes the call reject.
  let run: (script: LuaScript, keys: string[], args: string[]) => Promise<unknown>;
  if (isNodeRedis(client)) {
    run = async (script, keys, args) => client.eval(script.source, { keys, arguments: args });
  } else if (typeof client?.evalsha === "function" && typeof client.eval === "function") {
    run = async (script, keys, args) => client.eval(script.source, keys.length, ...keys, ...args);
  } else {
    throw new HooklineError("invalid_option", "client must be an ioredis or a node-redis client");
  }

  if (timeoutMs === undefined) return run;
  return (script, keys, args) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const message = `Redis did not answer within ${timeoutMs} ms`;
        reject(new HooklineError("store_unavailable", `${message} (is it down? see "Failing fast" in the README)`));
      }, timeoutMs);
    });
    return Promise.race([run(script, keys, args), timeout]).finally(() => clearTimeout(timer));
  };
}
