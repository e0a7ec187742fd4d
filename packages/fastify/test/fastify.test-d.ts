import { createReceiver, defineEvents, type StandardSchemaV1 } from "@hookline/core";
import Fastify from "fastify";
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { type WebhookPluginOptions, webhookPlugin } from "../src";

// `paidAt` is a string on the wire and a Date in handlers: the handler gets the schema's output type.
const events = defineEvents({
  "invoice.paid": z.object({
    id: z.string(),
    amount: z.number(),
    paidAt: z.iso.datetime().transform((s) => new Date(s)),
  }),
});
type InvoicePaid = { id: string; amount: number; paidAt: Date };

describe("webhookPlugin", () => {
  it("registers with a receiver typed by its event catalog", () => {
    const receiver = createReceiver({ secret: "whsec_x", events }).on("invoice.paid", (event) => {
      expectTypeOf(event.data).toEqualTypeOf<InvoicePaid>();
    });
    const app = Fastify();
    app.register(webhookPlugin, { receiver, path: "/webhooks" });
    app.register(webhookPlugin, { receiver, prefix: "/hooks" });
    expectTypeOf(receiver).toExtend<WebhookPluginOptions["receiver"]>();
  });

  it("requires a receiver", () => {
    // @ts-expect-error the receiver is required
    Fastify().register(webhookPlugin, { path: "/webhooks" });
  });

  it("sees a catalog whose input and output differ, so the handler's type above is the output's", () => {
    type Schema = (typeof events)["invoice.paid"];
    expectTypeOf<StandardSchemaV1.InferInput<Schema>>().toEqualTypeOf<{ id: string; amount: number; paidAt: string }>();
    expectTypeOf<StandardSchemaV1.InferOutput<Schema>>().toEqualTypeOf<InvoicePaid>();
  });
});
