import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunningExample, startExample } from "../../../examples/start-example";

/** The built executable, run as `node dist/bin.js` the way the `hookline` bin runs it. */
export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `hookline …` to completion; WEBHOOK_SECRET is removed from the environment unless given. */
export function hookline(
  args: string[],
  options: { cwd?: string; input?: string | Uint8Array; env?: Record<string, string> } = {},
): Promise<Run> {
  const { WEBHOOK_SECRET: _secret, ...env } = process.env;
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdin.end(options.input);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A `hookline listen` process on a free port, started like the examples' servers. */
export type Listening = RunningExample;

export function startListen(args: string[], cwd: string): Promise<Listening> {
  return startExample(new URL("../dist/bin.js", import.meta.url), { args: ["listen", "--port", "0", ...args], cwd });
}

/** A scratch folder, removed by the returned function. */
export async function scratch(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `hookline-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
