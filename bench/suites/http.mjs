// HTTP overhead of the Hookline route against the same framework's bare JSON route, over loopback with autocannon.
// Each framework's app runs in a child process (lib/http-server.mjs) with both routes; this process only generates
// load, so the two never compete for one event loop. Every Hookline request carries its own message id, signed
// before measuring, so the memory store really claims and completes each one.
import { fork } from "node:child_process";
import { once } from "node:events";
import { sign } from "@hookline/core";
import autocannon from "autocannon";
import { formatRatio, installedVersion, percentile, table } from "../lib/harness.mjs";
import { jsonBody } from "../lib/payload.mjs";

const FRAMEWORKS = [
  { key: "fastify", name: "Fastify 5" },
  { key: "hono", name: "Hono (node-server)" },
  { key: "express", name: "Express 5" },
];
const SIZE = 1024;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const GOAL = 0.85;
/** The most requests one round may take, whatever the calibration says: it bounds the pool and the store. */
const MAX_PER_ROUND = 20_000;
const MIN_PER_ROUND = 1_000;

/** What a sender adds besides the signature headers; autocannon adds Host, Connection and Content-Length. */
const BASE_HEADERS = { "content-type": "application/json", "user-agent": "Webhook-Sender/1.0", accept: "*/*" };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** The middle value, or the mean of the two middle ones (the default round count is odd, so one round's). */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const half = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
}
const round = (value, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * `count` deliveries of the same 1 KiB event, each with its own message id (header) and event id (body) and its own
 * signature, signed up front so that no HMAC runs in the load generator while measuring. Only the headers and the
 * event id are kept: each body is rebuilt from the template when it is sent (a 1 KiB copy), where keeping every
 * body would cost ~2 KiB of memory per delivery.
 */
async function signPool(count, tag) {
  const template = jsonBody(SIZE);
  const at = template.indexOf('"id":"evt_') + '"id":"evt_'.length; // 24 characters of event id follow
  const timestamp = Math.floor(Date.now() / 1000);
  const deliveries = new Array(count);
  for (let i = 0; i < count; i++) {
    const eventId = String(i).padStart(24, "0");
    const payload = `${template.slice(0, at)}${eventId}${template.slice(at + 24)}`;
    const signature = await sign({ secret: SECRET, payload, id: `msg_${tag}_${i}`, timestamp });
    deliveries[i] = { headers: { ...BASE_HEADERS, ...signature }, eventId };
  }
  const bytes = Buffer.from(template);
  const body = ({ eventId }) => {
    const copy = Buffer.from(bytes);
    copy.write(eventId, at, "latin1");
    return copy;
  };
  return { deliveries, body };
}

/**
 * A cursor over a pool, handing out `{ headers, body }`. A `unique` one refuses to wrap around: a repeated id
 * would be answered as a duplicate, not processed again.
 */
function cursor({ deliveries, body }, unique) {
  let next = 0;
  return {
    take() {
      if (next >= deliveries.length) {
        if (unique) throw new Error(`the pool of ${deliveries.length} signed deliveries ran out`);
        next = 0;
      }
      const delivery = deliveries[next++];
      return { headers: delivery.headers, body: body(delivery) };
    },
    get used() {
      return next;
    },
  };
}

/**
 * One autocannon run of exactly `amount` POSTs to `url`, each taking the cursor's next delivery. Requests per
 * second are counted from the start to the last response (autocannon's own end time lags by up to a sample
 * interval), and latencies are kept unrounded (its histogram rounds to whole milliseconds).
 */
async function load(url, from, { amount, connections }) {
  const latencies = new Float64Array(amount);
  let answered = 0;
  let last = 0;
  const started = performance.now();
  const run = autocannon({
    url,
    method: "POST",
    connections,
    pipelining: 1,
    amount,
    timeout: 10,
    // Sent as is; autocannon then adds the same Content-Length to the delivery's shared headers on every use.
    requests: [
      {
        setupRequest: (request) => {
          const { headers, body } = from.take();
          request.headers = headers;
          request.body = body;
          return request;
        },
      },
    ],
  });
  run.on("response", (_client, _status, _bytes, ms) => {
    if (answered < amount) latencies[answered] = ms;
    answered++;
    last = performance.now();
  });
  const result = await run;
  const sorted = latencies.subarray(0, Math.min(answered, amount)).sort();
  return {
    rps: (answered / (last - started)) * 1000,
    answered,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count])),
  };
}

function describeFailures(run) {
  return `${run.non2xx} non-2xx, ${run.errors} errors (${run.timeouts} timeouts), status codes ${JSON.stringify(run.statusCodes)}`;
}

/** Starts the framework's server child and resolves with its port, ways to ask for its stats and CPU time, and `stop`. */
async function startServer(framework, maxEntries) {
  // A plain node, as in production: without the --expose-gc this process runs with.
  const child = fork(
    new URL("../lib/http-server.mjs", import.meta.url),
    [JSON.stringify({ framework, secret: SECRET, maxEntries })],
    { execArgv: [] },
  );
  const exited = once(child, "exit");
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const [message] = await Promise.race([
      once(child, "message"),
      exited.then(([code]) => Promise.reject(new Error(`the ${framework} server exited (${code}) before listening`))),
      sleep(30_000).then(() => Promise.reject(new Error(`the ${framework} server did not listen within 30 s`))),
    ]);
    const ask = async (question) => {
      child.send(question);
      const [reply] = await once(child, "message");
      return reply;
    };
    return { port: message.port, stats: () => ask("stats"), cpuMicros: async () => (await ask("cpu")).cpuMicros, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One valid delivery must get 200 and a tampered copy 401, and the bare route must answer 200, before timing. */
async function checkRoutes(base, framework) {
  const valid = cursor(await signPool(1, `check_${framework}`), true).take();
  assert(valid.body.length === SIZE, `the signed bodies are ${valid.body.length} bytes, not ${SIZE}`);
  const post = (path, body) =>
    fetch(`${base}${path}`, { method: "POST", headers: valid.headers, body }).then(async (response) => ({
      status: response.status,
      text: await response.text(),
    }));
  const tampered = Buffer.from(valid.body);
  tampered[tampered.length - 3] ^= 1;
  const answers = {
    bare: await post("/bare", valid.body),
    hookline: await post("/webhooks", valid.body),
    tampered: await post("/webhooks", tampered),
  };
  assert(answers.bare.status === 200, `${framework} bare route answered ${answers.bare.status} ${answers.bare.text}`);
  assert(
    answers.hookline.status === 200 && answers.hookline.text === answers.bare.text,
    `${framework} Hookline route answered ${answers.hookline.status} ${answers.hookline.text} to a valid delivery`,
  );
  assert(
    answers.tampered.status === 401,
    `${framework} Hookline route answered ${answers.tampered.status} to a tampered delivery`,
  );
}

function settingsFrom(options) {
  const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
  return {
    rounds: env("BENCH_HTTP_ROUNDS", options.quick ? 3 : 9),
    roundMs: env("BENCH_HTTP_ROUND_MS", options.quick ? 400 : 1_500),
    warmupMs: env("BENCH_HTTP_WARMUP_MS", options.quick ? 500 : 1_500),
    connections: env("BENCH_HTTP_CONNECTIONS", 10),
    bodyBytes: SIZE,
  };
}

async function benchFramework({ key, name }, settings, log) {
  const { rounds, roundMs, warmupMs, connections } = settings;
  // The store must hold every id of the run, or an evicted id would be work the suite did not ask for.
  const maxEntries = (rounds + 1) * (MAX_PER_ROUND + connections) + 1_000;
  const server = await startServer(key, maxEntries);
  try {
    const base = `http://127.0.0.1:${server.port}`;
    await checkRoutes(base, key);

    // Calibrate on the bare route: a round is about `roundMs` of bare traffic, the same count for both routes. The
    // first runs are cold (the JIT is still at work), so each sizes the next and the fastest warm run counts.
    const calibration = cursor(await signPool(2_000, `${key}_calibration`), false);
    let warmRps = (await load(`${base}/bare`, calibration, { amount: MIN_PER_ROUND, connections })).rps;
    for (const ms of [warmupMs / 3, warmupMs]) {
      const amount = Math.max(MIN_PER_ROUND, Math.round((warmRps * ms) / 1000));
      warmRps = Math.max(warmRps, (await load(`${base}/bare`, calibration, { amount, connections })).rps);
    }
    const amount = Math.min(MAX_PER_ROUND, Math.max(MIN_PER_ROUND, Math.round((warmRps * roundMs) / 1000)));

    // Signed now, so that every timestamp is fresh: one round's worth to warm the Hookline route up, then the rounds.
    const pool = await signPool((rounds + 1) * amount, key);
    const unique = cursor(pool, true);
    const bare = cursor(pool, false);
    const hooklineWarm = await load(`${base}/webhooks`, unique, { amount, connections });
    assert(hooklineWarm.non2xx + hooklineWarm.errors === 0, `${name} warm-up: ${describeFailures(hooklineWarm)}`);
    log(
      `  ${name}: ${amount} requests per round, ${connections} connections, bare warm-up ${Math.round(warmRps)} req/s`,
    );

    // The server's CPU time per request, besides req/s: on a shared machine it moves far less than throughput.
    const measured = async (path, from) => {
      const before = await server.cpuMicros();
      const run = await load(`${base}${path}`, from, { amount, connections });
      run.cpuUsPerRequest = ((await server.cpuMicros()) - before) / run.answered;
      await sleep(50);
      return run;
    };
    const runs = { bare: [], hookline: [] };
    for (let r = 0; r < rounds; r++) {
      runs.bare.push(await measured("/bare", bare));
      runs.hookline.push(await measured("/webhooks", unique));
    }

    const failures = [...runs.bare, ...runs.hookline].filter((run) => run.non2xx + run.errors > 0);
    const hooklineNon2xx = runs.hookline.reduce((sum, run) => sum + run.non2xx + run.errors, 0);
    const bareNon2xx = runs.bare.reduce((sum, run) => sum + run.non2xx + run.errors, 0);
    // Every Hookline request was a new message (the check's, the warm-up's, the rounds'): each processed once,
    // no duplicate, every id still in the store, and no refusal but the check's tampered copy.
    const sent = 1 + amount * (rounds + 1);
    const { stats, storeSize, warnings } = await server.stats();
    const duplicates = stats.counts.duplicate ?? 0;
    const verification = {
      hooklineRequests: sent,
      processed: stats.processed,
      duplicates,
      storeSize,
      refusals: Object.fromEntries(
        Object.entries(stats.counts).filter(([code]) => !["received", "duplicate"].includes(code)),
      ),
      warnings,
      uniqueIdsUsed: unique.used,
    };
    const ok =
      failures.length === 0 &&
      stats.processed === sent &&
      duplicates === 0 &&
      storeSize === sent &&
      JSON.stringify(verification.refusals) === JSON.stringify({ no_matching_signature: 1 }) &&
      warnings.length === 0;

    const ratios = runs.hookline.map((run, i) => run.rps / runs.bare[i].rps);
    const summary = (list) => ({
      rpsMedian: round(median(list.map((run) => run.rps))),
      cpuUsPerRequest: round(median(list.map((run) => run.cpuUsPerRequest))),
      p50Ms: round(median(list.map((run) => run.p50Ms)), 3),
      p99Ms: round(median(list.map((run) => run.p99Ms)), 3),
      rpsRounds: list.map((run) => round(run.rps)),
      cpuUsRounds: list.map((run) => round(run.cpuUsPerRequest)),
      p50MsRounds: list.map((run) => round(run.p50Ms, 3)),
      p99MsRounds: list.map((run) => round(run.p99Ms, 3)),
    });
    const sortedRatios = [...ratios].sort((a, b) => a - b);
    return {
      key,
      name,
      amountPerRound: amount,
      bare: { ...summary(runs.bare), non2xx: bareNon2xx },
      hookline: { ...summary(runs.hookline), non2xx: hooklineNon2xx },
      ratio: round(median(ratios), 3),
      ratioRounds: ratios.map((r) => round(r, 3)),
      // What the ratio would be if the server's CPU were the only limit: bare CPU time / Hookline CPU time.
      cpuRatio: round(median(runs.bare.map((run, i) => run.cpuUsPerRequest / runs.hookline[i].cpuUsPerRequest)), 3),
      // The interquartile range of the per-round ratios: a noise gauge, as in the verify suite.
      ratioSpread: round(percentile(sortedRatios, 0.75) - percentile(sortedRatios, 0.25), 3),
      verification,
      ok,
      failure: ok
        ? undefined
        : [
            ...failures.map((run) => describeFailures(run)),
            `processed ${stats.processed} of ${sent} signed deliveries, ${duplicates} duplicates, store holds ${storeSize}, refusals ${JSON.stringify(verification.refusals)}`,
            ...warnings.map((w) => `receiver: ${w.message} ${JSON.stringify(w.fields)}`),
          ].join("; "),
    };
  } finally {
    await server.stop();
  }
}

export const peerVersions = () =>
  Object.fromEntries(
    [
      "@hookline/core",
      "@hookline/express",
      "@hookline/fastify",
      "@hookline/hono",
      "express",
      "fastify",
      "hono",
      "@hono/node-server",
      "zod",
      "autocannon",
    ].map((name) => [name, installedVersion(name)]),
  );

/**
 * Runs the suite and returns its JSON section. Throws when a route answered anything but 2xx, or when the receiver
 * did not process every delivery exactly once.
 * @param {{ quick?: boolean, log: (line: string) => void }} options
 */
export async function run(options) {
  const { log } = options;
  const settings = settingsFrom(options);
  log(
    `\nhttp, ${SIZE / 1024} KiB signed event, ${settings.rounds} rounds (bare, then Hookline) of ~${settings.roundMs} ms per route, ` +
      `${settings.connections} connections, servers in child processes`,
  );
  const frameworks = [];
  for (const framework of FRAMEWORKS) frameworks.push(await benchFramework(framework, settings, log));

  const ms = (value) => `${value.toFixed(2)} ms`;
  const rows = [
    [
      "framework",
      "bare req/s",
      "hookline req/s",
      "ratio",
      "ratio IQR",
      "bare p50 / p99",
      "hookline p50 / p99",
      "server CPU/req",
      "CPU ratio",
    ],
  ];
  for (const f of frameworks) {
    rows.push([
      f.name,
      Math.round(f.bare.rpsMedian).toLocaleString("en-US"),
      Math.round(f.hookline.rpsMedian).toLocaleString("en-US"),
      `${(f.ratio * 100).toFixed(1)}%`,
      `${(f.ratioSpread * 100).toFixed(1)} pt`,
      `${ms(f.bare.p50Ms)} / ${ms(f.bare.p99Ms)}`,
      `${ms(f.hookline.p50Ms)} / ${ms(f.hookline.p99Ms)}`,
      `${Math.round(f.bare.cpuUsPerRequest)} → ${Math.round(f.hookline.cpuUsPerRequest)} µs`,
      `${(f.cpuRatio * 100).toFixed(1)}%`,
    ]);
  }
  log(`\n${table(rows)}\n`);

  const goals = frameworks.map((f) => ({
    id: `${f.key}-hookline-vs-bare`,
    goal: `${f.name}: Hookline route ≥ ${GOAL * 100}% of the bare route's req/s`,
    ratio: f.ratio,
    pass: f.ratio >= GOAL,
  }));
  for (const g of goals) log(`  ${g.pass ? "PASS" : "MISS"}  ${g.goal}: ${(g.ratio * 100).toFixed(1)}%`);
  for (const f of frameworks) {
    const v = f.verification;
    log(
      `  ${f.ok ? "ok  " : "FAIL"}  ${f.name}: ${v.processed} of ${v.hooklineRequests} signed deliveries processed, ` +
        `${v.duplicates} duplicates, store holds ${v.storeSize}, ${f.hookline.non2xx + f.bare.non2xx} non-2xx; ` +
        `per-round ratios ${f.ratioRounds.map((r) => formatRatio(r)).join(" ")}`,
    );
  }
  const failed = frameworks.filter((f) => !f.ok);
  if (failed.length > 0) {
    throw new Error(failed.map((f) => `${f.name}: ${f.failure}`).join("\n"));
  }
  return { settings, frameworks, goals };
}
