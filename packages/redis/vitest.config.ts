import { configDefaults, defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "redis",
    include: ["test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, "test/**/*.chaos.test.ts"], // in vitest.chaos.config.ts
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"] },
  },
});
