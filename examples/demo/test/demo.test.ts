import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = (script: string) =>
  promisify(execFile)(process.execPath, [script], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    timeout: 30_000,
  });

it("pnpm demo answers every scripted delivery as expected and exits 0", async () => {
  const { stdout } = await run("demo.mjs");
  expect(stdout).toMatch(/Receiver listening on http:\/\/127\.0\.0\.1:\d+\/webhooks/);
  expect(stdout).toContain('→ 200 {"received":true,"duplicate":true}');
  expect(stdout).toContain('→ 401 {"error":{"code":"no_matching_signature"');
  expect(stdout).toContain('→ 401 {"error":{"code":"timestamp_too_old"');
  expect(stdout).toContain('→ 200 {"received":true,"deadLettered":true}');
  expect(stdout).toContain("replay once the ledger is back");
  expect(stdout).not.toContain("✘");
  expect(stdout).toContain("All demo steps answered as expected.");
});

it("the schemes tour signs and verifies with every scheme", async () => {
  const { stdout } = await run("schemes.mjs");
  for (const scheme of [
    "Standard Webhooks v1 (HMAC)",
    "Standard Webhooks v1a (Ed25519)",
    "Stripe",
    "GitHub",
    "HMAC (Shopify style)",
  ]) {
    expect(stdout).toContain(scheme);
  }
  expect(stdout).not.toContain("✘");
  expect(stdout).toContain("All demo checks passed.");
});
