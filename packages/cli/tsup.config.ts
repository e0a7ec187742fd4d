import { defineConfig } from "tsup";

// One executable; the inspector page ships as plain files beside dist/ (no build step for it).
export default defineConfig({
  entry: { bin: "src/bin.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  removeNodeProtocol: false,
});
