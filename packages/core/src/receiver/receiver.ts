import type { InboxEvent, Worker } from "../engine/types";
import { HooklineError } from "../errors";
import { standardWebhooks } from "../schemes";
import { secretList } from "../secrets";
import { toleranceBounds } from "../tolerance";
import { errorAnswer, isRefusal, json, RECEIVED, type Refusal } from "./answers";
import { deadLetter } from "./dead-letter";
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
import { connectionNeeds, transportCheck } from "./transport";
import type {
  DeliveryInfo,
  DeliveryInput,
  DeliveryResponse,
  EventHandler,
  HandlerContext,
  Receiver,
  ReceiverHooks,
  ReceiverOptions,
} from "./types";

const BODY_USED = new HooklineError(
  "raw_body_unavailable",
  "The request body was read (by a body-parsing middleware or validator) before Hookline could verify its raw " +
    "bytes, and a parsed body cannot be verified. Hand the receiver the untouched Request: mount the webhook " +
    "route before anything that reads the body, or read a clone (request.clone()) there.",
);
const TIMEOUT = Symbol("timeout");
const STORE_RETRY_AFTER_MS = 5_000;

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
  const config: IntakeConfig = {
    scheme: options.scheme ?? standardWebhooks(),
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
  const handlers = handlerRegistry();
  const pending = new Set<Promise<void>>();
  const workers = new Set<Worker>();

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

  function hook<Name extends keyof ReceiverHooks>(name: Name, info: Parameters<NonNullable<ReceiverHooks[Name]>>[0]) {
    try {
      (hooks[name] as ((value: typeof info) => void) | undefined)?.(info);
    } catch (error) {
      logger.error({ hook: name, error: errorFields(error) }, `The ${name} hook threw`);
    }
  }

  /** Counts, reports and logs a refusal, and answers it. */
  function reject(refused: Refusal): DeliveryResponse {
    const answer = errorAnswer(refused);
    const code = refused.refused;
    const info = refused.info ?? {};
    stats.count(code);
    hook("onRejected", { ...info, code, status: answer.status });
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
            "Could not clear a possible stale dead letter of a processed event; check it before replaying it",
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
    outcome: { ok: true; ms: number } | { ok: false; error: unknown },
    late: boolean,
  ): Promise<DeliveryResponse> {
    if (outcome.ok) {
      stats.processed(outcome.ms);
      hook("onProcessed", { ...info, ms: outcome.ms });
      // The handlers ran: answer 200 even if recording fails, since a retry would run them twice.
      await store.complete(event.id, token).then(
        (held) => held || logger.warn({ ...info }, "The claim expired while handlers ran; raise the store's leaseMs"),
        (error: unknown) => logger.error({ ...info, error: errorFields(error) }, "Could not mark the event processed"),
      );
      clearDeadLetter(info);
      return RECEIVED;
    }
    stats.count("failed");
    const kept = await keep(event, payload, outcome.error);
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
    return errorAnswer({ refused: "handler_failed" });
  }

  /**
   * The queued path: one durable write, then the answer. Every valid event is stored, with or without a handler
   * here: the handlers may live in a worker process only.
   */
  async function enqueue(accepted: Intake, info: DeliveryInfo): Promise<DeliveryResponse> {
    const { event, payload, envelopeHeaders } = accepted;
    const orderKey = orderBy?.(event);
    const stored: InboxEvent = {
      id: event.id,
      type: event.type,
      payload,
      ...(event.timestamp !== undefined && { timestamp: event.timestamp }),
      ...(orderKey !== undefined && { orderKey }),
      receivedAt: Date.now(),
      ...(Object.keys(envelopeHeaders).length > 0 && { headers: envelopeHeaders }),
    };
    let created: boolean;
    try {
      ({ created } = await (inbox as NonNullable<typeof inbox>).enqueue(stored));
    } catch (error) {
      logger.error({ ...info, error: errorFields(error) }, "The inbox could not store the event");
      return reject({ refused: "inbox_unavailable", info, retryAfterMs: STORE_RETRY_AFTER_MS });
    }
    if (!created) {
      stats.count("duplicate");
      hook("onDuplicate", { ...info, inFlight: false });
      logger.info({ ...info }, "Already in the inbox; answered duplicate");
      return json(200, { received: true, duplicate: true });
    }
    stats.count("queued");
    hook("onQueued", info);
    return json(200, { received: true, queued: true });
  }

  async function receive(input: DeliveryInput): Promise<DeliveryResponse> {
    stats.count("received");
    hook("onReceived", { method: input.method });
    const accepted = await intake(config, input, (info) => hook("onVerified", info));
    if (isRefusal(accepted)) return reject(accepted);
    const { event, deliveryId, payload, header } = accepted;
    const info: DeliveryInfo = { id: event.id, type: event.type, ...(deliveryId ? { deliveryId } : {}) };
    if (inbox) return enqueue(accepted, info);

    const list = handlers.for(event.type);
    if (list.length === 0) {
      stats.count("ignored");
      logger.info({ ...info }, "No handler for this event type; ignored");
      return json(200, { received: true, ignored: true });
    }

    let claim: Awaited<ReturnType<IdempotencyStore["claim"]>>;
    try {
      claim = await store.claim(event.id);
    } catch (error) {
      logger.error({ ...info, error: errorFields(error) }, "The idempotency store is unavailable");
      return reject({ refused: "store_unavailable", info, retryAfterMs: STORE_RETRY_AFTER_MS });
    }
    if (claim.status === "done") {
      stats.count("duplicate");
      hook("onDuplicate", { ...info, inFlight: false });
      logger.info({ ...info }, "Already processed; answered duplicate");
      return json(200, { received: true, duplicate: true });
    }
    if (claim.status === "processing") {
      hook("onDuplicate", { ...info, inFlight: true });
      // Not the whole lease left (a minute for a 300 ms handler): about as long as handlers take here, at least 1 s.
      const typical = Math.max(1_000, stats.snapshot().handlerMs.p99);
      return reject({ refused: "in_flight", info, retryAfterMs: Math.min(claim.retryAfterMs, typical) });
    }

    const context: HandlerContext<unknown> = { receivedAt: new Date(), payload, header, replay: false };
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
    if (first !== TIMEOUT) return settle(event, info, payload, claim.token, first, false);

    stats.count("accepted_late");
    logger.warn({ ...info, timeoutMs }, "Handlers are still running; answered 202 and carrying on");
    const token = claim.token;
    background(
      settled.then((outcome) => settle(event, info, payload, token, outcome, true)),
      "Settling handlers after the 202",
    );
    return json(202, { received: true, pending: true });
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

    async receive(input) {
      try {
        return await receive(input);
      } catch (error) {
        // Only a bug in Hookline or a hook gets here; answer 500 so that the sender retries.
        logger.error({ error: errorFields(error) }, "Unexpected receiver failure");
        return errorAnswer({ refused: "handler_failed" });
      }
    },

    async handle(request, connection) {
      const answer = await receiver.receive({
        ...connection,
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
      const processor = inboxProcessor({ reading: config, handlers, schedule, deadLetters, logger, stats, hook });
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
