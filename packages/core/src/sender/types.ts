// The sender's public types: its options, what `send`, `drain`, `replay` and `stats` take and give, and the hooks.
import type {
  Attempt,
  AttemptOutcome,
  Delivery,
  DeliveryFilter,
  DeliveryStatus,
  DeliveryStore,
  Message,
  Page,
} from "../engine/types";
import type { EventCatalog, EventSchemas, EventType, UntypedCatalog } from "../receiver/events";
import type { StandardSchemaV1 } from "../receiver/standard-schema";
import type { ReceiverLogger } from "../receiver/types";
import type { RetrySchedule } from "../retry";
import type { WebhookScheme } from "../schemes";
import type { AttemptErrorKind, DeliveryLookup } from "./deliver";
import type { SecretKind, SenderEndpoints } from "./endpoints";
import type { RetryAfterPolicy } from "./settle";

/** A pino-compatible logger; only `info`, `warn` and `error` are used. */
export type SenderLogger = ReceiverLogger;

/** One attempt as the hooks see it; never the payload or a secret. */
export interface AttemptInfo {
  deliveryId: string;
  messageId: string;
  endpointId: string;
  /** The event type. */
  type: string;
  /** 1 for the first attempt since the delivery was created or requeued. */
  attempt: number;
  outcome: AttemptOutcome;
  /** Where the delivery stands after this attempt. */
  status: DeliveryStatus;
  /** The HTTP status, when an answer came. */
  httpStatus?: number;
  durationMs: number;
  /** Why no answer came: a timeout, a network error, a refused URL. */
  error?: string;
  /** When `status` is `pending`: the delay before the next attempt, in milliseconds. */
  retryInMs?: number;
  /** What kind of failure `error` is: `timeout`, `network`, `blocked`, `aborted` or `invalid`. */
  errorKind?: AttemptErrorKind;
  /** The endpoint's URL, without any user name or password in it. */
  url: string;
  /** When the attempt started, in milliseconds since the epoch. */
  startedAt: number;
  /** When the message was created (sent), in milliseconds since the epoch. */
  createdAt: number;
}

/** What is known of an attempt before it is made, for {@link SenderTelemetry.start}. */
export type AttemptStart = Pick<
  AttemptInfo,
  "deliveryId" | "messageId" | "endpointId" | "type" | "attempt" | "url" | "startedAt" | "createdAt"
>;

/** One attempt as telemetry follows it, from {@link SenderTelemetry.start}. */
export interface AttemptTelemetry {
  /**
   * Headers that carry the attempt's trace context to the endpoint, such as W3C `traceparent` and `tracestate`.
   * They go out beside the signature headers and are not signed (no scheme signs headers other than its own), and
   * they replace an endpoint's custom header of the same name; one that cannot be sent is left out.
   * @default {} (none)
   */
  headers?: Record<string, string>;
  /** How the attempt went, once its settlement is recorded (as `onAttempt` hears it). */
  end(info: AttemptInfo): void;
}

/**
 * What follows each attempt for tracing and metrics: `senderTelemetry()` from `@hookline/core/otel` speaks
 * OpenTelemetry; anything with this shape will do.
 */
export interface SenderTelemetry {
  /** An attempt is about to be made (before it is signed): its follower, and the headers it sends. */
  start(attempt: AttemptStart): AttemptTelemetry;
}

/** Observability hooks, called once an attempt's settlement is recorded. A hook that throws is logged and ignored. */
export interface SenderHooks {
  /** Every attempt, whatever its outcome. */
  onAttempt?(info: AttemptInfo): void;
  /** A delivery got a 2xx. */
  onDelivered?(info: AttemptInfo): void;
  /** A delivery ended `failed` (an answer that retrying cannot change, or a refused URL). */
  onFailed?(info: AttemptInfo): void;
  /** A delivery used up its schedule: it is kept as a dead letter for `retry`/`replay`. */
  onExhausted?(info: AttemptInfo): void;
  /** An endpoint was disabled by an answer (`gone`) or by `disableAfter` (`failing`). */
  onEndpointDisabled?(info: { endpointId: string; reason: string }): void;
}

/** Options of {@link createSender}. */
export interface SenderOptions<Catalog extends EventSchemas = UntypedCatalog> {
  /**
   * The typed event catalog from `defineEvents`: `send` accepts only its types and validates `data` against
   * them before storing anything.
   * @default undefined (any type, any data)
   */
  events?: EventCatalog<Catalog>;
  /**
   * Where endpoints, messages, deliveries and attempts are kept, and how due deliveries reach the dispatcher.
   * @default memoryDeliveries() (this process only: what is pending is lost when it exits)
   */
  store?: DeliveryStore;
  /**
   * The wire format deliveries are signed in.
   * @default standardWebhooks()
   */
  scheme?: WebhookScheme;
  /**
   * The secrets generated for endpoints: `whsec` (Standard Webhooks v1, HMAC; fits every scheme) or `whsk`
   * (Standard Webhooks v1a, Ed25519: each endpoint secret also carries the `whpk_` public key its receiver verifies
   * with).
   * @default "whsec"
   */
  secretKind?: SecretKind;
  /**
   * When each attempt happens: a `RetrySchedule`, or the delays in milliseconds before each attempt (the first
   * one's included, usually 0).
   * @default the Standard Webhooks schedule (10 attempts over about 3 days) with ±20% jitter
   */
  schedule?: RetrySchedule | readonly number[];
  /**
   * How long one attempt may take, answer included, in milliseconds.
   * @default 15_000
   */
  timeoutMs?: number;
  /**
   * The answer body is kept in the attempt log up to this many bytes.
   * @default 20_000
   */
  maxResponseBytes?: number;
  /**
   * CIDRs the SSRF guard lets deliveries reach besides public unicast addresses (and where plain http is
   * accepted), e.g. `["10.0.0.0/8"]`.
   * @default [] (public unicast only, https only)
   */
  allow?: readonly string[];
  /**
   * Attempts in flight at once in this process.
   * @default 50
   */
  concurrency?: number;
  /**
   * Attempts in flight at once to one endpoint (across every worker sharing the store), so that one slow
   * endpoint cannot take every slot.
   * @default 10
   */
  perEndpointConcurrency?: number;
  /**
   * How long a dispatcher holds a delivery it took; one not settled by then (its process died) is attempted again.
   * @default timeoutMs + 30_000
   */
  leaseMs?: number;
  /**
   * How an endpoint's `Retry-After` (on 408, 409, 429, 5xx) moves the schedule.
   * @default { maxFactor: 2, minMs: 60_000 }: up to twice the scheduled delay, and at least a minute after a 429
   * or a timeout
   */
  retryAfter?: RetryAfterPolicy;
  /**
   * An endpoint whose deliveries all exhausted for this long, in milliseconds, is disabled (`failing`), as Svix
   * does; `false` never disables one.
   * @default 432_000_000 (5 days)
   */
  disableAfter?: number | false;
  /** @default {} */
  hooks?: SenderHooks;
  /**
   * Traces and metrics per attempt: `senderTelemetry()` from `@hookline/core/otel` for OpenTelemetry.
   * @default undefined (no telemetry)
   */
  telemetry?: SenderTelemetry;
  /**
   * Where the sender logs: warnings for exhausted deliveries and disabled endpoints, errors for failures of the
   * store.
   * @default consoleLogger (warnings and errors on the console)
   */
  logger?: SenderLogger;
  /**
   * A fetch to deliver with instead of the SSRF-guarded connection (then only IP literals are checked).
   * @default undefined (on Node the guarded node:http connection, elsewhere the global fetch)
   */
  fetch?: typeof fetch;
  /**
   * How hostnames are resolved before the SSRF guard checks them (Node only).
   * @default node:dns lookup
   */
  lookup?: DeliveryLookup;
  /**
   * The sender's clock (attempt times, `disableAfter`, endpoint times), in milliseconds since the epoch. Tests
   * inject the same fake clock here and in `memoryDeliveries({ now })`.
   * @default Date.now
   */
  now?: () => number;
}

/** The data `send` takes for a type: the schema's input. */
export type EventInput<Catalog extends EventSchemas, Type extends EventType<Catalog>> = StandardSchemaV1.InferInput<
  Catalog[Type]
>;

/** Options of `sender.send`. */
export interface SendOptions {
  /**
   * Only endpoints of this tenant receive it.
   * @default none: only endpoints without a tenant receive it
   */
  tenant?: string;
  /**
   * Only these endpoints (that also match the type and tenant) receive it.
   * @default every matching endpoint
   */
  endpointIds?: readonly string[];
  /**
   * The message id (`webhook-id`) and idempotency key: sending again with the same id creates nothing and
   * returns the first send's result. Printable ASCII without spaces or commas.
   * @default a new `msg_…` id
   */
  id?: string;
  /**
   * The payload's `timestamp`.
   * @default now
   */
  timestamp?: Date;
  /**
   * Your open transaction, for engines that can join one (PostgreSQL): the message is stored if and only if it
   * commits. The fan-out's endpoints are read on it too, so `send` never waits for the transaction it is in
   * (PGlite's `transaction(async (tx) => …)` is one session). Others reject it.
   * @default none: the message is stored on its own
   */
  tx?: unknown;
}

/** What `send` did. */
export interface SendResult {
  messageId: string;
  /** `false` when a message with this id existed: nothing was created and its deliveries are returned. */
  created: boolean;
  /** One per endpoint the message fanned out to. */
  deliveries: { id: string; endpointId: string }[];
}

/** Which deliveries `replay` requeues. */
export interface ReplayOptions {
  endpointId: string;
  /** Deliveries created at or after this time (a Date, or ms since the epoch). */
  since: Date | number;
  /**
   * And before this one.
   * @default now
   */
  until?: Date | number;
  /**
   * Only those in this state, such as `exhausted`.
   * @default any state
   */
  status?: DeliveryStatus;
}

/** Options of `sender.drain`. */
export interface DrainOptions {
  /**
   * Also wait for deliveries due in the next this many milliseconds (a short retry schedule in a script or test).
   * @default 0
   */
  withinMs?: number;
}

/** A snapshot of what a sender's dispatcher has done since it was created. */
export interface SenderStats {
  /**
   * Settled attempts by where they left their delivery (`delivered`, `retrying`, `failed`, `exhausted`), and
   * `blocked` (refused by the SSRF guard) and `endpoint_disabled`.
   */
  counts: Record<string, number>;
  /** Attempts settled. */
  attempts: number;
  /** Attempts being made now in this process. */
  inFlight: number;
  /** Attempt time over the last 1,024 attempts, in milliseconds. */
  attemptMs: { p50: number; p99: number };
}

/** A webhook sender: endpoints, typed fan-out, signed deliveries with retries. */
export interface Sender<Catalog extends EventSchemas = UntypedCatalog> {
  readonly endpoints: SenderEndpoints;
  /**
   * Validates `data` against the catalog, builds the payload `{ type, timestamp, data }` once (the same bytes go
   * out on every attempt) and stores one delivery per enabled endpoint whose `types` include `type` and whose
   * tenant matches. The dispatcher (`start`) delivers them.
   * @throws {HooklineError} `invalid_event` (with `issues`) when `data` fails its schema or the type is not in
   * the catalog; nothing is stored.
   */
  send<Type extends EventType<Catalog>>(
    type: Type,
    data: EventInput<Catalog, Type>,
    options?: SendOptions,
  ): Promise<SendResult>;
  /** Starts dispatching due deliveries in this process. Calling it again does nothing. */
  start(): void;
  /**
   * Takes no new deliveries, lets the attempts in flight finish and be recorded, and closes every timer and
   * connection the sender opened, so that the process can exit and an injected pool can be ended.
   */
  stop(): Promise<void>;
  /**
   * Resolves when no delivery is due now (or within `withinMs`) and none is in flight; later retries may remain.
   * For scripts and tests: only `start()`ed senders (here or in another process) make progress.
   */
  drain(options?: DrainOptions): Promise<void>;
  readonly messages: { get(id: string): Promise<Message | undefined> };
  readonly deliveries: {
    get(id: string): Promise<Delivery | undefined>;
    /** Newest first; pass `cursor` back for the next page. */
    list(filter?: DeliveryFilter): Promise<Page<Delivery>>;
  };
  readonly attempts: {
    /** Every attempt of a delivery, oldest first: time, status, duration, error, the answer's body. */
    list(deliveryId: string): Promise<Attempt[]>;
  };
  /**
   * Attempts a delivery again now, whatever its state, on a fresh schedule. Resolves `false` when it is being
   * attempted right now (nothing changes).
   * @throws {HooklineError} `not_found`.
   */
  retry(deliveryId: string): Promise<boolean>;
  /**
   * Requeues an endpoint's deliveries created in a time range (at most 10,000 a call, oldest first), each on a
   * fresh schedule. Resolves how many.
   */
  replay(options: ReplayOptions): Promise<number>;
  stats(): SenderStats;
}
