import { toOpenAPI } from "@hookline/core";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { events } from "./fixtures/events";
import { hookline } from "./helpers";

const catalog = new URL("./fixtures/events.ts", import.meta.url).pathname;

async function validate(document: unknown) {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(document) as Parameters<Validator["validate"]>[0]);
  return {
    result,
    version: validator.version,
    resolved: result.valid ? (validator.resolveRefs() as Record<string, unknown>) : undefined,
  };
}

describe("OpenAPI export", () => {
  it("toOpenAPI(events) is a valid OpenAPI 3.1 document", async () => {
    const { result, version, resolved } = await validate(
      toOpenAPI(events, { title: "Fixture webhooks", description: "For the test" }),
    );
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(version).toBe("3.1");
    // The data schema is reachable through the envelope's $ref.
    const post = (
      resolved!.webhooks as Record<
        string,
        { post: { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } } }
      >
    )["invoice.paid"]!.post;
    expect(post.requestBody.content["application/json"]!.schema.properties.data).toMatchObject({
      type: "object",
      required: expect.arrayContaining(["id", "amountCents", "currency", "paidAt", "customer", "note"]),
    });
  });

  it("the validator does refuse a broken document", async () => {
    const broken = toOpenAPI(events) as { webhooks: Record<string, { post: Record<string, unknown> }> };
    broken.webhooks["invoice.paid"]!.post.responses = "none";
    expect((await validate(broken)).result.valid).toBe(false);
  });

  it("hookline schema writes the same valid document", async () => {
    const { code, stdout } = await hookline([
      "schema",
      "--catalog",
      catalog,
      "--title",
      "Fixture webhooks",
      "--doc-version",
      "3.0.0",
    ]);
    expect(code).toBe(0);
    const document = JSON.parse(stdout);
    expect(document).toEqual(toOpenAPI(events, { title: "Fixture webhooks", version: "3.0.0" }));
    expect((await validate(document)).result.valid).toBe(true);
  });
});
