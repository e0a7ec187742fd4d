import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// The sources as they are: the WebCrypto backend and the fetch transport, as on Workers and browsers.
export default defineProject({
  test: {
    name: "core (webcrypto)",
    include: ["test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"] },
  },
  resolve: {
    alias: [
      { find: /^@hookline\/core$/, replacement: source("./src/index.ts") },
      // The testing kit from its sources: @hookline/testing depends on the core, so the core cannot list it as a
      // devDependency (a cycle in the build graph); its own "@hookline/core" import lands on the alias above.
      { find: /^@hookline\/testing$/, replacement: source("../testing/src/index.ts") },
    ],
  },
});
