/**
 * The one receiver both routers share: a typed catalog checked with zod and an in-memory idempotency store. The
 * secret comes from `WEBHOOK_SECRET`; without it the documented development secret below is used, so never
 * deploy without setting it.
 *
 * @example
 * WEBHOOK_SECRET=whsec_… pnpm --filter @hookline/example-next start
 */
import { createReceiver, defineEvents, memoryStore } from "@hookline/core";
import { z } from "zod";

/** The development secret (Standard Webhooks `whsec_` + base64 of "hookline-example-next-dev-secret"). */
export const DEV_SECRET = "whsec_aG9va2xpbmUtZXhhbXBsZS1uZXh0LWRldi1zZWNyZXQ=";

export const events = defineEvents({
  "invoice.paid": z.object({ id: z.string(), amountCents: z.number().int().nonnegative() }),
  "customer.deleted": z.object({ id: z.string() }),
});

/** Invoices marked paid, newest last: the example's stand-in for a database. */
export const paidInvoices: string[] = [];

export const receiver = createReceiver({
  secret: process.env.WEBHOOK_SECRET ?? DEV_SECRET,
  events,
  store: memoryStore(),
})
  .on("invoice.paid", (event) => {
    paidInvoices.push(event.data.id);
    console.log(`invoice ${event.data.id} paid: ${event.data.amountCents} cents`);
  })
  .on("customer.deleted", (event) => console.log(`customer ${event.data.id} deleted`));
