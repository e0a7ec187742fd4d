import { once } from "node:events";
import { createSender, generateSecret } from "@hookline/core";
import { postgresDeliveries } from "@hookline/postgres";
import pg from "pg";
import { formatRatio, installedVersion, percentile, table } from "../lib/harness.mjs";
import { postgresSettings, startPostgres } from "../lib/postgres-cluster.mjs";
import { forkReady, stopChild } from "../lib/processes.mjs";

const WORKER = new URL("../lib/durable-postgres-worker.mjs", import.meta.url);
const RECEIVER = new URL("../lib/durable-receiver.mjs", import.meta.url);
const CONCURRENCY = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

export const peerVersions = () => Object.fromEntries(["pg"].map((name) => [name, installedVersion(name)]));

export async function run({ quick, log }) {
  const postgres = await startPostgres();
  const secret = generateSecret();
  const { child: receiver, message } = await forkReady(RECEIVER, { secret }, (m) => m.port);
  const base = `http://127.0.0.1:${message.port}`;
  const pool = new pg.Pool({ connectionString: postgres.url, max: 20 });
  const counts = async () => {
    receiver.send("counts");
    const [reply] = await once(receiver, "message");
    return reply.counts;
  };
  const delivered = async (paths) => {
    const now = await counts();
    return paths.reduce((sum, path) => sum + (now[path] ?? 0), 0);
  };
  const settings = await postgresSettings(pool);
  log(
    `\ndurable-postgres: PostgreSQL ${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}`,
  );

  let runs = 0;
  const messages = quick ? 300 : 1_000;
  const rounds = quick ? 1 : 3;

  /** An engine of its own (fresh tables) with its endpoints, the workers started, and a sender to send with. */
  // By default the per-endpoint limit is every worker's concurrency together: its bookkeeping runs, but it never
  // holds a delivery back, as the floor has no such limit (the head-of-line runs set the default, 10).
  async function engineRun(
    workers,
    paths,
    { timeoutMs = 15_000, perEndpointConcurrency = workers * CONCURRENCY } = {},
  ) {
    const prefix = `bench_${runs++}_`;
    const store = postgresDeliveries({ client: pool, tablePrefix: prefix });
    await store.migrate();
    const sender = createSender({ store, allow: ["127.0.0.1/32"], logger: { info() {}, warn() {}, error() {} } });
    for (const path of paths) await sender.endpoints.create({ url: `${base}${path}`, secret });
    const config = {
      mode: "engine",
      url: postgres.url,
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
        const cpu = await Promise.all(children.map(({ child }) => stopChild(child).then(({ cpuUs }) => cpuUs)));
        await sender.stop();
        return cpu.reduce((sum, us) => sum + us, 0);
      },
    };
  }

  /** Deliveries/s: sends `messages` (fanned out to every endpoint) and waits for the healthy paths' deliveries. */
  async function engineThroughput(workers, paths, healthy = paths, options) {
    const engine = await engineRun(workers, paths, options);
    const before = await delivered(healthy);
    const started = performance.now();
    for (let n = 0; n < messages; n += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, messages - n) }, () => engine.sender.send("bench.event", { n })),
      );
    }
    const target = before + messages * healthy.length;
    while ((await delivered(healthy)) < target) await sleep(5);
    const perSecond = (messages * healthy.length) / ((performance.now() - started) / 1000);
    const workersCpu = await engine.stop();
    return { perSecond, cpuUs: workersCpu / (messages * healthy.length) };
  }

  /** The floor: the same attempts as rows of a one-table queue, claimed with FOR UPDATE SKIP LOCKED. */
  async function floorThroughput(workers, paths) {
    const prefix = `bench_floor_${runs++}_`;
    await pool.query(`CREATE TABLE ${prefix}floor (id bigserial PRIMARY KEY, url text NOT NULL, payload text NOT NULL,
      message_id text NOT NULL, done boolean NOT NULL DEFAULT false, lease_until timestamptz NOT NULL DEFAULT '-infinity')`);
    await pool.query(`CREATE INDEX ON ${prefix}floor (id) WHERE NOT done`);
    const config = { mode: "floor", url: postgres.url, prefix, concurrency: CONCURRENCY, timeoutMs: 15_000, secret };
    const children = await Promise.all(
      Array.from({ length: workers }, () => forkReady(WORKER, config, (m) => m === "ready")),
    );
    const before = await delivered(paths);
    const started = performance.now();
    // One INSERT per message with its rows, as an app calls `send` once per event (100 at once, as the engine's run).
    for (let n = 0; n < messages; n += 100) {
      const inserts = [];
      for (let k = n; k < Math.min(messages, n + 100); k++) {
        const payload = JSON.stringify({ type: "bench.event", timestamp: new Date().toISOString(), data: { n: k } });
        const values = paths.map((_, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`).join(", ");
        const params = paths.flatMap((path) => [`${base}${path}`, payload, `msg_floor_${runs}_${k}`]);
        inserts.push(pool.query(`INSERT INTO ${prefix}floor (url, payload, message_id) VALUES ${values}`, params));
      }
      await Promise.all(inserts);
    }
    const target = before + messages * paths.length;
    while ((await delivered(paths)) < target) await sleep(5);
    const perSecond = (messages * paths.length) / ((performance.now() - started) / 1000);
    const cpu = await Promise.all(children.map(({ child }) => stopChild(child).then(({ cpuUs }) => cpuUs)));
    return { perSecond, cpuUs: cpu.reduce((sum, us) => sum + us, 0) / (messages * paths.length) };
  }

  const results = {};
  try {
    // Throughput, interleaved rounds so that a noisy phase of the machine hits engine and floor alike.
    const paths = ["/a", "/b"];
    const series = { engine1: [], floor1: [], engine3: [], floor3: [] };
    await engineThroughput(1, paths); // warm-up: script loading, JIT, the cluster's caches
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
      // CPU time per delivery (µs) of the worker processes: steadier than rates on a busy machine.
      cpuUsPerDelivery: Object.fromEntries(
        Object.entries(series).map(([key, values]) => [key, medianOf(values, (v) => v.cpuUs)]),
      ),
      rounds: series,
      ratio1: ratio("engine1", "floor1"),
      ratio3: ratio("engine3", "floor3"),
    };

    // Created → delivered at a steady 50 messages/s to one endpoint with one idle-between-messages worker
    // (so LISTEN/NOTIFY wakes it), and send inside a transaction (BEGIN, an order row, send, COMMIT).
    const engine = await engineRun(1, ["/latency"]);
    await pool.query("CREATE TABLE IF NOT EXISTS bench_orders (id bigserial PRIMARY KEY, n integer NOT NULL)");
    const sendMs = [];
    const transactionMs = [];
    const ids = [];
    const count = quick ? 100 : 300;
    for (let n = 0; n < count; n++) {
      const client = await pool.connect();
      const began = performance.now();
      await client.query("BEGIN");
      await client.query("INSERT INTO bench_orders (n) VALUES ($1)", [n]);
      const sending = performance.now();
      const { messageId } = await engine.sender.send("bench.event", { n }, { tx: client });
      sendMs.push(performance.now() - sending);
      await client.query("COMMIT");
      transactionMs.push(performance.now() - began);
      client.release();
      ids.push(messageId);
      await sleep(20);
    }
    while ((await delivered(["/latency"])) < count) await sleep(10);
    const latencyMs = [];
    for (const id of ids) {
      const sent = await engine.store.messages.get(id);
      const [delivery] = (await engine.store.deliveries.list({ messageId: id })).items;
      latencyMs.push(delivery.updatedAt - sent.createdAt);
    }
    await engine.stop();
    for (const list of [sendMs, transactionMs, latencyMs]) list.sort((a, b) => a - b);
    const p = (list) => ({ p50: percentile(list, 0.5), p95: percentile(list, 0.95) });
    results.latency = {
      messages: count,
      createdToDeliveredMs: p(latencyMs),
      sendInTransactionMs: p(sendMs),
      transactionMs: p(transactionMs),
    };

    // Head-of-line isolation, 3 worker processes, a 1 s timeout, the default 10 per endpoint: three healthy
    // endpoints alone, then with a fourth that never answers and gets its share of every message.
    const healthy = ["/h1", "/h2", "/h3"];
    const options = { timeoutMs: 1_000, perEndpointConcurrency: 10 };
    const alone = [];
    const withHang = [];
    for (let round = 0; round < rounds; round++) {
      alone.push(await engineThroughput(3, healthy, healthy, options));
      withHang.push(await engineThroughput(3, [...healthy, "/hang"], healthy, options));
    }
    results.headOfLine = {
      alone: median(alone.map((v) => v.perSecond)),
      withHangingEndpoint: median(withHang.map((v) => v.perSecond)),
      ratio: median(withHang.map((value, i) => value.perSecond / alone[i].perSecond)),
    };
  } finally {
    await pool.end();
    receiver.kill();
    await postgres.stop();
  }

  const t = results.throughput;
  const fmt = (n) => Math.round(n).toLocaleString("en");
  log(
    table([
      [
        "workers",
        "postgresDeliveries /s",
        "SKIP LOCKED + POST floor /s",
        "× floor",
        "worker CPU µs/delivery (engine | floor)",
      ],
      [
        "1 process",
        fmt(t.perSecond.engine1),
        fmt(t.perSecond.floor1),
        formatRatio(t.ratio1),
        `${fmt(t.cpuUsPerDelivery.engine1)} | ${fmt(t.cpuUsPerDelivery.floor1)}`,
      ],
      [
        "3 processes",
        fmt(t.perSecond.engine3),
        fmt(t.perSecond.floor3),
        formatRatio(t.ratio3),
        `${fmt(t.cpuUsPerDelivery.engine3)} | ${fmt(t.cpuUsPerDelivery.floor3)}`,
      ],
    ]),
  );
  const l = results.latency;
  const ms = ({ p50, p95 }) => `p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`;
  log(
    `  created → delivered ${ms(l.createdToDeliveredMs)}; send inside a transaction ${ms(l.sendInTransactionMs)}; ` +
      `whole transaction ${ms(l.transactionMs)} (${l.messages} messages at ≤ 50/s)`,
  );
  const h = results.headOfLine;
  log(
    `  head of line: 3 healthy endpoints ${fmt(h.alone)}/s alone, ${fmt(h.withHangingEndpoint)}/s beside one that hangs (${formatRatio(h.ratio)})`,
  );
  const goals = [
    {
      id: "engine-1",
      text: "1 process ≥ 0.70× the SKIP LOCKED floor",
      pass: t.ratio1 >= 0.7,
      show: formatRatio(t.ratio1),
    },
    {
      id: "engine-3",
      text: "3 processes ≥ 0.70× the SKIP LOCKED floor",
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
  return { postgres: settings, concurrencyPerProcess: CONCURRENCY, ...results, goals };
}
