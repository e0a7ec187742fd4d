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
  resolve: { alias: [{ find: /^@hookline\/core$/, replacement: source("./src/index.ts") }] },
});
