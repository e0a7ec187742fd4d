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
      { find: /^(\.\.?\/)+backend$/, replacement: source("./src/backend/node.ts") },
      { find: /^(\.\.?\/)+net$/, replacement: source("./src/net/node.ts") },
    ],
  },
});
