// After tsup: one copy of each entry's declarations instead of two identical ones (index.d.ts for `import`,
// index.d.cts for `require`). The declarations move to dist/types/, which a package.json there marks CommonJS, and
// both entry files re-export them: a CommonJS declaration file may be re-exported from ESM and from CommonJS
// (TypeScript node16/nodenext and bundler resolution, no skipLibCheck needed), while re-exporting the ESM .d.ts
// from a .d.cts is an error (TS1479). Checked by `attw --profile node16` in `pnpm check:packages`.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

const dist = new URL("../dist/", import.meta.url);
mkdirSync(new URL("types/", dist), { recursive: true });
writeFileSync(new URL("types/package.json", dist), `${JSON.stringify({ type: "commonjs" })}\n`);
for (const entry of ["index", "testing", "node"]) {
  const declarations = readFileSync(new URL(`${entry}.d.ts`, dist), "utf8");
  if (readFileSync(new URL(`${entry}.d.cts`, dist), "utf8") !== declarations) {
    throw new Error(`dist/${entry}.d.ts and dist/${entry}.d.cts differ: cannot share them`);
  }
  renameSync(new URL(`${entry}.d.ts`, dist), new URL(`types/${entry}.d.ts`, dist));
  rmSync(new URL(`${entry}.d.cts`, dist));
  const stub = `export * from "./types/${entry}.js";\n`;
  writeFileSync(new URL(`${entry}.d.ts`, dist), stub);
  writeFileSync(new URL(`${entry}.d.cts`, dist), stub);
}
