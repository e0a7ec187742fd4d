import { defineProject } from "vitest/config";

// The kit's own tests run against @hookline/core as built (dist/), the way its users import it.
export default defineProject({
  test: {
    name: "testing",
    include: ["test/**/*.test.ts"],
  },
});
