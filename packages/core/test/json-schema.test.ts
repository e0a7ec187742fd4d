import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineEvents, HooklineError, type StandardSchemaV1, toJSONSchema, toOpenAPI } from "../src";

const events = defineEvents({
  "invoice.paid": z.object({ id: z.string(), amountCents: z.number().int().nonnegative() }),
  "customer.deleted": z.object({ id: z.string(), reason: z.enum(["asked", "fraud"]).optional() }),
});

describe("toJSONSchema", () => {
  it("uses the library's own JSON Schema (zod 4's Standard JSON Schema) for each type's data", () => {
    const schemas = toJSONSchema(events);
    expect(Object.keys(schemas)).toEqual(["invoice.paid", "customer.deleted"]);
    expect(schemas["invoice.paid"]).toEqual({
      ...z.toJSONSchema(events["invoice.paid"], { io: "input" }),
      $schema: "https://json-schema.org/draft/2020-12/schema",
    });
    expect(schemas["customer.deleted"]).toMatchObject({ required: ["id"] });
  });

  it("asks for a converter when a schema offers no JSON Schema, and uses one when given", () => {
    const bare: StandardSchemaV1 = { "~standard": { version: 1, vendor: "custom", validate: (value) => ({ value }) } };
    const catalog = defineEvents({ "thing.done": bare });
    expect(() => toJSONSchema(catalog)).toThrow(HooklineError);
    expect(() => toJSONSchema(catalog)).toThrow(/"thing.done" \(custom\) offers no JSON Schema/);
    expect(toJSONSchema(catalog, { convert: () => ({ type: "object" }) })["thing.done"]).toMatchObject({
      type: "object",
    });
  });

  it("names the type whose schema cannot be expressed", () => {
    const catalog = defineEvents({ "odd.event": z.object({ at: z.date() }) });
    expect(() => toJSONSchema(catalog)).toThrow(/"odd.event" cannot be expressed as JSON Schema/);
  });
});

describe("toOpenAPI", () => {
  it("has one webhook per type with the envelope, the data under components and the signature headers", () => {
    const document = toOpenAPI(events, { title: "Acme", version: "2.1.0" }) as {
      openapi: string;
      info: unknown;
      webhooks: Record<
        string,
        { post: { requestBody: { content: Record<string, { schema: unknown }> }; parameters: { name: string }[] } }
      >;
      components: { schemas: Record<string, unknown> };
    };
    expect(document.openapi).toBe("3.1.0");
    expect(document.info).toEqual({ title: "Acme", version: "2.1.0" });
    expect(Object.keys(document.webhooks)).toEqual(["invoice.paid", "customer.deleted"]);
    const post = document.webhooks["invoice.paid"]!.post;
    expect(post.parameters.map((parameter) => parameter.name)).toEqual([
      "webhook-id",
      "webhook-timestamp",
      "webhook-signature",
    ]);
    expect(post.requestBody.content["application/json"]!.schema).toMatchObject({
      properties: { type: { const: "invoice.paid" }, data: { $ref: "#/components/schemas/invoice.paid" } },
    });
    expect(document.components.schemas["invoice.paid"]).not.toHaveProperty("$schema");
  });
});
