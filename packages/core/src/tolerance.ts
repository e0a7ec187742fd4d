import { HooklineError, verificationError } from "./errors";

/**
 * How far a webhook's timestamp may be from now, in seconds: one number for both directions, or each
 * direction separately (`past` for delivery delay, `future` for the sender's clock running ahead).
 */
export type Tolerance = number | { past: number; future: number };

/** Five minutes, as Standard Webhooks, svix and Stripe use (Stripe checks only the past; Hookline both ways). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** Throws `timestamp_too_old` / `timestamp_too_new` when `timestamp` (unix seconds) is outside the window. */
export type TimestampCheck = (timestamp: number) => void;

/** A tolerance as its two directions, in seconds; throws `invalid_option` when either is not a number ≥ 0. */
export function toleranceBounds(tolerance: Tolerance | undefined): { past: number; future: number } {
  const { past, future } =
    tolerance === undefined
      ? { past: DEFAULT_TOLERANCE_SECONDS, future: DEFAULT_TOLERANCE_SECONDS }
      : typeof tolerance === "number"
        ? { past: tolerance, future: tolerance }
        : tolerance;
  if (!(past >= 0) || !(future >= 0)) {
    throw new HooklineError("invalid_option", `tolerance must be seconds ≥ 0, got ${JSON.stringify(tolerance)}`);
  }
  return { past, future };
}

export function timestampCheck(tolerance: Tolerance | undefined, now: number | Date | undefined): TimestampCheck {
  const { past, future } = toleranceBounds(tolerance);
  const nowMs = now === undefined ? Date.now() : typeof now === "number" ? now : now.getTime();
  if (!Number.isFinite(nowMs)) throw new HooklineError("invalid_option", "now must be a valid time");
  const nowSeconds = Math.floor(nowMs / 1000);
  return (timestamp) => {
    if (nowSeconds - timestamp > past) {
      throw verificationError(
        "timestamp_too_old",
        `Timestamp ${timestamp} is ${nowSeconds - timestamp}s old, beyond the ${past}s tolerance (replayed or long-delayed message)`,
      );
    }
    if (timestamp - nowSeconds > future) {
      throw verificationError(
        "timestamp_too_new",
        `Timestamp ${timestamp} is ${timestamp - nowSeconds}s in the future, beyond the ${future}s tolerance (check the sender's clock)`,
      );
    }
  };
}

/** Parses a header's unix-seconds timestamp strictly: 1 to 12 digits, surrounding spaces allowed. */
export function parseTimestamp(value: string, header: string): number {
  let start = 0;
  let end = value.length;
  while (start < end && value.charCodeAt(start) === 32) start++;
  while (end > start && value.charCodeAt(end - 1) === 32) end--;
  let seconds = 0;
  for (let index = start; index < end; index++) {
    const digit = value.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return invalidTimestamp(value, header);
    seconds = seconds * 10 + digit;
  }
  return end > start && end - start <= 12 ? seconds : invalidTimestamp(value, header);
}

function invalidTimestamp(value: string, header: string): never {
  throw verificationError(
    "invalid_timestamp",
    `Header ${header} must be unix seconds, got ${JSON.stringify(value.slice(0, 40))}`,
  );
}
