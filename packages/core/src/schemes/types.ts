import type { HeaderReader } from "../headers";
import type { TimestampCheck } from "../tolerance";

/** What a scheme signs: already validated by `sign`. */
export interface SchemeSignInput {
  /** Secrets in order; the first is the current one. Never empty. */
  secrets: readonly string[];
  /** The exact bytes (or string) that will be sent. */
  payload: string | Uint8Array;
  /** The message id (schemes without an id header ignore it). */
  id: string;
  /** Unix seconds. */
  timestamp: number;
}

/** What a scheme checks: already validated by `verify`. */
export interface SchemeVerifyInput {
  /** Secrets; any may match. Never empty. */
  secrets: readonly string[];
  /** The raw body as received. */
  payload: string | Uint8Array;
  /** Reads a header by lower-case name. */
  header: HeaderReader;
  /** Throws when a timestamp is outside the tolerance window; call it before checking signatures. */
  checkTimestamp: TimestampCheck;
}

/** What a scheme learned from a verified message. */
export interface SchemeVerified {
  /** The message id from the headers; signed only if the scheme's `signsId` says so. */
  id?: string;
  timestamp?: number;
}

/** The verifying part of a {@link WebhookScheme}: what a receiver needs of one. */
export type WebhookVerifier = Pick<WebhookScheme, "name" | "signsId" | "verify">;

/**
 * A webhook wire format: how signatures are put into headers and checked. Implement this to support a
 * provider Hookline does not ship; throw `WebhookVerificationError` from `verify` on any failure.
 */
export interface WebhookScheme {
  /** A short name for logs, such as `standard-webhooks` or `stripe`. */
  readonly name: string;
  /**
   * Whether the id `verify` returns is covered by the signature (Standard Webhooks signs `id.timestamp.body`).
   * A receiver keys idempotency by a signed id only: an unsigned one (GitHub's `x-github-delivery`, an `hmac`
   * `idHeader`) can be changed by whoever resends a captured delivery, so the receiver keys by the signed body
   * instead and keeps the unsigned id for its logs.
   * @default false
   */
  readonly signsId?: boolean;
  /** Returns the headers to send, names in lower case. */
  sign(input: SchemeSignInput): Promise<Record<string, string>>;
  /**
   * Returns (or resolves) when a signature matches; throws (or rejects with) `WebhookVerificationError`
   * otherwise. A scheme may answer synchronously when its crypto does.
   */
  verify(input: SchemeVerifyInput): SchemeVerified | Promise<SchemeVerified>;
}
