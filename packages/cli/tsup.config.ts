import { defineConfig } from "tsup";

// One executable; the inspector page ships as plain files beside dist/ (no build step for it).
export default defineConfig({
  entry: { bin: "src/bin.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  // No source map: it carried the sources and doubled the package (issue 13). Not minified: a CLI's stack trace is
  // what its users paste into bug reports.
  sourcemap: false,
  removeNodeProtocol: false,
});
