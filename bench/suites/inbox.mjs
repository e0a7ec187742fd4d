// The receiver's inbox with `memoryInbox()`: how many deliveries a second `receiver.receive` takes in when it only
// stores them (the queued path) against running the handler inline (the memory idempotency store, a handler that
// adds up a field), in one process with no HTTP, so that the figure is the pipeline's own; then how fast a worker
// empties the inbox, and how long an event waits at idle from its request to its handler's start.
// The durable engines' figures (postgresInbox, bullmqInbox against their floors) are their suites'.
import { createReceiver, defineEvents, memoryInbox, sign } from "@hookline/core";
import { z } from "zod";
import { pairedRatio, percentile, table } from "../lib/harness.mjs";
import { jsonBody } from "../lib/payload.mjs";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SIZE = 1024;
const IN_FLIGHT = 10;
const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const median = (values) => percentile(Float64Array.from(values).sort(), 0.5);
const events = defineEvents({ "invoice.paid": z.object({ object: z.object({ amount_paid: z.number().int() }) }) });
const quiet = { info() {}, warn() {}, error() {} };

/** `count` deliveries of the 1 KiB event, each with its own message id, signed up front. */
async function signPool(count, tag) {
  const payload = jsonBody(SIZE);
  const timestamp = Math.floor(Date.now() / 1000);
  const pool = [];
  for (let i = 0; i < count; i++) {
    const headers = await sign({ secret: SECRET, payload, id: `msg_${tag}_${i}`, timestamp });
    pool.push({ method: "POST", headers: { "content-type": "application/json", ...headers }, body: payload });
  }
  return pool;
}

/** Takes in every delivery of `pool`, `IN_FLIGHT` at a time; resolves deliveries per second. */
async function ingest(receiver, pool) {
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < pool.length) {
      const answer = await receiver.receive(pool[next++]);
      if (answer.status !== 200) throw new Error(`answered ${answer.status} ${answer.body}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return (pool.length / (performance.now() - started)) * 1000;
}

export const peerVersions = () => ({});

export async function run(options) {
  const { log } = options;
  const rounds = env("BENCH_INBOX_ROUNDS", options.quick ? 3 : 9);
  const perRound = env("BENCH_INBOX_PER_ROUND", options.quick ? 1_000 : 4_000);
  log(
    `\ninbox (memory), ${SIZE / 1024} KiB signed event, ${rounds} rounds of ${perRound} deliveries, ${IN_FLIGHT} in flight`,
  );

  let paidCents = 0; // what the handlers add up, so that their work cannot be optimized away
  const handler = (event) => {
    paidCents += event.data.object.amount_paid;
  };
  const inline = createReceiver({ secret: SECRET, events, logger: quiet }).on("invoice.paid", handler);
  const inbox = memoryInbox();
  const queued = createReceiver({ secret: SECRET, events, inbox, logger: quiet });
  const cases = { inline: { roundMedians: [] }, queued: { roundMedians: [] } };
  await ingest(inline, await signPool(perRound, "warm_inline"));
  await ingest(queued, await signPool(perRound, "warm_queued"));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ["inline", "queued"] : ["queued", "inline"];
    for (const name of order) {
      const pool = await signPool(perRound, `${name}_${r}`);
      cases[name].roundMedians.push(await ingest(name === "inline" ? inline : queued, pool));
    }
  }
  const queuedCount = perRound * (rounds + 1);

  // Then a worker empties what the queued receiver stored: events a second, and enqueue → handler start.
  const waits = [];
  const worker = createReceiver({ events, inbox, logger: quiet }).on("invoice.paid", (event, context) => {
    waits.push(Date.now() - context.receivedAt.getTime());
    handler(event);
  });
  const started = performance.now();
  worker.work({ concurrency: IN_FLIGHT });
  while (waits.length < queuedCount) await new Promise((resolve) => setTimeout(resolve, 5));
  const drainRate = (queuedCount / (performance.now() - started)) * 1000;
  await worker.stop();

  // Latency at idle: one event at a time through an empty inbox, from the request to its handler's start.
  const idle = [];
  let sentAt = 0;
  const live = createReceiver({ events, inbox, logger: quiet }).on("invoice.paid", () => {
    idle.push(performance.now() - sentAt);
  });
  live.work({ concurrency: IN_FLIGHT });
  const singles = await signPool(200, "idle");
  for (const delivery of singles) {
    const before = idle.length;
    sentAt = performance.now();
    await queued.receive(delivery);
    while (idle.length === before) await new Promise((resolve) => setImmediate(resolve));
  }
  await live.stop();
  const sortedIdle = Float64Array.from(idle).sort();

  const result = {
    settings: { rounds, perRound, inFlight: IN_FLIGHT, bodyBytes: SIZE },
    ingest: {
      inlineRps: Math.round(median(cases.inline.roundMedians)),
      queuedRps: Math.round(median(cases.queued.roundMedians)),
      ratio: Math.round(pairedRatio(cases.queued, cases.inline) * 1000) / 1000,
      inlineRounds: cases.inline.roundMedians.map(Math.round),
      queuedRounds: cases.queued.roundMedians.map(Math.round),
    },
    worker: {
      eventsPerSecond: Math.round(drainRate),
      idleRequestToStartMs: {
        p50: Math.round(percentile(sortedIdle, 0.5) * 100) / 100,
        p95: Math.round(percentile(sortedIdle, 0.95) * 100) / 100,
      },
    },
    verification: { handled: waits.length + idle.length, expected: queuedCount + singles.length, paidCents },
  };
  log(
    `\n${table([
      ["case", "deliveries/s (median)", "× inline"],
      ["inline handler (memory store)", result.ingest.inlineRps.toLocaleString("en-US"), "1.00×"],
      [
        "queued (memoryInbox, no worker)",
        result.ingest.queuedRps.toLocaleString("en-US"),
        `${result.ingest.ratio.toFixed(2)}×`,
      ],
    ])}\n`,
  );
  log(
    `  worker: ${result.worker.eventsPerSecond.toLocaleString("en-US")} events/s draining ${queuedCount} queued events; ` +
      `at idle, request → handler start p50 ${result.worker.idleRequestToStartMs.p50} ms, p95 ${result.worker.idleRequestToStartMs.p95} ms`,
  );
  if (result.verification.handled !== result.verification.expected) {
    throw new Error(`handled ${result.verification.handled} of ${result.verification.expected} queued events`);
  }
  return result;
}
