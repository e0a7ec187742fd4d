import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("..", import.meta.url));

describe("the contracts under another runner", () => {
  it("node:test runs the store and dead-letter contracts, every test passing", async () => {
    expect(existsSync(`${packageDir}dist/index.js`), "build @hookline/testing first (pnpm build)").toBe(true);
    const { stdout } = await run(
      process.execPath,
      ["--test", "--test-reporter=tap", fileURLToPath(new URL("runners/node-test.mjs", import.meta.url))],
      { cwd: packageDir, timeout: 60_000 },
    );
    expect(stdout).toContain("# Subtest: IdempotencyStore contract: memory");
    expect(stdout).toContain("# Subtest: gives exactly one of 100 concurrent claims");
    const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, "m").exec(stdout)?.[1]);
    expect(count("tests")).toBeGreaterThanOrEqual(10);
    expect(count("pass")).toBe(count("tests"));
  });
});
