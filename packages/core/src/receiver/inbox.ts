/**
 * The queued path's second half: what a worker does with an event the inbox hands it. It reads the stored payload
 * with the intake's own step (`readStoredEvent`), runs the handlers (on the inbox's transaction when there is
 * one), and turns the outcome into an {@link InboxSettlement}: `processed`, `pending` again on the retry schedule,
 * or `exhausted` once the schedule is used up; its dead letter is written in the settlement's `afterRollback`,
 * which the engine runs after the run's transaction ended and before it records the failure.
 *
 * @module
 */
import type { InboxJob, InboxSettlement, Processor } from "../engine/types";
import { type HeaderReader, headerReader } from "../headers";
import { fixedSchedule, type RetrySchedule } from "../retry";
import { isRefusal } from "./answers";
import { deadLetter } from "./dead-letter";
import type { EventReading } from "./event";
import type { WebhookEvent } from "./events";
import type { handlerRegistry } from "./handlers";
import { runHandlers } from "./handlers";
import { readStoredEvent } from "./intake";
import { errorFields } from "./log";
import type { statsRecorder } from "./stats";
import type { DeadLetterStore } from "./store";
import type {
  DeliveryInfo,
  DeliveryTelemetry,
  HandlerContext,
  ReceiveRecord,
  ReceiverHooks,
  ReceiverLogger,
} from "./types";

/** When an exhausted event whose dead letter could not be stored is tried again (it must never be dropped). */
const DEAD_LETTER_RETRY_MS = 60_000;

/**
 * The default schedule, `exponentialBackoff({ base: 5_000, factor: 3, cap: 3_600_000, maxAttempts: 8 })` with equal
 * jitter, written as the fixed delays it computes: equal jitter waits anywhere in [d/2, d], which is ¾d ± ⅓ of it.
 * Spelled out so that a receiver does not carry `exponentialBackoff` (its option checks) into every bundle.
 */
export const DEFAULT_INBOX_DELAYS = [0, 3_750, 11_250, 33_750, 101_250, 303_750, 911_250, 2_700_000]; // ¾ of 0, 5 s, …

/** The receiver's schedule for inbox retries: the option as given, or the default. */
export function inboxSchedule(schedule: RetrySchedule | readonly number[] | undefined): RetrySchedule {
  if (schedule === undefined) return fixedSchedule(DEFAULT_INBOX_DELAYS, { jitter: 1 / 3 });
  return Array.isArray(schedule) ? fixedSchedule(schedule) : (schedule as RetrySchedule);
}

/** What the worker needs from its receiver. */
export interface InboxWork {
  reading: EventReading;
  handlers: ReturnType<typeof handlerRegistry>;
  schedule: RetrySchedule;
  deadLetters: DeadLetterStore | undefined;
  logger: ReceiverLogger;
  stats: ReturnType<typeof statsRecorder>;
  hook<Name extends keyof ReceiverHooks>(name: Name, info: Parameters<NonNullable<ReceiverHooks[Name]>>[0]): void;
  /** The telemetry's follower of each run, when it follows them; both never throw. */
  trace?: {
    start(header: HeaderReader): DeliveryTelemetry | undefined;
    end(trace: DeliveryTelemetry, record: ReceiveRecord): void;
  };
}

/** The processor a receiver hands its inbox's `work`. It never throws: every outcome is a settlement. */
export function inboxProcessor(work: InboxWork): Processor<InboxJob<unknown>, InboxSettlement> {
  const { handlers, schedule, logger, stats, hook } = work;

  /** Tells the telemetry, when it follows this run, how it ended. */
  function end(trace: DeliveryTelemetry | undefined, record: ReceiveRecord) {
    if (trace) work.trace?.end(trace, record);
  }

  /**
   * The last run failed for good: `exhausted`, its dead letter written once the engine has rolled the run's
   * transaction back (never inside it: on one PGlite, or a pool full of transactions, it would wait for that
   * transaction's lease to run out).
   */
  function exhaust(
    event: WebhookEvent,
    job: InboxJob<unknown>,
    error: unknown,
    trace: DeliveryTelemetry | undefined,
    handlerMs?: number,
  ): InboxSettlement {
    return {
      next: { status: "exhausted" },
      error: errorFields(error).message,
      afterRollback: () => deadLetterExhausted(event, job, error, trace, handlerMs),
    };
  }

  /** Dead-letters an exhausted event, or keeps it `pending` while the dead-letter store is down. */
  async function deadLetterExhausted(
    event: WebhookEvent,
    job: InboxJob<unknown>,
    error: unknown,
    trace: DeliveryTelemetry | undefined,
    handlerMs?: number,
  ): Promise<InboxSettlement> {
    const info: DeliveryInfo = { id: event.id, type: event.type };
    const message = errorFields(error).message;
    const kept = await deadLetter(work.deadLetters, logger, event, job.event.payload, error, job.attempts + 1);
    hook("onFailed", { ...info, error, deadLettered: kept });
    const outcome = kept ? "dead_lettered" : work.deadLetters ? "retrying" : "failed";
    end(trace, { delivery: info, outcome, handlerMs, error, ...(outcome === "failed" && { code: "handler_failed" }) });
    if (kept) {
      stats.count("dead_lettered");
      logger.warn(
        { ...info, attempts: job.attempts + 1, error: errorFields(error) },
        "Inbox event exhausted; dead-lettered",
      );
      return { next: { status: "exhausted" }, error: message };
    }
    if (!work.deadLetters) {
      stats.count("exhausted");
      logger.error(
        { ...info, attempts: job.attempts + 1, error: errorFields(error) },
        "Inbox event exhausted and there is no dead-letter store: it stays in the inbox as exhausted",
      );
      return { next: { status: "exhausted" }, error: message };
    }
    logger.error({ ...info }, "Inbox event exhausted but its dead letter could not be stored; it stays pending");
    return { next: { status: "pending", delayMs: DEAD_LETTER_RETRY_MS }, error: message };
  }

  return async (job) => {
    const stored = job.event;
    const header = headerReader(stored.headers ?? {});
    const trace = work.trace?.start(header);
    const read = await readStoredEvent(work.reading, stored);
    if (isRefusal(read)) {
      // Valid at ingest, not now (the schemas changed): running it again cannot help.
      const event: WebhookEvent = { id: stored.id, type: stored.type, data: undefined };
      const error = new Error(`The stored event no longer reads: ${read.refused}: ${read.message ?? ""}`);
      return exhaust(event, job, error, trace);
    }
    const info: DeliveryInfo = { id: read.id, type: read.type };
    const list = handlers.for(read.type);
    if (list.length === 0) {
      stats.count("ignored");
      end(trace, { delivery: info, outcome: "ignored" });
      logger.info({ ...info }, "No handler for this event type; ignored");
      return { next: { status: "processed" } };
    }
    const context: HandlerContext<unknown> = {
      receivedAt: new Date(stored.receivedAt),
      payload: stored.payload,
      header,
      replay: false,
      ...(job.tx !== undefined && { tx: job.tx }),
    };
    const started = performance.now();
    try {
      await (trace ? trace.run(() => runHandlers(list, read, context)) : runHandlers(list, read, context));
    } catch (error) {
      const handlerMs = performance.now() - started;
      stats.count("failed");
      const retryInMs = schedule.delayFor(job.attempts + 2);
      if (retryInMs === undefined) return exhaust(read, job, error, trace, handlerMs);
      end(trace, { delivery: info, outcome: "retrying", handlerMs, error });
      hook("onFailed", { ...info, error, deadLettered: false, retryInMs });
      logger.warn(
        { ...info, attempts: job.attempts + 1, retryInMs, error: errorFields(error) },
        "Handler failed; the inbox runs the event again later",
      );
      return { next: { status: "pending", delayMs: retryInMs }, error: errorFields(error).message };
    }
    const ms = performance.now() - started;
    end(trace, { delivery: info, outcome: "processed", handlerMs: ms });
    stats.processed(ms);
    hook("onProcessed", { ...info, ms });
    return { next: { status: "processed" } };
  };
}
