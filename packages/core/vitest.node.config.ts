import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// The same tests with the node:crypto backend and the node:http transport swapped in, exactly as the `node` build
// does (tsup.config.ts).
export default defineProject({
  test: { name: "core (node)", include: ["test/**/*.test.ts"] },
  resolve: {
    alias: [
      { find: /^@hookline\/core$/, replacement: source("./src/index.ts") },
      // The testing kit from its sources: @hookline/testing depends on the core, so the core cannot list it as a
      // devDependency (a cycle in the build graph); its own "@hookline/core" import lands on the alias above.
      { find: /^@hookline\/testing$/, replacement: source("../testing/src/index.ts") },
      { find: /^(\.\.?\/)+backend$/, replacement: source("./src/backend/node.ts") },
      { find: /^(\.\.?\/)+net$/, replacement: source("./src/net/node.ts") },
    ],
  },
});
