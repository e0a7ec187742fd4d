import { createReceiver, defineEvents, type StandardSchemaV1 } from "@hookline/core";
import Fastify from "fastify";
import { describe, expectTypeOf, it } from "vitest";
import { type WebhookPluginOptions, webhookPlugin } from "../src";

// The types a zod 4 schema such as `z.object({ id: z.string(), amount: z.number() })` has.
declare const invoicePaid: StandardSchemaV1<unknown, { id: string; amount: number }>;
const events = defineEvents({ "invoice.paid": invoicePaid });

describe("webhookPlugin", () => {
  it("registers with a receiver typed by its event catalog", () => {
    const receiver = createReceiver({ secret: "whsec_x", events }).on("invoice.paid", (event) => {
      expectTypeOf(event.data).toEqualTypeOf<{ id: string; amount: number }>();
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
});
