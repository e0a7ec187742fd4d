// esbuild options that bundle a worker the way Wrangler does (ESM, runtime-neutral, the conditions workerd, worker
// and browser), minified: shared by the workerd runtime check (packages/hono/test/runtimes/workerd.mjs) and the
// size check (.ci/size.mjs), so that both measure the bundle users get.
export const wranglerBundle = {
  bundle: true,
  write: false,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  minify: true,
};
