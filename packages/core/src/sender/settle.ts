/**
 * What an attempt's result means for its delivery and endpoint: where a retry gets scheduled, when a delivery is
 * dead-lettered, when an endpoint is disabled. Pure: the dispatcher records the settlement it returns.
 * @module
 */
import type { DeliveryJob, Settlement } from "../engine/types";
import type { RetrySchedule } from "../retry";
import type { AttemptResult } from "./deliver";

/** How far an endpoint's `Retry-After` moves the schedule, and how long an overloaded endpoint is left alone. */
export interface RetryAfterPolicy {
  /**
   * An endpoint's `Retry-After` may stretch the scheduled delay up to this many times (never shorten it).
   * @default 2
   */
  maxFactor?: number;
  /**
   * After a 429 or a timeout, the next attempt waits at least this long, in milliseconds (the endpoint is
   * overloaded), whatever the schedule says.
   * @default 60_000
   */
  minMs?: number;
}

/** What the dispatcher decides with. */
export interface SettlePolicy {
  schedule: RetrySchedule;
  retryAfter: Required<RetryAfterPolicy>;
  /** Exhausted deliveries for this long in a row disable their endpoint (`failing`); `false`: never. */
  disableAfter: number | false;
}

/** The reason an endpoint that answered 410 (or `webhook-delivery: disable`) is disabled with. */
export const GONE = "gone";
/** The reason an endpoint whose deliveries kept exhausting for `disableAfter` is disabled with. */
export const FAILING = "failing";

const isTimeout = (result: AttemptResult) => result.error?.startsWith("timeout") === true;

/**
 * The delay before the attempt after `attempt`, or `undefined` when the schedule has no more: the schedule's,
 * stretched by the endpoint's `Retry-After` within `maxFactor`, and at least `minMs` after a 429 or a timeout.
 */
export function retryDelay(
  policy: SettlePolicy,
  attempt: number,
  result: AttemptResult,
  retryAfter: number | undefined,
): number | undefined {
  const scheduled = policy.schedule.delayFor(attempt + 1);
  if (scheduled === undefined) return undefined;
  let delay = scheduled;
  if (retryAfter !== undefined) {
    delay = Math.max(scheduled, Math.min(retryAfter, scheduled * policy.retryAfter.maxFactor));
  }
  if (result.status === 429 || isTimeout(result)) delay = Math.max(delay, policy.retryAfter.minMs);
  return delay;
}

/**
 * The settlement of one attempt:
 * - 2xx → `delivered` (and the endpoint's failing run ends);
 * - 410 or `webhook-delivery: disable` → the endpoint is disabled (`gone`); the delivery stays `pending` on its
 *   schedule and resumes when the endpoint is enabled;
 * - another 4xx, a 3xx, `abort-message`, a refused URL → `failed`;
 * - 408, 409, 429, 5xx, a timeout or network error → `pending` on the schedule, or `exhausted` when it has no more;
 * - an exhausted delivery starts the endpoint's failing run, or disables it (`failing`) once the run has lasted
 *   `disableAfter`.
 */
export function settle(
  job: DeliveryJob,
  result: AttemptResult,
  startedAt: number,
  policy: SettlePolicy,
  now: number,
): Settlement {
  const { outcome } = result;
  const attempt: Settlement["attempt"] = {
    startedAt,
    durationMs: result.durationMs,
    outcome: outcome.kind,
    ...(result.status !== undefined && { status: result.status }),
    ...(result.body !== undefined && { responseBody: result.body }),
    ...(result.error !== undefined && { error: result.error }),
  };
  const { endpoint } = job;
  switch (outcome.kind) {
    case "success":
      return {
        attempt,
        next: { status: "delivered" },
        ...(endpoint.failingSince !== undefined && { endpoint: { failingSince: null } }),
      };
    case "final":
    case "blocked":
      return { attempt, next: { status: "failed" } };
    case "disable": {
      const delayMs = retryDelay(policy, job.delivery.attempts + 1, result, undefined);
      return {
        attempt,
        next: delayMs === undefined ? { status: "exhausted" } : { status: "pending", delayMs },
        endpoint: { disable: { reason: GONE } },
      };
    }
    case "retry": {
      const delayMs = retryDelay(policy, job.delivery.attempts + 1, result, outcome.retryAfter);
      if (delayMs !== undefined) return { attempt, next: { status: "pending", delayMs } };
      return { attempt, next: { status: "exhausted" }, ...failing(job, policy, now) };
    }
  }
}

/** An exhausted delivery's effect on its endpoint: the failing run starts (at the delivery's creation) or ends it. */
function failing(job: DeliveryJob, policy: SettlePolicy, now: number): Pick<Settlement, "endpoint"> {
  if (policy.disableAfter === false) return {};
  const since = job.endpoint.failingSince ?? job.delivery.createdAt;
  if (now - since >= policy.disableAfter) {
    return {
      endpoint: {
        disable: { reason: FAILING },
        ...(job.endpoint.failingSince === undefined && { failingSince: since }),
      },
    };
  }
  return job.endpoint.failingSince === undefined ? { endpoint: { failingSince: since } } : {};
}
