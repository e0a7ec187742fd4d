import { errorStatus, HooklineError, type HooklineErrorCode } from "../errors";
import { type HeaderReader, type HeadersInput, headerReader } from "../headers";
import { standardWebhooks, type WebhookScheme } from "../schemes";
import { type SecretInput, secretList } from "../secrets";
import type { Tolerance } from "../tolerance";
import { verify } from "../webhook";
import { type BodyInput, readBody } from "./body";
import {
  type AnyWebhookEvent,
  type EventCatalog,
  type EventData,
  type EventSchemas,
  type EventType,
  type UntypedCatalog,
  type ValidationIssue,
  validateData,
  type WebhookEvent,
} from "./events";
import { memoryStore } from "./memory-store";
import { type ReceiverStats, statsRecorder } from "./stats";
import type { DeadLetterStore, IdempotencyStore } from "./store";
import { type TransportOptions, transportCheck } from "./transport";

/** What the envelope reads out of a verified JSON body. */
export interface EnvelopeFields {
  /** The message id, when the scheme carries none in its headers. */
  id?: string | undefined;
  /** The event type: required. */
  type: string;
  /** The data the event's schema validates. */
  data: unknown;
}

/** What an envelope function can look at besides the body. */
export interface EnvelopeContext {
  /** The id from the scheme's headers, if any. */
  id?: string | undefined;
  /** Reads a request header, such as `x-github-event`. */
  header: HeaderReader;
}

/** Reads type, data and (optionally) id out of a parsed body; throw to answer 400 `invalid_envelope`. */
export type Envelope = (body: unknown, context: EnvelopeContext) => EnvelopeFields;

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

/** A pino-compatible logger; only these three methods are used. */
export interface ReceiverLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Warnings and errors on the console; routine deliveries stay quiet. */
export const consoleLogger: ReceiverLogger = {
  info() {},
  warn: (fields, message) => console.warn(`[hookline] ${message}`, fields),
  error: (fields, message) => console.error(`[hookline] ${message}`, fields),
};

/** Facts about one delivery as hooks see them; never the payload or a secret. */
export interface DeliveryInfo {
  id?: string | undefined;
  type?: string | undefined;
}

/** Observability hooks. A hook that throws is logged and otherwise ignored. */
export interface ReceiverHooks {
  /** A delivery arrived (before any check). */
  onReceived?(info: { method: string }): void;
  /** The signature checked out. */
  onVerified?(info: DeliveryInfo): void;
  /** The delivery was refused with a 4xx/5xx code before any handler ran. */
  onRejected?(info: DeliveryInfo & { code: HooklineErrorCode; status: number }): void;
  /** The message was already processed or is being processed. */
  onDuplicate?(info: DeliveryInfo & { inFlight: boolean }): void;
  /** Handlers finished successfully after `ms` milliseconds. */
  onProcessed?(info: DeliveryInfo & { ms: number }): void;
  /** A handler threw; `deadLettered` tells whether the event was kept. */
  onFailed?(info: DeliveryInfo & { error: unknown; deadLettered: boolean }): void;
}

/** Options of {@link createReceiver}. */
export interface ReceiverOptions<Catalog extends EventSchemas = UntypedCatalog> extends TransportOptions {
  /** The secret, or several during rotation: any may match. */
  secret: SecretInput;
  /**
   * The wire format.
   * @default standardWebhooks()
   */
  scheme?: WebhookScheme;
  /**
   * The typed event catalog from `defineEvents`. Events of a type in it are validated; `on` only accepts its
   * types.
   * @default undefined (any type, `data: unknown`)
   */
  events?: EventCatalog<Catalog>;
  /**
   * Where processed message ids are recorded. Share one store between instances (Redis, PostgreSQL) to process
   * each message once across all of them.
   * @default memoryStore()
   */
  store?: IdempotencyStore;
  /**
   * Where events whose handler failed are kept, to `replay` later. Without it a failure answers 500 so that the
   * sender delivers again.
   * @default undefined (no dead letters)
   */
  deadLetters?: DeadLetterStore;
  /**
   * Accepted distance of the signed timestamp from now, in seconds, or `{ past, future }`.
   * @default 300
   */
  tolerance?: Tolerance;
  /**
   * The largest body accepted; larger ones get 413 without being buffered.
   * @default 1_048_576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * How long the sender waits for handlers before getting 202; the work goes on and a late failure is
   * dead-lettered. Keep it under the sender's own timeout (commonly 10–30 s).
   * @default 10_000
   */
  timeoutMs?: number;
  /**
   * Reads type, data and id from the parsed body.
   * @default defaultEnvelope (`{ type, data }`, id from the body when the headers carry none)
   */
  envelope?: Envelope;
  /**
   * Where the receiver logs (pino-compatible).
   * @default consoleLogger (warnings and errors only)
   */
  logger?: ReceiverLogger;
  /**
   * Observability hooks.
   * @default {}
   */
  hooks?: ReceiverHooks;
}

/** What handlers get besides the event. */
export interface HandlerContext {
  /** When the delivery arrived. */
  receivedAt: Date;
  /** The raw body as verified. */
  payload: string;
  /** Reads a request header (empty on replay). */
  header: HeaderReader;
  /** True when the event runs again from a dead letter. */
  replay: boolean;
}

/** A handler of one event type. */
export type EventHandler<Event> = (event: Event, context: HandlerContext) => unknown;

/** A delivery as an adapter holds it, for {@link Receiver.receive}. */
export interface DeliveryInput {
  /** The HTTP method. */
  method: string;
  /** The request headers. */
  headers: HeadersInput;
  /** The raw body: bytes, text or a stream (read up to `maxBodyBytes`), or the `HooklineError` why there is none. */
  body: BodyInput;
  /** The full request URL (used by `requireHttps`). */
  url?: string;
  /** The peer's IP address (used by `allowIps`). */
  remoteAddress?: string;
}

/** The answer to send back. */
export interface DeliveryResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON text. */
  body: string;
}

/** The outcome of {@link Receiver.replay}. */
export type ReplayResult =
  | { status: "processed" }
  | { status: "failed"; error: unknown }
  | { status: "invalid"; code: HooklineErrorCode; message: string }
  | { status: "not_found" };

/** A webhook receiver: verify, validate, deduplicate, run handlers, never lose a failure. */
export interface Receiver<Catalog extends EventSchemas = UntypedCatalog> {
  /** Registers a handler for one event type of the catalog. Handlers of a type run in registration order. */
  on<Type extends EventType<Catalog>>(
    type: Type,
    handler: EventHandler<WebhookEvent<Type, EventData<Catalog, Type>>>,
  ): Receiver<Catalog>;
  /** Registers a handler for every verified event (after the type's own handlers). */
  onAny(handler: EventHandler<AnyWebhookEvent<Catalog>>): Receiver<Catalog>;
  /** The framework-free entry point: a Fetch `Request` in, a `Response` out. Never throws. */
  handle(request: Request): Promise<Response>;
  /** The same pipeline for adapters that hold the body and headers already (Node). Never throws. */
  receive(input: DeliveryInput): Promise<DeliveryResponse>;
  /** Runs a dead-lettered event through the handlers again; on success the dead letter is deleted. */
  replay(id: string): Promise<ReplayResult>;
  /** Resolves when every handler still running after a 202 has finished. */
  drain(): Promise<void>;
  /** Counts by outcome and handler times. */
  stats(): ReceiverStats;
  /** The largest body accepted, in bytes (for adapters that enforce it themselves). */
  readonly maxBodyBytes: number;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): DeliveryResponse => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

const RECEIVED = json(200, { received: true });

const errorMessages: Partial<Record<HooklineErrorCode, string>> = {
  method_not_allowed: "Webhooks are delivered with POST",
  https_required: "Webhooks must be delivered over HTTPS",
  ip_not_allowed: "This address may not deliver webhooks here",
  in_flight: "This message is being processed; retry later",
  store_unavailable: "The idempotency store is unavailable; retry later",
  handler_failed: "The event could not be processed; retry later",
};

function errorAnswer(
  code: HooklineErrorCode,
  message?: string,
  extra?: { issues?: ValidationIssue[]; retryAfterMs?: number },
) {
  const status = errorStatus[code];
  const headers: Record<string, string> = {};
  if (code === "method_not_allowed") headers.allow = "POST";
  if (code === "payload_too_large") headers.connection = "close";
  if (extra?.retryAfterMs !== undefined)
    headers["retry-after"] = String(Math.max(1, Math.ceil(extra.retryAfterMs / 1000)));
  const error: Record<string, unknown> = { code, message: message ?? errorMessages[code] ?? code };
  if (extra?.issues) error.issues = extra.issues;
  return json(status, { error }, headers);
}

function errorFields(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error) {
    return error.stack
      ? { name: error.name, message: error.message, stack: error.stack }
      : { name: error.name, message: error.message };
  }
  return { name: "Error", message: String(error) };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

const BODY_USED = new HooklineError(
  "raw_body_unavailable",
  "The request body was read (by a body-parsing middleware or validator) before Hookline could verify its raw " +
    "bytes, and a parsed body cannot be verified. Hand the receiver the untouched Request: mount the webhook " +
    "route before anything that reads the body, or read a clone (request.clone()) there.",
);
const TIMEOUT = Symbol("timeout");
const STORE_RETRY_AFTER_MS = 5_000;
const noHeaders: HeaderReader = () => undefined;

/**
 * Creates a receiver. Drop it into a framework with an adapter (`@hookline/express`, `/fastify`, `/hono`,
 * `/next`) or call `handle(request)` yourself.
 *
 * @example
 * const receiver = createReceiver({ secret: process.env.WEBHOOK_SECRET!, events })
 *   .on("invoice.paid", async (event) => markPaid(event.data.id));
 * export const POST = (request: Request) => receiver.handle(request);
 */
export function createReceiver<Catalog extends EventSchemas = UntypedCatalog>(
  options: ReceiverOptions<Catalog>,
): Receiver<Catalog> {
  const scheme = options.scheme ?? standardWebhooks();
  const catalog = options.events as EventSchemas | undefined;
  const store = options.store ?? memoryStore();
  const deadLetters = options.deadLetters;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const envelope = options.envelope ?? defaultEnvelope;
  const logger = options.logger ?? consoleLogger;
  const hooks = options.hooks ?? {};
  const transport = transportCheck(options);
  const stats = statsRecorder();
  const handlers = new Map<string, EventHandler<never>[]>();
  const anyHandlers: EventHandler<never>[] = [];
  const pending = new Set<Promise<void>>();

  if (!(maxBodyBytes > 0)) throw new HooklineError("invalid_option", "maxBodyBytes must be a positive number");
  if (!(timeoutMs > 0)) throw new HooklineError("invalid_option", "timeoutMs must be a positive number");
  secretList(options.secret); // an empty secret fails at start-up, not on the first delivery

  function hook<Name extends keyof ReceiverHooks>(name: Name, info: Parameters<NonNullable<ReceiverHooks[Name]>>[0]) {
    try {
      (hooks[name] as ((value: typeof info) => void) | undefined)?.(info);
    } catch (error) {
      logger.error({ hook: name, error: errorFields(error) }, `The ${name} hook threw`);
    }
  }

  function reject(
    code: HooklineErrorCode,
    info: DeliveryInfo,
    message?: string,
    extra?: { issues?: ValidationIssue[]; retryAfterMs?: number },
  ): DeliveryResponse {
    const answer = errorAnswer(code, message, extra);
    stats.count(code);
    hook("onRejected", { ...info, code, status: answer.status });
    const log = answer.status >= 500 ? logger.warn : logger.info;
    log({ ...info, code, status: answer.status }, `Webhook refused: ${code}`);
    return answer;
  }

  type Parsed =
    | { ok: true; type: string; id: string | undefined; data: unknown }
    | {
        ok: false;
        code: "invalid_json" | "invalid_envelope" | "invalid_event";
        message: string;
        issues?: ValidationIssue[];
      };

  /** Parses the verified body, reads its envelope and validates its data against the catalog. */
  async function parse(payload: string, header: HeaderReader, headerId: string | undefined): Promise<Parsed> {
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch {
      return { ok: false, code: "invalid_json", message: "The body is not valid JSON" };
    }
    let fields: EnvelopeFields;
    try {
      fields = envelope(body, { id: headerId, header });
    } catch (error) {
      return { ok: false, code: "invalid_envelope", message: `Cannot read the event: ${errorFields(error).message}` };
    }
    if (typeof fields?.type !== "string" || fields.type === "") {
      return { ok: false, code: "invalid_envelope", message: "The envelope returned no event type" };
    }
    const schema = catalog?.[fields.type];
    let data = fields.data;
    if (schema) {
      // A schema that throws (rather than reporting issues) is a bug on our side of the wire: it surfaces as a 500.
      const result = await validateData(schema, fields.type, data);
      if ("issues" in result) return { ok: false, code: "invalid_event", ...result };
      data = result.value;
    }
    return { ok: true, type: fields.type, id: headerId ?? fields.id, data };
  }

  async function runHandlers(list: EventHandler<never>[], event: WebhookEvent, context: HandlerContext) {
    for (const handler of list) await (handler as EventHandler<WebhookEvent>)(event, context);
  }

  function handlersFor(type: string): EventHandler<never>[] {
    return [...(handlers.get(type) ?? []), ...anyHandlers];
  }

  /** Records a failure durably if possible; resolves whether the event is safe (dead-lettered). */
  async function deadLetter(event: WebhookEvent, payload: string, error: unknown, attempts: number): Promise<boolean> {
    if (!deadLetters) return false;
    const now = Date.now();
    try {
      await deadLetters.put({
        id: event.id,
        type: event.type,
        ...(event.timestamp === undefined ? {} : { timestamp: event.timestamp }),
        payload,
        error: errorFields(error),
        attempts,
        firstFailedAt: now,
        lastFailedAt: now,
      });
      stats.count("dead_lettered");
      return true;
    } catch (storeError) {
      logger.error(
        { id: event.id, type: event.type, error: errorFields(storeError) },
        "Could not store the dead letter",
      );
      return false;
    }
  }

  /** After handlers settle: complete or release the claim, dead-letter a failure, and answer. */
  async function settle(
    event: WebhookEvent,
    payload: string,
    token: string,
    outcome: { ok: true; ms: number } | { ok: false; error: unknown },
    late: boolean,
  ): Promise<DeliveryResponse> {
    const info = { id: event.id, type: event.type };
    if (outcome.ok) {
      stats.processed(outcome.ms);
      hook("onProcessed", { ...info, ms: outcome.ms });
      // The handlers ran: answer 200 even if recording fails, since a retry would run them twice.
      await store.complete(event.id, token).then(
        (held) => held || logger.warn(info, "The claim expired while handlers ran; raise the store's leaseMs"),
        (error: unknown) => logger.error({ ...info, error: errorFields(error) }, "Could not mark the event processed"),
      );
      return RECEIVED;
    }
    stats.count("failed");
    const kept = await deadLetter(event, payload, outcome.error, 1);
    hook("onFailed", { ...info, error: outcome.error, deadLettered: kept });
    if (kept) {
      logger.warn({ ...info, error: errorFields(outcome.error) }, "Handler failed; the event was dead-lettered");
      await store.complete(event.id, token).catch((error: unknown) => {
        logger.error({ ...info, error: errorFields(error) }, "Could not mark the dead-lettered event processed");
      });
      return json(200, { received: true, deadLettered: true });
    }
    await store.release(event.id, token).catch((error: unknown) => {
      logger.error(
        { ...info, error: errorFields(error) },
        "Could not release the claim; redelivery waits for the lease",
      );
    });
    if (late) {
      logger.error(
        { ...info, error: errorFields(outcome.error) },
        deadLetters
          ? "Handler failed after the 202 answer and the dead letter could not be stored: the event is lost unless the sender delivers it again"
          : "Handler failed after the 202 answer and there is no dead-letter store: the event is lost unless the sender delivers it again",
      );
    } else {
      logger.warn(
        { ...info, error: errorFields(outcome.error) },
        "Handler failed; answering 500 so the sender retries",
      );
    }
    return errorAnswer("handler_failed");
  }

  async function receive(input: DeliveryInput): Promise<DeliveryResponse> {
    stats.count("received");
    hook("onReceived", { method: input.method });
    if (input.method.toUpperCase() !== "POST") return reject("method_not_allowed", {});
    const header = headerReader(input.headers);
    const refused = transport({ url: input.url, remoteAddress: input.remoteAddress, header });
    if (refused) return reject(refused, {});

    const declared = Number(header("content-length"));
    if (declared > maxBodyBytes) return reject("payload_too_large", {}, `The body is over ${maxBodyBytes} bytes`);
    let bytes: Uint8Array | "too_large";
    try {
      bytes = await readBody(input.body, maxBodyBytes);
    } catch (error) {
      if (error instanceof HooklineError) return reject(error.code, {}, error.message);
      logger.info({ error: errorFields(error) }, "The request body could not be read");
      return reject("invalid_payload", {}, "The request body could not be read");
    }
    if (bytes === "too_large") return reject("payload_too_large", {}, `The body is over ${maxBodyBytes} bytes`);

    let verified: Awaited<ReturnType<typeof verify>>;
    try {
      verified = await verify({
        scheme,
        secret: options.secret,
        payload: bytes,
        headers: input.headers,
        tolerance: options.tolerance,
      });
    } catch (error) {
      if (error instanceof HooklineError) {
        if (error.code === "invalid_secret") logger.error({ code: error.code }, error.message);
        return reject(
          error.code,
          {},
          error.code === "invalid_secret" ? "The receiver is misconfigured" : error.message,
        );
      }
      logger.error({ error: errorFields(error) }, "Verification failed unexpectedly");
      return reject("no_matching_signature", {}, "The signature could not be verified");
    }
    hook("onVerified", { id: verified.id });

    const parsed = await parse(verified.payload, header, verified.id);
    if (!parsed.ok) {
      return reject(
        parsed.code,
        { id: verified.id },
        parsed.message,
        parsed.issues ? { issues: parsed.issues } : undefined,
      );
    }
    const list = handlersFor(parsed.type);
    if (list.length === 0) {
      stats.count("ignored");
      logger.info({ id: parsed.id, type: parsed.type }, "No handler for this event type; ignored");
      return json(200, { received: true, ignored: true });
    }

    const event: WebhookEvent = {
      id: parsed.id ?? `sha256:${await sha256Hex(verified.payload)}`,
      type: parsed.type,
      ...(verified.timestamp === undefined ? {} : { timestamp: verified.timestamp }),
      data: parsed.data,
    };
    const info = { id: event.id, type: event.type };
    let claim: Awaited<ReturnType<IdempotencyStore["claim"]>>;
    try {
      claim = await store.claim(event.id);
    } catch (error) {
      logger.error({ ...info, error: errorFields(error) }, "The idempotency store is unavailable");
      return reject("store_unavailable", info, undefined, { retryAfterMs: STORE_RETRY_AFTER_MS });
    }
    if (claim.status === "done") {
      stats.count("duplicate");
      hook("onDuplicate", { ...info, inFlight: false });
      return json(200, { received: true, duplicate: true });
    }
    if (claim.status === "processing") {
      hook("onDuplicate", { ...info, inFlight: true });
      return reject("in_flight", info, undefined, { retryAfterMs: claim.retryAfterMs });
    }

    const context: HandlerContext = { receivedAt: new Date(), payload: verified.payload, header, replay: false };
    const started = performance.now();
    const settled = runHandlers(list, event, context).then(
      () => ({ ok: true as const, ms: performance.now() - started }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      settled,
      new Promise<typeof TIMEOUT>((resolve) => {
        timer = setTimeout(resolve, timeoutMs, TIMEOUT);
      }),
    ]);
    clearTimeout(timer);
    if (first !== TIMEOUT) return settle(event, verified.payload, claim.token, first, false);

    stats.count("accepted_late");
    logger.warn({ ...info, timeoutMs }, "Handlers are still running; answered 202 and carrying on");
    const token = claim.token;
    const work = settled.then((outcome) => settle(event, verified.payload, token, outcome, true)).then(() => {});
    pending.add(work);
    void work.finally(() => pending.delete(work));
    return json(202, { received: true, pending: true });
  }

  const receiver: Receiver<Catalog> = {
    maxBodyBytes,

    on(type, handler) {
      const list = handlers.get(type) ?? [];
      list.push(handler as EventHandler<never>);
      handlers.set(type, list);
      return receiver;
    },

    onAny(handler) {
      anyHandlers.push(handler as EventHandler<never>);
      return receiver;
    },

    async receive(input) {
      try {
        return await receive(input);
      } catch (error) {
        // Only a bug in Hookline or a hook gets here; answer 500 so that the sender retries.
        logger.error({ error: errorFields(error) }, "Unexpected receiver failure");
        return errorAnswer("handler_failed");
      }
    },

    async handle(request) {
      const answer = await receiver.receive({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.method !== "POST" ? null : request.bodyUsed ? BODY_USED : request.body,
      });
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },

    async replay(id) {
      if (!deadLetters) return { status: "not_found" };
      const letter = await deadLetters.get(id);
      if (!letter) return { status: "not_found" };
      const parsed = await parse(letter.payload, noHeaders, letter.id);
      if (!parsed.ok) return { status: "invalid", code: parsed.code, message: parsed.message };
      const event: WebhookEvent = {
        id: letter.id,
        type: parsed.type,
        ...(letter.timestamp === undefined ? {} : { timestamp: letter.timestamp }),
        data: parsed.data,
      };
      const context: HandlerContext = {
        receivedAt: new Date(),
        payload: letter.payload,
        header: noHeaders,
        replay: true,
      };
      try {
        await runHandlers(handlersFor(event.type), event, context);
      } catch (error) {
        await deadLetter(event, letter.payload, error, 1);
        return { status: "failed", error };
      }
      await deadLetters.delete(id);
      stats.count("replayed");
      return { status: "processed" };
    },

    async drain() {
      while (pending.size > 0) await Promise.all(pending);
    },

    stats: () => stats.snapshot(),
  };
  return receiver;
}
