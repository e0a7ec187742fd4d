// An Express 5 app that receives signed webhooks on POST /webhooks next to its own JSON API.
//
//   WEBHOOK_SECRET=whsec_… PORT=3000 HOST=127.0.0.1 pnpm --filter @hookline/example-express start
//
// Without WEBHOOK_SECRET it falls back to DEV_SECRET below, which is public: never deploy without setting it.
import { createReceiver, defineEvents, memoryStore } from "@hookline/core";
import { webhookHandler } from "@hookline/express";
import express from "express";
import { z } from "zod";

/** The development secret: Standard Webhooks `whsec_` + base64 of "hookline-example-express-dev-secret". */
const DEV_SECRET = "whsec_aG9va2xpbmUtZXhhbXBsZS1leHByZXNzLWRldi1zZWNyZXQ=";

const secret = process.env.WEBHOOK_SECRET || DEV_SECRET;
if (!process.env.WEBHOOK_SECRET) console.warn("WEBHOOK_SECRET is not set: using the public development secret");
const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be an integer from 0 to 65535 (0: any free port), got ${process.env.PORT}`);
  process.exit(1);
}

const events = defineEvents({
  "invoice.paid": z.object({ id: z.string(), amountCents: z.number().int().nonnegative() }),
  "customer.deleted": z.object({ id: z.string() }),
});

/** Invoice id → amount paid: the example's stand-in for a database. */
const paidInvoices = new Map();

// memoryStore deduplicates within this one process; with several instances, use @hookline/redis or /postgres.
const receiver = createReceiver({ secret, events, store: memoryStore() })
  .on("invoice.paid", (event) => {
    paidInvoices.set(event.data.id, event.data.amountCents);
    console.log(`invoice ${event.data.id} paid: ${event.data.amountCents} cents`);
  })
  .on("customer.deleted", (event) => console.log(`customer ${event.data.id} deleted`));

const order = z.object({ item: z.string().min(1), quantity: z.number().int().positive() });
let orders = 0;

const app = express();
// The webhook route reads the raw bytes itself, so it is mounted before the app-wide JSON parser.
app.post("/webhooks", webhookHandler(receiver));
app.use(express.json());

app.post("/api/orders", (request, response) => {
  const parsed = order.safeParse(request.body);
  if (!parsed.success) {
    response.status(400).json({ error: z.prettifyError(parsed.error) });
    return;
  }
  orders += 1;
  response.status(201).json({ order: { id: `ord_${orders}`, ...parsed.data } });
});

app.get("/api/invoices", (_request, response) => {
  response.json({ paid: Object.fromEntries(paidInvoices) });
});

const server = app.listen(port, host, (error) => {
  if (error) throw error;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${server.address().port}`;
  console.log(`Listening on ${url} (webhooks at /webhooks)`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
