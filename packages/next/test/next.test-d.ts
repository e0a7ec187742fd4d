import { createReceiver, type Receiver, type StandardSchemaV1 } from "@hookline/core";
import type { NextApiHandler, NextApiRequest, NextApiResponse, PageConfig } from "next";
import type { NextRequest } from "next/server";
import { describe, expectTypeOf, it } from "vitest";
import { pagesConfig, pagesWebhookHandler, webhookHandler } from "../src/index";

type Catalog = { "invoice.paid": StandardSchemaV1<{ id: string }, { id: string }> };
declare const typed: Receiver<Catalog>;
const untyped = createReceiver({ secret: "whsec_c2VjcmV0" });

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
