import { defineProject } from "vitest/config";

export default defineProject({
  // `next build` takes about a minute on two cores; the server start and the deliveries take seconds.
  test: { name: "example: next", include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 300_000 },
});
