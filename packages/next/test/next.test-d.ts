import { createReceiver, defineEvents, type StandardSchemaV1 } from "@hookline/core";
import type { NextApiHandler, NextApiRequest, NextApiResponse, PageConfig } from "next";
import type { NextRequest } from "next/server";
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { pagesConfig, pagesWebhookHandler, webhookHandler } from "../src/index";

// `paidAt` is a string on the wire and a Date in handlers: the handler gets the schema's output type.
const events = defineEvents({
  "invoice.paid": z.object({ id: z.string(), paidAt: z.iso.datetime().transform((s) => new Date(s)) }),
});
const typed = createReceiver({ secret: "whsec_c2VjcmV0", events }).on("invoice.paid", (event) => {
  expectTypeOf(event.data).toEqualTypeOf<{ id: string; paidAt: Date }>();
});
const untyped = createReceiver({ secret: "whsec_c2VjcmV0" });

it("uses a real zod catalog whose input and output differ", () => {
  type Schema = (typeof events)["invoice.paid"];
  expectTypeOf<StandardSchemaV1.InferInput<Schema>>().toEqualTypeOf<{ id: string; paidAt: string }>();
  expectTypeOf<StandardSchemaV1.InferOutput<Schema>>().toEqualTypeOf<{ id: string; paidAt: Date }>();
});

describe("webhookHandler", () => {
  it("takes a typed or untyped receiver and is an App Router route handler", () => {
    expectTypeOf(webhookHandler(typed)).toEqualTypeOf<(request: Request) => Promise<Response>>();
    expectTypeOf(webhookHandler(untyped)).toEqualTypeOf<(request: Request) => Promise<Response>>();
    expectTypeOf(webhookHandler(typed)).toBeCallableWith({} as NextRequest);
  });

  it("needs something with `handle`", () => {
    // @ts-expect-error not a receiver
    webhookHandler({});
    // @ts-expect-error a Pages-style handler is not a receiver
    webhookHandler(pagesWebhookHandler(typed));
  });
});

describe("pagesWebhookHandler", () => {
  it("takes a typed or untyped receiver and is a Pages Router API handler", () => {
    expectTypeOf(pagesWebhookHandler(typed)).toEqualTypeOf<
      (request: NextApiRequest, response: NextApiResponse) => Promise<void>
    >();
    expectTypeOf(pagesWebhookHandler(untyped)).toExtend<NextApiHandler>();
  });

  it("needs something with `receive`", () => {
    // @ts-expect-error `handle` alone is not enough: the Node bridge calls `receive`
    pagesWebhookHandler({ handle: async (request: Request) => new Response(request.body) });
  });

  it("exports a valid page config with the body parser off", () => {
    expectTypeOf(pagesConfig).toExtend<PageConfig>();
    expectTypeOf(pagesConfig.api.bodyParser).toEqualTypeOf<false>();
  });
});
