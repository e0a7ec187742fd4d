// Idempotency stores: claim+complete pairs per second (one after another, and 50 at once) and round trips per
// event, for memory, Redis (ioredis), PostgreSQL (pg) and PGlite. Goals: exactly 2 round trips for a new event
// (claim, complete) and 1 for a duplicate (claim → done); the PostgreSQL store at ≥ 80% of its floor, a bare
// `INSERT … ON CONFLICT DO NOTHING` + `UPDATE` pair on the same pool and table at the same concurrency.
//
// Every case runs in interleaved rounds (a rotating order, `roundMs` each), so a slow phase of the shared machine
// lands on one round of every case; pairs/s is the median over rounds, and a ratio is the median of the rounds'
// ratios (each round's cases ran within a few seconds of each other).
//
// Redis and PostgreSQL come from REDIS_URL and DATABASE_URL (`eval "$(bash .ci/services.sh)"` starts both); a
// store whose service is not configured is reported as skipped.

import { PGlite } from "@electric-sql/pglite";
import { claimToken, memoryStore } from "@hookline/core";
import { postgresStore } from "@hookline/postgres";
import { redisStore } from "@hookline/redis";
import { Redis } from "ioredis";
import pg from "pg";
import { formatRatio, installedVersion, percentile, table } from "../lib/harness.mjs";

const CONCURRENCY = 50;
const FLOOR_GOAL = 0.8;
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

let sequence = 0;
const freshKey = () => `evt_${run_id}_${++sequence}`;

/** A claim+complete pair through an idempotency store. */
function storePair(store) {
  return async () => {
    const key = freshKey();
    const claim = await store.claim(key);
    if (claim.status !== "claimed") throw new Error(`a new key must be claimed, got ${JSON.stringify(claim)}`);
    if (!(await store.complete(key, claim.token))) throw new Error("complete must succeed with the claim's token");
    return key;
  };
}

/**
 * The floor under the PostgreSQL store: the least SQL that claims a new key and marks it done, on the store's own
 * pool and table, one round trip each: sent as pg sends any query (unnamed: parsed and planned at every call), or
 * `prepared` (named: parsed and planned once per connection, as the store sends its statements).
 */
function floorPair(pool, tableSql, prepared) {
  const expiresIn = (parameter) => `statement_timestamp() + ${parameter}::float8 * interval '1 millisecond'`;
  const claim = `INSERT INTO ${tableSql} (key, token, expires_at) VALUES ($1, $2, ${expiresIn("$3")})
ON CONFLICT (key) DO NOTHING`;
  const complete = `UPDATE ${tableSql} SET token = NULL, expires_at = ${expiresIn("$3")} WHERE key = $1 AND token = $2`;
  const send = (name, text, values) => pool.query(prepared ? { name, text, values } : { text, values });
  return async () => {
    const key = freshKey();
    const token = claimToken();
    if ((await send("floor_claim", claim, [key, token, 60_000])).rowCount !== 1) throw new Error("floor: not claimed");
    if ((await send("floor_complete", complete, [key, token, 259_200_000])).rowCount !== 1) {
      throw new Error("floor: not done");
    }
  };
}

async function makeCases(log) {
  const memory = memoryStore({ maxEntries: 10_000_000 });
  const cases = [{ key: "memory", name: "memory", store: memory, pair: storePair(memory) }];
  const closers = [];

  if (process.env.REDIS_URL) {
    const client = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    const probe = new Redis(process.env.REDIS_URL);
    const store = redisStore({ client, prefix: `bench:${run_id}:` });
    cases.push({
      key: "redis",
      name: "Redis (ioredis)",
      store,
      pair: storePair(store),
      trips: () => redisRoundTrips(probe),
    });
    closers.push(async () => {
      const keys = await probe.keys(`bench:${run_id}:*`);
      for (let i = 0; i < keys.length; i += 1000) await probe.del(...keys.slice(i, i + 1000));
      client.disconnect();
      probe.disconnect();
    });
  } else log('  skipped Redis: REDIS_URL is not set (eval "$(bash .ci/services.sh)" starts one)');

  if (process.env.DATABASE_URL) {
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: CONCURRENCY });
    const tableName = `hookline_bench_${run_id}`;
    const store = postgresStore({ client: pool, table: tableName });
    await store.migrate();
    const counter = countingQueries(pool);
    cases.push(
      { key: "postgres", name: "PostgreSQL (pg)", store, pair: storePair(store), trips: async () => counter.count },
      {
        key: "postgres-floor",
        name: "floor: INSERT … ON CONFLICT DO NOTHING + UPDATE (pg)",
        pair: floorPair(pool, `"${tableName}"`, false),
        floorOf: "postgres",
      },
      {
        key: "postgres-floor-prepared",
        name: "floor, prepared (info)",
        pair: floorPair(pool, `"${tableName}"`, true),
        floorOf: "postgres",
        info: true,
      },
    );
    closers.push(async () => {
      await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
      await pool.end();
    });
  } else log('  skipped PostgreSQL: DATABASE_URL is not set (eval "$(bash .ci/services.sh)" starts one)');

  const lite = new PGlite();
  const liteStore = postgresStore({ client: lite });
  await liteStore.migrate();
  const liteCounter = countingQueries(lite);
  cases.push({
    key: "pglite",
    name: "PGlite (in memory)",
    store: liteStore,
    pair: storePair(liteStore),
    trips: async () => liteCounter.count,
  });
  closers.push(() => lite.close());
  return { cases, close: async () => Promise.all(closers.map((close) => close())) };
}

/** Pairs per second over `ms`, with `parallel` workers each doing one pair after another; latencies appended. */
async function throughput(pair, ms, parallel, latencies = []) {
  const end = performance.now() + ms;
  let pairs = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await pair();
        latencies.push(performance.now() - started);
        pairs++;
      }
    }),
  );
  return (pairs / ms) * 1000;
}

async function roundTrips({ store, trips }) {
  if (!trips) return null;
  const before = await trips();
  const key = await storePair(store)();
  const afterNew = await trips();
  const duplicate = await store.claim(key);
  if (duplicate.status !== "done") throw new Error(`a completed key must be done, got ${JSON.stringify(duplicate)}`);
  const afterDuplicate = await trips();
  // Redis counts from the server: the probe's own INFO is not an EVAL, so it is not counted.
  return { newEvent: afterNew - before, duplicate: afterDuplicate - afterNew };
}

/**
 * Runs every case at `parallel` in `rounds` interleaved rounds of `roundMs` each: per case, each round's pairs/s
 * and the pooled latencies.
 */
async function interleaved(cases, { rounds, roundMs, parallel }) {
  const results = new Map(cases.map((c) => [c.key, { perRound: [], latencies: [], cpuUs: 0 }]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length];
      const entry = results.get(c.key);
      const cpu = process.cpuUsage();
      entry.perRound.push(await throughput(c.pair, roundMs, parallel, entry.latencies));
      const used = process.cpuUsage(cpu);
      entry.cpuUs += used.user + used.system;
    }
  }
  const summary = {};
  for (const [key, { perRound, latencies, cpuUs }] of results) {
    latencies.sort((a, b) => a - b);
    const sorted = [...perRound].sort((a, b) => a - b);
    summary[key] = {
      perSecond: percentile(sorted, 0.5),
      perRound,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      // This process's CPU time per pair (the client's share; the server's is not counted): a steadier gauge than
      // pairs/s on a shared machine.
      cpuUsPerPair: cpuUs / latencies.length,
    };
  }
  return summary;
}

/** The median over rounds of a's pairs/s divided by b's in the same round. */
const pairedRatio = (a, b) =>
  percentile(
    a.perRound.map((value, round) => value / b.perRound[round]).sort((x, y) => x - y),
    0.5,
  );

export const peerVersions = () =>
  Object.fromEntries(["ioredis", "pg", "@electric-sql/pglite"].map((name) => [name, installedVersion(name)]));

export async function run({ quick, log }) {
  const rounds = quick ? 3 : 24;
  const roundMs = quick ? 150 : 200;
  log(
    `\nstores: claim+complete pairs, one at a time and ${CONCURRENCY} at once, ${rounds} interleaved rounds × ${roundMs} ms per case`,
  );
  const { cases, close } = await makeCases(log);
  const results = {};
  const goals = [];
  try {
    // Warm up: connections, prepared statements, JIT.
    for (const c of cases) await throughput(c.pair, quick ? 100 : 500, CONCURRENCY);
    for (const c of cases) {
      const trips = await roundTrips(c);
      results[c.key] = { name: c.name, roundTrips: trips };
    }
    const sequential = await interleaved(cases, { rounds, roundMs, parallel: 1 });
    const concurrent = await interleaved(cases, { rounds, roundMs, parallel: CONCURRENCY });
    for (const c of cases)
      Object.assign(results[c.key], { sequential: sequential[c.key], concurrent: concurrent[c.key] });

    // The store's pairs/s over its floor's, paired by round; kept on the floor's row.
    for (const c of cases.filter((c) => c.floorOf)) {
      const store = results[c.floorOf];
      const ratios = {
        sequential: pairedRatio(store.sequential, sequential[c.key]),
        concurrent: pairedRatio(store.concurrent, concurrent[c.key]),
      };
      results[c.key].storeToThis = ratios;
      if (c.info) continue;
      for (const [mode, ratio] of Object.entries(ratios)) {
        goals.push({
          id: `${c.floorOf}-floor-${mode}`,
          text: `${store.name}: ≥ ${FLOOR_GOAL * 100}% of its floor's pairs/s, ${mode === "sequential" ? "1" : CONCURRENCY} at once`,
          pass: ratio >= FLOOR_GOAL,
          show: `${Math.round(ratio * 100)}%`,
        });
      }
    }
    for (const c of cases.filter((c) => c.trips)) {
      const trips = results[c.key].roundTrips;
      goals.push({
        id: `${c.key}-round-trips`,
        text: `${c.name}: 2 round trips per new event, 1 per duplicate`,
        pass: trips.newEvent === 2 && trips.duplicate === 1,
        show: `${trips.newEvent} and ${trips.duplicate}`,
      });
    }
  } finally {
    await close();
  }

  const memory = results.memory.sequential.perSecond;
  const rows = Object.values(results).map((r) => [
    r.name,
    Math.round(r.sequential.perSecond).toLocaleString("en"),
    Math.round(r.concurrent.perSecond).toLocaleString("en"),
    `${r.sequential.p50Ms.toFixed(3)} / ${r.sequential.p99Ms.toFixed(3)} ms`,
    `${r.concurrent.p50Ms.toFixed(2)} / ${r.concurrent.p99Ms.toFixed(2)} ms`,
    r.roundTrips ? `${r.roundTrips.newEvent} / ${r.roundTrips.duplicate}` : "—",
    `${r.sequential.cpuUsPerPair.toFixed(1)} / ${r.concurrent.cpuUsPerPair.toFixed(1)}`,
    r.storeToThis ? `${formatRatio(r.storeToThis.sequential)} / ${formatRatio(r.storeToThis.concurrent)}` : "",
    formatRatio(r.sequential.perSecond / memory),
  ]);
  log(
    table([
      [
        "case",
        "pairs/s (1)",
        `pairs/s (${CONCURRENCY})`,
        "p50 / p99 (1)",
        `p50 / p99 (${CONCURRENCY})`,
        "round trips new / dup",
        `app CPU µs/pair (1 / ${CONCURRENCY})`,
        `PostgreSQL ÷ this (1 / ${CONCURRENCY})`,
        "× memory (1)",
      ],
      ...rows,
    ]),
  );
  for (const goal of goals) log(`  ${goal.pass ? "PASS" : "MISS"}  ${goal.text}: ${goal.show}`);
  if (goals.some((goal) => goal.id.endsWith("round-trips") && !goal.pass))
    throw new Error("a store took other than 2 round trips per new event and 1 per duplicate");
  return { concurrency: CONCURRENCY, rounds, roundMs, stores: results, goals };
}
