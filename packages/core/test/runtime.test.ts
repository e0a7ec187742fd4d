import { cryptoBackend } from "@hookline/core";
import { expect, it } from "vitest";

it("reports the runtime", () => {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  const runtime = g.Bun ? `bun ${g.Bun.version}` : g.Deno ? `deno ${g.Deno.version.deno}` : `node ${process.version}`;
  console.log(`runtime: ${runtime}, crypto backend: ${cryptoBackend}`);
  expect(["node", "webcrypto"]).toContain(cryptoBackend);
});
