// Size check (issue 13): every published package's unpacked tarball size and a few Workers bundles of
// @hookline/core against the budgets in .ci/size-budgets.json. Prints a table; exits 1 when anything passes its
// budget, when a bundle holds a package it must not, when a package or bundle has no budget, or when the README's
// size table is more than 3% off what was measured (`pnpm size --update` rewrites it). Needs `pnpm build`.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { wranglerBundle } from "./wrangler.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const budgets = JSON.parse(readFileSync(join(root, ".ci/size-budgets.json"), "utf8"));
const failures = [];
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const measured = { packages: [], bundles: [] };

console.log("package              unpacked      budget        packed   files");
for (const dir of readdirSync(join(root, "packages"))) {
  const cwd = join(root, "packages", dir);
  const { name, private: isPrivate } = JSON.parse(readFileSync(join(cwd, "package.json"), "utf8"));
  if (isPrivate) continue;
  // npm reads `files` as pnpm publish does; --ignore-scripts: measure the build that is there.
  const [pack] = JSON.parse(
    execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd, encoding: "utf8", stdio: "pipe" }),
  );
  if (!pack.files.some((file) => file.path.startsWith("dist/"))) failures.push(`${name}: no dist/ (run pnpm build)`);
  const budget = budgets.packages[name];
  const over = budget === undefined || pack.unpackedSize > budget * 1024;
  if (budget === undefined) failures.push(`${name}: no budget in .ci/size-budgets.json`);
  else if (over) failures.push(`${name}: ${kib(pack.unpackedSize)} unpacked, over its ${budget} KiB budget`);
  measured.packages.push({ name, bytes: pack.unpackedSize, budget: budget * 1024 });
  console.log(
    `${name.padEnd(20)} ${kib(pack.unpackedSize).padStart(10)}  ${`${budget ?? "none"} KiB`.padStart(10)}  ${kib(pack.size).padStart(12)}  ${String(pack.entryCount).padStart(6)}${over ? "  OVER" : ""}`,
  );
}

console.log("\nWorkers bundle (esbuild, conditions workerd/worker/browser, minified)     min      gzip    budget");
for (const [name, bundle] of Object.entries(budgets.bundles)) {
  const result = await build({
    stdin: { contents: bundle.code, loader: "js", resolveDir: join(root, "packages/hono"), sourcefile: "worker.js" },
    ...wranglerBundle,
    metafile: true,
    logLevel: "error",
  });
  const code = result.outputFiles[0].contents;
  const gzip = gzipSync(code).length; // zlib's default level
  // The files that put bytes in the bundle (the metafile's inputs also list files visited and dropped).
  const [output] = Object.values(result.metafile.outputs);
  const inputs = Object.entries(output.inputs).flatMap(([path, input]) => (input.bytesInOutput > 0 ? [path] : []));
  const held = (bundle.exclude ?? []).filter((pkg) => inputs.some((input) => input.includes(`/node_modules/${pkg}/`)));
  const over = gzip > bundle.gzip;
  if (over) failures.push(`bundle "${name}": ${gzip} B gzipped, over its ${bundle.gzip} B budget`);
  for (const pkg of held) failures.push(`bundle "${name}" holds ${pkg}, which it must not`);
  measured.bundles.push({ name, bytes: gzip, budget: bundle.gzip });
  console.log(
    `${name.padEnd(70)} ${`${code.length} B`.padStart(8)}  ${`${gzip} B`.padStart(8)}  ${`${bundle.gzip} B`.padStart(8)}${over ? "  OVER" : ""}${held.length ? `  holds ${held.join(", ")}` : ""}`,
  );
}

// The README's table, between its markers: figures rounded as printed there, compared with 3% of slack so that a
// change of a few bytes does not need a README edit.
const readmePath = join(root, "README.md");
const readme = readFileSync(readmePath, "utf8");
const markers = /(<!-- size:start -->\n)[\s\S]*?(<!-- size:end -->)/;
const row = (cells) => `| ${cells.join(" | ")} |`;
const table = [
  row(["package", "unpacked", "budget"]),
  row(["---", "---:", "---:"]),
  ...measured.packages.map(({ name, bytes, budget }) => row([`\`${name}\``, kib(bytes), kib(budget)])),
  "",
  row(["Workers bundle (minified, gzipped)", "size", "budget"]),
  row(["---", "---:", "---:"]),
  ...measured.bundles.map(({ name, bytes, budget }) =>
    row([name, `${(bytes / 1000).toFixed(1)} kB`, `${budget / 1000} kB`]),
  ),
].join("\n");
if (!markers.test(readme)) failures.push("README.md has no <!-- size:start --> … <!-- size:end --> table");
else if (process.argv.includes("--update")) {
  writeFileSync(readmePath, readme.replace(markers, `$1${table}\n$2`));
  console.log("\nREADME.md's size table rewritten.");
} else {
  const written = readme.match(markers)[0];
  for (const { name, bytes } of [...measured.packages, ...measured.bundles]) {
    const cell = written
      .split("\n")
      .find((line) => line.startsWith(`| ${name} |`) || line.startsWith(`| \`${name}\` |`));
    const figure = cell && Number.parseFloat(cell.split("|")[2]);
    const unit = cell?.includes("KiB") ? 1024 : 1000;
    if (!cell || Math.abs(figure * unit - bytes) > bytes * 0.03) {
      failures.push(
        `README.md's size table says ${cell ? cell.split("|")[2].trim() : "nothing"} for ${name}: run pnpm size --update`,
      );
    }
  }
}

if (failures.length) {
  console.error(`\nSize check failed:\n- ${failures.join("\n- ")}`);
  process.exit(1);
}
console.log("\nEvery package and bundle is within its budget.");
