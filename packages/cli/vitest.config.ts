import { defineProject } from "vitest/config";

// The tests run the built `dist/bin.js` as a person would (`pnpm test` builds first).
export default defineProject({
  test: { name: "cli", include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 },
});
