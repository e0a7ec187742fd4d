import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Every package (and the core's second, node:crypto backend run) is one project.
    projects: ["packages/*/vitest*.config.ts", "examples/*/vitest.config.ts"],
  },
});
