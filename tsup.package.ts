import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";
import { minification } from "./tsup.shared";

// The build of every @hookline package but the core (see packages/core/tsup.config.ts) and the CLI.
// One entry per subpath of the package's exports map: "." is src/index.ts, "./<name>" is src/<name>.ts.
const { exports } = JSON.parse(readFileSync("package.json", "utf8")) as { exports: Record<string, unknown> };
const entry: Record<string, string> = {};
for (const subpath of Object.keys(exports)) {
  if (subpath === "./package.json") continue;
  const name = subpath === "." ? "index" : subpath.slice(2);
  entry[name] = `src/${name}.ts`;
}

export default defineConfig({
  entry,
  // ESM only: CommonJS callers load it with require(), which Node runs for ES modules from 20.19 and 22.12 on
  // (see .changeset/esm-only.md).
  format: ["esm"],
  target: "es2022",
  dts: true,
  ...minification,
  // Keep `node:` specifiers: Deno and Bun resolve only those.
  removeNodeProtocol: false,
});
