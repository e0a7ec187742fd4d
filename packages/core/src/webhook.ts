import { base64Encode, utf8Decode } from "./encoding";
import { HooklineError, verificationError } from "./errors";
import { type HeaderReader, type HeadersInput, headerReader } from "./headers";
import { isPromise, type MaybePromise, whenReady } from "./maybe";
import { randomId } from "./random";
import { type SchemeVerified, standardWebhooks, type WebhookScheme } from "./schemes";
import { standardWebhooksVerifier } from "./schemes/standard-webhooks";
import type { WebhookVerifier } from "./schemes/types";
import { type SecretInput, secretList } from "./secrets";
import { type Tolerance, timestampCheck } from "./tolerance";

/** The raw body: exactly the bytes sent or received. */
export type Payload = string | Uint8Array | ArrayBuffer;

/** Options of {@link sign}. */
export interface SignOptions {
  /**
   * The wire format.
   * @default standardWebhooks()
   */
  scheme?: WebhookScheme;
  /** The secret, or several during rotation: one signature per secret where the scheme carries several. */
  secret: SecretInput;
  /** The exact body that will be sent. */
  payload: Payload;
  /**
   * The message id, stable across retries of one message.
   * @default a new `msg_…` id
   */
  id?: string;
  /**
   * When the message is sent: unix seconds or a Date.
   * @default now
   */
  timestamp?: number | Date;
}

/** Options of {@link verify}. */
export interface VerifyOptions {
  /**
   * The wire format.
   * @default standardWebhooks()
   */
  scheme?: WebhookScheme;
  /** The secret, or several during rotation: any may match. */
  secret: SecretInput;
  /** The raw body exactly as received: a string or bytes, never a parsed object. */
  payload: Payload;
  /** The request's headers: a Fetch `Headers` or a plain record, names in any case. */
  headers: HeadersInput;
  /**
   * Accepted distance between the message's timestamp and `now`, in seconds, or `{ past, future }`.
   * @default 300
   */
  tolerance?: Tolerance;
  /**
   * The time of verification: milliseconds since the epoch or a Date. Pass the receipt time to verify a
   * message that waited in a queue.
   * @default Date.now()
   */
  now?: number | Date;
}

/** A verified message. */
export interface VerifiedWebhook {
  /**
   * The message id, when the scheme carries one. Only a scheme whose `signsId` is true (Standard Webhooks) signs
   * it; GitHub's and `hmac`'s id header can be changed by whoever resends a delivery, so do not key idempotency by
   * it (key by the body).
   */
  id?: string;
  /** The signed timestamp in unix seconds, when the scheme carries one. */
  timestamp?: number;
  /** The body as UTF-8 text, ready for `JSON.parse`. */
  payload: string;
}

function rawPayload(payload: unknown): string | Uint8Array {
  if (typeof payload === "string" || payload instanceof Uint8Array) return payload;
  // Views and buffers from another realm (a vm context, an Edge sandbox) fail `instanceof` but are bytes all the same.
  if (ArrayBuffer.isView(payload)) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  if (Object.prototype.toString.call(payload) === "[object ArrayBuffer]") return new Uint8Array(payload as ArrayBuffer);
  if (payload !== null && typeof payload === "object") {
    throw verificationError(
      "invalid_payload",
      "Payload was provided as a parsed JavaScript object instead of the raw body. Signatures cover the exact bytes " +
        "received: pass the raw body as a string or Uint8Array (in Express use express.raw() or a Hookline adapter).",
    );
  }
  throw verificationError(
    "invalid_payload",
    `Payload must be a string or Uint8Array, got ${payload === null ? "null" : typeof payload}`,
  );
}

/** A new `msg_` id: 24 random base62 characters. */
export function generateMessageId(): string {
  return randomId("msg_");
}

function unixSeconds(timestamp: number | Date | undefined): number {
  const seconds =
    timestamp === undefined ? Date.now() / 1000 : timestamp instanceof Date ? timestamp.getTime() / 1000 : timestamp;
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new HooklineError("invalid_option", `timestamp must be unix seconds or a Date, got ${String(timestamp)}`);
  }
  return Math.floor(seconds);
}

/**
 * Signs a payload and returns the headers to send with it (lower-case names).
 *
 * @throws {HooklineError} `invalid_secret`, `invalid_payload` or `invalid_option`.
 * @example
 * const headers = await sign({ secret: "whsec_…", payload: JSON.stringify(event) });
 * await fetch(url, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body });
 */
export async function sign(options: SignOptions): Promise<Record<string, string>> {
  const scheme = options.scheme ?? standardWebhooks();
  const id = options.id ?? generateMessageId();
  // It travels in a header and in the signed content's "id.timestamp." prefix.
  if (typeof id !== "string" || !/^[\x21-\x2b\x2d-\x7e]+$/.test(id)) {
    throw new HooklineError(
      "invalid_option",
      `id must be printable ASCII without spaces or commas, got ${JSON.stringify(id)}`,
    );
  }
  return scheme.sign({
    secrets: secretList(options.secret),
    payload: rawPayload(options.payload),
    id,
    timestamp: unixSeconds(options.timestamp),
  });
}

/**
 * Verifies a webhook over its raw body and returns what it carries. Constant-time comparison; unknown signature
 * versions are ignored; with several secrets any may match.
 *
 * @throws {WebhookVerificationError} with a `code` saying why the message cannot be trusted.
 * @example
 * const { id, payload } = await verify({ secret: process.env.WEBHOOK_SECRET!, payload: rawBody, headers });
 * const event = JSON.parse(payload);
 */
export function verify(options: VerifyOptions): Promise<VerifiedWebhook> {
  // Not `async`: on the node backend the whole check is synchronous, and this is its only promise.
  try {
    const verified = checkSignature(options, headerReader(options.headers));
    return isPromise(verified) ? verified : Promise.resolve(verified);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * `verify`'s check with the headers already read: synchronous on the node backend (it throws there), a promise on
 * WebCrypto. The receiver calls it directly so that its node path pays for no promise.
 */
export function checkSignature(
  options: Omit<VerifyOptions, "headers" | "scheme"> & { scheme?: WebhookVerifier | undefined },
  header: HeaderReader,
): MaybePromise<VerifiedWebhook> {
  const scheme = options.scheme ?? standardWebhooksVerifier;
  const payload = rawPayload(options.payload);
  const verified = scheme.verify({
    secrets: secretList(options.secret),
    payload,
    header,
    checkTimestamp: timestampCheck(options.tolerance, options.now),
  });
  return whenReady(verified, (result) => verifiedWebhook(payload, result));
}

function verifiedWebhook(payload: string | Uint8Array, { id, timestamp }: SchemeVerified): VerifiedWebhook {
  const result: VerifiedWebhook = { payload: typeof payload === "string" ? payload : utf8Decode(payload) };
  if (id !== undefined) result.id = id;
  if (timestamp !== undefined) result.timestamp = timestamp;
  return result;
}

/** Options of {@link generateSecret}. */
export interface GenerateSecretOptions {
  /**
   * Random bytes in the secret, 24 to 64.
   * @default 32
   */
  bytes?: number;
}

/** A new Standard Webhooks symmetric secret: `whsec_` + base64 of random bytes. */
export function generateSecret(options: GenerateSecretOptions = {}): string {
  const size = options.bytes ?? 32;
  if (!Number.isInteger(size) || size < 24 || size > 64) {
    throw new HooklineError("invalid_option", `bytes must be a whole number from 24 to 64, got ${size}`);
  }
  return `whsec_${base64Encode(crypto.getRandomValues(new Uint8Array(size)))}`;
}
