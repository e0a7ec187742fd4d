import { HooklineError } from "../errors";
import { type MaybePromise, whenReady } from "../maybe";
import type { StandardSchemaV1 } from "./standard-schema";

/** Event types mapped to the schema of their `data`. */
export type EventSchemas = Record<string, StandardSchemaV1>;

/** A typed event catalog, made by {@link defineEvents}. */
export type EventCatalog<Schemas extends EventSchemas = EventSchemas> = Readonly<Schemas>;

/** The catalog of a receiver created without one: any type, `data: unknown`. */
export type UntypedCatalog = Record<string, StandardSchemaV1<unknown, unknown>>;

/** The event types a catalog knows. */
export type EventType<Catalog extends EventSchemas> = Extract<keyof Catalog, string>;

/** The `data` a handler gets for a type: the schema's output (transforms applied). */
export type EventData<Catalog extends EventSchemas, Type extends EventType<Catalog>> = StandardSchemaV1.InferOutput<
  Catalog[Type]
>;

/** A verified, validated event as handlers receive it. */
export interface WebhookEvent<Type extends string = string, Data = unknown> {
  /** The message id (the idempotency key). */
  id: string;
  /** The event type, such as `invoice.paid`. */
  type: Type;
  /** The signed timestamp in unix seconds, when the scheme carries one. */
  timestamp?: number;
  /** The validated payload data. */
  data: Data;
}

/** One event per type of a catalog, as a union (what `onAny` handlers get). */
export type AnyWebhookEvent<Catalog extends EventSchemas> = {
  [Type in EventType<Catalog>]: WebhookEvent<Type, EventData<Catalog, Type>>;
}[EventType<Catalog>];

/**
 * Declares the events a receiver accepts: each type with the schema of its `data`. Any Standard Schema v1
 * validator works (zod ≥ 3.25, valibot, arktype…); handlers get each schema's output type.
 *
 * @example
 * const events = defineEvents({
 *   "invoice.paid": z.object({ id: z.string(), amount: z.number().int() }),
 *   "customer.deleted": z.object({ id: z.string() }),
 * });
 */
export function defineEvents<const Schemas extends EventSchemas>(schemas: Schemas): EventCatalog<Schemas> {
  for (const [type, schema] of Object.entries(schemas)) {
    if (typeof (schema as Partial<StandardSchemaV1>)?.["~standard"]?.validate !== "function") {
      throw new HooklineError(
        "invalid_option",
        `The schema for "${type}" is not a Standard Schema validator (zod ≥ 3.25, valibot, arktype…)`,
      );
    }
  }
  return Object.freeze({ ...schemas });
}

/** A schema failure, shaped for the 400 answer: where and what. */
export interface ValidationIssue {
  path: string;
  message: string;
}

export function describeIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): ValidationIssue[] {
  return issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment)).join("."),
    message: issue.message,
  }));
}

/**
 * The schema of `type` in a catalog, looked up as an own key only: a type named `constructor` or `__proto__` must
 * not find Object.prototype's members (it would answer 500 on receipt, throw on send).
 */
export function schemaFor(catalog: EventSchemas | undefined, type: string): StandardSchemaV1 | undefined {
  return catalog && Object.hasOwn(catalog, type) ? catalog[type] : undefined;
}

/**
 * Validates an event's data against its schema: the schema's output, or why it failed. Shared by the receiver
 * (a 400) and the sender (a rejected `send`), so that both read a catalog the same way. A synchronous schema (most
 * are) answers at once, with no promise.
 */
export function validateData(
  schema: StandardSchemaV1,
  type: string,
  data: unknown,
): MaybePromise<{ value: unknown } | { message: string; issues: ValidationIssue[] }> {
  return whenReady(schema["~standard"].validate(data), (result) =>
    result.issues
      ? { message: `The ${type} event does not match its schema`, issues: describeIssues(result.issues) }
      : { value: result.value },
  );
}
