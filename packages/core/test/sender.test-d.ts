import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  createReceiver,
  createSender,
  defineEvents,
  type Endpoint,
  type EventInput,
  type Sender,
  type SendResult,
} from "../src";

const events = defineEvents({
  "invoice.paid": z.object({ id: z.string(), amount: z.number(), at: z.string().transform((s) => new Date(s)) }),
  "customer.deleted": z.object({ id: z.string() }),
});

describe("typed send", () => {
  const sender = createSender({ events });

  it("takes each type's schema input, and only the catalog's types", () => {
    expectTypeOf(sender).toEqualTypeOf<Sender<typeof events>>();
    expectTypeOf(sender.send<"invoice.paid">)
      .parameter(1)
      .toEqualTypeOf<{ id: string; amount: number; at: string }>();
    expectTypeOf(sender.send).parameter(0).toEqualTypeOf<"invoice.paid" | "customer.deleted">();
    expectTypeOf(sender.send("customer.deleted", { id: "cus_1" })).resolves.toEqualTypeOf<SendResult>();
    // @ts-expect-error "invoice.refunded" is not in the catalog
    void sender.send("invoice.refunded", { id: "x" });
    // @ts-expect-error amount must be a number
    void sender.send("invoice.paid", { id: "in_1", amount: "12", at: "2026-12-01" });
    // @ts-expect-error the schema's output (a Date) is not what is sent
    void sender.send("invoice.paid", { id: "in_1", amount: 12, at: new Date() });
  });

  it("is read back by a receiver on the same catalog as the schema's output", () => {
    type Sent = EventInput<typeof events, "invoice.paid">;
    expectTypeOf<Sent["at"]>().toBeString();
    createReceiver({ secret: "whsec_x", events }).on("invoice.paid", (event) => {
      expectTypeOf(event.data.at).toEqualTypeOf<Date>();
    });
  });

  it("accepts any type and data without a catalog", () => {
    const untyped = createSender();
    expectTypeOf(untyped.send).parameter(0).toBeString();
    expectTypeOf(untyped.send).parameter(1).toBeUnknown();
  });

  it("returns endpoints as stored", () => {
    expectTypeOf(sender.endpoints.create({ url: "https://example.com" })).resolves.toEqualTypeOf<Endpoint>();
    expectTypeOf(sender.endpoints.get("ep_1")).resolves.toEqualTypeOf<Endpoint | undefined>();
  });
});
