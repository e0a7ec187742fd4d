// Idempotency stores: claim+complete pairs per second (one after another, and 50 at once) and round trips per
// event, for memory, Redis (ioredis), PostgreSQL (pg) and PGlite. Goal: exactly 2 round trips for a new event
// (claim, complete) and 1 for a duplicate (claim → done).
//
// Redis and PostgreSQL come from REDIS_URL and DATABASE_URL (`eval "$(bash .ci/services.sh)"` starts both); a
// store whose service is not configured is reported as skipped.

import { PGlite } from "@electric-sql/pglite";
import { memoryStore } from "@hookline/core";
import { postgresStore } from "@hookline/postgres";
import { redisStore } from "@hookline/redis";
import { Redis } from "ioredis";
import pg from "pg";
import { formatRatio, installedVersion, percentile, table } from "../lib/harness.mjs";

const CONCURRENCY = 50;
const run_id = Date.now().toString(36);

/** Counts what one `fn()` sends: Redis by its server's command stats, SQL clients by their query calls. */
function countingQueries(client) {
  const counter = { count: 0 };
  const query = client.query.bind(client);
  client.query = (...args) => {
    counter.count++;
    return query(...args);
  };
  return counter;
}

async function redisRoundTrips(client) {
  const info = await client.info("commandstats");
  let calls = 0;
  for (const line of info.split("\n")) {
    const match = /^cmdstat_(evalsha|eval):calls=(\d+)/.exec(line.trim());
    if (match) calls += Number(match[2]);
  }
  return calls;
}

async function makeStores(log) {
  const stores = [{ key: "memory", name: "memory", store: memoryStore({ maxEntries: 1_000_000 }), trips: null }];

  if (process.env.REDIS_URL) {
    const client = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    const probe = new Redis(process.env.REDIS_URL);
    stores.push({
      key: "redis",
      name: "Redis (ioredis)",
      store: redisStore({ client, prefix: `bench:${run_id}:` }),
      trips: () => redisRoundTrips(probe),
      close: async () => {
        const keys = await probe.keys(`bench:${run_id}:*`);
        for (let i = 0; i < keys.length; i += 1000) await probe.del(...keys.slice(i, i + 1000));
        client.disconnect();
        probe.disconnect();
      },
    });
  } else log('  skipped Redis: REDIS_URL is not set (eval "$(bash .ci/services.sh)" starts one)');

  if (process.env.DATABASE_URL) {
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: CONCURRENCY });
    const table_ = `hookline_bench_${run_id}`;
    const store = postgresStore({ client: pool, table: table_ });
    await store.migrate();
    const counter = countingQueries(pool);
    stores.push({
      key: "postgres",
      name: "PostgreSQL (pg)",
      store,
      trips: async () => counter.count,
      close: async () => {
        await pool.query(`DROP TABLE IF EXISTS ${table_}`);
        await pool.end();
      },
    });
  } else log('  skipped PostgreSQL: DATABASE_URL is not set (eval "$(bash .ci/services.sh)" starts one)');

  const lite = new PGlite();
  const liteStore = postgresStore({ client: lite });
  await liteStore.migrate();
  const liteCounter = countingQueries(lite);
  stores.push({
    key: "pglite",
    name: "PGlite (in memory)",
    store: liteStore,
    trips: async () => liteCounter.count,
    close: () => lite.close(),
  });
  return stores;
}

let sequence = 0;
const freshKey = () => `evt_${run_id}_${++sequence}`;

async function claimAndComplete(store) {
  const key = freshKey();
  const claim = await store.claim(key);
  if (claim.status !== "claimed") throw new Error(`a new key must be claimed, got ${JSON.stringify(claim)}`);
  if (!(await store.complete(key, claim.token))) throw new Error("complete must succeed with the claim's token");
  return key;
}

/** Pairs per second over `ms`, with `parallel` workers each doing one pair after another. */
async function throughput(store, ms, parallel) {
  const latencies = [];
  const end = performance.now() + ms;
  let pairs = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await claimAndComplete(store);
        latencies.push(performance.now() - started);
        pairs++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { perSecond: (pairs / ms) * 1000, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) };
}

async function roundTrips({ store, trips }) {
  if (!trips) return null;
  const before = await trips();
  const key = await claimAndComplete(store);
  const afterNew = await trips();
  const duplicate = await store.claim(key);
  if (duplicate.status !== "done") throw new Error(`a completed key must be done, got ${JSON.stringify(duplicate)}`);
  const afterDuplicate = await trips();
  // Redis counts from the server: the probe's own INFO is not an EVAL, so it is not counted.
  return { newEvent: afterNew - before, duplicate: afterDuplicate - afterNew };
}

export const peerVersions = () =>
  Object.fromEntries(["ioredis", "pg", "@electric-sql/pglite"].map((name) => [name, installedVersion(name)]));

export async function run({ quick, log }) {
  const ms = quick ? 500 : 3000;
  log(`\nstores: claim+complete pairs for ${ms} ms each, one at a time and ${CONCURRENCY} at once`);
  const stores = await makeStores(log);
  const results = {};
  const goals = [];
  try {
    for (const entry of stores) {
      // Warm up: prepared statements, connections, JIT.
      await throughput(entry.store, quick ? 100 : 500, 4);
      const trips = await roundTrips(entry);
      const sequential = await throughput(entry.store, ms, 1);
      const concurrent = await throughput(entry.store, ms, CONCURRENCY);
      results[entry.key] = { name: entry.name, sequential, concurrent, roundTrips: trips };
      if (trips) {
        goals.push({
          id: `${entry.key}-round-trips`,
          text: `${entry.name}: 2 round trips per new event, 1 per duplicate`,
          pass: trips.newEvent === 2 && trips.duplicate === 1,
          show: `${trips.newEvent} and ${trips.duplicate}`,
        });
      }
    }
  } finally {
    for (const entry of stores) await entry.close?.();
  }

  const memory = results.memory.sequential.perSecond;
  log(
    table([
      ["store", "pairs/s (1)", `pairs/s (${CONCURRENCY})`, "p50 / p99 (1)", "round trips new / dup", "× memory (1)"],
      ...Object.values(results).map((r) => [
        r.name,
        Math.round(r.sequential.perSecond).toLocaleString("en"),
        Math.round(r.concurrent.perSecond).toLocaleString("en"),
        `${r.sequential.p50Ms.toFixed(3)} / ${r.sequential.p99Ms.toFixed(3)} ms`,
        r.roundTrips ? `${r.roundTrips.newEvent} / ${r.roundTrips.duplicate}` : "— (in process)",
        formatRatio(r.sequential.perSecond / memory),
      ]),
    ]),
  );
  for (const goal of goals) log(`  ${goal.pass ? "PASS" : "MISS"}  ${goal.text}: ${goal.show}`);
  if (goals.some((goal) => !goal.pass))
    throw new Error("a store took other than 2 round trips per new event and 1 per duplicate");
  return { concurrency: CONCURRENCY, durationMsPerRun: ms, stores: results, goals };
}
