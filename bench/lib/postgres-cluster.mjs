// A PostgreSQL cluster of a suite's own (the durable suites'), with the durability settings at their defaults
// (fsync and synchronous_commit on; the test services run with fsync off), and the settings to print with results.
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./processes.mjs";

const execute = promisify(execFile);

/** initdb/pg_ctl as the postgres user when we are root (PostgreSQL refuses to run as root). */
function asPostgres(tool, args) {
  if (process.getuid?.() !== 0) return execute(tool, args, { timeout: 120_000 });
  const quote = (word) => `'${word.replaceAll("'", `'\\''`)}'`;
  return execute("su", ["postgres", "-s", "/bin/sh", "-c", [tool, ...args].map(quote).join(" ")], { timeout: 120_000 });
}

/** A PostgreSQL cluster of the suite's own, with the durability settings left at their defaults (on). */
export async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), "hookline-bench-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  await asPostgres("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200`;
  await asPostgres("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-o", options, "start"]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The settings that decide what a durable figure means, as the cluster reports them. */
export async function postgresSettings(pool) {
  const settings = {};
  for (const name of ["server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes"]) {
    settings[name] = (await pool.query(`SHOW ${name}`)).rows[0][name];
  }
  return settings;
}
