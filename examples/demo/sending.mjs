// The sending half of `pnpm demo`: a Hookline sender (memory engine, a short retry schedule) delivering to
// endpoints on loopback: one that answers 503 twice and then lets a Hookline receiver take the event, one that
// answers 410 (the endpoint is disabled), one on 127.0.0.2, a loopback address the sender's `allow` does not
// cover (blocked: no connection is made), and one that is down until we fix it (its delivery exhausts, is kept as
// a dead letter and replayed). Every address is loopback.
import { createServer } from "node:http";
import { createReceiver, createSender } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";

const quiet = { info() {}, warn() {}, error() {} };
const listen = (server, host) =>
  new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve(server.address().port));
  });
const close = (server) => new Promise((resolve) => server.close(() => resolve()));

/** Runs the sending half; resolves how many checks failed. */
export async function sendingDemo(events) {
  let failures = 0;
  const check = (ok, line) => {
    if (!ok) failures++;
    console.log(`${ok ? "✔" : "✘"} ${line}`);
  };

  const started = Date.now();
  const sender = createSender({
    events,
    allow: ["127.0.0.1/32"], // plain http and loopback for this demo's own receivers; 127.0.0.2 is not covered
    schedule: [0, 200, 400], // three attempts, 200 ms then 400 ms apart (the default spans about three days)
    logger: quiet,
    hooks: {
      onAttempt: (info) => {
        const answer = info.httpStatus ?? info.error;
        const next = info.status === "pending" ? `, retry in ${info.retryInMs} ms` : "";
        console.log(
          `  +${String(Date.now() - started).padStart(4)} ms  ${names.get(info.endpointId).padEnd(8)} attempt ${info.attempt} → ${answer} (${info.status}${next})`,
        );
      },
      onEndpointDisabled: ({ endpointId, reason }) =>
        console.log(`  endpoint ${names.get(endpointId)} disabled: ${reason}`),
    },
  });
  const names = new Map();

  // One loopback server for the endpoints that answer; the paths decide how.
  let flakyCalls = 0;
  let ledgerUp = false;
  const received = [];
  const receivers = {};
  const app = createServer((request, response) => {
    if (request.url === "/flaky" && ++flakyCalls <= 2) return response.writeHead(503).end("warming up");
    if (request.url === "/gone") return response.writeHead(410).end("this endpoint was removed");
    if (request.url === "/ledger" && !ledgerUp) return response.writeHead(500).end("ledger down");
    const receiver = receivers[request.url];
    if (receiver) return nodeHandler(receiver)(request, response);
    response.writeHead(404).end();
  });
  const port = await listen(app, "127.0.0.1");

  // A server on 127.0.0.2 that counts connections: the SSRF guard must never let one through. (Some systems
  // have only 127.0.0.1 configured; then nothing listens there and the count stays 0 all the same.)
  let blockedConnections = 0;
  const trap = createServer((_, response) => response.end("should never be reached"));
  trap.on("connection", () => blockedConnections++);
  const trapPort = await listen(trap, "127.0.0.2").catch(() => 9);

  const endpoint = async (name, url, types) => {
    const created = await sender.endpoints.create({ url, ...(types && { types }) });
    names.set(created.id, name);
    return created;
  };
  const flaky = await endpoint("flaky", `http://127.0.0.1:${port}/flaky`, ["invoice.paid"]);
  const gone = await endpoint("gone", `http://127.0.0.1:${port}/gone`, ["invoice.paid"]);
  const blocked = await endpoint("blocked", `https://127.0.0.2:${trapPort}/webhooks`, ["invoice.paid"]);
  const ledger = await endpoint("ledger", `http://127.0.0.1:${port}/ledger`, ["invoice.voided"]);
  // The receiving side verifies with each endpoint's secret, as a customer would after copying it.
  for (const [path, target] of [
    ["/flaky", flaky],
    ["/ledger", ledger],
  ]) {
    receivers[path] = createReceiver({ secret: target.secrets[0].secret, events, logger: quiet }).onAny((event) => {
      received.push(`${path.slice(1)}: ${event.type} ${JSON.stringify(event.data)}`);
    });
  }

  console.log(`\nSender: 4 endpoints (flaky, gone, blocked on 127.0.0.2, ledger), retry schedule 0 / 200 / 400 ms`);
  sender.start();
  const paid = await sender.send("invoice.paid", { invoiceId: "in_42", amountCents: 4200, currency: "EUR" });
  const voided = await sender.send("invoice.voided", { invoiceId: "in_41" });
  await sender.drain({ withinMs: 1000 });

  const delivery = async (message, target) => {
    const { items } = await sender.deliveries.list({ messageId: message.messageId, endpointId: target.id });
    return items[0];
  };
  const flakyDelivery = await delivery(paid, flaky);
  check(
    flakyDelivery.status === "delivered" && flakyDelivery.attempts === 3,
    `${"503 twice, then delivered on the third attempt".padEnd(50)} → ${flakyDelivery.status}, ${flakyDelivery.attempts} attempts`,
  );
  check(
    received.includes('flaky: invoice.paid {"invoiceId":"in_42","amountCents":4200,"currency":"EUR"}'),
    `${"the receiver verified and handled it, typed".padEnd(50)} → ${received[0]}`,
  );
  const goneEndpoint = await sender.endpoints.get(gone.id);
  check(
    goneEndpoint.disabled && goneEndpoint.disabledReason === "gone",
    `${"410 Gone disables the endpoint".padEnd(50)} → disabled (${goneEndpoint.disabledReason})`,
  );
  const blockedDelivery = await delivery(paid, blocked);
  const [blockedAttempt] = await sender.attempts.list(blockedDelivery.id);
  check(
    blockedDelivery.status === "failed" && blockedAttempt.outcome === "blocked" && blockedConnections === 0,
    `${"127.0.0.2 is not in allow: blocked".padEnd(50)} → ${blockedAttempt.outcome}, ${blockedConnections} connections`,
  );
  const ledgerDelivery = await delivery(voided, ledger);
  check(
    ledgerDelivery.status === "exhausted",
    `${"ledger down for every attempt: dead-lettered".padEnd(50)} → ${ledgerDelivery.status} after ${ledgerDelivery.attempts} attempts`,
  );

  ledgerUp = true;
  const replayed = await sender.replay({ endpointId: ledger.id, since: started, status: "exhausted" });
  await sender.drain({ withinMs: 1000 });
  const after = await sender.deliveries.get(ledgerDelivery.id);
  const attempts = await sender.attempts.list(ledgerDelivery.id);
  check(
    replayed === 1 && after.status === "delivered" && received.some((line) => line.startsWith("ledger:")),
    `${"replay once the ledger is back".padEnd(50)} → ${replayed} requeued, ${after.status} (${attempts.length} attempts logged)`,
  );

  // stop() finishes what is in flight and closes the sender's connections and timers: the process can exit.
  await sender.stop();
  await Promise.all([close(app), close(trap)]);
  const { counts, attempts: made } = sender.stats();
  console.log(
    `\nSender summary: ${made} attempts: ${Object.entries(counts)
      .map(([name, count]) => `${name} ×${count}`)
      .join(", ")}`,
  );
  return failures;
}
