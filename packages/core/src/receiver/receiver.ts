import type { InboxEvent, Worker } from "../engine/types";
import { HooklineError } from "../errors";
import { headerReader } from "../headers";
import { isPromise, type MaybePromise } from "../maybe";
import { standardWebhooksVerifier } from "../schemes/standard-webhooks";
import { secretList } from "../secrets";
import { toleranceBounds } from "../tolerance";
import { errorAnswer, isRefusal, json, type Refusal } from "./answers";
import { deadLetter } from "./dead-letter";
import { deadlines, TIMEOUT } from "./deadlines";
import { defaultEnvelope } from "./event";
import type { EventSchemas, UntypedCatalog, WebhookEvent } from "./events";
import { handlerRegistry, runHandlers } from "./handlers";
import { inboxProcessor, inboxSchedule } from "./inbox";
import { type Intake, type IntakeConfig, intake, readStoredEvent } from "./intake";
import { consoleLogger, errorFields, safeLogger } from "./log";
import { memoryStore } from "./memory-store";
import { rateLimitStep } from "./rate-limit";
import { statsRecorder } from "./stats";
import type { IdempotencyStore } from "./store";
import { guardedTelemetry } from "./telemetry";
import { connectionNeeds, transportCheck } from "./transport";
import type {
  DeliveryInfo,
  DeliveryInput,
  DeliveryResponse,
  DeliveryTelemetry,
  EventHandler,
  HandlerContext,
  Receiver,
  ReceiverHooks,
  ReceiverOptions,
} from "./types";

const STORE_RETRY_AFTER_MS = 5_000;

/** What the handlers' run came to: success, or the value they threw; how long they ran either way. */
type HandlersOutcome = { ok: true; ms: number } | { ok: false; error: unknown; ms: number };

/**
 * Creates a receiver. Drop it into a framework with an adapter (`@hookline/express`, `/fastify`, `/hono`,
 * `/next`) or call `handle(request)` yourself. With an `inbox`, deliveries are stored and answered at once, and
 * `work()` runs the handlers, here or in a worker process.
 *
 * @example
 * const receiver = createReceiver({ secret: process.env.WEBHOOK_SECRET!, events })
 *   .on("invoice.paid", async (event) => markPaid(event.data.id));
 * export const POST = (request: Request) => receiver.handle(request);
 */
export function createReceiver<Catalog extends EventSchemas = UntypedCatalog, Tx = never>(
  options: ReceiverOptions<Catalog, Tx>,
): Receiver<Catalog, Tx> {
  const deadLetters = options.deadLetters;
  const inbox = options.inbox;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const logger = safeLogger(options.logger ?? consoleLogger);
  const { past, future } = toleranceBounds(options.tolerance); // a bad tolerance fails at start-up
  if (inbox && options.store) {
    throw new HooklineError(
      "invalid_option",
      "Pass an inbox or an idempotency store, not both: the inbox deduplicates",
    );
  }
  if (options.orderBy && inbox?.ordered === false) {
    throw new HooklineError("invalid_option", "This inbox cannot keep orderBy order (see its README)");
  }
  if (options.orderBy && !inbox) {
    throw new HooklineError("invalid_option", "orderBy needs an inbox: inline handlers run as deliveries arrive");
  }
  if (options.secret === undefined && !inbox) {
    throw new HooklineError("invalid_option", "A secret is required (only a receiver that works an inbox may omit it)");
  }
  // The default store remembers at least every id whose delivery a replay could still pass the timestamp check with.
  const store = options.store ?? memoryStore({ replayWindowMs: Math.max(1, past + future) * 1000, logger });
  const schedule = inboxSchedule(options.schedule);
  const orderBy = options.orderBy as ((event: WebhookEvent) => string | undefined) | undefined;
  const hooks = options.hooks ?? {};
  const telemetry = options.telemetry;
  const config: IntakeConfig = {
    scheme: options.scheme ?? standardWebhooksVerifier,
    // A worker-only receiver has none: a delivery sent to it anyway is answered 500 invalid_secret.
    secret: options.secret ?? [],
    tolerance: options.tolerance,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    transport: transportCheck(options),
    trustProxy: options.trustProxy ?? false,
    rateLimit: rateLimitStep(options.rateLimit, (error) =>
      logger.warn({ error: errorFields(error) }, "The rate limiter's store failed; the delivery was let through"),
    ),
    envelope: options.envelope ?? defaultEnvelope,
    catalog: options.events as EventSchemas | undefined,
    logger,
  };
  const stats = statsRecorder();
  const tracing = guardedTelemetry(logger);
  const handlers = handlerRegistry();
  const pending = new Set<Promise<void>>();
  const timeouts = deadlines(timeoutMs);
  const onVerified = hooks.onVerified ? (info: DeliveryInfo) => hook("onVerified", info) : () => {};
  const workers = new Set<Worker>();
  // The fixed answers, made here rather than at load: a module-level call is one a bundler cannot drop, and it
  // would weigh on bundles that only verify.
  const answers = {
    received: json(200, { received: true }),
    ignored: json(200, { received: true, ignored: true }),
    duplicate: json(200, { received: true, duplicate: true }),
    deadLettered: json(200, { received: true, deadLettered: true }),
    pending: json(202, { received: true, pending: true }),
    queued: json(200, { received: true, queued: true }),
    handlerFailed: errorAnswer({ refused: "handler_failed" }),
  };

  if (!(config.maxBodyBytes > 0)) throw new HooklineError("invalid_option", "maxBodyBytes must be a positive number");
  if (!(timeoutMs > 0)) throw new HooklineError("invalid_option", "timeoutMs must be a positive number");
  // An empty secret fails at start-up, not on the first delivery; whitespace around one is said here, since a
  // 401 no longer tells the (unauthenticated) caller anything about the secrets.
  if (options.secret !== undefined && secretList(options.secret).some((secret) => secret.trim() !== secret)) {
    logger.warn(
      { scheme: config.scheme.name },
      "A secret has whitespace around it (check how it was copied): signatures made with the trimmed secret fail",
    );
  }

  /** Answers 200 `{ duplicate: true }`: the event is already processed, or already in the inbox. */
  function duplicate(info: DeliveryInfo, trace: DeliveryTelemetry | undefined, where: string): DeliveryResponse {
    stats.count("duplicate");
    if (hooks.onDuplicate) hook("onDuplicate", { ...info, inFlight: false });
    logger.info({ ...info }, `Already ${where}; answered duplicate`);
    if (trace) tracing.end(trace, { delivery: info, outcome: "duplicate", status: 200 });
    return answers.duplicate;
  }

  function hook<Name extends keyof ReceiverHooks>(name: Name, info: Parameters<NonNullable<ReceiverHooks[Name]>>[0]) {
    try {
      (hooks[name] as ((value: typeof info) => void) | undefined)?.(info);
    } catch (error) {
      logger.error({ hook: name, error: errorFields(error) }, `The ${name} hook threw`);
    }
  }

  /** Counts, reports and logs a refusal, and answers it. */
  function reject(refused: Refusal, trace: DeliveryTelemetry | undefined): DeliveryResponse {
    const answer = errorAnswer(refused);
    const code = refused.refused;
    const info = refused.info ?? {};
    stats.count(code);
    if (hooks.onRejected) hook("onRejected", { ...info, code, status: answer.status });
    const outcome = code === "in_flight" ? "duplicate" : "rejected";
    if (trace) tracing.end(trace, { delivery: info, outcome, status: answer.status, code });
    const log = answer.status >= 500 ? logger.warn : logger.info;
    const detail = refused.detail === undefined ? {} : { detail: refused.detail };
    log({ ...info, code, status: answer.status, ...detail }, `Webhook refused: ${code}`);
    return answer;
  }

  /** Dead-letters a failure if there is a dead-letter store; resolves whether the event is safe. */
  async function keep(event: WebhookEvent, payload: string, error: unknown): Promise<boolean> {
    const kept = await deadLetter(deadLetters, logger, event, payload, error);
    if (kept) stats.count("dead_lettered");
    return kept;
  }

  /** Work that goes on after the answer; `drain` waits for it. It must never reject. */
  function background(work: Promise<unknown>, what: string) {
    const tracked = work.then(
      () => {},
      (error: unknown) => logger.error({ error: errorFields(error) }, `${what} failed unexpectedly`),
    );
    pending.add(tracked);
    void tracked.finally(() => pending.delete(tracked));
  }

  /**
   * After a success, removes any dead letter of the event: an earlier attempt's `put` that timed out (the store
   * froze) was treated as not stored and the claim released, yet may have landed since. Without this, `replay`
   * would run a processed event again. A store applies calls on one id in the order it receives them, so the
   * late `put`, sent before the failure was answered, lands before this delete.
   */
  function clearDeadLetter(info: DeliveryInfo) {
    if (!deadLetters || info.id === undefined) return;
    const id = info.id;
    background(
      // Inside a promise: a store that throws at once must not turn the success into a 500.
      Promise.resolve(id)
        .then((key) => deadLetters.delete(key))
        .catch((error: unknown) => {
          logger.warn(
            { ...info, error: errorFields(error) },
            "Could not clear a stale dead letter; check it before a replay",
          );
        }),
      "Clearing a dead letter",
    );
  }

  /** After handlers settle: complete or release the claim, dead-letter a failure, and answer. */
  async function settle(
    event: WebhookEvent,
    info: DeliveryInfo,
    payload: string,
    token: string,
    outcome: HandlersOutcome,
    late: boolean,
    trace: DeliveryTelemetry | undefined,
  ): Promise<DeliveryResponse> {
    const handlerMs = outcome.ms;
    const status = late ? 202 : 200;
    if (outcome.ok) {
      stats.processed(handlerMs);
      if (hooks.onProcessed) hook("onProcessed", { ...info, ms: handlerMs });
      // The handlers ran: answer 200 even if recording fails, since a retry would run them twice.
      try {
        const held = await store.complete(event.id, token);
        if (!held) logger.warn({ ...info }, "The claim expired while handlers ran; raise the store's leaseMs");
      } catch (error) {
        logger.error({ ...info, error: errorFields(error) }, "Could not mark the event processed");
      }
      clearDeadLetter(info);
      if (trace) tracing.end(trace, { delivery: info, outcome: "processed", status, handlerMs, late });
      return answers.received;
    }
    const { error } = outcome;
    const failure = { ...info, error: errorFields(error) };
    stats.count("failed");
    const kept = await keep(event, payload, error);
    if (hooks.onFailed) hook("onFailed", { ...info, error, deadLettered: kept });
    if (kept) {
      logger.warn(failure, "Handler failed; the event was dead-lettered");
      await store.complete(event.id, token).catch((storeError: unknown) => {
        logger.error({ ...info, error: errorFields(storeError) }, "Could not mark the dead-lettered event processed");
      });
      if (trace) tracing.end(trace, { delivery: info, outcome: "dead_lettered", status, handlerMs, late, error });
      return answers.deadLettered;
    }
    await store.release(event.id, token).catch((storeError: unknown) => {
      logger.error(
        { ...info, error: errorFields(storeError) },
        "Could not release the claim; a redelivery waits for the lease",
      );
    });
    if (late) {
      const why = deadLetters ? "its dead letter could not be stored" : "there is no dead-letter store";
      logger.error(failure, `Handler failed after the 202 answer and ${why}: lost unless the sender delivers it again`);
    } else {
      logger.warn(failure, "Handler failed; answering 500 so the sender retries");
    }
    if (trace) {
      tracing.end(trace, {
        delivery: info,
        outcome: "failed",
        status: late ? 202 : 500,
        code: "handler_failed",
        handlerMs,
        late,
        error,
      });
    }
    return answers.handlerFailed;
  }

  /**
   * The queued path: one durable write, then the answer. Every valid event is stored, with or without a handler
   * here: the handlers may live in a worker process only.
   */
  async function enqueue(
    accepted: Intake,
    info: DeliveryInfo,
    trace: DeliveryTelemetry | undefined,
  ): Promise<DeliveryResponse> {
    const { event, payload, envelopeHeaders } = accepted;
    const orderKey = orderBy?.(event);
    // The delivery's trace context goes with the event, for the worker's run to link to; the envelope's win.
    const headers = trace?.headers ? { ...tracing.headers(trace), ...envelopeHeaders } : envelopeHeaders;
    const stored: InboxEvent = {
      id: event.id,
      type: event.type,
      payload,
      ...(event.timestamp !== undefined && { timestamp: event.timestamp }),
      ...(orderKey !== undefined && { orderKey }),
      receivedAt: Date.now(),
      ...(Object.keys(headers).length > 0 && { headers }),
    };
    let created: boolean;
    try {
      ({ created } = await (inbox as NonNullable<typeof inbox>).enqueue(stored));
    } catch (error) {
      logger.error({ ...info, error: errorFields(error) }, "The inbox could not store the event");
      return reject({ refused: "inbox_unavailable", info, retryAfterMs: STORE_RETRY_AFTER_MS }, trace);
    }
    if (!created) return duplicate(info, trace, "in the inbox");
    stats.count("queued");
    if (hooks.onQueued) hook("onQueued", info);
    if (trace) tracing.end(trace, { delivery: info, outcome: "queued", status: 200 });
    return answers.queued;
  }

  async function receive(input: DeliveryInput, trace: DeliveryTelemetry | undefined): Promise<DeliveryResponse> {
    stats.count("received");
    if (hooks.onReceived) hook("onReceived", { method: input.method });
    const taken = intake(config, input, onVerified);
    const accepted = isPromise(taken) ? await taken : taken; // most deliveries are read without waiting
    if (isRefusal(accepted)) return reject(accepted, trace);
    const { event, deliveryId, payload, header } = accepted;
    const info: DeliveryInfo = deliveryId
      ? { id: event.id, type: event.type, deliveryId }
      : { id: event.id, type: event.type };
    if (inbox) return enqueue(accepted, info, trace);

    const list = handlers.for(event.type);
    if (list.length === 0) {
      stats.count("ignored");
      logger.info({ ...info }, "No handler for this event type; ignored");
      if (trace) tracing.end(trace, { delivery: info, outcome: "ignored", status: 200 });
      return answers.ignored;
    }

    let claim: Awaited<ReturnType<IdempotencyStore["claim"]>>;
    try {
      claim = await store.claim(event.id);
    } catch (error) {
      logger.error({ ...info, error: errorFields(error) }, "The idempotency store is unavailable");
      return reject({ refused: "store_unavailable", info, retryAfterMs: STORE_RETRY_AFTER_MS }, trace);
    }
    if (claim.status === "done") return duplicate(info, trace, "processed");
    if (claim.status === "processing") {
      if (hooks.onDuplicate) hook("onDuplicate", { ...info, inFlight: true });
      // Not the whole lease left (a minute for a 300 ms handler): about as long as handlers take here, at least 1 s.
      const typical = Math.max(1_000, stats.snapshot().handlerMs.p99);
      return reject({ refused: "in_flight", info, retryAfterMs: Math.min(claim.retryAfterMs, typical) }, trace);
    }

    const token = claim.token;
    const context: HandlerContext<unknown> = { receivedAt: new Date(), payload, header, replay: false };
    const started = performance.now();
    let ran: MaybePromise<void>;
    try {
      ran = trace ? trace.run(() => runHandlers(list, event, context)) : runHandlers(list, event, context);
    } catch (error) {
      const ms = performance.now() - started;
      return await settle(event, info, payload, token, { ok: false, error, ms }, false, trace);
    }
    // Handlers that returned no promise are done: no timer to race.
    if (!isPromise(ran)) {
      return await settle(event, info, payload, token, { ok: true, ms: performance.now() - started }, false, trace);
    }
    const settled = ran.then(
      (): HandlersOutcome => ({ ok: true, ms: performance.now() - started }),
      (error: unknown): HandlersOutcome => ({ ok: false, error, ms: performance.now() - started }),
    );
    const first = await timeouts.race(settled);
    if (first !== TIMEOUT) return await settle(event, info, payload, token, first, false, trace);

    stats.count("accepted_late");
    logger.warn({ ...info, timeoutMs }, "Handlers are still running; answered 202 and carrying on");
    background(
      settled.then((outcome) => settle(event, info, payload, token, outcome, true, trace)),
      "Settling handlers after the 202",
    );
    return answers.pending;
  }

  const receiver: Receiver<Catalog, Tx> = {
    maxBodyBytes: config.maxBodyBytes,
    connectionNeeds: connectionNeeds(options),

    on(type, handler) {
      handlers.on(type, handler as EventHandler<never, unknown>);
      return receiver;
    },

    onAny(handler) {
      handlers.onAny(handler as EventHandler<never, unknown>);
      return receiver;
    },

    receive(input) {
      const trace = telemetry ? tracing.start(() => telemetry.start(headerReader(input.headers))) : undefined;
      return receive(input, trace).catch((error: unknown) => {
        // Only a bug in Hookline or a hook gets here; answer 500 so that the sender retries.
        logger.error({ error: errorFields(error) }, "Unexpected receiver failure");
        if (trace) tracing.end(trace, { delivery: {}, outcome: "failed", status: 500, code: "handler_failed" });
        return answers.handlerFailed;
      });
    },

    async handle(request, connection) {
      const answer = await receiver.receive({
        ...connection,
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.method !== "POST" ? null : request.bodyUsed ? bodyUsed() : request.body,
      });
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },

    async replay(id) {
      if (!deadLetters) return { status: "not_found" };
      const letter = await deadLetters.get(id);
      if (!letter) return { status: "not_found" };
      const event = await readStoredEvent(config, letter);
      if (isRefusal(event)) {
        return { status: "invalid", code: event.refused, message: event.message ?? event.refused };
      }
      const context: HandlerContext<unknown> = {
        receivedAt: new Date(),
        payload: letter.payload,
        header: () => undefined,
        replay: true,
      };
      try {
        await runHandlers(handlers.for(event.type), event, context);
      } catch (error) {
        await keep(event, letter.payload, error);
        return { status: "failed", error };
      }
      await deadLetters.delete(id);
      stats.count("replayed");
      return { status: "processed" };
    },

    async drain() {
      while (pending.size > 0) await Promise.all(pending);
    },

    work(workOptions = {}) {
      if (!inbox)
        throw new HooklineError("invalid_option", "work() runs an inbox's events: pass createReceiver an inbox");
      const { concurrency = 10, leaseMs = 300_000 } = workOptions;
      const { process } = telemetry ?? {};
      const processor = inboxProcessor({
        reading: config,
        handlers,
        schedule,
        deadLetters,
        logger,
        stats,
        hook,
        ...(process && {
          trace: {
            start: (header) => tracing.start(() => process.call(telemetry, header)),
            end: tracing.end,
          },
        }),
      });
      const worker = inbox.work(processor as Parameters<typeof inbox.work>[0], {
        concurrency,
        leaseMs,
        onError: (error) => logger.error({ error: errorFields(error) }, "The inbox worker failed; it carries on"),
      });
      workers.add(worker);
      return {
        async stop() {
          workers.delete(worker);
          await worker.stop();
        },
      };
    },

    async stop() {
      await Promise.all([...workers].map((worker) => worker.stop()));
      workers.clear();
      await receiver.drain();
    },

    stats: () => stats.snapshot(),
  };
  return receiver;
}

/** Why a Request whose body was already read cannot be verified, and what to do about it. */
function bodyUsed(): HooklineError {
  return new HooklineError(
    "raw_body_unavailable",
    "The body was read (by a body parser or validator) before Hookline could verify its raw bytes: mount the " +
      "webhook route before anything that reads the body, or read a clone (request.clone()) there",
  );
}
