import type { InboxStore, Worker } from "../engine/types";
import type { HooklineErrorCode } from "../errors";
import type { HeaderReader, HeadersInput } from "../headers";
import type { RetrySchedule } from "../retry";
import type { WebhookScheme } from "../schemes";
import type { SecretInput } from "../secrets";
import type { Tolerance } from "../tolerance";
import type { BodyInput } from "./body";
import type {
  AnyWebhookEvent,
  EventCatalog,
  EventData,
  EventSchemas,
  EventType,
  UntypedCatalog,
  WebhookEvent,
} from "./events";
import type { RateLimitOptions } from "./rate-limit";
import type { ReceiverStats } from "./stats";
import type { DeadLetterStore, IdempotencyStore } from "./store";
import type { ConnectionInfo, ConnectionNeeds, TransportOptions } from "./transport";

/** What the envelope reads out of a verified JSON body. */
export interface EnvelopeFields {
  /**
   * The message id, when the scheme's headers carry no signed one. Read it from the body (which is signed),
   * never from an unsigned header: it becomes the idempotency key.
   */
  id?: string | undefined;
  /** The event type: required. */
  type: string;
  /** The data the event's schema validates. */
  data: unknown;
}

/** What an envelope function can look at besides the body. */
export interface EnvelopeContext {
  /** The id from the scheme's headers, if the signature covers it (see `WebhookScheme.signsId`). */
  id?: string | undefined;
  /** Reads a request header, such as `x-github-event`. */
  header: HeaderReader;
}

/** Reads type, data and (optionally) id out of a parsed body; throw to answer 400 `invalid_envelope`. */
export type Envelope = (body: unknown, context: EnvelopeContext) => EnvelopeFields;

/** A pino-compatible logger; only these three methods are used. */
export interface ReceiverLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Facts about one delivery as hooks see them; never the payload or a secret. */
export interface DeliveryInfo {
  /** The idempotency key: the signed id, else the body's id, else `sha256:` and the body's SHA-256. */
  id?: string | undefined;
  type?: string | undefined;
  /** The id the sender's headers give when the signature does not cover it (`x-github-delivery`): for logs only. */
  deliveryId?: string | undefined;
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
  /**
   * A handler threw; `deadLettered` tells whether the event was kept. From an inbox, `retryInMs` says when it
   * runs again (absent once its schedule is used up).
   */
  onFailed?(info: DeliveryInfo & { error: unknown; deadLettered: boolean; retryInMs?: number }): void;
  /** An inbox stored the event (the answer is 200 `{ queued: true }`). */
  onQueued?(info: DeliveryInfo): void;
}

/** How a delivery ended, as telemetry sees it. */
export type ReceiveOutcome =
  /** The handlers succeeded. */
  | "processed"
  /** A handler failed and the event was dead-lettered (answered 200). */
  | "dead_lettered"
  /**
   * A handler failed and nothing kept the event: answered 500 (or, after a 202, lost unless delivered again); in
   * an inbox worker, the event exhausted its schedule with no dead-letter store (it stays in the inbox).
   */
  | "failed"
  /** In an inbox worker: a handler failed and the inbox runs the event again later. */
  | "retrying"
  /** Already processed (200), or being processed (409 `in_flight`). */
  | "duplicate"
  /** No handler for the type (200). */
  | "ignored"
  /** Stored in the inbox for a worker (200). */
  | "queued"
  /** Refused before any handler ran (the code says why). */
  | "rejected";

/** The end of one delivery, for {@link ReceiverTelemetry}. Never the payload or a secret. */
export interface ReceiveRecord {
  /** What is known of the delivery: its ids and type, as far as it was read. */
  delivery: DeliveryInfo;
  outcome: ReceiveOutcome;
  /** The answer's status (202 when the handlers outlived `timeoutMs`); absent for an inbox worker's run. */
  status?: number | undefined;
  /** The error code: the refusal's, `in_flight`, or `handler_failed`. */
  code?: HooklineErrorCode | undefined;
  /** How long the handlers ran, when they ran, in milliseconds. */
  handlerMs?: number | undefined;
  /** Answered 202 before the handlers finished: this record comes when they did. */
  late?: boolean | undefined;
  /** What a handler threw (`failed`, `dead_lettered`). */
  error?: unknown;
}

/** One delivery (or an inbox worker's run of one) as telemetry follows it, from {@link ReceiverTelemetry}. */
export interface DeliveryTelemetry {
  /** Runs the handlers, in the delivery's trace context (so that their own spans nest under it). */
  run<T>(handlers: () => T): T;
  /** How the delivery ended: called once, when its handlers finished or it was refused. */
  end(record: ReceiveRecord): void;
  /**
   * Headers that carry this delivery's trace context (`traceparent`), stored with the event when an inbox queues
   * it, so that the worker's run links back to it through {@link ReceiverTelemetry.process}.
   * @default none
   */
  headers?(): Record<string, string>;
}

/**
 * What follows each delivery for tracing and metrics: `receiverTelemetry()` from `@hookline/core/otel` speaks
 * OpenTelemetry; anything with this shape will do.
 */
export interface ReceiverTelemetry {
  /** A delivery arrived (before any check); `header` reads its request headers (`traceparent`). */
  start(header: HeaderReader): DeliveryTelemetry;
  /**
   * An inbox worker is about to run a queued event's handlers; `header` reads the headers stored with it (those
   * of `headers()` at ingest among them). Its record has no `status`.
   * @default none (an inbox worker's runs are not followed)
   */
  process?(header: HeaderReader): DeliveryTelemetry;
}

/**
 * Options of {@link createReceiver}.
 *
 * @typeParam Tx the inbox's transaction type (`context.tx` in handlers); `never` without an inbox that has one.
 */
export interface ReceiverOptions<Catalog extends EventSchemas = UntypedCatalog, Tx = never> extends TransportOptions {
  /**
   * The secret, or several during rotation: any may match. Required, except on a receiver that only works an
   * inbox (a worker process, which answers no HTTP).
   */
  secret?: SecretInput;
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
   * each message once across all of them. Not with `inbox`, which deduplicates by itself.
   * @default memoryStore() (without an inbox)
   */
  store?: IdempotencyStore;
  /**
   * Queue events instead of running handlers in the request: a delivery is answered 200 `{ queued: true }` as soon
   * as the inbox has stored it (one durable write), and {@link Receiver.work} runs the handlers, in this process or
   * another, retrying on `schedule`. A redelivery of a stored id answers 200 `{ duplicate: true }`; an inbox that
   * cannot store answers 503 `inbox_unavailable` with `Retry-After`. `memoryInbox()` (this process only),
   * `postgresInbox()` (`@hookline/postgres`, handlers on its transaction: `context.tx`) or `bullmqInbox()`
   * (`@hookline/redis`).
   * @default undefined (handlers run in the request)
   */
  inbox?: InboxStore<Tx>;
  /**
   * With an inbox: the key of events that must be handled one at a time, in the order they arrived (events that
   * update one entity: `(event) => event.data.customerId`). A failing event holds the later ones of its key until
   * it is processed or exhausted. `undefined` for an event with no order.
   * @default undefined (no order)
   */
  orderBy?: (event: AnyWebhookEvent<Catalog>) => string | undefined;
  /**
   * With an inbox: when a failed event runs again, and how many runs it gets before it is dead-lettered
   * (`exhausted`). Any {@link RetrySchedule}, or the delays in milliseconds before each run (the first is 0).
   * @default exponentialBackoff({ base: 5_000, factor: 3, cap: 3_600_000, maxAttempts: 8 }) with equal jitter:
   * runs again after 2.5–5 s, 7.5–15 s, … up to an hour apart; about 1½ hours in all
   */
  schedule?: RetrySchedule | readonly number[];
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
  /**
   * Per-peer limits on deliveries and on failed verifications, checked before the body is read (429 with
   * `Retry-After`). Takes rate-limiter-flexible limiters; see {@link RateLimitOptions}.
   * @default undefined (no limits)
   */
  rateLimit?: RateLimitOptions;
  /**
   * Traces and metrics per delivery: `receiverTelemetry()` from `@hookline/core/otel` for OpenTelemetry. Without
   * it a delivery pays for none.
   * @default undefined (no telemetry)
   */
  telemetry?: ReceiverTelemetry;
}

/** What handlers get besides the event. */
export interface HandlerContext<Tx = never> {
  /** When the delivery arrived. */
  receivedAt: Date;
  /** The raw body as verified. */
  payload: string;
  /** Reads a request header (empty on replay). */
  header: HeaderReader;
  /** True when the event runs again from a dead letter. */
  replay: boolean;
  /**
   * The inbox's transaction, when the event runs from an inbox that gives one (`postgresInbox`): write on it and
   * the writes commit together with the event's `processed` mark, or not at all. Absent inline and on `replay`.
   */
  tx?: Tx;
}

/** A handler of one event type. */
export type EventHandler<Event, Tx = never> = (event: Event, context: HandlerContext<Tx>) => unknown;

/** A delivery as an adapter holds it, for {@link Receiver.receive}. */
export interface DeliveryInput extends ConnectionInfo {
  /** The HTTP method. */
  method: string;
  /** The request headers. */
  headers: HeadersInput;
  /** The raw body: bytes, text or a stream (read up to `maxBodyBytes`), or the `HooklineError` why there is none. */
  body: BodyInput;
  /**
   * The request target as the client wrote it (origin-form `/path` or absolute-form), or the request's URL: a
   * malformed one gets 400 `malformed_request`. Its scheme decides `requireHttps` only when `secure` is absent.
   */
  url?: string;
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

/** Options of {@link Receiver.work}. */
export interface InboxWorkerOptions {
  /**
   * Events handled at once by this worker.
   * @default 10
   */
  concurrency?: number;
  /**
   * How long a worker holds an event; one whose handlers have not ended by then is handed to another worker (its
   * first run may still finish: keep it well above the handlers' longest run).
   * @default 300_000 (5 minutes)
   */
  leaseMs?: number;
}

/** A webhook receiver: verify, validate, deduplicate, run handlers, never lose a failure. */
export interface Receiver<Catalog extends EventSchemas = UntypedCatalog, Tx = never> {
  /** Registers a handler for one event type of the catalog. Handlers of a type run in registration order. */
  on<Type extends EventType<Catalog>>(
    type: Type,
    handler: EventHandler<WebhookEvent<Type, EventData<Catalog, Type>>, Tx>,
  ): Receiver<Catalog, Tx>;
  /** Registers a handler for every verified event (after the type's own handlers). */
  onAny(handler: EventHandler<AnyWebhookEvent<Catalog>, Tx>): Receiver<Catalog, Tx>;
  /**
   * The framework-free entry point: a Fetch `Request` in, a `Response` out. Never throws. `connection` is what
   * the server knows of the connection (TLS, peer address); without `secure`, `requireHttps` reads the scheme of
   * `request.url`, which only the runtimes that write it themselves (Workers, `Deno.serve`, `Bun.serve`) vouch for.
   */
  handle(request: Request, connection?: ConnectionInfo): Promise<Response>;
  /** The same pipeline for adapters that hold the body and headers already (Node). Never throws. */
  receive(input: DeliveryInput): Promise<DeliveryResponse>;
  /** Runs a dead-lettered event through the handlers again; on success the dead letter is deleted. */
  replay(id: string): Promise<ReplayResult>;
  /** Resolves when every handler still running after a 202 has finished. */
  drain(): Promise<void>;
  /**
   * Starts a worker that runs the handlers of the inbox's `pending` events (throws `invalid_option` without an
   * inbox): one event per id, retried on `schedule`, dead-lettered once exhausted. Needs no HTTP, so a worker
   * process holds only the catalog, the handlers and the inbox. Call it once per process (more calls, more
   * workers).
   */
  work(options?: InboxWorkerOptions): Worker;
  /**
   * Stops every worker `work` started (each finishes its events in flight and gives back the connections it
   * took) and waits for handlers still running after a 202. The inbox itself is the caller's to close.
   */
  stop(): Promise<void>;
  /** Counts by outcome and handler times. */
  stats(): ReceiverStats;
  /** The largest body accepted, in bytes (for adapters that enforce it themselves). */
  readonly maxBodyBytes: number;
  /** Which connection facts the options need, for adapters to refuse at start-up a runtime that lacks them. */
  readonly connectionNeeds: ConnectionNeeds;
}
