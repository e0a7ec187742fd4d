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

/** Every code a Hookline error can carry. */
export type HooklineErrorCode = WebhookVerificationErrorCode | "invalid_option";

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
};

/** The one error type Hookline throws; `code` says what went wrong, `status` how a receiver answers it. */
export class HooklineError<Code extends HooklineErrorCode = HooklineErrorCode> extends Error {
  override readonly name: string = "HooklineError";
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** The HTTP status for this error's code. */
  get status(): number {
    return errorStatus[this.code];
  }

  /** A JSON-safe shape for responses and logs; never includes secrets or payloads. */
  toJSON(): { code: Code; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Thrown by `verify` (and the receiver) when a webhook cannot be trusted. */
export class WebhookVerificationError extends HooklineError<WebhookVerificationErrorCode> {
  override readonly name = "WebhookVerificationError";
}

/** Shorthand used across the schemes. */
export function verificationError(code: WebhookVerificationErrorCode, message: string): WebhookVerificationError {
  return new WebhookVerificationError(code, message);
}
