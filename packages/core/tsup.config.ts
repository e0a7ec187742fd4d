import { defineConfig, type Options } from "tsup";
import { minification } from "../../tsup.shared";

type Plugin = NonNullable<Options["esbuildPlugins"]>[number];

/**
 * One build for every runtime. Only two modules differ between Node and the rest, and the package's `imports` map
 * picks them when the code runs or is bundled: `#backend` (node:crypto under the `node` condition, else WebCrypto;
 * the `hookline-webcrypto` condition forces WebCrypto) and `#net` (node:http through the SSRF guard's DNS lookup
 * under `node`, else fetch). The sources import `./backend` and `./net` (the runtime-neutral modules, which
 * TypeScript and the tests read); this plugin turns those imports into the `#` specifiers, and each variant is an
 * entry of its own, so the JS ships once instead of once per runtime kind.
 */
const variants: Plugin = {
  name: "hookline-variants",
  setup(build) {
    build.onResolve({ filter: /^(\.\.?\/)+backend$/ }, () => ({ path: "#backend", external: true }));
    build.onResolve({ filter: /^(\.\.?\/)+net$/ }, () => ({ path: "#net", external: true }));
  },
};

export default defineConfig({
  entry: {
    index: "src/index.ts",
    node: "src/node.ts",
    otel: "src/otel.ts",
    "backend/webcrypto": "src/backend/index.ts",
    "backend/node": "src/backend/node.ts",
    "net/fetch": "src/net/index.ts",
    "net/node": "src/net/node.ts",
  },
  // ESM only: CommonJS callers load it with require(), which Node runs for ES modules from 20.19 and 22.12 on
  // (see .changeset/esm-only.md).
  format: ["esm"],
  target: "es2022",
  platform: "neutral",
  // Modules that several entries use (the encoding helpers, the SSRF guard's address checks) go to shared chunks,
  // so that a class such as AddressRefused exists once.
  splitting: true,
  ...minification,
  treeshake: true,
  // Subpaths import "@hookline/core" by name (kept external) so they use whichever build the runtime picked.
  external: ["@hookline/core", "@opentelemetry/api", /^node:/],
  esbuildPlugins: [variants],
  dts: { entry: { index: "src/index.ts", node: "src/node.ts", otel: "src/otel.ts" } },
  // Keep `node:` specifiers: Deno and Bun resolve only those.
  removeNodeProtocol: false,
});
