import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type EventSchemas, type JSONSchema, type StandardSchemaV1, toJSONSchema } from "@hookline/core";
import { createJiti } from "jiti";
import { UsageError } from "./exit";

function isSchema(value: unknown): value is StandardSchemaV1 {
  return typeof (value as StandardSchemaV1 | undefined)?.["~standard"]?.validate === "function";
}

function isCatalog(value: unknown): value is EventSchemas {
  if (value === null || typeof value !== "object" || isSchema(value)) return false;
  const entries = Object.values(value);
  return entries.length > 0 && entries.every(isSchema);
}

/**
 * Loads an event catalog from a TypeScript or JavaScript module (jiti transpiles it; its imports, such as zod,
 * resolve from its own folder): the export named `events`, else the default export, else the only export that is
 * a catalog (an object whose values are Standard Schema validators, as `defineEvents` returns).
 */
export async function loadCatalog(path: string): Promise<EventSchemas> {
  const file = resolve(path);
  const jiti = createJiti(pathToFileURL(file).href, { moduleCache: false });
  let module: Record<string, unknown>;
  try {
    module = (await jiti.import(file)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`cannot load the catalog ${path}: ${(error as Error).message}`);
  }
  if (isCatalog(module.events)) return module.events;
  if (isCatalog(module.default)) return module.default;
  const catalogs = Object.entries(module).filter(([, value]) => isCatalog(value));
  if (catalogs.length === 1) return catalogs[0]![1] as EventSchemas;
  throw new UsageError(
    catalogs.length === 0
      ? `${path} exports no event catalog: export const events = defineEvents({ "type": schema, … })`
      : `${path} exports several catalogs (${catalogs.map(([name]) => name).join(", ")}): name one "events"`,
  );
}

export function schemaFor(catalog: EventSchemas, type: string): StandardSchemaV1 {
  const schema = catalog[type];
  if (!schema)
    throw new UsageError(`no type ${JSON.stringify(type)} in the catalog; it has ${Object.keys(catalog).join(", ")}`);
  return schema;
}

/** Validates data against a type's schema: the issues as `path: message` lines, none when valid. */
export async function validateData(schema: StandardSchemaV1, data: unknown): Promise<string[]> {
  const result = await schema["~standard"].validate(data);
  if (!result.issues) return [];
  return result.issues.map((issue) => {
    const path = (issue.path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment));
    return `${path.length > 0 ? path.join(".") : "(data)"}: ${issue.message}`;
  });
}

/** A valid example of a type's data, built from its JSON Schema. */
export function exampleFor(catalog: EventSchemas, type: string): unknown {
  schemaFor(catalog, type);
  const schema = toJSONSchema({ [type]: catalog[type]! })[type]!;
  return exampleOf(schema, schema, 0);
}

const STRING_FORMATS: Record<string, string> = {
  "date-time": "2026-01-01T00:00:00.000Z",
  date: "2026-01-01",
  time: "00:00:00",
  email: "someone@example.com",
  uri: "https://example.com/",
  url: "https://example.com/",
  uuid: "3f2c6b1e-8a4d-4c9b-9e7f-1a2b3c4d5e6f",
  ipv4: "192.0.2.1",
  ipv6: "2001:db8::1",
  duration: "P1D",
};

/**
 * A deterministic example of a JSON Schema: `const`, `default`, `examples` or the first `enum` value when the
 * schema gives one, else the smallest value its type and bounds allow (every property, one item per array).
 */
export function exampleOf(schema: JSONSchema, root: JSONSchema, depth: number): unknown {
  if (depth > 16) return null;
  if ("const" in schema) return schema.const;
  if ("default" in schema) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (typeof schema.$ref === "string") return exampleOf(resolveRef(schema.$ref, root), root, depth + 1);
  for (const key of ["anyOf", "oneOf"] as const) {
    const branches = schema[key] as JSONSchema[] | undefined;
    if (Array.isArray(branches) && branches.length > 0) {
      const branch = branches.find((candidate) => candidate.type !== "null") ?? branches[0]!;
      return exampleOf(branch, root, depth + 1);
    }
  }
  if (Array.isArray(schema.allOf)) {
    return Object.assign({}, ...(schema.allOf as JSONSchema[]).map((part) => exampleOf(part, root, depth + 1)));
  }
  const type = Array.isArray(schema.type)
    ? ((schema.type as unknown[]).find((t) => t !== "null") ?? "null")
    : schema.type;
  switch (type) {
    case "object": {
      const properties = (schema.properties ?? {}) as Record<string, JSONSchema>;
      return Object.fromEntries(
        Object.entries(properties).map(([name, property]) => [name, exampleOf(property, root, depth + 1)]),
      );
    }
    case "array": {
      const items = (schema.prefixItems as JSONSchema[] | undefined) ?? [(schema.items ?? {}) as JSONSchema];
      const count = Math.max(items.length, Number(schema.minItems ?? 1));
      return Array.from({ length: count }, (_, index) =>
        exampleOf(items[Math.min(index, items.length - 1)]!, root, depth + 1),
      );
    }
    case "string":
      return exampleString(schema);
    case "integer":
    case "number":
      return exampleNumber(schema, type === "integer");
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return {};
  }
}

function exampleString(schema: JSONSchema): string {
  const byFormat = typeof schema.format === "string" ? STRING_FORMATS[schema.format] : undefined;
  if (byFormat) return byFormat;
  const min = Number(schema.minLength ?? 0);
  const max = Number(schema.maxLength ?? Number.POSITIVE_INFINITY);
  let value = "example";
  if (value.length < min) value = value.padEnd(min, "x");
  return value.slice(0, max);
}

function exampleNumber(schema: JSONSchema, integer: boolean): number {
  const step = integer ? 1 : 0.5;
  let value = 0;
  if (typeof schema.minimum === "number") value = schema.minimum;
  else if (typeof schema.exclusiveMinimum === "number") value = schema.exclusiveMinimum + step;
  else if (typeof schema.maximum === "number" && schema.maximum < 0) value = schema.maximum;
  else if (typeof schema.exclusiveMaximum === "number" && schema.exclusiveMaximum <= 0)
    value = schema.exclusiveMaximum - step;
  if (integer) value = Math.ceil(value);
  if (typeof schema.multipleOf === "number" && schema.multipleOf > 0)
    value = Math.ceil(value / schema.multipleOf) * schema.multipleOf;
  return value;
}

function resolveRef(ref: string, root: JSONSchema): JSONSchema {
  if (!ref.startsWith("#")) throw new UsageError(`cannot build an example through the external $ref ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(1).split("/").filter(Boolean)) {
    node = (node as Record<string, unknown> | undefined)?.[
      decodeURIComponent(part.replaceAll("~1", "/").replaceAll("~0", "~"))
    ];
  }
  if (node === null || typeof node !== "object") throw new UsageError(`cannot resolve $ref ${ref}`);
  return node as JSONSchema;
}
