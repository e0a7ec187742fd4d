// Which crypto backend this runtime picks through the package's export conditions, and what verifying a 1 KiB
// Standard Webhooks delivery costs there (median of rounds). Run by .ci/runtimes.sh on every runtime.
import { cryptoBackend, sign, verify } from "@hookline/core";

const runtime = globalThis.Bun
  ? `bun ${globalThis.Bun.version}`
  : globalThis.Deno
    ? `deno ${globalThis.Deno.version.deno}`
    : `node ${process.version}`;
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const payload = JSON.stringify({ type: "invoice.paid", data: { note: "x".repeat(1024 - 46) } });
const headers = await sign({ secret, payload });
const rounds = [];
for (let round = 0; round < 15; round++) {
  const started = performance.now();
  for (let i = 0; i < 500; i++) await verify({ secret, payload, headers });
  rounds.push(((performance.now() - started) * 1000) / 500);
}
rounds.sort((a, b) => a - b);
console.log(
  `runtime: ${runtime}, crypto backend: ${cryptoBackend}, verify 1 KiB: ${rounds[7].toFixed(1)} µs (median of 15 rounds)`,
);
