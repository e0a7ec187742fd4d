/**
 * The dispatcher: takes due deliveries from the engine, makes each attempt through the delivery agent, decides
 * what its result means (`settle`), and reports it to the hooks, the logger and the counters once the engine has
 * recorded it.
 * @module
 */
import type { DeliveryJob, DeliveryStore, Settlement, Worker } from "../engine/types";
import { statsRecorder } from "../receiver/stats";
import type { WebhookScheme } from "../schemes";
import {
  type AttemptErrorKind,
  type AttemptResult,
  createDeliveryAgent,
  type DeliveryAgent,
  type DeliveryAgentOptions,
  isSendableHeader,
} from "./deliver";
import { signingSecrets } from "./endpoints";
import { type SettlePolicy, settle } from "./settle";
import type {
  AttemptInfo,
  AttemptTelemetry,
  DrainOptions,
  SenderHooks,
  SenderLogger,
  SenderStats,
  SenderTelemetry,
} from "./types";

export interface DispatcherOptions {
  store: DeliveryStore;
  /** Whether `stop()` closes the store too: the sender made it (the default memory engine). */
  ownsStore: boolean;
  scheme: WebhookScheme;
  timeoutMs: number;
  maxResponseBytes: number;
  concurrency: number;
  perKeyConcurrency: number;
  leaseMs: number;
  policy: SettlePolicy;
  hooks: SenderHooks;
  telemetry: SenderTelemetry | undefined;
  logger: SenderLogger;
  agentOptions: DeliveryAgentOptions;
  now: () => number;
}

export interface Dispatcher {
  start(): void;
  stop(): Promise<void>;
  drain(options?: DrainOptions): Promise<void>;
  stats(): SenderStats;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, scheme, timeoutMs, maxResponseBytes, concurrency, perKeyConcurrency, leaseMs, policy, hooks } =
    options;
  const { logger, agentOptions, now, telemetry } = options;
  const recorder = statsRecorder();
  // What the engine does not record of an attempt, from the processor to `onSettled` (which gets the same object).
  const unrecorded = new WeakMap<Settlement, { errorKind?: AttemptErrorKind; trace?: AttemptTelemetry }>();

  let agent: DeliveryAgent | undefined;
  let worker: Worker | undefined;
  // Jobs from the processor's start until the engine is done with them: what `drain` waits for.
  let active = 0;
  const idle = new Set<() => void>();

  function call<Info>(name: keyof SenderHooks | "telemetry", hook: ((info: Info) => void) | undefined, info: Info) {
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
    // Unreachable while the worker runs (stop() closes the agent only after the worker); settling nothing leaves
    // the delivery to be attempted again when its lease ends, never to fail for our sake.
    if (!agent) throw new Error("The sender is stopped");
    const startedAt = now();
    const trace = telemetry && startTrace(job, startedAt);
    let result: AttemptResult;
    try {
      result = await agent.deliver({
        url: job.endpoint.url,
        payload: job.message.payload,
        id: job.message.id,
        secret: signingSecrets(job.endpoint.secrets, startedAt),
        scheme,
        headers: withTraceHeaders(job.endpoint.headers, trace?.headers),
        timeoutMs,
        maxResponseBytes,
      });
    } catch (error) {
      // Only a bad option gets here, such as an endpoint secret the scheme cannot use: retrying cannot fix it.
      const message = (error as Error).message ?? String(error);
      result = { outcome: { kind: "final" }, durationMs: 0, error: message, errorKind: "invalid" };
    }
    const settlement = settle(job, result, startedAt, policy, now());
    if (result.errorKind || trace) {
      unrecorded.set(settlement, {
        ...(result.errorKind && { errorKind: result.errorKind }),
        ...(trace && { trace }),
      });
    }
    return settlement;
  }

  /** The telemetry's follower of one attempt; telemetry that throws is logged and the attempt goes on without it. */
  function startTrace(job: DeliveryJob, startedAt: number): AttemptTelemetry | undefined {
    try {
      return telemetry?.start({
        deliveryId: job.delivery.id,
        messageId: job.message.id,
        endpointId: job.endpoint.id,
        type: job.message.type,
        attempt: job.delivery.attempts + 1,
        url: withoutCredentials(job.endpoint.url),
        startedAt,
        createdAt: job.message.createdAt,
      });
    } catch (error) {
      logger.error({ hook: "telemetry", error }, "The telemetry hook threw");
      return undefined;
    }
  }

  function settled(job: DeliveryJob, settlement: Settlement) {
    active--;
    const { attempt: made, next } = settlement;
    const { errorKind, trace } = unrecorded.get(settlement) ?? {};
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
      ...(errorKind && { errorKind }),
      url: withoutCredentials(job.endpoint.url),
      startedAt: made.startedAt,
      createdAt: job.message.createdAt,
    };
    recorder.count(next.status === "pending" ? "retrying" : next.status);
    if (made.outcome === "blocked") recorder.count("blocked");
    recorder.processed(made.durationMs);
    logger.info(info as unknown as Record<string, unknown>, "Delivery attempt");
    call("onAttempt", hooks.onAttempt, info);
    if (trace) call("telemetry", (attempt: AttemptInfo) => trace.end(attempt), info);
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

  return {
    start() {
      if (worker) return;
      agent ??= createDeliveryAgent(agentOptions);
      worker = store.work(attempt, {
        concurrency,
        perKeyConcurrency,
        leaseMs,
        onError: (error) => logger.error({ error }, "The dispatcher could not settle a delivery"),
        onSettled: settled,
      });
    },

    async stop() {
      const stopping = worker;
      worker = undefined;
      // The attempts in flight finish on the agent; only then are its sockets closed.
      await stopping?.stop();
      if (worker) return; // start() was called again meanwhile: it keeps the agent
      const closing = agent;
      agent = undefined;
      await closing?.close();
      if (options.ownsStore) await store.close?.();
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

    stats() {
      const { counts, processed, handlerMs } = recorder.snapshot();
      return { counts, attempts: processed, inFlight: active, attemptMs: handlerMs };
    },
  };
}

/**
 * The endpoint's custom headers with the attempt's trace headers over them (the trace context is the attempt's
 * own); a trace header that cannot be sent is left out, so that telemetry never fails a delivery.
 */
function withTraceHeaders(
  custom: Record<string, string> | undefined,
  trace: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!trace) return custom;
  const headers = { ...custom };
  // Added last, they win over a custom header whose name differs only in case: `deliver` keeps the last one.
  for (const [name, value] of Object.entries(trace)) if (isSendableHeader(name, value)) headers[name] = value;
  return headers;
}

/** A URL for logs and hooks: no user name or password (a Basic-auth secret). */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
  } catch {
    return url;
  }
}
