// `pnpm demo`: both halves of Hookline on loopback, no services needed. First a receiver (Node http, memory
// store, typed catalog, dead letters) and a scripted provider that shows each answer it gets; then a receiver with
// an inbox and a worker (inbox.mjs); then a Hookline sender delivering to endpoints that fail, disappear, are
// blocked or are down (sending.mjs).
import { createServer } from "node:http";
import { createReceiver, defineEvents, generateSecret, memoryDeadLetters } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { signedDelivery } from "@hookline/testing";
import { z } from "zod";
import { inboxDemo } from "./inbox.mjs";
import { sendingDemo } from "./sending.mjs";

const secret = generateSecret();
const events = defineEvents({
  "invoice.paid": z.object({
    invoiceId: z.string(),
    amountCents: z.number().int().positive(),
    currency: z.string().length(3),
  }),
  "invoice.voided": z.object({ invoiceId: z.string() }),
});

const paidInvoices = new Map();
let ledgerUp = false; // the "voided" handler fails until the ledger comes back
const deadLetters = memoryDeadLetters();
const receiver = createReceiver({ secret, events, deadLetters, logger: { info() {}, warn() {}, error() {} } })
  .on("invoice.paid", (event) => {
    paidInvoices.set(event.data.invoiceId, event.data.amountCents);
  })
  .on("invoice.voided", (event) => {
    if (!ledgerUp) throw new Error("ledger unavailable");
    paidInvoices.delete(event.data.invoiceId);
  });

const server = createServer(nodeHandler(receiver));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/webhooks`;
console.log(`Receiver listening on ${url}\n`);

let failures = 0;
async function step(label, delivery, expected) {
  const response = await fetch(url, { method: "POST", headers: delivery.headers, body: delivery.body });
  const text = await response.text();
  const ok = response.status === expected;
  if (!ok) failures++;
  console.log(`${ok ? "✔" : "✘"} ${label.padEnd(44)} → ${response.status} ${text}`);
}

const paid = await signedDelivery({
  secret,
  id: "msg_demo_paid",
  event: { type: "invoice.paid", data: { invoiceId: "in_1", amountCents: 1250, currency: "EUR" } },
});
await step("a valid invoice.paid", paid, 200);
await step("the same message again (a retry)", paid, 200);
await step("a tampered body", { ...paid, body: paid.body.replace("1250", "9999") }, 401);
const stale = await signedDelivery({
  secret,
  event: { type: "invoice.paid", data: { invoiceId: "in_2", amountCents: 1, currency: "EUR" } },
  timestamp: Math.floor(Date.now() / 1000) - 3600,
});
await step("a message signed an hour ago (a replay)", stale, 401);
const invalid = await signedDelivery({
  secret,
  event: { type: "invoice.paid", data: { invoiceId: "in_3", amountCents: -5 } },
});
await step("a signed event that fails its schema", invalid, 400);
const voided = await signedDelivery({
  secret,
  id: "msg_demo_void",
  event: { type: "invoice.voided", data: { invoiceId: "in_1" } },
});
await step("invoice.voided while the ledger is down", voided, 200);

const [letter] = await deadLetters.list();
console.log(
  `  dead letter kept: ${letter?.id} (${letter?.type}): ${letter?.error.message}, attempts ${letter?.attempts}`,
);
ledgerUp = true;
const replayed = await receiver.replay("msg_demo_void");
const replayOk =
  replayed.status === "processed" && !paidInvoices.has("in_1") && (await deadLetters.list()).length === 0;
if (!replayOk) failures++;
console.log(`${replayOk ? "✔" : "✘"} ${"replay once the ledger is back".padEnd(44)} → ${replayed.status}`);

server.close();
const { counts, processed } = receiver.stats();
console.log(
  `\nSummary: ${processed} processed, ${counts.duplicate ?? 0} duplicate, ${counts.dead_lettered ?? 0} dead-lettered then replayed,`,
);
console.log(
  `         refused: ${Object.entries(counts)
    .filter(([k]) => !["received", "duplicate", "dead_lettered", "failed", "replayed"].includes(k))
    .map(([k, v]) => `${k} ×${v}`)
    .join(", ")}`,
);
failures += await inboxDemo(events, secret);
failures += await sendingDemo(events);
console.log(
  failures === 0 ? "\nAll demo steps answered as expected." : `\n${failures} demo step(s) did not answer as expected.`,
);
// No process.exit: the sender's stop() and the servers' close() leave nothing running, so Node exits by itself.
process.exitCode = failures === 0 ? 0 : 1;
