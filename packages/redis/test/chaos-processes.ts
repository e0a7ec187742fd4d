import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/*
 * The separate OS processes of the chaos runs: fixtures bundled with esbuild and started with `node`, each
 * printing one JSON line once ready, killed with any signal, and every one of them killed when the run ends.
 */

const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Fixture processes of one chaos run. */
export function chaosProcesses() {
  // Inside node_modules, so that the bundles' imports (ioredis, bullmq, @hookline/core) resolve from there.
  const bundleDir = `${packageDir}node_modules/.cache/hookline-chaos-${crypto.randomUUID()}`;
  const children = new Set<ChildProcess>();

  /** Bundles `fixtures/<name>.ts` and resolves with the file to start. */
  async function bundle(name: string): Promise<string> {
    mkdirSync(bundleDir, { recursive: true });
    const result = await build({
      entryPoints: [fileURLToPath(new URL(`fixtures/${name}.ts`, import.meta.url))],
      bundle: true,
      platform: "node",
      format: "esm",
      packages: "external",
      write: false,
    });
    const file = `${bundleDir}/${name}.mjs`;
    writeFileSync(file, result.outputFiles[0]!.text);
    return file;
  }

  /** Starts `node file` and resolves with its first stdout line, parsed. */
  async function start(
    file: string,
    env: Record<string, string>,
  ): Promise<{ child: ChildProcess; ready: { port?: number } }> {
    const child = spawn(process.execPath, [file], {
      cwd: packageDir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.add(child);
    child.once("exit", () => children.delete(child));
    let buffered = "";
    const ready = await new Promise<{ port?: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file} did not start`)), 20_000);
      child.once("exit", (code) => reject(new Error(`${file} exited with ${code}`)));
      child.stdout!.on("data", (chunk: Buffer) => {
        buffered += chunk;
        const newline = buffered.indexOf("\n");
        if (newline >= 0) {
          clearTimeout(timer);
          child.stdout!.removeAllListeners("data").resume();
          resolve(JSON.parse(buffered.slice(0, newline)));
        }
      });
    });
    return { child, ready };
  }

  /** Kills every process still running and removes the bundles. */
  async function cleanUp() {
    await Promise.all([...children].map((child) => kill(child, "SIGKILL")));
    rmSync(bundleDir, { recursive: true, force: true });
  }

  return { bundle, start, cleanUp };
}

/** Sends `signal` and waits for the exit (at once when it has exited). */
export async function kill(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  await exited;
}
