/**
 * Starts an example server (`node <script>`) as a child process and resolves once it prints
 * `Listening on <url> (webhooks at <path>)`. Shared by the Express, Fastify and Hono examples' smoke tests, next to
 * `smoke.ts`; like it, this file belongs to no package and uses Node built-ins only.
 *
 * The child gets the test's environment without `WEBHOOK_SECRET`, `PORT` and `HOST` (so nothing leaks in from the
 * shell), `PORT=0` so that it takes a free port, plus `options.env`.
 *
 * @example
 * const app = await startExample(new URL("../server.mjs", import.meta.url), { env: { WEBHOOK_SECRET: secret } });
 * try {
 *   await smokeTest(app.url, { secret, paths: [app.webhookPath], signedDelivery });
 * } finally {
 *   await app.stop();
 * }
 */
import { spawn } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** A started example. */
export interface RunningExample {
  /** The base URL it printed, such as `http://127.0.0.1:41234`. */
  url: string;
  /** The webhook route it printed, such as `/webhooks`. */
  webhookPath: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link startExample}. */
export interface StartExampleOptions {
  /** Added to the environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /**
   * Arguments after the script, such as `["listen", "--port", "0"]` for a command-line tool.
   * @default []
   */
  args?: string[];
  /**
   * The child's working directory.
   * @default the script's folder
   */
  cwd?: string;
  /**
   * How long it may take to print its URL, in milliseconds.
   * @default 15_000
   */
  timeoutMs?: number;
}

const LISTENING = /Listening on (http:\/\/\S+) \(webhooks at (\/\S*)\)/;

export async function startExample(script: URL, options: StartExampleOptions = {}): Promise<RunningExample> {
  const { WEBHOOK_SECRET: _secret, PORT: _port, HOST: _host, ...inherited } = process.env;
  const env = Object.fromEntries(
    Object.entries({ ...inherited, PORT: "0", ...options.env }).filter(([, value]) => value !== undefined),
  ) as NodeJS.ProcessEnv;
  const path = fileURLToPath(script);
  const child = spawn(process.execPath, [path, ...(options.args ?? [])], {
    cwd: options.cwd ?? dirname(path),
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };

  const timeoutMs = options.timeoutMs ?? 15_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const [, url, webhookPath] = await new Promise<RegExpMatchArray>((resolve, reject) => {
      child.stdout.on("data", () => {
        const match = LISTENING.exec(output);
        if (match) resolve(match);
      });
      child.once("error", reject);
      child.once("exit", (code, signal) =>
        reject(new Error(`${path} exited (${signal ?? code}) before listening:\n${output}`)),
      );
      timer = setTimeout(
        () => reject(new Error(`${path} printed no "Listening on" line within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
    });
    return { url: url!, webhookPath: webhookPath!, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
