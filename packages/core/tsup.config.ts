import { fileURLToPath } from "node:url";
import { defineConfig, type Options } from "tsup";

type Plugin = NonNullable<Options["esbuildPlugins"]>[number];

/**
 * The same sources build twice: once runtime-neutral (WebCrypto, fetch), once for Node, which the `node` export
 * condition selects. Only two modules differ between the two: `./backend` (node:crypto) and `./net` (node:http
 * through the SSRF guard's DNS lookup).
 */
const nodeModules: Plugin = {
  name: "hookline-node-modules",
  setup(build) {
    build.onResolve({ filter: /^(\.\.?\/)+backend$/ }, () => ({
      path: fileURLToPath(new URL("./src/backend/node.ts", import.meta.url)),
    }));
    build.onResolve({ filter: /^(\.\.?\/)+net$/ }, () => ({
      path: fileURLToPath(new URL("./src/net/node.ts", import.meta.url)),
    }));
  },
};

const shared: Options = {
  format: ["esm", "cjs"],
  target: "es2022",
  platform: "neutral",
  // No source maps: the JS is not minified, so stack traces already point at readable code, and maps carrying the
  // sources tripled the install size (issue 13).
  sourcemap: false,
  treeshake: true,
  // Keep `node:` specifiers: Deno and Bun resolve only those.
  removeNodeProtocol: false,
};

export default defineConfig([
  // Subpaths import "@hookline/core" by name (kept external) so they use whichever build the runtime picked.
  {
    ...shared,
    entry: { index: "src/index.ts", testing: "src/testing/index.ts", node: "src/node.ts", otel: "src/otel.ts" },
    external: ["@hookline/core", "@opentelemetry/api", /^node:/],
    dts: true,
  },
  {
    ...shared,
    entry: { "node-crypto/index": "src/index.ts" },
    platform: "node",
    dts: false,
    esbuildPlugins: [nodeModules],
  },
]);
