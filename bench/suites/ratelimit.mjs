// What `rateLimit` costs a receiver per delivery, and what a throttled signature guess costs it. One receiver per
// case, `receive()` of the same signed 1 KiB delivery (answered as a duplicate after the first, so the store's work
// is one memory claim), with no limits, then with `requests` + `failures` limiters from rate-limiter-flexible on
// memory, Redis and PostgreSQL. Then a forged delivery: answered 401 with no limits, 429 `too_many_failures` by a
// peer whose failure budget is spent (no body read, no HMAC).
//
// Redis and PostgreSQL come from REDIS_URL and DATABASE_URL; a backend whose service is not set is skipped.
import { createReceiver, sign } from "@hookline/core";
import { Redis } from "ioredis";
import pg from "pg";
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis } from "rate-limiter-flexible";
import { formatNs, formatRatio, installedVersion, measureCases, pairedRatio, table } from "../lib/harness.mjs";
import { jsonBody } from "../lib/payload.mjs";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FORGED = "whsec_dGhpcyBpcyBub3QgdGhlIHJpZ2h0IHNlY3JldA==";
const quiet = { info() {}, warn() {}, error() {} };
const run_id = Date.now().toString(36);
/** Never reached while measuring: the cost of counting, not of refusing. */
const GENEROUS = { points: 1e12, duration: 3600 };

export const peerVersions = () => ({ "rate-limiter-flexible": installedVersion("rate-limiter-flexible") });

async function delivery(secret) {
  const payload = jsonBody(1024);
  const headers = { "content-type": "application/json", ...(await sign({ secret, payload, id: `msg_${run_id}` })) };
  return { method: "POST", headers, body: payload, remoteAddress: "192.0.2.1" };
}

/** The limiters per backend; `make(name, options)` returns a limiter on that backend's store. */
async function backends(log) {
  const list = [
    { key: "memory", name: "RateLimiterMemory", make: async (_, options) => new RateLimiterMemory(options) },
  ];
  const closers = [];
  if (process.env.REDIS_URL) {
    const client = new Redis(process.env.REDIS_URL);
    closers.push(async () => {
      const keys = await client.keys(`bench-rl:${run_id}:*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
    });
    list.push({
      key: "redis",
      name: "RateLimiterRedis (ioredis)",
      make: async (name, options) =>
        new RateLimiterRedis({ storeClient: client, keyPrefix: `bench-rl:${run_id}:${name}`, ...options }),
    });
  } else log("  skipped Redis: REDIS_URL is not set");
  if (process.env.DATABASE_URL) {
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
    const schema = `bench_rl_${run_id}`;
    await pool.query(`CREATE SCHEMA ${schema}`);
    closers.push(() => pool.query(`DROP SCHEMA ${schema} CASCADE`).finally(() => pool.end()));
    list.push({
      key: "postgres",
      name: "RateLimiterPostgres (pg)",
      make: (name, options) =>
        new Promise((resolve, reject) => {
          const limiter = new RateLimiterPostgres(
            { storeClient: pool, schemaName: schema, tableName: "limits", keyPrefix: name, ...options },
            (error) => (error ? reject(error) : resolve(limiter)),
          );
        }),
    });
  } else log("  skipped PostgreSQL: DATABASE_URL is not set");
  return { list, close: () => Promise.all(closers.map((close) => close())) };
}

function receiverCase(key, name, rateLimit, input, status) {
  const receiver = createReceiver({ secret: SECRET, logger: quiet, ...(rateLimit ? { rateLimit } : {}) }).on(
    "invoice.paid",
    () => {},
  );
  return {
    key,
    name,
    fn: () => receiver.receive(input),
    async check() {
      const answer = await receiver.receive(input);
      if (answer.status !== status) throw new Error(`${name}: expected ${status}, got ${answer.status} ${answer.body}`);
    },
  };
}

export async function run({ rounds, timeMs, warmupMs, batch, log }) {
  const valid = await delivery(SECRET);
  const forged = await delivery(FORGED);
  const { list, close } = await backends(log);
  try {
    const cases = [receiverCase("none", "no rateLimit", undefined, valid, 200)];
    for (const backend of list) {
      const rateLimit = {
        requests: await backend.make("requests", GENEROUS),
        failures: await backend.make("failures", { points: 10, duration: 3600 }),
      };
      cases.push(receiverCase(backend.key, `requests + failures: ${backend.name}`, rateLimit, valid, 200));
    }
    cases.push(receiverCase("forged-none", "forged, no rateLimit (401)", undefined, forged, 401));
    const spent = { failures: new RateLimiterMemory({ points: 1, duration: 3600 }) };
    await spent.failures.penalty(forged.remoteAddress, 1); // the budget of one failure, spent
    cases.push(receiverCase("forged-throttled", "forged, failures spent (429)", spent, forged, 429));

    for (const c of cases) await c.check();
    const results = await measureCases(cases, { rounds, timeMs, warmupMs, batch, log });
    const none = results.get("none");
    const forgedNone = results.get("forged-none");
    const rows = cases.map((c) => {
      const r = results.get(c.key);
      const base = c.key.startsWith("forged") ? forgedNone : none;
      return { ...r, name: c.name, key: c.key, ratio: pairedRatio(r, base) };
    });
    log(
      table([
        ["case", "p50", "p99", "× baseline", "rounds ±"],
        ...rows.map((r) => [
          r.name,
          formatNs(r.p50),
          formatNs(r.p99),
          formatRatio(r.ratio),
          `${Math.round(r.spread * 100)}%`,
        ]),
      ]),
    );
    return {
      cases: rows.map(({ key, name, p50, p75, p99, min, ratio, spread, roundMedians }) => ({
        key,
        name,
        p50Ns: p50,
        p75Ns: p75,
        p99Ns: p99,
        minNs: min,
        ratioToBaseline: ratio,
        spread,
        roundMediansNs: roundMedians,
      })),
    };
  } finally {
    await close();
  }
}
