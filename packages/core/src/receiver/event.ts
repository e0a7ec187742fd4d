import type { HeaderReader } from "../headers";
import { type MaybePromise, whenReady } from "../maybe";
import { type Refusal, refusal } from "./answers";
import { type EventSchemas, schemaFor, validateData } from "./events";
import { errorFields } from "./log";
import type { Envelope, EnvelopeFields } from "./types";

/**
 * `{ type, data }` bodies (Standard Webhooks' `{ type, timestamp, data }`, Stripe's and the common
 * `{ id, type, data }`), the id taken from the body when the scheme's headers carry none.
 */
export const defaultEnvelope: Envelope = (body) => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new Error("the body must be a JSON object");
  }
  const { id, type, data } = body as Record<string, unknown>;
  if (typeof type !== "string" || type === "") throw new Error('the body has no "type" string');
  return { id: typeof id === "string" && id !== "" ? id : undefined, type, data };
};

/** What reading an event needs: how to find type and data, and the schemas to validate them with. */
export interface EventReading {
  envelope: Envelope;
  catalog: EventSchemas | undefined;
}

/** A verified body read as an event: its type, its validated data, and its signed id (header or body), if any. */
export interface ParsedEvent {
  type: string;
  id: string | undefined;
  data: unknown;
}

/**
 * Parses a verified body, reads its envelope and validates its data against the catalog (400 `invalid_json`,
 * `invalid_envelope` or `invalid_event` when it cannot). A schema that throws rather than reporting issues is a
 * bug on the receiving side: it rejects, and the receiver answers 500.
 */
export function parseEvent(
  reading: EventReading,
  payload: string,
  header: HeaderReader,
  signedId: string | undefined,
): MaybePromise<ParsedEvent | Refusal> {
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return refusal("invalid_json", "The body is not valid JSON");
  }
  let fields: EnvelopeFields;
  try {
    fields = reading.envelope(body, { id: signedId, header });
  } catch (error) {
    return refusal("invalid_envelope", `Cannot read the event: ${errorFields(error).message}`);
  }
  if (typeof fields?.type !== "string" || fields.type === "") {
    return refusal("invalid_envelope", "The envelope returned no event type");
  }
  const schema = schemaFor(reading.catalog, fields.type);
  const bodyId = typeof fields.id === "string" && fields.id !== "" ? fields.id : undefined;
  const id = signedId ?? bodyId;
  if (!schema) return { type: fields.type, id, data: fields.data };
  const type = fields.type;
  return whenReady(validateData(schema, type, fields.data), (result): ParsedEvent | Refusal =>
    "issues" in result
      ? refusal("invalid_event", result.message, { issues: result.issues })
      : { type, id, data: result.value },
  );
}
