import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** A receiver running in its own process (see receiver-process.ts). */
export interface ReceiverProcess {
  pid: number;
  port: number;
  /** Ids whose handler hung after `hang()`. */
  hung: Set<string>;
  /** What the receiver warned about (a claim expiring while its handler ran, say). */
  warnings: string[];
  /** Makes every handler that has not yet recorded its event hang, and resolves once that holds. */
  hang(): Promise<void>;
  /** kill -9. */
  kill(): Promise<void>;
  /** Closes the server and its pool; kill -9 if it takes over five seconds. */
  stop(): Promise<void>;
}

const source = fileURLToPath(new URL("./receiver-process.ts", import.meta.url));
// Bundled with the store's current sources; kept under node_modules so that pg and @hookline/core resolve.
const bundle = fileURLToPath(
  new URL("../node_modules/.cache/hookline-postgres-test/receiver-process.mjs", import.meta.url),
);
let bundled: Promise<unknown> | undefined;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Starts one receiver process; `env` carries DATABASE_URL, TABLE, PROCESSED_TABLE, WEBHOOK_SECRET, LEASE_MS. */
export async function startReceiverProcess(env: Record<string, string>): Promise<ReceiverProcess> {
  bundled ??= build({
    entryPoints: [source],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    logLevel: "silent",
  });
  await bundled;
  const child = fork(bundle, [], {
    env: { ...process.env, ...env },
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const hung = new Set<string>();
  const warnings: string[] = [];
  let hanging: (() => void) | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("The receiver process did not start within 15 s")), 15_000);
    child.once("exit", (code, signal) => reject(new Error(`The receiver process exited (${code ?? signal})`)));
    child.on("message", (message: { port?: number; hung?: string; warning?: string } | string) => {
      if (message === "hanging") hanging?.();
      else if (typeof message === "object" && message.hung) hung.add(message.hung);
      else if (typeof message === "object" && message.warning) warnings.push(message.warning);
      else if (typeof message === "object" && message.port) {
        clearTimeout(timer);
        resolve(message.port);
      }
    });
  });

  return {
    pid: child.pid ?? 0,
    port,
    hung,
    warnings,
    hang: () =>
      new Promise<void>((resolve) => {
        hanging = resolve;
        child.send("hang");
      }),
    async kill() {
      child.kill("SIGKILL");
      await exited(child);
    },
    async stop() {
      if (child.connected) child.send("stop");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited(child);
      clearTimeout(timer);
    },
  };
}
