// Sending: deliveries per second from this process to a Hookline receiver in a child process (lib/send-receiver.mjs)
// over loopback, one at a time and 50 at once, against a bare undici `fetch` loop posting pre-signed bodies (the
// floor), and with the SSRF guard on and off. Every case posts the same 1 KiB event with its own message id, so the
// receiver verifies, parses, claims and handles every one; the suite checks that it did, exactly once each.
//
// The Hookline cases: `createDeliveryAgent().deliver()`, one signed attempt (sign, POST, read the answer, classify),
// the call the sender's dispatcher makes for every attempt; and, where `createSender` exists, `sender.send()` with the
// dispatcher on the embedded memory engine (store, claim under a lease, deliver, record the attempt).
import { fork } from "node:child_process";
import { once } from "node:events";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import * as core from "@hookline/core";
import { Agent as UndiciAgent, fetch as undiciFetch } from "undici";
import { formatRatio, installedVersion, pairedRatio, percentile, table } from "../lib/harness.mjs";
import { jsonBody } from "../lib/payload.mjs";

const { createDeliveryAgent, deliveryGuard, sign } = core;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SIZE = 1024;
const CONCURRENCIES = [1, 50];
const FLOOR_GOAL = 0.8;
const GUARD_GOAL = 0.95;

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

async function startReceiver() {
  const child = fork(new URL("../lib/send-receiver.mjs", import.meta.url), [JSON.stringify({ secret: SECRET })], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: ["--expose-gc"],
  });
  const [{ port }] = await once(child, "message");
  return {
    port,
    stats: async () => {
      child.send("stats");
      const [stats] = await once(child, "message");
      return stats;
    },
    collect: async () => {
      child.send("gc");
      await once(child, "message");
    },
    stop: async () => {
      child.kill();
      await once(child, "exit");
    },
  };
}

/**
 * The cases. `send()` makes one delivery and resolves true when it was answered 2xx, false otherwise, or
 * undefined when a pre-signed pool ran out (the run ends there). `prepare(count)` runs untimed before each run.
 */
function makeCases(url, payload) {
  const tag = Date.now().toString(36);
  let sequence = 0;
  const nextId = () => `msg_${tag}_${++sequence}`;

  // The same headers Hookline sends, signed up front: the floor does no HMAC while measured.
  let pool = [];
  let next = 0;
  const presign = async (count) => {
    const timestamp = Math.floor(Date.now() / 1000);
    pool = new Array(count);
    for (let i = 0; i < count; i++) {
      const signature = await sign({ secret: SECRET, payload, id: nextId(), timestamp });
      pool[i] = { "content-type": "application/json", "user-agent": "Hookline/0.0.0", ...signature };
    }
    next = 0;
  };
  const take = () => (next < pool.length ? pool[next++] : undefined);

  const undici = new UndiciAgent({ keepAliveTimeout: 60_000 });
  const guarded = createDeliveryAgent({ allow: ["127.0.0.1/32"] });
  const unguarded = createDeliveryAgent({ allow: ["0.0.0.0/0", "::/0"] });
  // A second, identical guard-off agent: the A/A control of the guard's paired slices.
  const control = createDeliveryAgent({ allow: ["0.0.0.0/0", "::/0"] });
  const nodeAgent = new HttpAgent({ keepAlive: true });
  const body = Buffer.from(payload);

  const viaAgent = (agent) => async () => {
    const result = await agent.deliver({ url, payload, id: nextId(), secret: SECRET });
    return result.outcome.kind === "success";
  };

  // `sender.send()` + the dispatcher: a fresh sender per run (its memory engine keeps every message), concurrency and
  // per-endpoint concurrency both `concurrency`, one endpoint (this receiver). A run sends `count` messages one after
  // another while the dispatcher delivers them, then waits for the last delivery (`drain`); the rate counts both.
  let sender;
  const event = JSON.parse(payload);
  const senderCase = core.createSender && {
    key: "sender",
    name: "hookline sender.send + dispatcher",
    runFor: async (concurrency, ms, rate) => {
      const count = Math.max(200, Math.round((rate ?? 1000) * (ms / 1000)));
      let delivered = 0;
      let failed = 0;
      sender = core.createSender({
        allow: ["127.0.0.1/32"],
        concurrency,
        perEndpointConcurrency: concurrency,
        logger: { info() {}, warn() {}, error() {} },
        hooks: { onDelivered: () => delivered++, onFailed: () => failed++, onExhausted: () => failed++ },
      });
      await sender.endpoints.create({ url: url.replace("localhost", "127.0.0.1"), secret: SECRET });
      sender.start();
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < count; i++) await sender.send(event.type, event.data);
      await sender.drain();
      const elapsed = performance.now() - started;
      const { user, system } = process.cpuUsage(cpu);
      await sender.stop();
      sender = undefined;
      return {
        perSecond: (delivered / elapsed) * 1000,
        cpuMicros: (user + system) / delivered,
        count: delivered,
        failed: failed + (count - delivered),
        p50Ms: Number.NaN,
        p99Ms: Number.NaN,
      };
    },
  };

  return {
    control: { key: "control", name: "hookline deliver (guard off, control)", send: viaAgent(control) },
    cases: [
      {
        key: "floor",
        name: "floor: undici fetch, pre-signed",
        prepare: presign,
        send: async () => {
          const headers = take();
          if (!headers) return undefined;
          const response = await undiciFetch(url, {
            method: "POST",
            headers,
            body: payload,
            redirect: "manual",
            dispatcher: undici,
          });
          await response.text();
          return response.status >= 200 && response.status < 300;
        },
      },
      { key: "hookline", name: "hookline deliver (guard on)", send: viaAgent(guarded) },
      ...(senderCase ? [senderCase] : []),
      { key: "unguarded", name: "hookline deliver (guard off)", send: viaAgent(unguarded) },
      {
        key: "nodeHttp",
        name: "node:http keep-alive, pre-signed",
        info: true,
        prepare: presign,
        send: () => {
          const headers = take();
          if (!headers) return Promise.resolve(undefined);
          return new Promise((resolve, reject) => {
            const request = httpRequest(
              url,
              { method: "POST", headers: { ...headers, "content-length": body.length }, agent: nodeAgent },
              (response) => {
                response.on("data", () => {});
                response.on("end", () => resolve(response.statusCode >= 200 && response.statusCode < 300));
                response.on("error", reject);
              },
            );
            request.on("error", reject);
            request.end(body);
          });
        },
      },
    ],
    close: async () => {
      await sender?.stop();
      await undici.close();
      await guarded.close();
      await unguarded.close();
      await control.close();
      nodeAgent.destroy();
    },
  };
}

/** `concurrency` loops of one delivery after another for `ms`: deliveries per second and latencies. */
async function runFor(send, concurrency, ms) {
  const latencies = [];
  let failed = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const end = started + ms;
  let last = started;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const at = performance.now();
        const ok = await send();
        if (ok === undefined) return;
        last = performance.now();
        latencies.push(last - at);
        if (!ok) failed++;
      }
    }),
  );
  const { user, system } = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return {
    perSecond: (latencies.length / (last - started)) * 1000,
    cpuMicros: (user + system) / latencies.length,
    count: latencies.length,
    failed,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

/** A case's own run (`runFor`), or `concurrency` loops of its `send`. */
const measure = (c, concurrency, ms, rate) =>
  c.runFor ? c.runFor(concurrency, ms, rate) : runFor(c.send, concurrency, ms);

export const peerVersions = () => ({ undici: installedVersion("undici") });

export async function run({ quick, log }) {
  const rounds = env("BENCH_SEND_ROUNDS", quick ? 3 : 9);
  const roundMs = env("BENCH_SEND_ROUND_MS", quick ? 400 : 1500);
  const warmupMs = env("BENCH_SEND_WARMUP_MS", quick ? 300 : 1500);
  const guardPairs = env("BENCH_SEND_GUARD_PAIRS", quick ? 6 : 30);
  const sliceMs = env("BENCH_SEND_SLICE_MS", quick ? 200 : 400);
  if (deliveryGuard !== "lookup") throw new Error(`expected the node build's guarded connection, got ${deliveryGuard}`);
  log(
    `\nsend: ${SIZE} B events to a Hookline receiver in a child process over loopback; ${rounds} interleaved rounds × ` +
      `${roundMs} ms per case, at concurrency ${CONCURRENCIES.join(" and ")}`,
  );

  const receiver = await startReceiver();
  const url = `http://localhost:${receiver.port}/webhooks`;
  const payload = jsonBody(SIZE);
  const { cases, control, close } = makeCases(url, payload);
  let sent = 0;
  const results = {};
  const guard = {};
  try {
    // Each case's expected rate sizes the pre-signed pools: twice what one run should need.
    const poolSize = {};
    const rates = {};
    for (const c of cases) {
      for (const concurrency of CONCURRENCIES) {
        await c.prepare?.(20_000);
        const warm = await measure(c, concurrency, warmupMs);
        sent += warm.count;
        if (warm.failed > 0) throw new Error(`${c.name}: ${warm.failed} deliveries not answered 2xx in the warm-up`);
        poolSize[`${c.key}/${concurrency}`] = Math.max(2_000, Math.ceil(warm.perSecond * (roundMs / 1000) * 2));
        rates[`${c.key}/${concurrency}`] = warm.perSecond;
      }
      results[c.key] = { name: c.name, info: c.info ?? false, runs: {} };
    }

    for (const concurrency of CONCURRENCIES) {
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < cases.length; i++) {
          const c = cases[(i + round) % cases.length];
          await c.prepare?.(poolSize[`${c.key}/${concurrency}`]);
          // The previous case's garbage, here and in the receiver, is collected before this one starts.
          globalThis.gc?.();
          await receiver.collect();
          await sleep(50);
          const measured = await measure(c, concurrency, roundMs, rates[`${c.key}/${concurrency}`]);
          sent += measured.count;
          if (measured.failed > 0) throw new Error(`${c.name}: ${measured.failed} deliveries not answered 2xx`);
          results[c.key].runs[concurrency] ??= [];
          results[c.key].runs[concurrency].push(measured);
        }
      }
    }

    // The guard's cost is a few µs on a ~100 µs delivery: finer than the slow phases of a shared machine, which
    // last seconds. So it is measured apart, in short back-to-back slices of guard on, guard off and a second
    // guard-off agent (the A/A control: what the same comparison shows when nothing differs), in ABC/CBA order.
    const [on, off] = ["hookline", "unguarded"].map((key) => cases.find((c) => c.key === key));
    for (const concurrency of CONCURRENCIES) {
      // The control was not in the rounds: its connections and code paths warm up first, as the others did.
      sent += (await runFor(control.send, concurrency, warmupMs)).count;
      const pairs = [];
      for (let pair = 0; pair < guardPairs; pair++) {
        const slices = {};
        for (const c of pair % 2 === 0 ? [on, off, control] : [control, off, on]) {
          globalThis.gc?.();
          await receiver.collect();
          const measured = await runFor(c.send, concurrency, sliceMs);
          sent += measured.count;
          if (measured.failed > 0) throw new Error(`${c.name}: ${measured.failed} deliveries not answered 2xx`);
          slices[c.key] = measured;
        }
        pairs.push({
          rate: slices.hookline.perSecond / slices.unguarded.perSecond,
          cpu: slices.hookline.cpuMicros / slices.unguarded.cpuMicros,
          control: slices.control.perSecond / slices.unguarded.perSecond,
        });
      }
      const rates = pairs.map((p) => p.rate).sort((a, b) => a - b);
      const controls = pairs.map((p) => p.control).sort((a, b) => a - b);
      guard[concurrency] = {
        ratio: median(rates),
        iqr: percentile(rates, 0.75) - percentile(rates, 0.25),
        cpuRatio: median(pairs.map((p) => p.cpu)),
        control: median(controls),
        controlIqr: percentile(controls, 0.75) - percentile(controls, 0.25),
        pairs: pairs.map((p) => Math.round(p.rate * 1000) / 1000),
      };
    }
  } finally {
    await close();
  }

  const { stats, handled, warnings } = await receiver.stats();
  await receiver.stop();
  if (stats.processed !== sent || handled !== sent || (stats.counts.duplicate ?? 0) !== 0) {
    throw new Error(
      `the receiver processed ${stats.processed} (handled ${handled}) of ${sent} deliveries: ${JSON.stringify(stats.counts)} ${JSON.stringify(warnings)}`,
    );
  }

  // Per case and concurrency: the median of the rounds' rates, and each round's rate for the paired ratios.
  const summary = {};
  for (const [key, { name, info, runs }] of Object.entries(results)) {
    summary[key] = { name, info };
    for (const concurrency of CONCURRENCIES) {
      const list = runs[concurrency];
      summary[key][concurrency] = {
        perSecond: Math.round(median(list.map((r) => r.perSecond))),
        cpuMicros: Math.round(median(list.map((r) => r.cpuMicros))),
        p50Ms: median(list.map((r) => r.p50Ms)),
        p99Ms: median(list.map((r) => r.p99Ms)),
        roundRates: list.map((r) => Math.round(r.perSecond)),
        // pairedRatio divides round medians of times: the inverse of rates.
        roundMedians: list.map((r) => 1 / r.perSecond),
        roundCpu: list.map((r) => r.cpuMicros),
      };
    }
  }
  const ratio = (a, b, concurrency) => pairedRatio(summary[b][concurrency], summary[a][concurrency]);
  // The same pairing over CPU per delivery: `a`'s CPU per delivery ÷ `b`'s (below 1: `a` costs less).
  const cpuRatio = (a, b, concurrency) =>
    pairedRatio({ roundMedians: summary[a][concurrency].roundCpu }, { roundMedians: summary[b][concurrency].roundCpu });

  log(
    table([
      ["case", ...CONCURRENCIES.flatMap((c) => [`del/s (${c})`, `p50 (${c})`, `CPU/del (${c})`, `× floor (${c})`])],
      ...Object.entries(summary).map(([key, s]) => [
        s.info ? `${s.name} (info)` : s.name,
        ...CONCURRENCIES.flatMap((c) => [
          s[c].perSecond.toLocaleString("en"),
          Number.isFinite(s[c].p50Ms) ? `${s[c].p50Ms.toFixed(2)} ms` : "–",
          `${s[c].cpuMicros} µs`,
          formatRatio(ratio(key, "floor", c)),
        ]),
      ]),
    ]),
  );

  const goals = [
    {
      id: "floor-50",
      text: `hookline deliver ≥ ${FLOOR_GOAL * 100}% of the undici fetch floor at concurrency 50`,
      value: ratio("hookline", "floor", 50),
      min: FLOOR_GOAL,
    },
    ...CONCURRENCIES.map((c) => ({
      id: `guard-${c}`,
      text:
        `the SSRF guard costs ≤ ${Math.round((1 - GUARD_GOAL) * 100)}% at concurrency ${c} (guard on ÷ off, ` +
        `${guardPairs} paired slices, IQR ${(guard[c].iqr * 100).toFixed(0)} pt)`,
      value: guard[c].ratio,
      min: GUARD_GOAL,
    })),
  ].map((goal) => ({ ...goal, pass: goal.value >= goal.min }));
  for (const goal of goals) log(`  ${goal.pass ? "PASS" : "MISS"}  ${goal.text}: ${formatRatio(goal.value)}`);
  log(`  info  hookline deliver at concurrency 1: ${formatRatio(ratio("hookline", "floor", 1))} the floor`);
  const cpu = {};
  for (const c of CONCURRENCIES) {
    cpu[`guard-${c}`] = guard[c].cpuRatio;
    log(
      `  info  A/A control at concurrency ${c}: guard off ÷ an identical guard-off agent ${formatRatio(guard[c].control)} ` +
        `(IQR ${(guard[c].controlIqr * 100).toFixed(0)} pt): the guard goal's noise`,
    );
    cpu[`floor-${c}`] = cpuRatio("hookline", "floor", c);
    log(
      `  info  CPU per delivery at concurrency ${c}: guard on ÷ off ${formatRatio(cpu[`guard-${c}`])}, ` +
        `hookline deliver ÷ floor ${formatRatio(cpu[`floor-${c}`])}`,
    );
  }
  if (summary.sender) {
    for (const c of CONCURRENCIES) {
      log(
        `  info  sender.send + dispatcher at concurrency ${c}: ${formatRatio(ratio("sender", "floor", c))} the floor`,
      );
    }
  } else log("  info  no sender.send case: createSender is not in this build of @hookline/core");

  for (const s of Object.values(summary)) {
    for (const c of CONCURRENCIES) {
      delete s[c].roundMedians;
      s[c].roundCpu = s[c].roundCpu.map(Math.round);
    }
  }
  return {
    measured: summary.sender
      ? "createDeliveryAgent().deliver() (one signed attempt per delivery), and sender.send() + the dispatcher"
      : "createDeliveryAgent().deliver() (one signed attempt per delivery); createSender not in this build",
    url: "http://localhost:<port>/webhooks",
    size: SIZE,
    concurrencies: CONCURRENCIES,
    rounds,
    roundMs,
    warmupMs,
    deliveries: sent,
    cases: summary,
    goals,
    cpuRatios: cpu,
    guard: { pairs: guardPairs, sliceMs, ...guard },
  };
}
