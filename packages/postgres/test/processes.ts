/**
 * Test processes: a TypeScript entry bundled with esbuild (once per entry and run) and forked with an IPC channel,
 * to kill -9, restart and talk to. Nothing here is specific to PostgreSQL: a chaos run on another engine can use
 * it as is.
 */
import { type ChildProcess, fork } from "node:child_process";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const bundles = new Map<string, Promise<string>>();

/** Bundles `entry` (a path or file URL) into node_modules/.cache so that its packages still resolve from here. */
function bundle(entry: string): Promise<string> {
  let built = bundles.get(entry);
  if (!built) {
    const outfile = fileURLToPath(
      new URL(`../node_modules/.cache/hookline-postgres-test/${basename(entry, ".ts")}.mjs`, import.meta.url),
    );
    built = build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      packages: "external",
      logLevel: "silent",
    }).then(() => outfile);
    bundles.set(entry, built);
  }
  return built;
}

/** A forked test process. */
export interface TestProcess {
  readonly pid: number;
  /** Every IPC message it sent, in order. */
  readonly messages: unknown[];
  send(message: unknown): void;
  /** Resolves with the first message (already received or to come) that `match` accepts. */
  message<T>(match: (message: unknown) => message is T, timeoutMs?: number): Promise<T>;
  /** Resolves with its exit code or signal. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** kill -9, resolved once it is gone. */
  kill(): Promise<void>;
}

/** Forks `entry` (bundled) with `env` added to this process's environment. */
export async function startProcess(entry: string, env: Record<string, string> = {}): Promise<TestProcess> {
  const file = await bundle(entry);
  const child: ChildProcess = fork(file, [], {
    env: { ...process.env, ...env },
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const messages: unknown[] = [];
  const waiting = new Set<() => void>();
  child.on("message", (message) => {
    messages.push(message);
    for (const check of waiting) check();
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once("exit", (code, signal) => {
      resolve(code ?? (signal as NodeJS.Signals));
      for (const check of waiting) check();
    }),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  return {
    pid: child.pid ?? 0,
    messages,
    exited,
    send(message) {
      if (child.connected) child.send(message as never);
    },
    message<T>(match: (message: unknown) => message is T, timeoutMs = 30_000) {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(check);
          reject(new Error(`No matching message from process ${child.pid} within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = () => {
          const found = messages.find(match);
          if (found !== undefined || gone) {
            clearTimeout(timer);
            waiting.delete(check);
            if (found !== undefined) resolve(found as T);
            else reject(new Error(`Process ${child.pid} exited without sending the message awaited`));
          }
        };
        waiting.add(check);
        check();
      });
    },
    async kill() {
      if (!gone) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** A message `{ [key]: … }` from a test process. */
export const has =
  <Key extends string>(key: Key) =>
  (message: unknown): message is Record<Key, unknown> =>
    typeof message === "object" && message !== null && key in message;
