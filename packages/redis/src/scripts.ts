import { HooklineError } from "@hookline/core";

/**
 * An ioredis 5 client or cluster (`new Redis(…)`, `new Cluster(…)`). Only `evalsha` and `eval` are used, so
 * any object with these two methods in ioredis's shape fits.
 */
export interface IoRedisClient {
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/**
 * A node-redis 5 client, cluster or pool (`createClient`, `createCluster`, `createClientPool`), connected.
 * Only `evalSha` and `eval` are used, so any object with these two methods in node-redis's shape fits.
 */
export interface NodeRedisClient {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** The clients the Redis stores accept: ioredis or node-redis, told apart by `evalSha` (node-redis only). */
export type RedisClient = IoRedisClient | NodeRedisClient;

/** A Lua script, run by its SHA-1 so that its body crosses the wire once per server, not once per call. */
export interface LuaScript {
  source: string;
  sha?: Promise<string>;
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

function sha1(source: string): Promise<string> {
  return crypto.subtle.digest("SHA-1", new TextEncoder().encode(source)).then((digest) => {
    let hex = "";
    for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, "0");
    return hex;
  });
}

const noScript = (error: unknown) => error instanceof Error && error.message.startsWith("NOSCRIPT");

function isNodeRedis(client: RedisClient): client is NodeRedisClient {
  return typeof (client as Partial<NodeRedisClient>).evalSha === "function";
}

/**
 * One EVALSHA per call; on NOSCRIPT (a restarted or new server, a failover, a `SCRIPT FLUSH`) the same call
 * falls back to EVAL, which also loads the script for the next calls.
 */
export function scriptRunner(client: RedisClient, timeoutMs?: number): ScriptRunner {
  if (timeoutMs !== undefined) positive("timeoutMs", timeoutMs, MAX_TIMER_MS);
  let evalSha: (sha: string, keys: string[], args: string[]) => Promise<unknown>;
  let evalSource: (source: string, keys: string[], args: string[]) => Promise<unknown>;
  if (isNodeRedis(client)) {
    evalSha = (sha, keys, args) => client.evalSha(sha, { keys, arguments: args });
    evalSource = (source, keys, args) => client.eval(source, { keys, arguments: args });
  } else if (typeof client?.evalsha === "function" && typeof client.eval === "function") {
    evalSha = (sha, keys, args) => client.evalsha(sha, keys.length, ...keys, ...args);
    evalSource = (source, keys, args) => client.eval(source, keys.length, ...keys, ...args);
  } else {
    throw new HooklineError("invalid_option", "client must be an ioredis or a node-redis client");
  }

  async function run(script: LuaScript, keys: string[], args: string[]) {
    script.sha ??= sha1(script.source);
    try {
      return await evalSha(await script.sha, keys, args);
    } catch (error) {
      if (!noScript(error)) throw error;
      return evalSource(script.source, keys, args);
    }
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
