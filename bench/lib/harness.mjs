// Measurement harness shared by the suites: mitata's `measure` for the timing loops, driven in interleaved rounds
// so a burst of noise on the shared machine lands on one round of every case instead of all rounds of one case.

import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { measure } from "mitata";

/**
 * @typedef {object} Case
 * @property {string} key      stable id used in the JSON output
 * @property {string} name     label for the table
 * @property {() => unknown} fn one operation (sync, or returning a promise that mitata awaits)
 * @property {() => Promise<void>} check throws unless one call succeeds (and a tampered call fails)
 * @property {boolean} [info]  informational: shown, never part of a goal
 */

const POINTS_PER_ROUND = 200;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export const median = (values) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

/**
 * `a / b` as the median over rounds of the ratio of the two cases' per-round medians. The cases of a round run
 * back to back, so a slow phase of the shared machine (they come and go over seconds) scales both sides of each
 * ratio alike and cancels, where dividing pooled medians would not.
 */
export const pairedRatio = (a, b) => median(a.roundMedians.map((value, round) => value / b.roundMedians[round]));

/** Runs `fn` back to back for about `ms` milliseconds so V8 has optimized everything on the path. */
async function warmUp(fn, ms) {
  const end = performance.now() + ms;
  let calls = 0;
  while (performance.now() < end || calls < 64) {
    const r = fn();
    if (r instanceof Promise) await r;
    calls++;
  }
  return calls;
}

/**
 * Measures every case in `rounds` interleaved rounds (a rotating order, `timeMs` of timed work per case per round)
 * and pools the samples, each round weighted alike. A sample is mitata's per-op time: the mean of a batch of
 * `batch` calls for fast ops, a single call for ops slower than ~65 µs. Per case: pooled p50/p75/p99 and the min in
 * ns, and each round's median (for {@link pairedRatio}).
 *
 * @param {Case[]} cases
 */
export async function measureCases(cases, { rounds, timeMs, warmupMs, batch, log = () => {} }) {
  const pooled = new Map(
    cases.map((c) => [c.key, { samples: [], ops: 0, min: Number.POSITIVE_INFINITY, roundMedians: [] }]),
  );
  for (const c of cases) await warmUp(c.fn, warmupMs);

  log(`  ${cases.length} cases × ${rounds} rounds × ${timeMs} ms`);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length];
      const stats = await measure(c.fn, {
        min_cpu_time: timeMs * 1e6,
        batch_samples: batch,
        batch_unroll: 4,
        min_samples: 12,
        // A full collection before each measurement (not timed); without --expose-gc mitata's fallback would
        // allocate a 1 GiB array instead, so skip it then.
        gc: typeof globalThis.gc === "function" ? globalThis.gc : false,
      });
      const entry = pooled.get(c.key);
      // Every round adds the same number of points (its quantiles), so a fast round, which fits more samples into
      // its time, does not outweigh a slow one.
      const n = stats.samples.length;
      for (let q = 0; q < POINTS_PER_ROUND; q++) {
        entry.samples.push(stats.samples[Math.floor(((q + 0.5) / POINTS_PER_ROUND) * n)]);
      }
      entry.ops += stats.ticks;
      entry.min = Math.min(entry.min, stats.min);
      entry.roundMedians.push(stats.p50);
      // Let the libuv threadpool and the GC settle between cases.
      await sleep(2);
    }
  }

  const results = new Map();
  for (const [key, { samples, ops, min, roundMedians }] of pooled) {
    samples.sort((a, b) => a - b);
    const sortedRounds = [...roundMedians].sort((a, b) => a - b);
    results.set(key, {
      p50: percentile(samples, 0.5),
      p75: percentile(samples, 0.75),
      p99: percentile(samples, 0.99),
      min,
      ops,
      roundMedians,
      // The interquartile range of the rounds' medians relative to their median: a quick noise gauge.
      spread: (percentile(sortedRounds, 0.75) - percentile(sortedRounds, 0.25)) / percentile(sortedRounds, 0.5),
    });
  }
  return results;
}

export function machineInfo() {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl,
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    os: `${os.type()} ${os.release()} (${os.platform()}-${os.arch()})`,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
    exposeGc: typeof globalThis.gc === "function",
  };
}

export function formatNs(ns) {
  if (!Number.isFinite(ns)) return "–";
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

export const formatRatio = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : "");

/** A plain-text table: the first row is the header; columns after the first are right-aligned. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
  const line = (row) =>
    row.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join("  ");
  return [line(rows[0]), widths.map((w) => "─".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

/** The installed version of a package, found next to its resolved entry (some export no ./package.json). */
export function installedVersion(name) {
  let dir = new URL(".", import.meta.resolve(name));
  for (;;) {
    const file = new URL("package.json", dir);
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8"));
      if (pkg.name === name) return pkg.version;
    }
    const parent = new URL("..", dir);
    if (parent.href === dir.href) return "unknown";
    dir = parent;
  }
}
