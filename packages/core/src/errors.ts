import type { ValidationIssue } from "./receiver/events";

/**
 * Why a webhook failed verification. Each code maps to one HTTP status in {@link errorStatus}.
 *
 * - `missing_header`: a header the scheme needs is absent.
 * - `malformed_header`: a header is present but cannot be parsed.
 * - `invalid_timestamp`: the timestamp is not a whole number of seconds.
 * - `timestamp_too_old` / `timestamp_too_new`: the timestamp is outside the tolerance window.
 * - `no_matching_signature`: no signature matches any of the secrets.
 * - `invalid_secret`: a configured secret is empty, malformed or of the wrong kind.
 * - `invalid_payload`: the payload is not the raw body (a string or bytes).
 */
export type WebhookVerificationErrorCode =
  | "missing_header"
  | "malformed_header"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "no_matching_signature"
  | "invalid_secret"
  | "invalid_payload";

/**
 * Why a receiver refused or failed a delivery (beyond verification), each with its status in {@link errorStatus}.
 *
 * - `method_not_allowed`: not a POST.
 * - `malformed_request`: the `Host` header or the request target is malformed (RFC 9112 §3.2).
 * - `https_required` / `ip_not_allowed`: the opt-in transport checks failed.
 * - `rate_limited` / `too_many_failures`: the peer is over its `rateLimit` for deliveries / failed verifications.
 * - `payload_too_large`: the body is over `maxBodyBytes`.
 * - `invalid_json` / `invalid_envelope` / `invalid_event`: the verified body is not JSON, has no event type,
 *   or fails the event's schema.
 * - `in_flight`: the same message is being processed right now; retry later.
 * - `store_unavailable`: the idempotency store cannot be reached; retry later.
 * - `inbox_unavailable`: the inbox could not store the event; nothing was acknowledged; retry later.
 * - `handler_failed`: a handler threw and there is no dead-letter store; retry later.
 * - `raw_body_unavailable`: a framework consumed the body before Hookline could read its bytes.
 */
export type ReceiverErrorCode =
  | "method_not_allowed"
  | "malformed_request"
  | "https_required"
  | "ip_not_allowed"
  | "rate_limited"
  | "too_many_failures"
  | "payload_too_large"
  | "invalid_json"
  | "invalid_envelope"
  | "invalid_event"
  | "in_flight"
  | "store_unavailable"
  | "inbox_unavailable"
  | "handler_failed"
  | "raw_body_unavailable";

/**
 * Why a sender refused a call, each with the status an app would answer its own caller with.
 *
 * - `invalid_url`: an endpoint URL that is not http(s), or plain http to a host that `allow` does not cover.
 * - `not_found`: no endpoint or delivery with that id.
 */
export type SenderErrorCode = "invalid_url" | "not_found";

/** Every code a Hookline error can carry. */
export type HooklineErrorCode = WebhookVerificationErrorCode | ReceiverErrorCode | SenderErrorCode | "invalid_option";

/**
 * The HTTP status a receiver answers with for each code. A bad secret or option is the receiver's own
 * misconfiguration (500), never the sender's fault.
 */
export const errorStatus: Readonly<Record<HooklineErrorCode, number>> = {
  missing_header: 401,
  malformed_header: 401,
  invalid_timestamp: 401,
  timestamp_too_old: 401,
  timestamp_too_new: 401,
  no_matching_signature: 401,
  invalid_payload: 400,
  invalid_secret: 500,
  invalid_option: 500,
  method_not_allowed: 405,
  malformed_request: 400,
  https_required: 403,
  ip_not_allowed: 403,
  rate_limited: 429,
  too_many_failures: 429,
  payload_too_large: 413,
  invalid_json: 400,
  invalid_envelope: 400,
  invalid_event: 400,
  in_flight: 409,
  store_unavailable: 503,
  inbox_unavailable: 503,
  handler_failed: 500,
  raw_body_unavailable: 500,
  invalid_url: 400,
  not_found: 404,
};

// Marks errors made by any copy of Hookline: an app can load two (the node and WebCrypto builds, ESM and CJS),
// and `instanceof` must still hold across them.
const BRAND = Symbol.for("hookline.error");

function isBranded(value: unknown, name: string): boolean {
  if (typeof value !== "object" || value === null || (value as { [BRAND]?: unknown })[BRAND] !== true) return false;
  return name === "HooklineError" || (value as Error).name === name;
}

function isBrandedBase(type: unknown, value: unknown): boolean {
  return type === HooklineError && isBranded(value, "HooklineError");
}

/** The one error type Hookline throws; `code` says what went wrong, `status` how a receiver answers it. */
export class HooklineError<Code extends HooklineErrorCode = HooklineErrorCode> extends Error {
  override readonly name: string = "HooklineError";
  readonly code: Code;
  /** With `invalid_event`: where and how the data failed its schema. */
  readonly issues?: ValidationIssue[];
  readonly [BRAND] = true;

  constructor(code: Code, message: string, options?: { cause?: unknown; issues?: ValidationIssue[] }) {
    super(message, options);
    this.code = code;
    if (options?.issues) this.issues = options.issues;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof` asks about `this`, which may be a subclass
    return Function.prototype[Symbol.hasInstance].call(this, value) || isBrandedBase(this, value);
  }

  /** The HTTP status for this error's code. */
  get status(): number {
    return errorStatus[this.code];
  }

  /** A JSON-safe shape for responses and logs; never includes secrets or payloads. */
  toJSON(): { code: Code; message: string; issues?: ValidationIssue[] } {
    return this.issues
      ? { code: this.code, message: this.message, issues: this.issues }
      : { code: this.code, message: this.message };
  }
}

/** Thrown by `verify` (and the receiver) when a webhook cannot be trusted. */
export class WebhookVerificationError extends HooklineError<WebhookVerificationErrorCode> {
  override readonly name = "WebhookVerificationError";

  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      Function.prototype[Symbol.hasInstance].call(WebhookVerificationError, value) ||
      isBranded(value, "WebhookVerificationError")
    );
  }
}

/** Shorthand used across the schemes. */
export function verificationError(code: WebhookVerificationErrorCode, message: string): WebhookVerificationError {
  return new WebhookVerificationError(code, message);
}
