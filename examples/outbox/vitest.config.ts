import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "example: outbox", include: ["test/**/*.test.ts"], testTimeout: 60_000 },
});
