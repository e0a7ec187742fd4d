import { sign } from "@hookline/core";
import { postgresInbox } from "@hookline/postgres";
import pg from "pg";
import { Pool as UndiciPool } from "undici";
import { formatRatio, installedVersion, percentile, table } from "../lib/harness.mjs";
import { jsonBody } from "../lib/payload.mjs";
import { postgresSettings, startPostgres } from "../lib/postgres-cluster.mjs";
import { forkReady, stopChild } from "../lib/processes.mjs";

const SERVER = new URL("../lib/inbox-postgres-server.mjs", import.meta.url);
const WORKER = new URL("../lib/inbox-postgres-worker.mjs", import.meta.url);
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const IN_FLIGHT = 32;
const CONCURRENCY = 10;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = (values) => [...values].sort((a, b) => a - b);
const median = (values) => percentile(sorted(values), 0.5);

export const peerVersions = () => Object.fromEntries(["pg", "undici"].map((name) => [name, installedVersion(name)]));

/** `count` signed 1 KiB deliveries with unique ids. */
async function signed(count, tag) {
  const payload = jsonBody(1024);
  const timestamp = Math.floor(Date.now() / 1000);
  const list = [];
  for (let i = 0; i < count; i++) {
    const headers = await sign({ secret: SECRET, payload, id: `msg_${tag}_${i}`, timestamp });
    list.push({ headers: { "content-type": "application/json", ...headers }, body: payload });
  }
  return list;
}

/** Posts every delivery to the route on `port`, IN_FLIGHT at a time; resolves requests per second. */
async function ingest(port, deliveries) {
  const client = new UndiciPool(`http://127.0.0.1:${port}`, { connections: IN_FLIGHT });
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < deliveries.length) {
      const { headers, body } = deliveries[next++];
      const response = await client.request({ path: "/webhooks", method: "POST", headers, body });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`answered ${response.statusCode} ${text}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const perSecond = (deliveries.length / (performance.now() - started)) * 1000;
  await client.close();
  return perSecond;
}

/** A stored event as the receiver would enqueue it. */
const stored = (id, n) => {
  const payload = JSON.stringify({
    type: "bench.event",
    timestamp: new Date().toISOString(),
    data: { n, sentAt: Date.now() },
  });
  return { id, type: "bench.event", payload, receivedAt: Date.now() };
};

export async function run({ quick, log }) {
  const postgres = await startPostgres();
  const pool = new pg.Pool({ connectionString: postgres.url, max: 20 });
  const settings = await postgresSettings(pool);
  log(
    `\ninbox-postgres: PostgreSQL ${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}`,
  );
  const rounds = quick ? 2 : 5;
  const perRound = quick ? 1_000 : 3_000;
  const processed = quick ? 1_000 : 4_000;
  const results = {};
  const servers = [];
  try {
    // Ingest: both routes up at once, rounds interleaved so that a noisy phase hits both alike.
    for (const mode of ["inbox", "floor"]) {
      servers.push(await forkReady(SERVER, { mode, url: postgres.url, table: `ingest_${mode}`, secret: SECRET }));
    }
    const [inboxPort, floorPort] = servers.map(({ message }) => message.port);
    await ingest(inboxPort, await signed(500, "warm_inbox"));
    await ingest(floorPort, await signed(500, "warm_floor"));
    const series = { inbox: [], floor: [] };
    for (let round = 0; round < rounds; round++) {
      series.inbox.push(await ingest(inboxPort, await signed(perRound, `inbox_${round}`)));
      series.floor.push(await ingest(floorPort, await signed(perRound, `floor_${round}`)));
    }
    const cpu = await Promise.all(servers.splice(0).map(({ child }) => stopChild(child)));
    const deliveries = 1_000 + rounds * perRound;
    results.ingest = {
      requestsPerRound: perRound,
      inFlight: IN_FLIGHT,
      perSecond: { inbox: median(series.inbox), floor: median(series.floor) },
      serverCpuUsPerRequest: { inbox: cpu[0].cpuUs / deliveries, floor: cpu[1].cpuUs / deliveries },
      rounds: series,
      ratio: median(series.inbox.map((value, i) => value / series.floor[i])),
    };

    // Processing: a full inbox emptied by 1, then 2, worker processes.
    let runs = 0;
    const processing = async (workers) => {
      const name = `work_${runs++}`;
      const inbox = postgresInbox({ client: pool, table: `${name}_inbox` });
      await inbox.migrate();
      await pool.query(`CREATE TABLE ${name}_ledger (event_id text NOT NULL, amount integer NOT NULL)`);
      for (let n = 0; n < processed; n += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, processed - n) }, (_, k) => inbox.enqueue(stored(`evt_${n + k}`, n + k))),
        );
      }
      const config = { url: postgres.url, table: `${name}_inbox`, ledger: `${name}_ledger`, concurrency: CONCURRENCY };
      const started = performance.now();
      const children = await Promise.all(Array.from({ length: workers }, () => forkReady(WORKER, config)));
      const count = async () => Number((await pool.query(`SELECT count(*) AS n FROM ${name}_ledger`)).rows[0].n);
      while ((await count()) < processed) await sleep(10);
      const perSecond = (processed / (performance.now() - started)) * 1000;
      const stopped = await Promise.all(children.map(({ child }) => stopChild(child)));
      const cpuUs = stopped.reduce((sum, { cpuUs }) => sum + cpuUs, 0);
      return { perSecond, perWorker: perSecond / workers, cpuUsPerEvent: cpuUs / processed };
    };
    const one = [];
    const two = [];
    for (let round = 0; round < (quick ? 1 : 3); round++) {
      one.push(await processing(1));
      two.push(await processing(2));
    }
    const pick = (list, key) => median(list.map((value) => value[key]));
    results.processing = {
      events: processed,
      concurrencyPerWorker: CONCURRENCY,
      oneWorker: { perSecond: pick(one, "perSecond"), cpuUsPerEvent: pick(one, "cpuUsPerEvent") },
      twoWorkers: {
        perSecond: pick(two, "perSecond"),
        perWorker: pick(two, "perWorker"),
        cpuUsPerEvent: pick(two, "cpuUsPerEvent"),
      },
    };

    // Enqueue → handler start, one idle worker, ≤ 50 events/s.
    const inbox = postgresInbox({ client: pool, table: "latency_inbox" });
    await inbox.migrate();
    await pool.query("CREATE TABLE latency_ledger (event_id text NOT NULL, amount integer NOT NULL)");
    const { child } = await forkReady(WORKER, {
      url: postgres.url,
      table: "latency_inbox",
      ledger: "latency_ledger",
      concurrency: CONCURRENCY,
    });
    const events = quick ? 100 : 300;
    for (let n = 0; n < events; n++) {
      await inbox.enqueue(stored(`evt_latency_${n}`, n));
      await sleep(20);
    }
    while (Number((await pool.query("SELECT count(*) AS n FROM latency_ledger")).rows[0].n) < events) await sleep(10);
    const { waitsMs } = await stopChild(child);
    const waits = sorted(waitsMs);
    results.latency = { events, enqueueToHandlerMs: { p50: percentile(waits, 0.5), p95: percentile(waits, 0.95) } };
  } finally {
    for (const { child } of servers) child.kill();
    await pool.end();
    await postgres.stop();
  }

  const fmt = (n) => Math.round(n).toLocaleString("en");
  const i = results.ingest;
  const p = results.processing;
  const l = results.latency.enqueueToHandlerMs;
  log(
    table([
      ["ingest", "postgresInbox /s", "bare INSERT floor /s", "× floor", "server CPU µs/request (inbox | floor)"],
      [
        `1 KiB, ${IN_FLIGHT} in flight`,
        fmt(i.perSecond.inbox),
        fmt(i.perSecond.floor),
        formatRatio(i.ratio),
        `${fmt(i.serverCpuUsPerRequest.inbox)} | ${fmt(i.serverCpuUsPerRequest.floor)}`,
      ],
    ]),
  );
  log(
    `  processing (a ledger row on tx per event, concurrency ${CONCURRENCY}): 1 worker ${fmt(p.oneWorker.perSecond)}/s; ` +
      `2 workers ${fmt(p.twoWorkers.perSecond)}/s (${fmt(p.twoWorkers.perWorker)}/s per worker); ` +
      `worker CPU ${fmt(p.oneWorker.cpuUsPerEvent)} µs/event`,
  );
  log(`  enqueue → handler start: p50 ${l.p50.toFixed(1)} ms, p95 ${l.p95.toFixed(1)} ms (idle worker, ≤ 50/s)`);
  const goals = [
    {
      id: "ingest",
      text: "ingest ≥ 0.70× the bare INSERT floor",
      pass: i.ratio >= 0.7,
      show: formatRatio(i.ratio),
    },
  ];
  for (const goal of goals) log(`  ${goal.pass ? "PASS" : "MISS"}  ${goal.text}: ${goal.show}`);
  return { postgres: settings, ...results, goals };
}
