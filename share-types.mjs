// Run after tsup in a package's build (`node ../../share-types.mjs`): one copy of each entry's declarations instead
// of two identical ones (<entry>.d.ts for `import`, <entry>.d.cts for `require`). The declarations move to
// dist/types/, which a package.json there marks CommonJS, and both entry files re-export them: a CommonJS
// declaration file may be re-exported from ESM and from CommonJS (TypeScript node16/nodenext and bundler
// resolution, without skipLibCheck), while re-exporting the ESM .d.ts from a .d.cts is an error (TS1479).
// `attw --profile node16` in `pnpm check:packages` checks the result.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dist = pathToFileURL(join(process.cwd(), "dist/"));
const entries = readdirSync(dist)
  .filter((file) => file.endsWith(".d.ts") && existsSync(new URL(file.replace(/\.d\.ts$/, ".d.cts"), dist)))
  .map((file) => file.slice(0, -".d.ts".length));
if (entries.length === 0) throw new Error(`share-types: no <entry>.d.ts with its .d.cts twin in ${dist.pathname}`);
// The package's own name in its declarations (core's testing.d.ts imports "@hookline/core") becomes a relative
// path: from dist/types/, whose package.json has no name, TypeScript cannot resolve the package by its own name.
const { name } = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8"));
const ownName = new RegExp(`from (["'])${name.replace(/[/.]/g, "\\$&")}(/[\\w-]+)?\\1`, "g");
const relative = (_match, quote, subpath) => `from ${quote}./${subpath ? subpath.slice(1) : "index"}.js${quote}`;
mkdirSync(new URL("types/", dist), { recursive: true });
writeFileSync(new URL("types/package.json", dist), `${JSON.stringify({ type: "commonjs" })}\n`);
for (const entry of entries) {
  const declarations = readFileSync(new URL(`${entry}.d.ts`, dist), "utf8");
  if (readFileSync(new URL(`${entry}.d.cts`, dist), "utf8") !== declarations) {
    throw new Error(`share-types: dist/${entry}.d.ts and dist/${entry}.d.cts differ`);
  }
  writeFileSync(new URL(`types/${entry}.d.ts`, dist), declarations.replace(ownName, relative));
  rmSync(new URL(`${entry}.d.ts`, dist));
  rmSync(new URL(`${entry}.d.cts`, dist));
  const stub = `export * from "./types/${entry}.js";\n`;
  writeFileSync(new URL(`${entry}.d.ts`, dist), stub);
  writeFileSync(new URL(`${entry}.d.cts`, dist), stub);
}
