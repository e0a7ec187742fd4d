// What `receiver.receive()` costs against the sum of the work it cannot avoid, in one process: the parts (verify on
// the node:crypto backend, `JSON.parse`, the zod schema's validate, a memory claim + complete) and the whole, side by
// side in interleaved rounds. Every op is a new message: a pool of deliveries, each with its own id, signed up front,
// handed out in turn; the stores keep fewer ids than the pool, so an id is long forgotten when it comes round again.
// With `@opentelemetry/api` installed, the same receiver with `receiverTelemetry()` and no SDK registered (the no-op
// API) shows what the telemetry costs when nobody collects it.
import { createReceiver, defineEvents, memoryStore, sign, verify } from "@hookline/core";
import {
  formatNs,
  formatRatio,
  installedVersion,
  median,
  pairedRatio,
  percentile,
  sleep,
  table,
} from "../lib/harness.mjs";
import { invoiceSchema } from "../lib/invoice.mjs";
import { jsonBody } from "../lib/payload.mjs";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const POOL = 4096;
const KEEP = 1024; // ids the stores remember: fewer than the pool, so every claim is of a new (or forgotten) id
const quiet = { info() {}, warn() {}, error() {} };
const GOAL = 1.3;

/** Awaits `fn` `ops` times, one after another; the process's CPU time (user + system) and the wall time, in ns per op. */
async function runOps(fn, ops) {
  globalThis.gc?.();
  const cpu = process.cpuUsage();
  const wall = performance.now();
  for (let i = 0; i < ops; i++) await fn();
  const used = process.cpuUsage(cpu);
  return { cpu: ((used.user + used.system) * 1e3) / ops, wall: ((performance.now() - wall) * 1e6) / ops };
}

/**
 * Interleaved rounds in a rotating order, each case a fixed number of ops per round (sized in the warm-up to about
 * `timeMs` each). On a shared machine the process is descheduled for long stretches, which wall time counts and CPU
 * time does not: the ratios are of CPU time per op, paired per round.
 */
async function measureCpu(cases, { rounds, timeMs, warmupMs, log }) {
  const sized = new Map();
  for (const c of cases) {
    const end = performance.now() + warmupMs;
    let ops = 0;
    while (performance.now() < end || ops < 256) {
      await c.fn();
      ops++;
    }
    const { cpu } = await runOps(c.fn, 256);
    sized.set(c.key, { ops: Math.max(256, Math.round((timeMs * 1e6) / cpu)), cpu: [], wall: [] });
  }
  log(`  ${cases.length} cases × ${rounds} rounds × ~${timeMs} ms of CPU, awaited one op at a time`);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length];
      const entry = sized.get(c.key);
      const { cpu, wall } = await runOps(c.fn, entry.ops);
      entry.cpu.push(cpu);
      entry.wall.push(wall);
      await sleep(2);
    }
  }
  const results = new Map();
  for (const [key, { ops, cpu, wall }] of sized) {
    const sorted = [...cpu].sort((a, b) => a - b);
    results.set(key, {
      p50: median(cpu),
      wall: median(wall),
      ops: ops * rounds,
      roundMedians: cpu,
      spread: (percentile(sorted, 0.75) - percentile(sorted, 0.25)) / percentile(sorted, 0.5),
    });
  }
  return results;
}

export const peerVersions = () => ({ zod: installedVersion("zod") });

/** `POOL` deliveries of the same 1 KiB event, each with its own message id (so its own signature). */
async function deliveries() {
  const payload = new TextEncoder().encode(jsonBody(1024));
  const run = Date.now().toString(36);
  const list = [];
  for (let i = 0; i < POOL; i++) {
    const headers = {
      "content-type": "application/json",
      "content-length": String(payload.length),
      host: "127.0.0.1:3000",
      "user-agent": "bench",
      ...(await sign({ secret: SECRET, payload, id: `msg_${run}_${i}` })),
    };
    list.push({ method: "POST", headers, body: payload, url: "/webhooks", remoteAddress: "127.0.0.1" });
  }
  return list;
}

function cursor(list) {
  let i = 0;
  return () => list[i++ % list.length];
}

async function otelTelemetry() {
  try {
    const { receiverTelemetry } = await import("@hookline/core/otel");
    return receiverTelemetry();
  } catch {
    return undefined;
  }
}

export async function run({ rounds, timeMs, warmupMs, log }) {
  const pool = await deliveries();
  const schema = invoiceSchema["~standard"];
  const events = defineEvents({ "invoice.paid": invoiceSchema });
  const payloadText = new TextDecoder().decode(pool[0].body);

  const next = {
    verify: cursor(pool),
    parts: cursor(pool),
    whole: cursor(pool),
    otel: cursor(pool),
    claim: cursor(pool),
  };
  const verifyOne = (input) => verify({ secret: SECRET, payload: input.body, headers: input.headers });
  const parsed = JSON.parse(payloadText);
  const claimStore = memoryStore({ maxEntries: KEEP, logger: quiet });
  const partsStore = memoryStore({ maxEntries: KEEP, logger: quiet });
  const claimComplete = async (store, id) => {
    const claim = await store.claim(id);
    if (claim.status !== "claimed") throw new Error(`claim of ${id}: ${claim.status}`);
    await store.complete(id, claim.token);
  };
  let handled = 0;
  const makeReceiver = (telemetry) =>
    createReceiver({
      secret: SECRET,
      events,
      store: memoryStore({ maxEntries: KEEP, logger: quiet }),
      logger: quiet,
      ...(telemetry ? { telemetry } : {}),
    }).on("invoice.paid", () => {
      handled++;
    });
  const receiver = makeReceiver(undefined);
  const telemetry = await otelTelemetry();
  const traced = telemetry && makeReceiver(telemetry);

  const receiveCase = (key, name, target, take) => ({
    key,
    name,
    fn: () => target.receive(take()),
    async check() {
      const before = handled;
      const answer = await target.receive(take());
      if (answer.status !== 200 || handled !== before + 1) throw new Error(`${name}: ${answer.status} ${answer.body}`);
    },
  });
  const cases = [
    {
      key: "verify",
      name: "part: verify (node:crypto backend)",
      part: true,
      fn: () => verifyOne(next.verify()),
      async check() {
        await verifyOne(next.verify());
      },
    },
    {
      key: "parse",
      name: "part: JSON.parse",
      part: true,
      fn: () => JSON.parse(payloadText),
      check: async () => JSON.parse(payloadText),
    },
    {
      key: "validate",
      name: "part: zod validate",
      part: true,
      fn: () => schema.validate(parsed.data),
      async check() {
        const result = await schema.validate(parsed.data);
        if (result.issues) throw new Error("the invoice does not validate");
      },
    },
    {
      key: "claim",
      name: "part: memory claim + complete",
      part: true,
      fn: () => claimComplete(claimStore, next.claim().headers["webhook-id"]),
      check: () => claimComplete(claimStore, next.claim().headers["webhook-id"]),
    },
    {
      key: "parts",
      name: "the parts in one op",
      async fn() {
        const input = next.parts();
        const verified = await verifyOne(input);
        const body = JSON.parse(verified.payload);
        const result = await schema.validate(body.data);
        if (result.issues) throw new Error("the invoice does not validate");
        await claimComplete(partsStore, verified.id);
      },
      check() {
        return this.fn();
      },
    },
    receiveCase("whole", "receiver.receive()", receiver, next.whole),
  ];
  if (traced) {
    cases.push({ ...receiveCase("otel", "receive() + receiverTelemetry(), no SDK", traced, next.otel), info: true });
  } else log("  skipped the telemetry case: @hookline/core/otel or @opentelemetry/api is not available");

  for (const c of cases) await c.check();
  const results = await measureCpu(cases, { rounds, timeMs, warmupMs, log });
  const whole = results.get("whole");
  const together = results.get("parts");
  const parts = cases.filter((c) => c.part).map((c) => results.get(c.key));
  // The parts measured alone, added up round by round (each part's median of that round): a lower bound, since a
  // part repeated alone runs with its code and data hot in the caches, which one delivery after another does not.
  const sum = {
    roundMedians: whole.roundMedians.map((_, round) => parts.reduce((s, p) => s + p.roundMedians[round], 0)),
  };
  sum.p50 = parts.reduce((s, p) => s + p.p50, 0);
  const rows = cases.map((c) => {
    const r = results.get(c.key);
    return { ...r, key: c.key, name: c.name, ofParts: pairedRatio(r, together), ofSum: pairedRatio(r, sum) };
  });
  rows.splice(4, 0, {
    key: "sum",
    name: "sum of the parts alone",
    p50: sum.p50,
    wall: Number.NaN,
    spread: Number.NaN,
    ofParts: pairedRatio(sum, together),
    ofSum: 1,
  });
  log(
    table([
      ["case", "CPU/op", "wall/op", "× parts in one op", "× sum alone", "rounds ±"],
      ...rows.map((r) => [
        r.name,
        formatNs(r.p50),
        formatNs(r.wall),
        formatRatio(r.ofParts),
        formatRatio(r.ofSum),
        Number.isFinite(r.spread) ? `${Math.round(r.spread * 100)}%` : "",
      ]),
    ]),
  );
  const ratio = pairedRatio(whole, together);
  const goals = [{ goal: `receive() ≤ ${GOAL}× its parts in one op`, ratio, pass: ratio <= GOAL }];
  const context = [{ name: "receive() ÷ the sum of the parts alone", ratio: pairedRatio(whole, sum) }];
  if (traced)
    context.push({ name: "telemetry with no SDK ÷ receive()", ratio: pairedRatio(results.get("otel"), whole) });
  for (const g of goals) log(`  ${g.pass ? "PASS" : "MISS"} ${g.goal}: ${formatRatio(g.ratio)}`);
  for (const c of context) log(`  info ${c.name}: ${formatRatio(c.ratio)}`);
  return {
    cases: rows.map(({ key, name, p50, wall, ops, ofParts, ofSum, spread, roundMedians }) => ({
      key,
      name,
      cpuNsPerOp: p50,
      wallNsPerOp: wall,
      ops,
      ratioToParts: ofParts,
      ratioToSumAlone: ofSum,
      spread,
      roundCpuNsPerOp: roundMedians,
    })),
    goals,
    context,
  };
}
