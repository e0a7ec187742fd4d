import { memoryDeliveries } from "../engine/memory";
import type {
  Attempt,
  AttemptOutcome,
  Delivery,
  DeliveryFilter,
  DeliveryJob,
  DeliveryStatus,
  DeliveryStore,
  Endpoint,
  Message,
  Page,
  Settlement,
  Worker,
} from "../engine/types";
import { HooklineError } from "../errors";
import { parseRange } from "../net/addresses";
import { randomId } from "../random";
import type { EventCatalog, EventSchemas, EventType, UntypedCatalog } from "../receiver/events";
import { validateData } from "../receiver/events";
import { consoleLogger, type ReceiverLogger } from "../receiver/receiver";
import type { StandardSchemaV1 } from "../receiver/standard-schema";
import { statsRecorder } from "../receiver/stats";
import { fixedSchedule, type RetrySchedule, retrySchedules } from "../retry";
import { standardWebhooks, type WebhookScheme } from "../schemes";
import { generateMessageId } from "../webhook";
import {
  type AttemptResult,
  createDeliveryAgent,
  type DeliveryAgent,
  type DeliveryAgentOptions,
  type DeliveryLookup,
} from "./deliver";
import { type SenderEndpoints, senderEndpoints, signingSecrets } from "./endpoints";
import { type RetryAfterPolicy, type SettlePolicy, settle } from "./settle";

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
   * How an endpoint's `Retry-After` (on 408, 429, 5xx) moves the schedule.
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
   * commits. Others reject it.
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

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const REPLAY_LIMIT = 10_000;
// A message id travels in a header and in the signed content's "id.timestamp." prefix.
const MESSAGE_ID = /^[\x21-\x2b\x2d-\x7e]+$/;

function whole(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new HooklineError("invalid_option", `${name} must be a whole number ≥ ${min}, got ${value}`);
  }
  return value;
}

function time(name: string, value: Date | number): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (!Number.isFinite(ms)) throw new HooklineError("invalid_option", `${name} must be a Date or ms since the epoch`);
  return ms;
}

/**
 * Creates a webhook sender. Endpoints subscribe to event types; `send` fans a message out to them; the
 * dispatcher (`start`) signs and POSTs each delivery, retries on the schedule, honours `Retry-After`, disables
 * endpoints that answer 410 or keep failing, refuses private addresses (the SSRF guard), and keeps exhausted
 * deliveries as dead letters for `retry` and `replay`.
 *
 * @example
 * const sender = createSender({ events });
 * const endpoint = await sender.endpoints.create({ url: "https://example.com/webhooks" });
 * sender.start();
 * await sender.send("invoice.paid", { invoiceId: "in_1", amountCents: 1250 }); // typed by the catalog
 * // endpoint.secrets[0].secret is what the receiver verifies with
 * process.on("SIGTERM", () => sender.stop());
 */
export function createSender<const Catalog extends EventSchemas = UntypedCatalog>(
  options: SenderOptions<Catalog> = {},
): Sender<Catalog> {
  const now = options.now ?? Date.now;
  const catalog = options.events as EventSchemas | undefined;
  const store = options.store ?? memoryDeliveries({ now });
  const scheme = options.scheme ?? standardWebhooks();
  const timeoutMs = whole("timeoutMs", options.timeoutMs ?? 15_000, 1);
  const maxResponseBytes = whole("maxResponseBytes", options.maxResponseBytes ?? 20_000, 0);
  const concurrency = whole("concurrency", options.concurrency ?? 50, 1);
  const perKeyConcurrency = whole("perEndpointConcurrency", options.perEndpointConcurrency ?? 10, 1);
  const leaseMs = whole("leaseMs", options.leaseMs ?? timeoutMs + 30_000, timeoutMs + 1);
  const allowList = options.allow ?? [];
  const allow = allowList.map((entry) => parseRange(entry, "allow"));
  const schedule =
    options.schedule === undefined
      ? fixedSchedule(retrySchedules.standardWebhooks, { jitter: 0.2 })
      : Array.isArray(options.schedule)
        ? fixedSchedule(options.schedule)
        : (options.schedule as RetrySchedule);
  const disableAfter = options.disableAfter ?? 5 * DAY;
  if (disableAfter !== false && !(disableAfter > 0)) {
    throw new HooklineError("invalid_option", `disableAfter must be milliseconds > 0 or false, got ${disableAfter}`);
  }
  const policy: SettlePolicy = {
    schedule,
    retryAfter: { maxFactor: options.retryAfter?.maxFactor ?? 2, minMs: options.retryAfter?.minMs ?? MINUTE },
    disableAfter,
  };
  if (!(policy.retryAfter.maxFactor >= 1 && policy.retryAfter.minMs >= 0)) {
    throw new HooklineError("invalid_option", "retryAfter must be { maxFactor ≥ 1, minMs ≥ 0 }");
  }
  const hooks = options.hooks ?? {};
  const logger = options.logger ?? consoleLogger;
  const agentOptions: DeliveryAgentOptions = {
    allow: allowList,
    ...(options.fetch && { fetch: options.fetch }),
    ...(options.lookup && { lookup: options.lookup }),
  };
  const endpoints = senderEndpoints(store, allow, now);
  const recorder = statsRecorder();

  let agent: DeliveryAgent | undefined;
  let worker: Worker | undefined;
  // Jobs from the processor's start until the engine is done with them: what `drain` waits for.
  let active = 0;
  const idle = new Set<() => void>();

  function call<Info>(name: keyof SenderHooks, hook: ((info: Info) => void) | undefined, info: Info) {
    if (!hook) return;
    try {
      hook(info);
    } catch (error) {
      logger.error({ hook: name, error }, `The ${name} hook threw`);
    }
  }

  async function attempt(job: DeliveryJob): Promise<Settlement> {
    active++;
    try {
      return await attemptOnce(job);
    } catch (error) {
      active--; // the engine never settles a job whose processor threw
      throw error;
    }
  }

  async function attemptOnce(job: DeliveryJob): Promise<Settlement> {
    const startedAt = now();
    let result: AttemptResult;
    try {
      result = await (agent as DeliveryAgent).deliver({
        url: job.endpoint.url,
        payload: job.message.payload,
        id: job.message.id,
        secret: signingSecrets(job.endpoint.secrets, startedAt),
        scheme,
        headers: job.endpoint.headers,
        timeoutMs,
        maxResponseBytes,
      });
    } catch (error) {
      // Only a bad option gets here, such as an endpoint secret the scheme cannot use: retrying cannot fix it.
      result = { outcome: { kind: "final" }, durationMs: 0, error: (error as Error).message ?? String(error) };
    }
    return settle(job, result, startedAt, policy, now());
  }

  function settled(job: DeliveryJob, settlement: Settlement) {
    active--;
    const { attempt: made, next } = settlement;
    const info: AttemptInfo = {
      deliveryId: job.delivery.id,
      messageId: job.message.id,
      endpointId: job.endpoint.id,
      type: job.message.type,
      attempt: job.delivery.attempts + 1,
      outcome: made.outcome,
      status: next.status,
      durationMs: made.durationMs,
      ...(made.status !== undefined && { httpStatus: made.status }),
      ...(made.error !== undefined && { error: made.error }),
      ...(next.status === "pending" && { retryInMs: next.delayMs }),
    };
    recorder.count(next.status === "pending" ? "retrying" : next.status);
    if (made.outcome === "blocked") recorder.count("blocked");
    recorder.processed(made.durationMs);
    logger.info(info as unknown as Record<string, unknown>, "Delivery attempt");
    call("onAttempt", hooks.onAttempt, info);
    if (next.status === "delivered") call("onDelivered", hooks.onDelivered, info);
    if (next.status === "failed") call("onFailed", hooks.onFailed, info);
    if (next.status === "exhausted") {
      logger.warn(info as unknown as Record<string, unknown>, "Delivery exhausted its schedule: kept as a dead letter");
      call("onExhausted", hooks.onExhausted, info);
    }
    const disabled = settlement.endpoint?.disable;
    if (disabled) {
      recorder.count("endpoint_disabled");
      logger.warn({ endpointId: job.endpoint.id, reason: disabled.reason }, "Endpoint disabled");
      call("onEndpointDisabled", hooks.onEndpointDisabled, { endpointId: job.endpoint.id, reason: disabled.reason });
    }
    for (const resolve of idle) resolve();
  }

  async function recipients(type: string, options: SendOptions): Promise<Endpoint[]> {
    const matches = (endpoint: Endpoint | undefined): endpoint is Endpoint =>
      endpoint !== undefined &&
      !endpoint.disabled &&
      endpoint.tenant === options.tenant &&
      (endpoint.types === undefined || endpoint.types.includes(type));
    if (options.endpointIds) {
      const found = await Promise.all([...new Set(options.endpointIds)].map((id) => store.endpoints.get(id)));
      return found.filter(matches);
    }
    const all: Endpoint[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.endpoints.list({
        limit: 1000,
        ...(options.tenant !== undefined && { tenant: options.tenant }),
        ...(cursor !== undefined && { cursor }),
      });
      all.push(...page.items.filter(matches));
      cursor = page.cursor;
    } while (cursor !== undefined);
    return all;
  }

  return {
    endpoints,

    async send(type, data, sendOptions = {}) {
      if (typeof type !== "string" || type === "") {
        throw new HooklineError("invalid_event", "The event type must be a non-empty string");
      }
      if (catalog) {
        const schema = catalog[type];
        if (!schema) throw new HooklineError("invalid_event", `"${type}" is not a type of the event catalog`);
        const result = await validateData(schema, type, data);
        if ("issues" in result) throw new HooklineError("invalid_event", result.message, { issues: result.issues });
      }
      const id = sendOptions.id ?? generateMessageId();
      if (typeof id !== "string" || !MESSAGE_ID.test(id)) {
        throw new HooklineError("invalid_option", `id must be printable ASCII without spaces or commas, got ${id}`);
      }
      const timestamp = new Date(time("timestamp", sendOptions.timestamp ?? now()));
      let payload: string;
      try {
        payload = JSON.stringify({ type, timestamp: timestamp.toISOString(), data });
      } catch (cause) {
        throw new HooklineError(
          "invalid_event",
          `The ${type} data cannot be sent as JSON: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
      const at = now();
      const message: Message = {
        id,
        type,
        ...(sendOptions.tenant !== undefined && { tenant: sendOptions.tenant }),
        payload,
        createdAt: at,
      };
      const deliveries = (await recipients(type, sendOptions)).map(
        (endpoint): Delivery => ({
          id: randomId("dlv_"),
          messageId: id,
          endpointId: endpoint.id,
          status: "pending",
          attempts: 0,
          createdAt: at,
          updatedAt: at,
        }),
      );
      const stored = await store.messages.enqueue(
        message,
        deliveries,
        sendOptions.tx === undefined ? undefined : { tx: sendOptions.tx },
      );
      return {
        messageId: stored.message.id,
        created: stored.created,
        deliveries: stored.deliveries.map((delivery) => ({ id: delivery.id, endpointId: delivery.endpointId })),
      };
    },

    start() {
      if (worker) return;
      agent = createDeliveryAgent(agentOptions);
      worker = store.work(attempt, {
        concurrency,
        perKeyConcurrency,
        leaseMs,
        onError: (error) => logger.error({ error }, "The dispatcher could not settle a delivery"),
        onSettled: settled,
      });
    },

    async stop() {
      const [stopping, closing] = [worker, agent];
      worker = undefined;
      agent = undefined;
      await stopping?.stop();
      await closing?.close();
      if (!options.store) await store.close?.();
      for (const resolve of idle) resolve();
    },

    async drain({ withinMs = 0 } = {}) {
      // Quiet twice in a row, a timer apart: a delivery just claimed is between the engine and `attempt` for a
      // moment, leased (so not due) yet not active.
      let quiet = 0;
      while (quiet < 2) {
        const due = active === 0 ? await store.deliveries.dueIn() : 0;
        quiet = active === 0 && (due === undefined || due > withinMs) ? quiet + 1 : 0;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, quiet > 0 ? 10 : 50);
          function done() {
            clearTimeout(timer);
            idle.delete(done);
            resolve();
          }
          if (quiet === 0) idle.add(done);
        });
      }
    },

    messages: { get: (id) => store.messages.get(id) },
    deliveries: { get: (id) => store.deliveries.get(id), list: (filter) => store.deliveries.list(filter) },
    attempts: { list: (deliveryId) => store.attempts.list(deliveryId) },

    async retry(deliveryId) {
      if ((await store.deliveries.requeue({ deliveryIds: [deliveryId] })) > 0) return true;
      if (!(await store.deliveries.get(deliveryId))) throw new HooklineError("not_found", `No delivery ${deliveryId}`);
      return false;
    },

    replay({ endpointId, since, until, status }) {
      return store.deliveries.requeue({
        endpointId,
        since: time("since", since),
        until: time("until", until ?? now()),
        ...(status !== undefined && { status }),
        limit: REPLAY_LIMIT,
      });
    },

    stats() {
      const { counts, processed, handlerMs } = recorder.snapshot();
      return { counts, attempts: processed, inFlight: active, attemptMs: handlerMs };
    },
  };
}
