// The `inbox-bullmq` suite, the BullMQ half of the inbox benchmarks: ingest requests/s of a receiver on
// `bullmqInbox` against the same node:http route doing a bare BullMQ `queue.add` of the raw body (the floor), in
// one server process, with the load from this one; then events/s of 1 and 2 worker processes emptying what was
// ingested, and enqueue → handler start p50/p95 at a steady trickle.
//
// These figures are about durability, so Redis runs as production would: a redis-server of the suite's own with
// `appendonly yes`, `appendfsync everysec` and `maxmemory-policy noeviction`, its settings printed with the results.
import { once } from "node:events";
import { Agent, request } from "node:http";
import { generateSecret, sign } from "@hookline/core";
import { Redis } from "ioredis";
import { formatRatio, installedVersion, pairedRatio, percentile, table } from "../lib/harness.mjs";
import { forkReady } from "../lib/processes.mjs";
import { formatSettings, redisSettings, startRedis } from "../lib/redis-server.mjs";

const SERVER = new URL("../lib/inbox-bullmq-server.mjs", import.meta.url);
const WORKER = new URL("../lib/inbox-bullmq-worker.mjs", import.meta.url);
const PREFIX = "{bench-inbox}";
const IN_FLIGHT = 32;
const CONCURRENCY = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = (values) => Float64Array.from(values).sort();
const round2 = (value) => Math.round(value * 100) / 100;

export const peerVersions = () =>
  Object.fromEntries(["bullmq", "ioredis"].map((name) => [name, installedVersion(name)]));

/** `count` signed deliveries of a 1 KiB `bench.event`, each with its own id. */
async function signPool(secret, count, tag) {
  const pad = "x".repeat(900);
  const timestamp = Math.floor(Date.now() / 1000);
  const pool = [];
  for (let i = 0; i < count; i++) {
    const id = `msg_${tag}_${i}`;
    const payload = JSON.stringify({ type: "bench.event", timestamp, data: { id, n: i, pad } });
    const headers = await sign({ secret, payload, id, timestamp });
    pool.push({ headers: { "content-type": "application/json", ...headers }, body: payload });
  }
  return pool;
}

/** POSTs every delivery of `pool` to `url`, `IN_FLIGHT` at a time; resolves requests per second. */
async function ingest(agent, url, pool) {
  let next = 0;
  const post = ({ headers, body }) =>
    new Promise((resolve, reject) => {
      const req = request(url, { method: "POST", agent, headers }, (response) => {
        response.resume();
        response.on("end", () =>
          response.statusCode === 200 ? resolve() : reject(new Error(`${url} answered ${response.statusCode}`)),
        );
      });
      req.on("error", reject);
      req.end(body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < pool.length) await post(pool[next++]);
    }),
  );
  return (pool.length / (performance.now() - started)) * 1000;
}

async function ask(child) {
  const reply = once(child, "message");
  child.send("count");
  return (await reply)[0];
}

async function stop(child) {
  const exited = once(child, "exit");
  child.send("stop");
  await exited;
}

/** Starts `processes` workers, waits until they have handled `count` events; resolves events per second. */
async function drain(redisUrl, processes, count) {
  const started = performance.now();
  const workers = await Promise.all(
    Array.from({ length: processes }, () =>
      forkReady(WORKER, { redisUrl, prefix: PREFIX, concurrency: CONCURRENCY }, (m) => m === "ready"),
    ),
  );
  let handled = 0;
  while (handled < count) {
    await sleep(50);
    handled = (await Promise.all(workers.map(({ child }) => ask(child)))).reduce((sum, { count }) => sum + count, 0);
  }
  const rate = (handled / (performance.now() - started)) * 1000;
  return { rate, workers };
}

export async function run({ quick, log }) {
  const redis = await startRedis();
  const secret = generateSecret();
  const connection = new Redis(redis.url);
  const settings = await redisSettings(connection);
  log(`\ninbox-bullmq: redis ${formatSettings(settings)}`);
  const { child: server, message } = await forkReady(
    SERVER,
    { secret, redisUrl: redis.url, prefix: PREFIX },
    (m) => m.port,
  );
  const base = `http://127.0.0.1:${message.port}`;
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const rounds = quick ? 2 : 5;
  const perRound = quick ? 500 : 2_000;
  log(`  ${rounds} interleaved rounds of ${perRound} requests per case, ${IN_FLIGHT} in flight, 1 KiB signed events`);

  try {
    // Ingest: the inbox route against the floor route, interleaved, paired per round.
    const cases = { inbox: { roundMedians: [] }, floor: { roundMedians: [] } };
    await ingest(agent, `${base}/inbox`, await signPool(secret, perRound, "warm_inbox"));
    await ingest(agent, `${base}/floor`, await signPool(secret, perRound, "warm_floor"));
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 === 0 ? ["inbox", "floor"] : ["floor", "inbox"]) {
        const pool = await signPool(secret, perRound, `${name}_${r}`);
        cases[name].roundMedians.push(await ingest(agent, `${base}/${name}`, pool));
      }
    }
    const median = (values) => percentile(sorted(values), 0.5);
    const ingestResult = {
      inboxRps: Math.round(median(cases.inbox.roundMedians)),
      floorRps: Math.round(median(cases.floor.roundMedians)),
      ratio: round2(pairedRatio(cases.inbox, cases.floor)),
      inboxRounds: cases.inbox.roundMedians.map(Math.round),
      floorRounds: cases.floor.roundMedians.map(Math.round),
    };

    // Processing: 1 worker process empties what the inbox route stored; then 2 empty a fresh backlog as large.
    const backlog = perRound * (rounds + 1);
    const one = await drain(redis.url, 1, backlog);
    await Promise.all(one.workers.map(({ child }) => stop(child)));
    await ingest(agent, `${base}/inbox`, await signPool(secret, backlog, "backlog_2"));
    const two = await drain(redis.url, 2, backlog);
    await Promise.all(two.workers.map(({ child }) => stop(child)));

    // Enqueue → handler start, one idle worker process, 20 events a second.
    const {
      workers: [lone],
    } = await drain(redis.url, 1, 0);
    const singles = await signPool(secret, quick ? 100 : 300, "latency");
    for (const delivery of singles) {
      await ingest(agent, `${base}/inbox`, [delivery]);
      await sleep(50);
    }
    let waits = [];
    while (waits.length < singles.length) {
      waits = waits.concat((await ask(lone.child)).waits);
      await sleep(20);
    }
    await stop(lone.child);
    const latency = sorted(waits);

    const result = {
      redis: settings,
      settings: { rounds, perRound, inFlight: IN_FLIGHT, workerConcurrency: CONCURRENCY, bodyBytes: 1024 },
      ingest: ingestResult,
      processing: {
        backlog,
        oneWorkerEventsPerSecond: Math.round(one.rate),
        twoWorkersEventsPerSecond: Math.round(two.rate),
        perWorkerWithTwo: Math.round(two.rate / 2),
      },
      enqueueToHandlerStartMs: { p50: round2(percentile(latency, 0.5)), p95: round2(percentile(latency, 0.95)) },
      goals: { ingestAtLeast70PercentOfFloor: ingestResult.ratio >= 0.7 },
    };
    log(
      `\n${table([
        ["route", "requests/s (median)", "× floor"],
        ["bare queue.add (floor)", ingestResult.floorRps.toLocaleString("en-US"), "1.00×"],
        ["receiver on bullmqInbox", ingestResult.inboxRps.toLocaleString("en-US"), formatRatio(ingestResult.ratio)],
      ])}\n`,
    );
    log(
      `  processing: ${result.processing.oneWorkerEventsPerSecond.toLocaleString("en-US")} events/s with 1 worker process, ` +
        `${result.processing.twoWorkersEventsPerSecond.toLocaleString("en-US")} with 2 (${backlog} events each)`,
    );
    log(
      `  enqueue → handler start: p50 ${result.enqueueToHandlerStartMs.p50} ms, p95 ${result.enqueueToHandlerStartMs.p95} ms`,
    );
    log(`  goal ingest ≥ 0.70× floor: ${result.goals.ingestAtLeast70PercentOfFloor ? "met" : "MISSED"}`);
    return result;
  } finally {
    agent.destroy();
    server.kill("SIGKILL");
    connection.disconnect();
    await redis.stop();
  }
}
