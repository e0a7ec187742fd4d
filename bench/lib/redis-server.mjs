// A redis-server of a suite's own, configured as production would be for durability (`appendonly yes`,
// `appendfsync everysec`, `maxmemory-policy noeviction`, no RDB snapshots), and the settings it runs with, read
// back with CONFIG GET so that they are printed and written with the results. Shared by the BullMQ suites.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./processes.mjs";

/** Starts redis-server (it must be on the PATH) on 127.0.0.1; `stop()` kills it and removes its folder. */
export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "hookline-bench-redis-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""];
  args.push("--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction");
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  await new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      output += chunk;
      if (output.includes("Ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  child.stdout.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGKILL");
      await once(child, "exit");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The server's version and durability settings, as it reports them. */
export async function redisSettings(connection) {
  const [appendonly, appendfsync, policy, info] = await Promise.all([
    connection.config("GET", "appendonly"),
    connection.config("GET", "appendfsync"),
    connection.config("GET", "maxmemory-policy"),
    connection.info("server"),
  ]);
  return {
    redis: /redis_version:(\S+)/.exec(info)?.[1],
    appendonly: appendonly[1],
    appendfsync: appendfsync[1],
    "maxmemory-policy": policy[1],
  };
}

/** `key=value …` of {@link redisSettings}, for the log. */
export const formatSettings = (settings) =>
  Object.entries(settings)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
