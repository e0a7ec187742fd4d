import { createReceiver, defineEvents, type StandardSchemaV1 } from "@hookline/core";
import { Hono } from "hono";
import { describe, expectTypeOf, it } from "vitest";
import { webhookHandler } from "../src";

// The types a zod 4 schema such as `z.object({ id: z.string(), amount: z.number() })` has.
declare const invoicePaid: StandardSchemaV1<unknown, { id: string; amount: number }>;
const events = defineEvents({ "invoice.paid": invoicePaid });

describe("webhookHandler", () => {
  it("takes a receiver typed by its event catalog and fits a typed app's routes", () => {
    const receiver = createReceiver({ secret: "whsec_x", events }).on("invoice.paid", (event) => {
      expectTypeOf(event.data).toEqualTypeOf<{ id: string; amount: number }>();
    });
    const app = new Hono<{ Bindings: { WEBHOOK_SECRET: string } }>();
    app.post("/webhooks", webhookHandler(receiver));
    app.all("/webhooks", webhookHandler(receiver));
    expectTypeOf(webhookHandler(receiver)).returns.resolves.toEqualTypeOf<Response>();
  });
});
