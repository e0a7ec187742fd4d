import { HooklineError } from "./errors";
import type { EventSchemas, StandardSchemaV1 } from "./receiver";

/** A JSON Schema (draft 2020-12) as a plain object. */
export type JSONSchema = Record<string, unknown>;

/** The part of the Standard JSON Schema interface (https://standardschema.dev) read here: zod ≥ 4.2, arktype, … */
interface StandardJSONSchemaProps {
  readonly jsonSchema?: {
    readonly input: (options: { readonly target: string }) => Record<string, unknown>;
  };
}

/** Options of {@link toJSONSchema} and {@link toOpenAPI}. */
export interface JSONSchemaOptions {
  /**
   * Converts a schema that does not offer Standard JSON Schema (`~standard.jsonSchema`) itself, with its library's
   * own converter: `z.toJSONSchema` for zod 4.0–4.1, `toJsonSchema` from `@valibot/to-json-schema`, …
   * @default undefined (such a schema is an `invalid_option` error naming its event type)
   */
  convert?: (schema: StandardSchemaV1, type: string) => JSONSchema;
}

/**
 * The JSON Schema (draft 2020-12) of each event type's `data`, from the schema library's own converter: the
 * Standard JSON Schema interface where the library offers it (zod ≥ 4.2 does), else `options.convert`. It describes
 * what a sender sends (the schema's input, before transforms).
 *
 * @throws {HooklineError} `invalid_option` when a schema offers no JSON Schema and there is no `convert`, or its
 *   library cannot express it (a zod `transform` output, a custom refinement…).
 * @example
 * const schemas = toJSONSchema(events); // { "invoice.paid": { type: "object", properties: { … } }, … }
 */
export function toJSONSchema(events: EventSchemas, options: JSONSchemaOptions = {}): Record<string, JSONSchema> {
  const result: Record<string, JSONSchema> = {};
  for (const [type, schema] of Object.entries(events)) {
    const standard = schema["~standard"] as StandardSchemaV1["~standard"] & StandardJSONSchemaProps;
    let converted: JSONSchema;
    try {
      if (standard?.jsonSchema) converted = standard.jsonSchema.input({ target: "draft-2020-12" });
      else if (options.convert) converted = options.convert(schema, type);
      else {
        throw new HooklineError(
          "invalid_option",
          `The schema for "${type}" (${standard?.vendor ?? "unknown library"}) offers no JSON Schema: pass its library's converter as { convert }`,
        );
      }
    } catch (error) {
      if (error instanceof HooklineError) throw error;
      throw new HooklineError(
        "invalid_option",
        `The schema for "${type}" cannot be expressed as JSON Schema: ${(error as Error).message}`,
        { cause: error },
      );
    }
    result[type] = { $schema: "https://json-schema.org/draft/2020-12/schema", ...converted };
  }
  return result;
}

/** Options of {@link toOpenAPI}. */
export interface OpenAPIOptions extends JSONSchemaOptions {
  /**
   * The document's `info.title`.
   * @default "Webhooks"
   */
  title?: string;
  /**
   * The document's `info.version`: the version of the webhooks it describes.
   * @default "1.0.0"
   */
  version?: string;
  /**
   * The document's `info.description`.
   * @default undefined
   */
  description?: string;
  /**
   * The signature headers each delivery carries, name → description.
   * @default the Standard Webhooks headers: webhook-id, webhook-timestamp, webhook-signature
   */
  headers?: Record<string, string>;
}

const STANDARD_HEADERS: Record<string, string> = {
  "webhook-id": "The message id, the same on every retry of one message: the idempotency key.",
  "webhook-timestamp": "When the message was sent, in unix seconds; messages outside the tolerance are refused.",
  "webhook-signature":
    "Space-separated signatures: v1,<base64 HMAC-SHA256> or v1a,<base64 Ed25519> over <id>.<timestamp>.<body>.",
};

/** A component name OpenAPI accepts (`^[a-zA-Z0-9._-]+$`). */
function componentName(type: string): string {
  return type.replace(/[^a-zA-Z0-9._-]/g, "_");
}

/**
 * An OpenAPI 3.1 document of a catalog's webhooks: one `webhooks` entry per event type, a POST whose JSON body is
 * the envelope `{ id, type, timestamp, data }` with `data` from {@link toJSONSchema} (under `components.schemas`),
 * the signature headers as parameters, and the answers a Hookline receiver gives. Publish it with your API docs.
 *
 * @throws {HooklineError} `invalid_option`, as {@link toJSONSchema}.
 * @example
 * await writeFile("webhooks.openapi.json", JSON.stringify(toOpenAPI(events, { title: "Acme webhooks" }), null, 2));
 */
export function toOpenAPI(events: EventSchemas, options: OpenAPIOptions = {}): Record<string, unknown> {
  const schemas: Record<string, JSONSchema> = {};
  const webhooks: Record<string, unknown> = {};
  const parameters = Object.entries(options.headers ?? STANDARD_HEADERS).map(([name, description]) => ({
    name,
    in: "header",
    required: true,
    description,
    schema: { type: "string" },
  }));
  for (const [type, schema] of Object.entries(toJSONSchema(events, options))) {
    const { $schema: _dialect, ...data } = schema;
    const name = componentName(type);
    schemas[name] = data;
    webhooks[type] = {
      post: {
        summary: type,
        operationId: `webhook:${type}`,
        parameters,
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["type", "data"],
                properties: {
                  id: { type: "string", description: "The message id (also in the id header)." },
                  type: { const: type },
                  timestamp: { type: "string", format: "date-time" },
                  data: { $ref: `#/components/schemas/${name}` },
                },
              },
            },
          },
        },
        responses: {
          "200": { description: "Received (or a duplicate, already processed): the sender stops." },
          "202": { description: "Accepted: the handlers are still running." },
          "400": { description: "Not JSON, no type, or data that fails the schema: not retried." },
          "401": { description: "Missing or invalid signature, or a timestamp outside the tolerance." },
          "409": { description: "The same message is being processed: retried after Retry-After." },
          "5XX": { description: "The receiver failed: retried." },
        },
      },
    };
  }
  const info: Record<string, string> = { title: options.title ?? "Webhooks", version: options.version ?? "1.0.0" };
  if (options.description !== undefined) info.description = options.description;
  return {
    openapi: "3.1.0",
    info,
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    webhooks,
    components: { schemas },
  };
}
