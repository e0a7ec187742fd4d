import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

// The same tests with the node:crypto backend swapped in, exactly as the `node` build does (tsup.config.ts).
export default defineProject({
  test: { name: "core (node)", include: ["test/**/*.test.ts"] },
  resolve: {
    alias: [
      { find: /^(\.\.?\/)+backend$/, replacement: fileURLToPath(new URL("./src/backend/node.ts", import.meta.url)) },
    ],
  },
});
