import { defineConfig } from "tsup";

// The build of every @hookline package but the core (which builds twice; see packages/core/tsup.config.ts).
export default defineConfig({
  entry: { index: "src/index.ts" },
  format: ["esm", "cjs"],
  target: "es2022",
  dts: true,
  // No source maps: the JS is not minified, so stack traces already point at readable code, and maps carrying the
  // sources tripled the install size (issue 13).
  sourcemap: false,
  // Keep `node:` specifiers: Deno and Bun resolve only those.
  removeNodeProtocol: false,
});
