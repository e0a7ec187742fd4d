// Two services, each on its own PostgreSQL (PGlite here, so that it runs anywhere; a pg Pool or postgres.js works
// the same), and nothing else: no queue, no webhook server.
//
// - `orders` writes an order and its `order.created` webhook in one transaction (the transactional outbox): the
//   webhook exists if and only if the order does. A checkout that fails after `send` rolls both back.
// - Its sender's worker delivers the webhook, signed, with retries, from the `hookline_` tables.
// - `billing` receives it into an inbox on its own database and answers at once; its worker runs the handler in a
//   transaction with the event's `processed` mark, so the invoice is written once even when the event arrives
//   twice or the handler fails half-way.
//
// Every address is loopback. `node outbox.mjs`; exits 0 when every check holds.
import { createServer } from "node:http";
import { PGlite } from "@electric-sql/pglite";
import { createReceiver, createSender, defineEvents } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { postgresDeadLetters, postgresDeliveries, postgresInbox } from "@hookline/postgres";
import { z } from "zod";

const events = defineEvents({
  "order.created": z.object({ orderId: z.string(), customer: z.string(), totalCents: z.number().int() }),
});
const quiet = { info() {}, warn() {}, error() {} };
const until = async (what, condition) => {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
let failures = 0;
const check = (ok, label, result) => {
  if (!ok) failures++;
  console.log(`${ok ? "✔" : "✘"} ${label.padEnd(44)} → ${result}`);
};

// ── billing: its own database, an inbox, a handler that writes on the event's transaction ──────────────────────
const billingDb = new PGlite();
await billingDb.exec("CREATE TABLE invoices (order_id text PRIMARY KEY, customer text, total_cents integer)");
const inbox = postgresInbox({ client: billingDb });
const deadLetters = postgresDeadLetters({ client: billingDb });
await inbox.migrate();
await deadLetters.migrate();

let runs = 0;
const billing = (secret) =>
  createReceiver({ secret, events, inbox, deadLetters, schedule: [0, 200], logger: quiet }).on(
    "order.created",
    async ({ data }, { tx }) => {
      await tx.query("INSERT INTO invoices (order_id, customer, total_cents) VALUES ($1, $2, $3)", [
        data.orderId,
        data.customer,
        data.totalCents,
      ]);
      // The first run fails after its write: the write is rolled back with the run, and the retry writes it again.
      if (++runs === 1) throw new Error("ledger busy");
    },
  );

// ── orders: its own database, the sender's tables beside the orders table ───────────────────────────────────────
const ordersDb = new PGlite();
await ordersDb.exec("CREATE TABLE orders (id text PRIMARY KEY, customer text, total_cents integer)");
const store = postgresDeliveries({ client: ordersDb });
await store.migrate();
const sender = createSender({
  store,
  events,
  allow: ["127.0.0.1/32"], // plain http on loopback for this example; the default refuses private addresses
  schedule: [0, 200, 400],
  logger: quiet,
});

// billing's endpoint, registered with orders; billing verifies with the secret orders made for it.
let receiver;
const server = createServer((request, response) => nodeHandler(receiver)(request, response));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const endpoint = await sender.endpoints.create({ url: `http://127.0.0.1:${server.address().port}/webhooks` });
receiver = billing(endpoint.secrets[0].secret);
console.log(`billing receives on ${endpoint.url}`);

const checkout = (order, { failAfterSend = false } = {}) =>
  ordersDb.transaction(async (tx) => {
    await tx.query("INSERT INTO orders (id, customer, total_cents) VALUES ($1, $2, $3)", [
      order.orderId,
      order.customer,
      order.totalCents,
    ]);
    const sent = await sender.send("order.created", order, { tx, id: `order-created-${order.orderId}` });
    if (failAfterSend) throw new Error("card declined");
    return sent;
  });

const paid = await checkout({ orderId: "ord_1", customer: "acme", totalCents: 4200 });
check(paid.deliveries.length === 1, "ord_1 committed with its webhook", `message ${paid.messageId}`);
const declined = await checkout(
  { orderId: "ord_2", customer: "globex", totalCents: 990 },
  { failAfterSend: true },
).catch((error) => error.message);
const ord2 = await ordersDb.query("SELECT count(*)::int AS n FROM orders WHERE id = 'ord_2'");
const ord2Message = await sender.messages.get("order-created-ord_2");
check(
  declined === "card declined" && ord2.rows[0].n === 0 && ord2Message === undefined,
  "ord_2 rolled back: no order, no webhook",
  declined,
);

// ── the workers: orders' dispatcher and billing's inbox worker ─────────────────────────────────────────────────
sender.start();
receiver.work({ concurrency: 2 });
await until("the invoice", async () => (await inbox.get(paid.messageId))?.status === "processed");

const [delivery] = (await sender.deliveries.list({ messageId: paid.messageId })).items;
check(delivery.status === "delivered", "orders delivered it", `${delivery.status}, ${delivery.attempts} attempt(s)`);
const event = await inbox.get(paid.messageId);
check(
  runs === 2 && event.attempts === 2,
  "billing's first run failed, the retry wrote",
  `${event.status} after ${event.attempts} runs`,
);

// Deliver it again (a sender that never heard the 200 does this): billing answers duplicate and writes nothing.
await sender.retry(delivery.id);
await sender.drain({ withinMs: 1_000 });
const [again] = await sender.attempts.list(delivery.id).then((attempts) => attempts.slice(-1));
const invoices = await billingDb.query("SELECT order_id, customer, total_cents FROM invoices");
check(
  again.status === 200 && /"duplicate":true/.test(again.responseBody ?? "") && invoices.rows.length === 1,
  "delivered again: a duplicate, one invoice",
  JSON.stringify(invoices.rows),
);

await sender.stop();
await receiver.stop();
await new Promise((resolve) => server.close(resolve));
await Promise.all([ordersDb.close(), billingDb.close()]);
console.log(failures === 0 ? "\nEvery outbox check held." : `\n${failures} check(s) failed.`);
process.exitCode = failures === 0 ? 0 : 1;
