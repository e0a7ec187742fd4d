import { createReceiver, defineEvents, type StandardSchemaV1 } from "@hookline/core";
import express, { Router } from "express";
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { webhookHandler } from "../src";

// `paidAt` is a string on the wire and a Date in handlers: the handler gets the schema's output type.
const events = defineEvents({
  "invoice.paid": z.object({
    id: z.string(),
    amount: z.number(),
    paidAt: z.iso.datetime().transform((s) => new Date(s)),
  }),
});
type InvoicePaid = { id: string; amount: number; paidAt: Date };

describe("webhookHandler", () => {
  it("takes a receiver typed by its event catalog and fits app.post, app.all and a Router", () => {
    const receiver = createReceiver({ secret: "whsec_x", events }).on("invoice.paid", (event) => {
      expectTypeOf(event.data).toEqualTypeOf<InvoicePaid>();
    });
    express().post("/webhooks", webhookHandler(receiver));
    express().all("/webhooks", webhookHandler(receiver, { rawBody: () => undefined }));
    Router().post("/webhooks", express.raw({ type: "*/*" }), webhookHandler(receiver));
  });

  it("types the rawBody option", () => {
    expectTypeOf(webhookHandler).parameter(1).exclude<undefined>().toHaveProperty("rawBody");
    // @ts-expect-error a parsed object is not a raw body
    webhookHandler(createReceiver({ secret: "whsec_x" }), { rawBody: () => ({ parsed: true }) });
  });

  it("sees a catalog whose input and output differ, so the handler's type above is the output's", () => {
    type Schema = (typeof events)["invoice.paid"];
    expectTypeOf<StandardSchemaV1.InferInput<Schema>>().toEqualTypeOf<{ id: string; amount: number; paidAt: string }>();
    expectTypeOf<StandardSchemaV1.InferOutput<Schema>>().toEqualTypeOf<InvoicePaid>();
  });
});
