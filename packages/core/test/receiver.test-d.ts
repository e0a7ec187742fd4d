import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  createReceiver,
  defineEvents,
  type HandlerContext,
  type InboxStore,
  memoryInbox,
  type WebhookEvent,
} from "../src";

const events = defineEvents({
  "invoice.paid": z.object({ id: z.string(), amount: z.number(), at: z.string().transform((s) => new Date(s)) }),
  "customer.deleted": z.object({ id: z.string() }),
});

describe("typed handlers", () => {
  it("gives each type's handler the schema's output type", () => {
    createReceiver({ secret: "whsec_x", events }).on("invoice.paid", (event, context) => {
      expectTypeOf(event.type).toEqualTypeOf<"invoice.paid">();
      expectTypeOf(event.data).toEqualTypeOf<{ id: string; amount: number; at: Date }>();
      expectTypeOf(event.id).toBeString();
      expectTypeOf(event.timestamp).toEqualTypeOf<number | undefined>();
      expectTypeOf(context).toEqualTypeOf<HandlerContext>();
    });
  });

  it("refuses a type outside the catalog", () => {
    const receiver = createReceiver({ secret: "whsec_x", events });
    // @ts-expect-error "invoice.refunded" is not in the catalog
    receiver.on("invoice.refunded", () => {});
    expectTypeOf(receiver.on).parameter(0).toEqualTypeOf<"invoice.paid" | "customer.deleted">();
  });

  it("gives onAny the union of the catalog's events, narrowed by type", () => {
    createReceiver({ secret: "whsec_x", events }).onAny((event) => {
      expectTypeOf(event).toEqualTypeOf<
        | WebhookEvent<"invoice.paid", { id: string; amount: number; at: Date }>
        | WebhookEvent<"customer.deleted", { id: string }>
      >();
      if (event.type === "customer.deleted") expectTypeOf(event.data).toEqualTypeOf<{ id: string }>();
    });
  });

  it("accepts any type with unknown data when there is no catalog", () => {
    createReceiver({ secret: "whsec_x" }).on("anything.at.all", (event) => {
      expectTypeOf(event.data).toBeUnknown();
      expectTypeOf(event.type).toEqualTypeOf<"anything.at.all">();
    });
  });

  it("types context.tx as the inbox's transaction, and keeps on()'s catalog typing with an inbox", () => {
    interface PoolClient {
      query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
    }
    const transactional = {} as InboxStore<PoolClient>;
    const receiver = createReceiver({ secret: "whsec_x", events, inbox: transactional });
    receiver.on("invoice.paid", async (event, { tx }) => {
      expectTypeOf(event.data).toEqualTypeOf<{ id: string; amount: number; at: Date }>();
      expectTypeOf(tx).toEqualTypeOf<PoolClient | undefined>();
    });
    // @ts-expect-error "invoice.refunded" is not in the catalog
    receiver.on("invoice.refunded", () => {});
    createReceiver({ events, inbox: memoryInbox(), orderBy: (event) => event.data.id }).on(
      "customer.deleted",
      (event, context) => {
        expectTypeOf(event.data).toEqualTypeOf<{ id: string }>();
        expectTypeOf(context.tx).toEqualTypeOf<undefined>();
      },
    );
  });
});
