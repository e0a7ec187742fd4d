/**
 * Retry-schedule math for senders: when to redeliver a webhook, and whether to at all.
 *
 * Attempts are numbered from 1 (the first delivery). A schedule gives the delay before each attempt; the first
 * delay is 0 in every preset and in {@link exponentialBackoff}.
 *
 * @example
 * ```ts
 * const schedule = fixedSchedule(retrySchedules.standardWebhooks);
 * const outcome = classifyDelivery({ status: response.status, headers: response.headers });
 * const delay = nextDelay(schedule, attempt, outcome); // undefined: stop retrying
 * ```
 * @module
 */
import { HooklineError } from "./errors";
import { type HeadersInput, headerReader } from "./headers";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Published retry schedules: the delay in milliseconds before each attempt, the first attempt at 0. Each delay
 * runs from the failure of the previous attempt.
 *
 * - `standardWebhooks`: the Standard Webhooks spec (10 attempts over about 3 days).
 * - `svix`: Svix's schedule (8 attempts over about 28 hours).
 * - `guide`: a shorter schedule for endpoints expected back within the hour (6 attempts over about 73 minutes).
 */
export const retrySchedules = {
  standardWebhooks: [
    0,
    5 * SECOND,
    5 * MINUTE,
    30 * MINUTE,
    2 * HOUR,
    5 * HOUR,
    10 * HOUR,
    14 * HOUR,
    20 * HOUR,
    24 * HOUR,
  ],
  svix: [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR],
  guide: [0, 5 * SECOND, 25 * SECOND, 2 * MINUTE, 10 * MINUTE, HOUR],
} as const satisfies Readonly<Record<string, readonly number[]>>;

/** When each attempt of one message happens, and how many there are. */
export interface RetrySchedule {
  /** How many attempts in all, the first delivery included. */
  readonly maxAttempts: number;
  /**
   * The delay in milliseconds before `attempt` (1 for the first delivery), or `undefined` once
   * `attempt > maxAttempts`: give up.
   * @throws {HooklineError} `invalid_option` when `attempt` is not a whole number ≥ 1.
   */
  delayFor(attempt: number): number | undefined;
}

function checkAttempt(attempt: number): void {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new HooklineError("invalid_option", `attempt must be a whole number ≥ 1, got ${attempt}`);
  }
}

/** Options of {@link fixedSchedule}. */
export interface FixedScheduleOptions {
  /**
   * Spreads each delay by up to this share either way (0.2: ±20%), so that deliveries that failed together are
   * not retried in the same instant. From 0 to 1.
   * @default 0
   */
  jitter?: number;
  /**
   * The source of jitter: a number in `[0, 1)`. Inject a fixed one in tests.
   * @default Math.random
   */
  random?: () => number;
}

/**
 * A schedule of fixed delays, such as one of {@link retrySchedules}: `delays[0]` before attempt 1, and so on,
 * each spread by `jitter` and rounded to whole milliseconds.
 * @throws {HooklineError} `invalid_option` when `delays` is empty or holds a delay that is not a finite number ≥ 0,
 * or `jitter` is not between 0 and 1.
 */
export function fixedSchedule(delays: readonly number[], options: FixedScheduleOptions = {}): RetrySchedule {
  const { jitter = 0, random = Math.random } = options;
  if (delays.length === 0) throw new HooklineError("invalid_option", "delays must hold at least one delay");
  for (const delay of delays) {
    if (!Number.isFinite(delay) || delay < 0) {
      throw new HooklineError("invalid_option", `delays must be milliseconds ≥ 0, got ${delay}`);
    }
  }
  if (!(jitter >= 0 && jitter <= 1)) invalidOption("jitter must be between 0 and 1", jitter);
  // A copy, so that a caller editing their array later cannot change a schedule in use.
  const copy = [...delays];
  return {
    maxAttempts: copy.length,
    delayFor(attempt) {
      checkAttempt(attempt);
      const delay = copy[attempt - 1];
      return delay === undefined || jitter === 0 ? delay : Math.round(delay * (1 + jitter * (2 * random() - 1)));
    },
  };
}

/**
 * How {@link exponentialBackoff} spreads each computed delay `d` (already capped), with `r` from `random`:
 *
 * - `none`: exactly `d`.
 * - `full`: `r × d`, anywhere in `[0, d)`; spreads a burst of failures the most.
 * - `equal`: `d/2 + r × d/2`, in `[d/2, d)`; never retries sooner than half the delay.
 * - `proportional`: `d ± ratio × d`, then capped.
 */
export type Jitter = "none" | "full" | "equal" | "proportional";

const jitters: readonly Jitter[] = ["none", "full", "equal", "proportional"];

/** Options of {@link exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /**
   * The delay before attempt 2, in milliseconds; attempt `n` waits `base × factor^(n-2)`.
   * @default 5000
   */
  base?: number;
  /**
   * How much each delay grows over the previous one; at least 1.
   * @default 2
   */
  factor?: number;
  /**
   * The longest delay in milliseconds, jitter included; at least `base`.
   * @default 3600000 (one hour)
   */
  cap?: number;
  /**
   * How many attempts in all, the first delivery included.
   * @default 10
   */
  maxAttempts?: number;
  /**
   * How delays are spread so that many failed deliveries are not retried in the same instant.
   * @default "equal"
   */
  jitter?: Jitter;
  /**
   * With `jitter: "proportional"`, the largest share of the delay added or removed, from 0 to 1.
   * @default 0.1
   */
  ratio?: number;
  /**
   * The source of jitter: a number in `[0, 1)`. Inject a fixed one in tests.
   * @default Math.random
   */
  random?: () => number;
}

/**
 * Exponential backoff: attempt 1 at once, attempt `n ≥ 2` after `min(cap, base × factor^(n-2))`, spread by `jitter`
 * and rounded to whole milliseconds.
 * @throws {HooklineError} `invalid_option` when an option is out of range.
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): RetrySchedule {
  const {
    base = 5 * SECOND,
    factor = 2,
    cap = HOUR,
    maxAttempts = 10,
    jitter = "equal",
    ratio = 0.1,
    random = Math.random,
  } = options;
  if (!Number.isFinite(base) || base <= 0) invalidOption("base must be milliseconds > 0", base);
  if (!Number.isFinite(factor) || factor < 1) invalidOption("factor must be a finite number ≥ 1", factor);
  if (!Number.isFinite(cap) || cap < base) invalidOption("cap must be finite milliseconds ≥ base", cap);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    invalidOption("maxAttempts must be a whole number ≥ 1", maxAttempts);
  if (!jitters.includes(jitter)) invalidOption(`jitter must be one of ${jitters.join(", ")}`, jitter);
  if (!(ratio >= 0 && ratio <= 1)) invalidOption("ratio must be between 0 and 1", ratio);

  const spread = (delay: number): number => {
    switch (jitter) {
      case "none":
        return delay;
      case "full":
        return random() * delay;
      case "equal":
        return delay / 2 + (random() * delay) / 2;
      case "proportional":
        return delay * (1 + ratio * (2 * random() - 1));
    }
  };
  return {
    maxAttempts,
    delayFor(attempt) {
      checkAttempt(attempt);
      if (attempt > maxAttempts) return undefined;
      if (attempt === 1) return 0;
      // factor^n may overflow to Infinity; min() brings it back to the cap.
      return Math.min(cap, Math.round(spread(Math.min(cap, base * factor ** (attempt - 2)))));
    },
  };
}

function invalidOption(message: string, value: unknown): never {
  throw new HooklineError("invalid_option", `${message}, got ${JSON.stringify(value)}`);
}

/**
 * What a delivery attempt returned: the endpoint's response, or the `error` of a request that got none
 * (network error, timeout, abort).
 */
export type DeliveryResult = { status: number; headers?: HeadersInput } | { error: unknown };

/**
 * What to do after a delivery attempt.
 *
 * - `success`: delivered (2xx).
 * - `retry`: try again later (408, 409, 429, 5xx, or no response). A 409 is what an idempotent receiver (Hookline's
 *   `in_flight`, Stripe's API) answers while the same message is being processed elsewhere: it asks for a retry. `retryAfter` is the endpoint's `Retry-After` in
 *   milliseconds, clamped, when it sent a valid one.
 * - `final`: failed for good; retrying would get the same answer (any other status: 1xx, 3xx, other 4xx).
 *   Redirects are not followed, as Standard Webhooks recommends, so a 3xx is the endpoint's misconfiguration.
 * - `disable`: the endpoint answered 410 Gone: stop delivering to it at all.
 */
export type DeliveryOutcome =
  | { kind: "success" }
  | { kind: "retry"; retryAfter?: number }
  | { kind: "final" }
  | { kind: "disable" };

/** Options of {@link classifyDelivery}. */
export interface ClassifyDeliveryOptions {
  /**
   * The time the response arrived, which an HTTP-date `Retry-After` counts from: milliseconds since the epoch
   * or a Date.
   * @default Date.now()
   */
  now?: number | Date;
  /**
   * The range, in milliseconds, that an endpoint's `Retry-After` is clamped to, so that one cannot ask for a
   * retry storm or a wait of months.
   * @default { min: 0, max: 86400000 } (up to 24 hours, the longest wait in the Standard Webhooks schedule)
   */
  retryAfter?: { min?: number; max?: number };
}

// IMF-fixdate, the one HTTP-date form senders emit today; the obsolete RFC 850 and asctime forms count as malformed.
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const DELTA_SECONDS = /^\d+$/;
const RETRY_STATUSES = new Set([408, 409, 429]);

/**
 * Classifies a delivery attempt's result into a {@link DeliveryOutcome}, reading `Retry-After` (delta seconds or
 * an HTTP date) on retry outcomes. A malformed `Retry-After` is ignored; a date in the past counts as 0.
 * @throws {HooklineError} `invalid_option` when `now` or the `retryAfter` range is invalid.
 */
export function classifyDelivery(result: DeliveryResult, options: ClassifyDeliveryOptions = {}): DeliveryOutcome {
  const { min = 0, max = 24 * HOUR } = options.retryAfter ?? {};
  if (!(min >= 0 && min <= max)) invalidOption("retryAfter must be { min, max } with 0 ≤ min ≤ max", { min, max });
  const now =
    options.now === undefined ? Date.now() : typeof options.now === "number" ? options.now : options.now.getTime();
  if (!Number.isFinite(now)) throw new HooklineError("invalid_option", "now must be a valid time");

  if (!("status" in result)) return { kind: "retry" };
  const { status } = result;
  if (status >= 200 && status < 300) return { kind: "success" };
  if (status === 410) return { kind: "disable" };
  if (!RETRY_STATUSES.has(status) && !(status >= 500 && status < 600)) return { kind: "final" };

  const header = result.headers && headerReader(result.headers)("retry-after")?.trim();
  let retryAfter: number | undefined;
  if (header && DELTA_SECONDS.test(header)) retryAfter = Number(header) * SECOND;
  else if (header && HTTP_DATE.test(header)) retryAfter = Date.parse(header) - now; // NaN for an impossible date
  if (retryAfter === undefined || Number.isNaN(retryAfter)) return { kind: "retry" };
  return { kind: "retry", retryAfter: Math.min(max, Math.max(min, retryAfter)) };
}

/**
 * The delay in milliseconds before the attempt after `attempt`, or `undefined` to give up: the outcome is not
 * `retry`, or the schedule has no more attempts. An endpoint's `retryAfter` replaces the schedule's delay when it
 * is longer, never when shorter (the schedule's delay is the least the sender waits), and never adds attempts.
 * @param attempt The attempt that just ended, 1 for the first delivery.
 * @throws {HooklineError} `invalid_option` when `attempt` is not a whole number ≥ 1.
 */
export function nextDelay(schedule: RetrySchedule, attempt: number, outcome: DeliveryOutcome): number | undefined {
  checkAttempt(attempt);
  if (outcome.kind !== "retry") return undefined;
  const delay = schedule.delayFor(attempt + 1);
  return delay === undefined ? undefined : Math.max(delay, outcome.retryAfter ?? 0);
}
