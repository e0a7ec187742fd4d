import { defineConfig } from "tsup";

// The build of every @hookline package but the core (see packages/core/tsup.config.ts) and the CLI.
export default defineConfig({
  entry: { index: "src/index.ts" },
  format: ["esm", "cjs"],
  target: "es2022",
  dts: true,
  // Whitespace and syntax only: names stay as written, so stack traces still name the functions. No source maps:
  // maps carrying the sources tripled the install size (issue 13).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: false,
  // Keep `node:` specifiers: Deno and Bun resolve only those.
  removeNodeProtocol: false,
});
