import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { signedDelivery } from "@hookline/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { smokeTest } from "../../smoke";

const dir = fileURLToPath(new URL("..", import.meta.url));
const next = createRequire(import.meta.url).resolve("next/dist/bin/next");
const secret = "whsec_c21va2UtdGVzdC1zZWNyZXQtZm9yLW5leHQtZXhhbXBsZQ==";
// CI=1 makes Next fail on a missing package instead of installing it (which would edit package.json), and
// NODE_ENV=production replaces vitest's "test", as under `pnpm build && pnpm start`.
// The secret is set for the build as well as the server: the Edge route's bundle may read `process.env` as it
// was when it was built (seen in CI), so a deployment sets it in both places.
const env = {
  ...process.env,
  NEXT_TELEMETRY_DISABLED: "1",
  CI: "1",
  NODE_ENV: "production" as const,
  WEBHOOK_SECRET: secret,
};

let server: ChildProcess | undefined;
let output = "";
let baseUrl = "";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const started = performance.now();
  await promisify(execFile)(process.execPath, [next, "build"], { cwd: dir, env, timeout: 240_000 }).catch((error) => {
    throw new Error(`next build failed:\n${error.stdout}\n${error.stderr}`, { cause: error });
  });
  console.log(`next build took ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const port = await freePort();
  server = spawn(process.execPath, [next, "start", "-H", "127.0.0.1", "-p", String(port)], { cwd: dir, env });
  server.stdout?.on("data", (chunk) => (output += chunk));
  server.stderr?.on("data", (chunk) => (output += chunk));
  const ready = new Promise<void>((resolve, reject) => {
    server?.stdout?.on("data", () => output.includes("Hookline: POST webhooks") && resolve());
    server?.once("exit", (code) => reject(new Error(`next start exited with ${code}:\n${output}`)));
    setTimeout(() => reject(new Error(`next start did not get ready within 30 s:\n${output}`)), 30_000).unref();
  });
  await ready;
  baseUrl = `http://127.0.0.1:${port}`;
}, 300_000);

afterAll(async () => {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server?.once("exit", resolve));
  server.kill("SIGTERM");
  const timer = setTimeout(() => server?.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
});

it("prints its URL and where to send webhooks on start", () => {
  expect(output).toContain(`Local:`);
  expect(output).toContain(baseUrl);
  expect(output).toContain("/api/webhooks (App Router) or /api/pages-webhooks (Pages Router)");
});

it("answers a signed event 200, its duplicate 200 duplicate and a tampered copy 401 on every route", async () => {
  const answers = await smokeTest(baseUrl, {
    secret,
    paths: ["/api/webhooks", "/api/edge-webhooks", "/api/pages-webhooks"],
    signedDelivery,
  });
  expect(answers.map(({ path, step, status }) => `${path} ${step} ${status}`)).toEqual([
    "/api/webhooks signed 200",
    "/api/webhooks duplicate 200",
    "/api/webhooks tampered 401",
    "/api/edge-webhooks signed 200",
    "/api/edge-webhooks duplicate 200",
    "/api/edge-webhooks tampered 401",
    "/api/pages-webhooks signed 200",
    "/api/pages-webhooks duplicate 200",
    "/api/pages-webhooks tampered 401",
  ]);
  expect(output).toContain("invoice in_smoke paid: 4200 cents");
});

const post = (path: string, { headers, body }: Awaited<ReturnType<typeof signedDelivery>>) =>
  fetch(`${baseUrl}${path}`, { method: "POST", headers, body: body as BodyInit });

it("refuses an event signed with another secret, and one that fails its schema", async () => {
  const event = { type: "invoice.paid", data: { id: "in_forged", amountCents: 1 } };
  const forged = await post("/api/pages-webhooks", await signedDelivery({ secret: "whsec_b3RoZXItc2VjcmV0", event }));
  expect(forged.status).toBe(401);

  const invalid = await signedDelivery({ secret, event: { type: "invoice.paid", data: { id: 7 } } });
  const answer = await post("/api/webhooks", invalid);
  expect(answer.status).toBe(400);
  expect(await answer.json()).toMatchObject({ error: { code: "invalid_event" } });
});
