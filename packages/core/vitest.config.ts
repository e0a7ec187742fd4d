import { defineProject } from "vitest/config";

// The sources as they are: the WebCrypto backend, as on Bun, Deno, Workers and browsers.
export default defineProject({
  test: {
    name: "core (webcrypto)",
    include: ["test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"] },
  },
});
