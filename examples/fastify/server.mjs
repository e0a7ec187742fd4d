// A Fastify 5 app that receives signed webhooks on POST /webhooks next to its own JSON API.
//
//   WEBHOOK_SECRET=whsec_… PORT=3000 HOST=127.0.0.1 pnpm --filter @hookline/example-fastify start
//
// Without WEBHOOK_SECRET it falls back to DEV_SECRET below, which is public: never deploy without setting it.
import { createReceiver, defineEvents, memoryStore } from "@hookline/core";
import { webhookPlugin } from "@hookline/fastify";
import Fastify from "fastify";
import { z } from "zod";

/** The development secret: Standard Webhooks `whsec_` + base64 of "hookline-example-fastify-dev-secret". */
const DEV_SECRET = "whsec_aG9va2xpbmUtZXhhbXBsZS1mYXN0aWZ5LWRldi1zZWNyZXQ=";

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

const app = Fastify();
// The plugin keeps its raw-body parser to its own encapsulated route; the routes below keep Fastify's JSON parser.
await app.register(webhookPlugin, { receiver, path: "/webhooks" });

app.post("/api/orders", async (request, reply) => {
  const parsed = order.safeParse(request.body);
  if (!parsed.success) return reply.code(400).send({ error: z.prettifyError(parsed.error) });
  orders += 1;
  return reply.code(201).send({ order: { id: `ord_${orders}`, ...parsed.data } });
});

app.get("/api/invoices", async () => ({ paid: Object.fromEntries(paidInvoices) }));

await app.listen({ port, host });
const url = `http://${host.includes(":") ? `[${host}]` : host}:${app.server.address().port}`;
console.log(`Listening on ${url} (webhooks at /webhooks)`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => app.close().then(() => process.exit(0)));
}
