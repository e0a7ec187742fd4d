/**
 * `npx @hookline/cli` from packed tarballs in a scratch project, offline: the CLI, the core and the testing kit
 * (whose `signedDelivery` signs what `hookline send` sends) are packed with `pnpm pack` (as they would be published),
 * their dependencies are packed from this workspace's installed copies, and npm installs only those tarballs
 * (`--offline`, every version pinned to a local file through `overrides`).
 */
import { execFile } from "node:child_process";
import { readFile, realpath, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generateSecret } from "@hookline/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scratch } from "./helpers";

const run = promisify(execFile);
const CLI_DIR = fileURLToPath(new URL("..", import.meta.url));
const CORE_DIR = fileURLToPath(new URL("../../core", import.meta.url));
const TESTING_DIR = fileURLToPath(new URL("../../testing", import.meta.url));

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}

async function manifest(dir: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as Manifest;
}

/** Where Node would load `name` from for a module in `dir`: the nearest node_modules/<name>, links followed. */
async function installedPackage(dir: string, name: string): Promise<string> {
  for (let folder = dir; ; folder = dirname(folder)) {
    const candidate = join(folder, "node_modules", name);
    if (await stat(join(candidate, "package.json")).catch(() => undefined)) return realpath(candidate);
    if (dirname(folder) === folder) throw new Error(`${name} is not installed for ${dir}`);
  }
}

/** The last line pack prints is the tarball's file name. */
async function pack(command: "pnpm" | "npm", dir: string, destination: string): Promise<string> {
  const args =
    command === "pnpm"
      ? ["pack", "--pack-destination", destination]
      : ["pack", "--ignore-scripts", "--pack-destination", destination, dir];
  const { stdout } = await run(command, args, { cwd: dir, env: { ...process.env, npm_config_offline: "true" } });
  const name = stdout.trim().split("\n").at(-1)!.trim();
  return name.startsWith("/") ? name : join(destination, name);
}

describe("npx @hookline/cli from a packed tarball", () => {
  let work: Awaited<ReturnType<typeof scratch>>;
  let project: string;

  beforeAll(async () => {
    work = await scratch("pack");
    const tarballs = join(work.dir, "tarballs");
    project = join(work.dir, "project");
    await run("mkdir", ["-p", tarballs, project]);
    const overrides: Record<string, string> = {
      "@hookline/cli": `file:${await pack("pnpm", CLI_DIR, tarballs)}`,
      "@hookline/core": `file:${await pack("pnpm", CORE_DIR, tarballs)}`,
      "@hookline/testing": `file:${await pack("pnpm", TESTING_DIR, tarballs)}`,
    };
    // Every third-party dependency, and theirs, packed from where this workspace installed it.
    const queue = [CLI_DIR, CORE_DIR];
    while (queue.length > 0) {
      const dir = queue.shift()!;
      for (const name of Object.keys((await manifest(dir)).dependencies ?? {})) {
        if (overrides[name]) continue;
        const depDir = await installedPackage(dir, name);
        overrides[name] = `file:${await pack("npm", depDir, tarballs)}`;
        queue.push(depDir);
      }
    }
    await writeFile(
      join(project, "package.json"),
      JSON.stringify(
        { name: "scratch", private: true, dependencies: { "@hookline/cli": overrides["@hookline/cli"] }, overrides },
        null,
        2,
      ),
    );
    await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: project });
  }, 180_000);

  afterAll(() => work?.remove());

  const npx = (...args: string[]) =>
    run("npx", ["--offline", "@hookline/cli", ...args], {
      cwd: project,
      env: { ...process.env, npm_config_offline: "true" },
    });

  it("runs --help and --version", async () => {
    const help = await npx("--help");
    expect(help.stdout).toMatch(/^Usage: hookline /);
    expect((await npx("--version")).stdout.trim()).toBe((await manifest(CLI_DIR)).version);
  });

  it("signs and verifies with the installed core, and ships the inspector page", async () => {
    const secret = generateSecret();
    await writeFile(join(project, "event.json"), '{"type":"ping"}');
    const signed = await npx("sign", "--secret", secret, "event.json");
    const headers = signed.stdout
      .trim()
      .split("\n")
      .flatMap((line) => ["--header", line]);
    expect((await npx("verify", "--secret", secret, ...headers, "event.json")).stdout).toMatch(/^✔ valid/);
    const page = await readFile(join(project, "node_modules", "@hookline", "cli", "inspector", "index.html"), "utf8");
    expect(page).toContain("<title>Hookline inspector</title>");
  });
});
