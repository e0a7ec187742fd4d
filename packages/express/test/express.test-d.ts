import { createReceiver, defineEvents, type StandardSchemaV1 } from "@hookline/core";
import express, { Router } from "express";
import { describe, expectTypeOf, it } from "vitest";
import { webhookHandler } from "../src";

// The types a zod 4 schema such as `z.object({ id: z.string(), amount: z.number() })` has.
declare const invoicePaid: StandardSchemaV1<unknown, { id: string; amount: number }>;
const events = defineEvents({ "invoice.paid": invoicePaid });

describe("webhookHandler", () => {
  it("takes a receiver typed by its event catalog and fits app.post, app.all and a Router", () => {
    const receiver = createReceiver({ secret: "whsec_x", events }).on("invoice.paid", (event) => {
      expectTypeOf(event.data).toEqualTypeOf<{ id: string; amount: number }>();
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
});
