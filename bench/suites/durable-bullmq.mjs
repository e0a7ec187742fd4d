// The `durable-bullmq` suite, the BullMQ half of the `durable` benchmarks: deliveries/s from 1 and 3 worker
// processes on `bullmqDeliveries` to a loopback Hookline receiver, against a bare BullMQ job loop making the same
// attempt (the floor) in the same run; created → delivered p50/p95; `send` p50/p95; and head-of-line isolation
// (one endpoint that always hangs to the timeout must leave the others ≥ 90% of their throughput).
//
// These figures are about durability, so Redis runs as production would: a redis-server of the suite's own with
// `appendonly yes`, `appendfsync everysec` and `maxmemory-policy noeviction`, its settings printed with the results.
import { once } from "node:events";
import { createSender, generateSecret } from "@hookline/core";
import { bullmqDeliveries } from "@hookline/redis/bullmq";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { formatRatio, installedVersion, percentile, table } from "../lib/harness.mjs";
import { forkReady, stopChild } from "../lib/processes.mjs";
import { formatSettings, redisSettings, startRedis } from "../lib/redis-server.mjs";

const WORKER = new URL("../lib/durable-bullmq-worker.mjs", import.meta.url);
const RECEIVER = new URL("../lib/durable-receiver.mjs", import.meta.url);
const CONCURRENCY = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

export const peerVersions = () =>
  Object.fromEntries(["bullmq", "ioredis"].map((name) => [name, installedVersion(name)]));

/** Stops a worker process; resolves the CPU time it used while working, in µs. */

export async function run({ quick, log }) {
  const redis = await startRedis();
  const secret = generateSecret();
  const { child: receiver, message } = await forkReady(RECEIVER, { secret }, (m) => m.port);
  const base = `http://127.0.0.1:${message.port}`;
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const counts = async () => {
    receiver.send("counts");
    const [reply] = await once(receiver, "message");
    return reply.counts;
  };
  /** The CPU time Redis used so far (user + system), in µs. */
  const redisCpuUs = async () => {
    const cpu = await connection.info("cpu");
    const seconds = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)[1]);
    return (seconds("used_cpu_user") + seconds("used_cpu_sys")) * 1e6;
  };
  const delivered = async (paths) => {
    const now = await counts();
    return paths.reduce((sum, path) => sum + (now[path] ?? 0), 0);
  };
  const settings = await redisSettings(connection);
  log(`\ndurable-bullmq: redis ${formatSettings(settings)}`);

  let run = 0;
  const messages = quick ? 300 : 1_000;
  const rounds = quick ? 1 : 3;

  /** An engine of its own (a fresh prefix) with its endpoints, the workers started, and a sender to send with. */
  // By default the per-endpoint limit is every worker's concurrency together: its bookkeeping runs, but it never
  // holds a delivery back, as the floor has no such limit (the head-of-line runs set the default, 10).
  async function engineRun(
    workers,
    paths,
    { timeoutMs = 15_000, perEndpointConcurrency = workers * CONCURRENCY } = {},
  ) {
    const prefix = `{bench-${run++}}`;
    const store = bullmqDeliveries({ connection, prefix });
    const sender = createSender({ store, allow: ["127.0.0.1/32"], logger: { info() {}, warn() {}, error() {} } });
    for (const path of paths) await sender.endpoints.create({ url: `${base}${path}`, secret });
    const config = {
      mode: "engine",
      redisUrl: redis.url,
      prefix,
      concurrency: CONCURRENCY,
      perEndpointConcurrency,
      timeoutMs,
    };
    const children = await Promise.all(
      Array.from({ length: workers }, () => forkReady(WORKER, config, (m) => m === "ready")),
    );
    return {
      sender,
      store,
      /** Stops the workers; resolves the CPU time they used, in µs. */
      async stop() {
        const cpu = await Promise.all(children.map(async ({ child }) => (await stopChild(child)).cpuUs));
        await sender.stop();
        await store.close();
        return cpu.reduce((sum, us) => sum + us, 0);
      },
    };
  }

  /** Deliveries/s: sends `messages` (fanned out to every endpoint) and waits for the healthy paths' deliveries. */
  async function engineThroughput(workers, paths, healthy = paths, options) {
    const engine = await engineRun(workers, paths, options);
    const before = await delivered(healthy);
    const redisBefore = await redisCpuUs();
    const started = performance.now();
    for (let n = 0; n < messages; n += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, messages - n) }, () => engine.sender.send("bench.event", { n })),
      );
    }
    const target = before + messages * healthy.length;
    while ((await delivered(healthy)) < target) await sleep(5);
    const perSecond = (messages * healthy.length) / ((performance.now() - started) / 1000);
    const redisCpu = (await redisCpuUs()) - redisBefore;
    const workersCpu = await engine.stop();
    return {
      perSecond,
      cpuUs: { workers: workersCpu / (messages * healthy.length), redis: redisCpu / (messages * healthy.length) },
    };
  }

  /** The floor: the same number of attempts as bare BullMQ jobs carrying what the POST needs. */
  async function floorThroughput(workers, paths) {
    const prefix = `{bench-floor-${run++}}`;
    const config = { mode: "floor", redisUrl: redis.url, prefix, concurrency: CONCURRENCY, timeoutMs: 15_000 };
    const children = await Promise.all(
      Array.from({ length: workers }, () => forkReady(WORKER, config, (m) => m === "ready")),
    );
    const queue = new Queue("floor", { connection, prefix });
    const before = await delivered(paths);
    const redisBefore = await redisCpuUs();
    const started = performance.now();
    // One add per message with its jobs, as an app calls `send` once per event (100 at once, as the engine's run).
    for (let n = 0; n < messages; n += 100) {
      const adds = [];
      for (let k = n; k < Math.min(messages, n + 100); k++) {
        const payload = JSON.stringify({ type: "bench.event", timestamp: new Date().toISOString(), data: { n: k } });
        const jobs = paths.map((path) => ({
          name: "attempt",
          data: { url: `${base}${path}`, payload, id: `msg_floor_${run}_${k}`, secret },
          opts: { removeOnComplete: true, removeOnFail: true },
        }));
        adds.push(queue.addBulk(jobs));
      }
      await Promise.all(adds);
    }
    const target = before + messages * paths.length;
    while ((await delivered(paths)) < target) await sleep(5);
    const perSecond = (messages * paths.length) / ((performance.now() - started) / 1000);
    const redisCpu = (await redisCpuUs()) - redisBefore;
    const cpu = await Promise.all(children.map(async ({ child }) => (await stopChild(child)).cpuUs));
    await queue.obliterate({ force: true });
    await queue.close();
    const workersCpu = cpu.reduce((sum, us) => sum + us, 0);
    return {
      perSecond,
      cpuUs: { workers: workersCpu / (messages * paths.length), redis: redisCpu / (messages * paths.length) },
    };
  }

  const results = {};
  try {
    // Throughput, interleaved rounds so that a noisy phase of the machine hits engine and floor alike.
    const paths = ["/a", "/b"];
    const series = { engine1: [], floor1: [], engine3: [], floor3: [] };
    await engineThroughput(1, paths); // warm-up: script loading, JIT
    for (let round = 0; round < rounds; round++) {
      series.engine1.push(await engineThroughput(1, paths));
      series.floor1.push(await floorThroughput(1, paths));
      series.engine3.push(await engineThroughput(3, paths));
      series.floor3.push(await floorThroughput(3, paths));
    }
    const ratio = (a, b) => median(series[a].map((value, i) => value.perSecond / series[b][i].perSecond));
    const medianOf = (values, pick) => median(values.map(pick));
    results.throughput = {
      deliveriesPerRun: messages * paths.length,
      perSecond: Object.fromEntries(
        Object.entries(series).map(([key, values]) => [key, medianOf(values, (v) => v.perSecond)]),
      ),
      // CPU time per delivery (µs), of the worker processes and of Redis: steadier than rates on a busy machine.
      cpuUsPerDelivery: Object.fromEntries(
        Object.entries(series).map(([key, values]) => [
          key,
          { workers: medianOf(values, (v) => v.cpuUs.workers), redis: medianOf(values, (v) => v.cpuUs.redis) },
        ]),
      ),
      rounds: series,
      ratio1: ratio("engine1", "floor1"),
      ratio3: ratio("engine3", "floor3"),
    };

    // Created → delivered, and send, at a steady 50 messages/s to one endpoint, with one worker process.
    const engine = await engineRun(1, ["/latency"]);
    const sendMs = [];
    const ids = [];
    const count = quick ? 100 : 300;
    for (let n = 0; n < count; n++) {
      const started = performance.now();
      const { messageId } = await engine.sender.send("bench.event", { n });
      sendMs.push(performance.now() - started);
      ids.push(messageId);
      await sleep(20);
    }
    while ((await delivered(["/latency"])) < count) await sleep(10);
    const latencyMs = [];
    for (const id of ids) {
      const message = await engine.store.messages.get(id);
      const [delivery] = (await engine.store.deliveries.list({ messageId: id })).items;
      latencyMs.push(delivery.updatedAt - message.createdAt);
    }
    await engine.stop();
    sendMs.sort((a, b) => a - b);
    latencyMs.sort((a, b) => a - b);
    results.latency = {
      messages: count,
      createdToDeliveredMs: { p50: percentile(latencyMs, 0.5), p95: percentile(latencyMs, 0.95) },
      sendMs: { p50: percentile(sendMs, 0.5), p95: percentile(sendMs, 0.95) },
    };

    // Head-of-line isolation, 3 worker processes, a 1 s timeout, the default 10 per endpoint: every message goes
    // to four endpoints, and the deliveries/s of three of them are measured while the fourth answers at once, then
    // while it never answers. The same deliveries are stored and queued in both runs: only the hanging differs.
    const healthy = ["/h1", "/h2", "/h3"];
    const options = { timeoutMs: 1_000, perEndpointConcurrency: 10 };
    const alone = [];
    const withHang = [];
    for (let round = 0; round < rounds; round++) {
      alone.push(await engineThroughput(3, [...healthy, "/h4"], healthy, options));
      withHang.push(await engineThroughput(3, [...healthy, "/hang"], healthy, options));
    }
    results.headOfLine = {
      besideHealthy: median(alone.map((v) => v.perSecond)),
      withHangingEndpoint: median(withHang.map((v) => v.perSecond)),
      ratio: median(withHang.map((value, i) => value.perSecond / alone[i].perSecond)),
    };
  } finally {
    connection.disconnect();
    receiver.kill();
    await redis.stop();
  }

  const t = results.throughput;
  const fmt = (n) => Math.round(n).toLocaleString("en");
  const cpu = (key) => `${fmt(t.cpuUsPerDelivery[key].workers)} + ${fmt(t.cpuUsPerDelivery[key].redis)}`;
  log(
    table([
      [
        "workers",
        "bullmqDeliveries /s",
        "bare BullMQ floor /s",
        "× floor",
        "CPU µs/delivery: workers + Redis (engine | floor)",
      ],
      [
        "1 process",
        fmt(t.perSecond.engine1),
        fmt(t.perSecond.floor1),
        formatRatio(t.ratio1),
        `${cpu("engine1")} | ${cpu("floor1")}`,
      ],
      [
        "3 processes",
        fmt(t.perSecond.engine3),
        fmt(t.perSecond.floor3),
        formatRatio(t.ratio3),
        `${cpu("engine3")} | ${cpu("floor3")}`,
      ],
    ]),
  );
  const l = results.latency;
  log(
    `  created → delivered p50 ${l.createdToDeliveredMs.p50} ms, p95 ${l.createdToDeliveredMs.p95} ms; ` +
      `send p50 ${l.sendMs.p50.toFixed(2)} ms, p95 ${l.sendMs.p95.toFixed(2)} ms (${l.messages} messages at 50/s)`,
  );
  const h = results.headOfLine;
  log(
    `  head of line: 3 endpoints ${fmt(h.besideHealthy)}/s beside a fourth that answers, ${fmt(h.withHangingEndpoint)}/s beside one that hangs (${formatRatio(h.ratio)})`,
  );
  const goals = [
    {
      id: "engine-1",
      text: "1 process ≥ 0.70× the bare BullMQ floor",
      pass: t.ratio1 >= 0.7,
      show: formatRatio(t.ratio1),
    },
    {
      id: "engine-3",
      text: "3 processes ≥ 0.70× the bare BullMQ floor",
      pass: t.ratio3 >= 0.7,
      show: formatRatio(t.ratio3),
    },
    {
      id: "head-of-line",
      text: "a hanging endpoint leaves the others ≥ 0.90× their throughput",
      pass: h.ratio >= 0.9,
      show: formatRatio(h.ratio),
    },
  ];
  for (const goal of goals) log(`  ${goal.pass ? "PASS" : "MISS"}  ${goal.text}: ${goal.show}`);
  return { redis: settings, concurrencyPerProcess: CONCURRENCY, ...results, goals };
}
