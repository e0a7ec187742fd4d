import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { sleep } from "./deliveries";

/** A free TCP port on 127.0.0.1 (nothing listens on it once this resolves). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** A key prefix no other run or test file shares. */
export const uniquePrefix = (label: string) => `hookline-test:${label}:${crypto.randomUUID()}:`;

/**
 * An ioredis and a node-redis client on `url` for the suite that calls this: connected before its tests, and after
 * them every key under `prefix` deleted and both closed. Read them inside tests (they are set in `beforeAll`).
 */
export function suiteClients(url: string, prefix: string) {
  const clients = {} as { ioredis: Redis; nodeRedis: ReturnType<typeof createClient> };
  beforeAll(async () => {
    clients.ioredis = new Redis(url);
    clients.nodeRedis = await createClient({ url }).connect();
  });
  afterAll(async () => {
    await deleteKeys(clients.ioredis, prefix);
    await clients.ioredis.quit();
    await clients.nodeRedis.close();
  });
  return clients;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length > 0) await client.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
}

/** A redis-server of a test's own on 127.0.0.1, to stop, pause and start again on the same port. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Starts it (again) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills it (SIGKILL, like a crash) and waits for the exit; its folder (and append-only file) stays. */
  crash(): Promise<void>;
  /** Kills it (SIGKILL, like a crash), waits for the exit and removes its folder. */
  kill(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Thaws it (SIGCONT). */
  resume(): void;
}

/**
 * Spawns `redis-server` (loopback only) as a child process. Call `kill` when done.
 * @param cluster start it as a one-node Redis Cluster owning every slot
 * @param appendfsync persist with the append-only file, synced this often (default: no persistence)
 */
export async function startRedisServer({
  cluster = false,
  appendfsync,
}: {
  cluster?: boolean;
  appendfsync?: "always" | "everysec";
} = {}): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const dir = join(tmpdir(), `hookline-redis-${port}-${crypto.randomUUID()}`);
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", ""];
  args.push(...(appendfsync ? ["--appendonly", "yes", "--appendfsync", appendfsync] : ["--appendonly", "no"]));
  args.push("--daemonize", "no", "--dir", dir);
  if (cluster) {
    args.push("--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf"));
    args.push("--cluster-announce-ip", "127.0.0.1"); // else it announces no address and clients cannot route
  }

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      mkdirSync(dir, { recursive: true });
      const started = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
      child = started;
      let output = "";
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 5_000);
        started.stdout?.on("data", (chunk: Buffer) => {
          output += chunk;
          if (output.includes("Ready to accept connections")) {
            clearTimeout(timer);
            started.stdout?.removeAllListeners("data").resume();
            resolve();
          }
        });
        started.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`redis-server exited with ${code}:\n${output}`));
        });
      });
      started.stderr?.resume();
    },
    async crash() {
      const running = child;
      child = undefined;
      if (running && running.exitCode === null && running.signalCode === null) {
        const exited = once(running, "exit");
        running.kill("SIGKILL");
        await exited;
      }
    },
    async kill() {
      await server.crash();
      rmSync(dir, { recursive: true, force: true });
    },
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
  };
  // Even if the test worker dies before its clean-up runs, no redis-server outlives it.
  process.once("exit", () => child?.kill("SIGKILL"));
  await server.start();
  if (cluster) {
    const admin = new Redis(server.url);
    await admin.cluster("ADDSLOTSRANGE", 0, 16383);
    while (!(await admin.cluster("INFO")).includes("cluster_state:ok")) await sleep(20);
    admin.disconnect();
  }
  return server;
}

/**
 * For a BullMQ engine's suite: a one-node Redis Cluster of its own, started before its tests and killed after
 * them, an ioredis `Cluster` on it (read `cluster` inside tests), and a test that the engine refuses a prefix
 * without a hash tag there. `slotsOf(prefix)` resolves the slots of every key under `prefix`.
 */
export function bullmqCluster(makeEngine: (connection: Cluster, prefix: string) => unknown) {
  const suite = {} as { cluster: Cluster; server: RedisServer };
  beforeAll(async () => {
    suite.server = await startRedisServer({ cluster: true });
    suite.cluster = new Cluster([{ host: "127.0.0.1", port: suite.server.port }], {
      redisOptions: { maxRetriesPerRequest: null },
    });
  }, 20_000);
  afterAll(async () => {
    suite.cluster?.disconnect();
    await suite.server?.kill();
  });
  it("refuses a prefix without a hash tag", () => {
    expect(() => makeEngine(suite.cluster, "hookline")).toThrow(/hash tag/);
  });
  return {
    get cluster() {
      return suite.cluster;
    },
    /** The slots of every key under `prefix`, and how many keys there are. */
    async slotsOf(prefix: string) {
      const keys = await suite.cluster.keys(`${prefix}:*`);
      const slots = new Set(await Promise.all(keys.map((key) => suite.cluster.cluster("KEYSLOT", key))));
      return { keys: keys.length, slots, expected: new Set([await suite.cluster.cluster("KEYSLOT", prefix)]) };
    },
  };
}
