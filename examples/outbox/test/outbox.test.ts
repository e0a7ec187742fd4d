import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

it("the outbox example: a committed order is delivered once, a rolled-back one never, a redelivery is a duplicate", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["outbox.mjs"], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    timeout: 50_000,
  });
  expect(stdout).toMatch(/✔ ord_1 committed with its webhook +→ message order-created-ord_1/);
  expect(stdout).toMatch(/✔ ord_2 rolled back: no order, no webhook +→ card declined/);
  expect(stdout).toMatch(/✔ orders delivered it +→ delivered, 1 attempt\(s\)/);
  expect(stdout).toMatch(/✔ billing's first run failed, the retry wrote +→ processed after 2 runs/);
  expect(stdout).toMatch(
    /✔ delivered again: a duplicate, one invoice +→ \[\{"order_id":"ord_1","customer":"acme","total_cents":4200\}\]/,
  );
  expect(stdout).not.toContain("✘");
  expect(stdout).toContain("Every outbox check held.");
});
