import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { generateSecret } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { build } from "esbuild";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Answer, deliverUntilAcknowledged, type Message, messages, sleep, tally } from "./deliveries";
import { deleteKeys, uniquePrefix } from "./redis-server";

const url = serviceUrl("REDIS_URL");
const packageDir = fileURLToPath(new URL("..", import.meta.url));

interface Instance {
  child: ChildProcess;
  url: string;
  /** Ids whose handler was held when SIGUSR1 came (claimed, never recorded). */
  held: string[];
}

/** Every receiver process started, so that clean-up kills them all even if one failed to start. */
const children: ChildProcess[] = [];

/** Starts a receiver process (the fixture, bundled from the sources) and waits for its port. */
async function startInstance(script: string, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ["--input-type=module", "--eval", script], {
    cwd: packageDir, // where the fixture's imports (ioredis, @hookline/core) resolve
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  process.once("exit", () => child.kill("SIGKILL"));
  const instance: Instance = { child, url: "", held: [] };
  let buffered = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the receiver process did not start")), 10_000);
    child.once("exit", (code) => reject(new Error(`the receiver process exited with ${code}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        const report = JSON.parse(line) as { port?: number; held?: string };
        if (report.held) instance.held.push(report.held);
        if (report.port) {
          instance.url = `http://127.0.0.1:${report.port}/webhooks`;
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  return instance;
}

async function post(target: string, message: Message): Promise<Answer> {
  try {
    const response = await fetch(target, { method: "POST", headers: message.headers, body: message.body });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } catch {
    return { status: 0, body: {} }; // the instance is gone: the connection was refused or reset
  }
}

describe.skipIf(!url)("receiver processes sharing one Redis, one killed mid-run", () => {
  const prefix = uniquePrefix("processes");
  const secret = generateSecret();
  const leaseMs = 1_000;
  const instances: Instance[] = [];
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(url!);
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL("fixtures/receiver-process.ts", import.meta.url))],
      bundle: true,
      platform: "node",
      format: "esm",
      packages: "external",
      write: false,
    });
    const script = bundle.outputFiles[0]!.text;
    const env = { REDIS_URL: url!, PREFIX: prefix, SECRET: secret, LEASE_MS: String(leaseMs) };
    instances.push(...(await Promise.all([startInstance(script, env), startInstance(script, env)])));
  }, 20_000);

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGKILL");
        await exited;
      }
    }
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it("processes every one of 500 ids exactly once after redelivery; the killed instance's claims expire and move over", async () => {
    const batch = await messages(secret, "crash", 500);
    const deliveries = batch.flatMap((message, n) => [0, 1, 2].map((copy) => ({ message, k: n * 3 + copy })));
    const [doomed, survivor] = instances as [Instance, Instance];
    const deadline = Date.now() + 25_000;
    let acknowledged = 0;
    let killed: Promise<void> | undefined;
    let acknowledgedAfterKill = 0;

    // Hold the doomed instance's unrecorded handlers, let the recorded ones complete, then SIGKILL it.
    const kill = async () => {
      doomed.child.kill("SIGUSR1");
      await sleep(100);
      const exited = once(doomed.child, "exit");
      doomed.child.kill("SIGKILL");
      await exited;
    };

    const answers: Answer[][] = [];
    const queue = deliveries.values();
    await Promise.all(
      Array.from({ length: 60 }, async () => {
        for (const { message, k } of queue) {
          const delivery = await deliverUntilAcknowledged(
            (attempt) => post(instances[(k + attempt) % 2]!.url, message),
            { deadline, waitMs: 50 },
          );
          answers.push(delivery);
          acknowledged++;
          if (killed) acknowledgedAfterKill++;
          if (acknowledged === 300) killed = kill();
        }
      }),
    );
    await killed;

    expect(doomed.child.signalCode).toBe("SIGKILL");
    expect(acknowledgedAfterKill).toBeGreaterThan(1000); // killed mid-run, not at the end
    expect(doomed.held.length).toBeGreaterThan(0); // it died holding claims

    const processed = await redis.hgetall(`${prefix}processed`);
    expect(Object.keys(processed)).toHaveLength(500);
    const twice = Object.entries(processed).filter(([, count]) => count !== "1");
    expect(twice).toEqual([]);
    for (const id of doomed.held) expect(processed[id]).toBe("1"); // taken over once its lease expired

    const counts = tally(answers.flat());
    expect(counts["0"]).toBeGreaterThan(0); // deliveries hit the dead instance and were redelivered
    expect(counts["409"]).toBeGreaterThan(0); // the held claims answered in flight until their lease ran out
    expect(survivor.child.exitCode).toBe(null);
  }, 40_000);
});
