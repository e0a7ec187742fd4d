// `pnpm bench`: runs the benchmark suites in one process, prints a table per suite and size, and writes
// results/<suite>.json. Exits 1 when a case fails to verify; a missed goal is reported, not an error.
//
//   node --expose-gc run.mjs [--quick] [suite…]
//   BENCH_ROUNDS, BENCH_TIME_MS, BENCH_WARMUP_MS, BENCH_BATCH override the verify suite's settings;
//   BENCH_HTTP_ROUNDS, BENCH_HTTP_ROUND_MS, BENCH_HTTP_WARMUP_MS, BENCH_HTTP_CONNECTIONS the http suite's;
//   BENCH_SEND_ROUNDS, BENCH_SEND_ROUND_MS, BENCH_SEND_WARMUP_MS, BENCH_SEND_GUARD_PAIRS, BENCH_SEND_SLICE_MS the
//   send suite's; BENCH_INBOX_ROUNDS, BENCH_INBOX_PER_ROUND the inbox suite's.
import { mkdirSync, writeFileSync } from "node:fs";
import { machineInfo } from "./lib/harness.mjs";

const SUITES = {
  verify: () => import("./suites/verify.mjs"),
  http: () => import("./suites/http.mjs"),
  stores: () => import("./suites/stores.mjs"),
  ratelimit: () => import("./suites/ratelimit.mjs"),
  receive: () => import("./suites/receive.mjs"),
  send: () => import("./suites/send.mjs"),
  "durable-bullmq": () => import("./suites/durable-bullmq.mjs"),
  inbox: () => import("./suites/inbox.mjs"),
  "durable-postgres": () => import("./suites/durable-postgres.mjs"),
  "inbox-postgres": () => import("./suites/inbox-postgres.mjs"),
  "inbox-bullmq": () => import("./suites/inbox-bullmq.mjs"),
};

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const selected = args.filter((a) => !a.startsWith("--"));
for (const name of selected) {
  if (!(name in SUITES)) {
    console.error(`Unknown suite ${name}; available: ${Object.keys(SUITES).join(", ")}`);
    process.exit(2);
  }
}

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const options = {
  // Interleaved rounds × timed work per case per round: 15 × 120 ms ≈ 2 s per case. Short rounds keep the cases
  // of one round within one phase of a noisy shared machine, which the paired ratios rely on.
  rounds: env("BENCH_ROUNDS", quick ? 3 : 15),
  timeMs: env("BENCH_TIME_MS", quick ? 60 : 120),
  warmupMs: env("BENCH_WARMUP_MS", quick ? 100 : 250),
  // Ops averaged per sample for fast (< ~65 µs) ops; slower ops are timed one call per sample.
  batch: env("BENCH_BATCH", 128),
  quick,
  log: (line) => console.log(line),
};

if (typeof globalThis.gc !== "function") {
  console.warn("warning: run with node --expose-gc so mitata can collect garbage before each measurement");
}

const machine = machineInfo();
console.log(
  `node ${machine.node} · ${machine.cpu} × ${machine.cores} · ${machine.os} · load ${machine.loadavg.join(" ")}`,
);
if (machine.loadavg[0] > machine.cores * 0.75) {
  console.warn(
    `warning: load average ${machine.loadavg[0]} on ${machine.cores} cores; other work is competing, expect noisy numbers`,
  );
}
const suites = selected.length > 0 ? selected : Object.keys(SUITES);
if (suites.includes("verify")) {
  console.log(
    `verify: ${options.rounds} rounds × ${options.timeMs} ms per case, ${options.warmupMs} ms warm-up, batches of ${options.batch}`,
  );
}

let failed = false;
for (const name of suites) {
  const started = Date.now();
  try {
    const suite = await SUITES[name]();
    const result = await suite.run(options);
    const report = {
      suite: name,
      date: new Date().toISOString(),
      durationS: Math.round((Date.now() - started) / 100) / 10,
      machine: { ...machine, loadavgAfter: machineInfo().loadavg },
      versions: suite.peerVersions?.() ?? {},
      settings: { rounds: options.rounds, timeMs: options.timeMs, warmupMs: options.warmupMs, batch: options.batch },
      ...result,
    };
    mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
    const file = new URL(`./results/${name}${quick ? ".quick.tmp" : ""}.json`, import.meta.url);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\n${name}: ${report.durationS} s, wrote ${file.pathname.slice(file.pathname.indexOf("results/"))}`);
  } catch (error) {
    failed = true;
    console.error(`\n${name} FAILED: ${error.stack ?? error}`);
  }
}
process.exit(failed ? 1 : 0);
