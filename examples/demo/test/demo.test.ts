import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = (script: string) =>
  promisify(execFile)(process.execPath, [script], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    timeout: 30_000,
  });

it("pnpm demo answers every scripted delivery, sends with retries, and exits 0 by itself", async () => {
  const { stdout } = await run("demo.mjs");
  expect(stdout).toMatch(/Receiver listening on http:\/\/127\.0\.0\.1:\d+\/webhooks/);
  expect(stdout).toContain('→ 200 {"received":true,"duplicate":true}');
  expect(stdout).toContain('→ 401 {"error":{"code":"no_matching_signature"');
  expect(stdout).toContain('→ 401 {"error":{"code":"timestamp_too_old"');
  expect(stdout).toContain('→ 200 {"received":true,"deadLettered":true}');
  expect(stdout).toContain("replay once the ledger is back");
  // The inbox half: queued answers, a duplicate, a 400 never queued, a retry in order, a dead letter.
  expect(stdout).toContain('→ 200 {"received":true,"queued":true}');
  expect(stdout).toContain("worker: msg_inbox_2 failed (ledger busy), runs again in 100 ms");
  expect(stdout).toMatch(/✔ in_7: paid, then voided on a retry +→ paid in_7, voided in_7/);
  expect(stdout).toMatch(/✔ in_gone: 3 runs, then a dead letter +→ no such invoice in the ledger/);
  // The sending half: retries with their delays, 410, the SSRF guard, a dead letter replayed.
  expect(stdout).toMatch(/flaky +attempt 1 → 503 \(pending, retry in 200 ms\)/);
  expect(stdout).toMatch(/flaky +attempt 2 → 503 \(pending, retry in 400 ms\)/);
  expect(stdout).toMatch(/flaky +attempt 3 → 200 \(delivered\)/);
  expect(stdout).toContain("✔ 410 Gone disables the endpoint");
  expect(stdout).toMatch(/✔ 127\.0\.0\.2 is not in allow: blocked +→ blocked, 0 connections/);
  expect(stdout).toMatch(/ledger +attempt 3 → 500 \(exhausted\)/);
  expect(stdout).toMatch(/✔ replay once the ledger is back +→ 1 requeued, delivered/);
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
