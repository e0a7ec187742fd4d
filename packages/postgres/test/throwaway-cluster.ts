import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/** A free TCP port on 127.0.0.1 (nothing listens on it once this resolves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL tool as the postgres user when we are root (PostgreSQL refuses to run as root). */
function asPostgres(tool: string, args: string[]) {
  if (process.getuid?.() !== 0) return run(tool, args, { timeout: 60_000 });
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
  return run("su", ["postgres", "-s", "/bin/sh", "-c", [tool, ...args].map(quote).join(" ")], { timeout: 60_000 });
}

/**
 * Whether initdb and pg_ctl are on the PATH. When they are not, the throwaway-cluster suites skip loudly on a
 * developer's machine and fail under CI, like `serviceUrl`.
 */
export async function clusterToolsAvailable(): Promise<boolean> {
  const found = await Promise.all(
    ["initdb", "pg_ctl"].map((tool) =>
      run(tool, ["--version"]).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (found.every(Boolean)) return true;
  const ci = process.env.CI && process.env.CI !== "false" && process.env.CI !== "0";
  if (ci) throw new Error("initdb and pg_ctl are not on the PATH, and CI must run the outage suites");
  console.warn("\n⚠  initdb/pg_ctl not found: SKIPPING the suites that stop and freeze their own PostgreSQL.\n");
  return false;
}

/** A PostgreSQL cluster of our own, on a free loopback port, to stop, restart and freeze at will. */
export interface ThrowawayCluster {
  url: string;
  /** Crashes it (`pg_ctl -m immediate stop`): connections drop, new ones are refused. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the same data. */
  start(): Promise<void>;
  /** SIGSTOP to the postmaster and every backend: connections hang instead of failing. */
  freeze(): void;
  /** SIGCONT, backends first. */
  thaw(): void;
  /** Stops it and deletes its directory. */
  destroy(): Promise<void>;
}

export async function startThrowawayCluster(): Promise<ThrowawayCluster> {
  const directory = mkdtempSync(join(tmpdir(), "hookline-pg-"));
  chmodSync(directory, 0o777); // initdb runs as postgres and creates the data directory (and socket) here
  const data = join(directory, "data");
  const port = await freePort();
  let frozen: number[] = [];

  const start = async () => {
    await asPostgres("pg_ctl", [
      "-D",
      data,
      "-l",
      join(directory, "log"),
      "-w",
      "-o",
      `-p ${port} -k ${directory} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "start",
    ]);
  };
  const stop = async () => {
    await asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
  };
  const postmaster = () => Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  const children = (parent: number) =>
    readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          // The parent pid is the second field after the parenthesised command name.
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
          return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent;
        } catch {
          return false; // it exited meanwhile
        }
      })
      .map(Number);

  await asPostgres("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    freeze() {
      const parent = postmaster();
      process.kill(parent, "SIGSTOP"); // first, so that it forks no new backend meanwhile
      frozen = [parent, ...children(parent)];
      for (const pid of frozen.slice(1)) process.kill(pid, "SIGSTOP");
    },
    thaw() {
      for (const pid of frozen.reverse()) process.kill(pid, "SIGCONT");
      frozen = [];
    },
    async destroy() {
      for (const pid of frozen) process.kill(pid, "SIGCONT");
      await stop().catch(() => {});
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * A throwaway cluster and an admin pool on it for the suites of one `describe`: started before them (when the
 * tools are there), destroyed after. Read `cluster` and `admin` inside the tests.
 */
export function throwawayClusterForSuite(
  tools: boolean,
  {
    beforeAll,
    afterAll,
  }: { beforeAll(fn: () => Promise<void>, timeout?: number): void; afterAll(fn: () => Promise<void>): void },
  poolSize = 12,
): { readonly cluster: ThrowawayCluster; readonly admin: pg.Pool } {
  const held = {} as { cluster: ThrowawayCluster; admin: pg.Pool };
  beforeAll(async () => {
    if (!tools) return;
    held.cluster = await startThrowawayCluster();
    held.admin = new pg.Pool({ connectionString: held.cluster.url, max: poolSize, connectionTimeoutMillis: 2_000 });
    held.admin.on("error", () => {});
  }, 60_000);
  afterAll(async () => {
    await held.admin?.end().catch(() => {});
    await held.cluster?.destroy();
  });
  return held;
}
