/**
 * The receiving pipeline's shared part, as small named steps: admit (method, transport), limit (per-peer rate
 * limits), read the payload (size), authenticate (signature, timestamp; a failure spends the peer's failure
 * budget), read the event (JSON, envelope, schema, idempotency key). Each step returns what the next needs or a
 * {@link Refusal}. `intake` runs them in order; the inline path (`createReceiver`'s handlers) and a queued path
 * call it alike, and differ only in what they do with the event.
 *
 * A step answers at once when it can (a body in hand, the node backend's HMAC, a synchronous schema, no rate
 * limit) and with a promise only when it must wait: the steps are chained with `whenReady`, so the common path
 * of a delivery pays for no promise it does not need.
 *
 * @module
 */
import { HooklineError } from "../errors";
import { type HeaderReader, headerReader } from "../headers";
import type { IpAddress } from "../ip";
import { isPromise, type MaybePromise, whenReady } from "../maybe";
import type { WebhookVerifier } from "../schemes/types";
import type { SecretInput } from "../secrets";
import type { Tolerance } from "../tolerance";
import { checkSignature, type VerifiedWebhook } from "../webhook";
import { isRefusal, type Refusal, refusal } from "./answers";
import { readBody } from "./body";
import { type EventReading, parseEvent } from "./event";
import type { WebhookEvent } from "./events";
import { errorFields } from "./log";
import type { rateLimitStep } from "./rate-limit";
import { peerAddress, type TransportFacts, type transportCheck } from "./transport";
import type { DeliveryInfo, DeliveryInput, ReceiverLogger } from "./types";

/** What the steps need from the receiver's options, resolved once at start-up. */
export interface IntakeConfig extends EventReading {
  scheme: WebhookVerifier;
  secret: SecretInput;
  tolerance: Tolerance | undefined;
  maxBodyBytes: number;
  transport: ReturnType<typeof transportCheck>;
  /** Whether a proxy's `x-forwarded-*` headers are believed. */
  trustProxy: boolean;
  rateLimit: ReturnType<typeof rateLimitStep>;
  logger: ReceiverLogger;
}

/** A delivery that passed every check: a verified, validated event and what it came with. */
export interface Intake {
  event: WebhookEvent;
  /** The id from an unsigned header (`x-github-delivery`), for logs only; never a key. */
  deliveryId: string | undefined;
  /** The raw body as verified, as text. */
  payload: string;
  header: HeaderReader;
  /** The headers the envelope read (lower-case names), for an inbox to keep with the event. */
  envelopeHeaders: Record<string, string>;
}

/** What the admission steps learned about the request: its headers and its peer. */
export interface Admitted {
  header: HeaderReader;
  /** The peer's address (see `peerAddress`), `undefined` when unknown or when no rate limit needs it. */
  peer: IpAddress | undefined;
}

/**
 * Method and transport, before a byte of the body is read. The rate limits come right after this step (`limit`,
 * in `intake`), before `readPayload`: a refused caller must not cost a body read.
 */
export function admit(config: IntakeConfig, input: DeliveryInput): Admitted | Refusal {
  if (input.method.toUpperCase() !== "POST") return refusal("method_not_allowed");
  const header = headerReader(input.headers);
  const facts: TransportFacts = { url: input.url, secure: input.secure, remoteAddress: input.remoteAddress, header };
  const refused = config.transport(facts);
  if (refused) return refusal(refused);
  // Only the rate limits key by the peer: without them, no address is parsed.
  return { header, peer: config.rateLimit.enabled ? peerAddress(facts, config.trustProxy) : undefined };
}

/** The peer's rate limits (deliveries, failed verifications), before a byte of the body is read. */
export function limit(config: IntakeConfig, peer: IpAddress | undefined): MaybePromise<Refusal | undefined> {
  if (!config.rateLimit.enabled) return undefined;
  return config.rateLimit
    .admit(peer)
    .then((limited) => limited && refusal(limited.code, undefined, { retryAfterMs: limited.retryAfterMs }));
}

/** The raw bytes, refused with 413 from `Content-Length` or as soon as the stream passes `maxBodyBytes`. */
export function readPayload(
  config: IntakeConfig,
  input: DeliveryInput,
  header: HeaderReader,
): MaybePromise<Uint8Array | Refusal> {
  if (Number(header("content-length")) > config.maxBodyBytes) return tooLarge(config);
  const sized = (bytes: Uint8Array | "too_large") => (bytes === "too_large" ? tooLarge(config) : bytes);
  try {
    const bytes = readBody(input.body, config.maxBodyBytes);
    return isPromise(bytes) ? bytes.then(sized, (error: unknown) => unreadable(config, error)) : sized(bytes);
  } catch (error) {
    return unreadable(config, error);
  }
}

function tooLarge(config: IntakeConfig): Refusal {
  return refusal("payload_too_large", `The body is over ${config.maxBodyBytes} bytes`);
}

function unreadable(config: IntakeConfig, error: unknown): Refusal {
  if (error instanceof HooklineError) return refusal(error.code, error.message);
  config.logger.info({ error: errorFields(error) }, "The request body could not be read");
  return refusal("invalid_payload", "The request body could not be read");
}

/** The signature and timestamp over the exact bytes. */
export function authenticate(
  config: IntakeConfig,
  bytes: Uint8Array,
  header: HeaderReader,
  peer: IpAddress | undefined,
): MaybePromise<VerifiedWebhook | Refusal> {
  try {
    const options = { scheme: config.scheme, secret: config.secret, payload: bytes, tolerance: config.tolerance };
    const verified = checkSignature(options, header);
    return isPromise(verified) ? verified.catch((error: unknown) => unverified(config, error, peer)) : verified;
  } catch (error) {
    return unverified(config, error, peer);
  }
}

/** Why a verification failed, as the caller may learn it; a 401 spends the peer's failure budget. */
async function unverified(config: IntakeConfig, error: unknown, peer: IpAddress | undefined): Promise<Refusal> {
  if (error instanceof HooklineError) {
    if (error.status === 401) await config.rateLimit.failed(peer);
    // The diagnostics name our secrets (how many, whitespace around one): the server's log gets them, the
    // unauthenticated caller only what failed on its side.
    if (error.code === "no_matching_signature") {
      return refusal(error.code, "No signature matches the payload", { detail: error.message });
    }
    if (error.code !== "invalid_secret") return refusal(error.code, error.message);
    config.logger.error({ code: error.code }, error.message);
    return refusal(error.code, "The receiver is misconfigured");
  }
  config.logger.error({ error: errorFields(error) }, "Verification failed unexpectedly");
  return refusal("no_matching_signature", "The signature could not be verified");
}

/**
 * The event in a verified body, keyed for idempotency by what the signature covers: the scheme's id if it
 * signs it, else the body's id, else the body's SHA-256. An id the signature does not cover is never a key: a
 * captured delivery resent with another one would run again.
 */
export function readEvent(
  config: IntakeConfig,
  verified: VerifiedWebhook,
  bytes: Uint8Array,
  header: HeaderReader,
): MaybePromise<WebhookEvent | Refusal> {
  const signedId = config.scheme.signsId === true && verified.id ? verified.id : undefined;
  return whenReady(parseEvent(config, verified.payload, header, signedId), (parsed) => {
    if (isRefusal(parsed)) return { ...parsed, info: deliveryInfo(config, verified) };
    const { timestamp } = verified;
    const event = (id: string): WebhookEvent =>
      timestamp === undefined
        ? { id, type: parsed.type, data: parsed.data }
        : { id, type: parsed.type, timestamp, data: parsed.data };
    return parsed.id === undefined ? sha256Hex(bytes).then((hex) => event(`sha256:${hex}`)) : event(parsed.id);
  });
}

/** Where an event was kept after its intake (an inbox, a dead letter): its key, its verified body, its timestamp. */
export interface StoredEvent {
  id: string;
  payload: string;
  timestamp?: number | undefined;
  /** The headers the envelope read at ingest, when they were kept (an inbox keeps them, a dead letter does not). */
  headers?: Record<string, string> | undefined;
}

/**
 * An event read back from where it was kept (the inbox's worker, `replay`): the same parse and validation as
 * {@link readEvent}, so that a worker checks the payload against the schemas it runs with, keyed by the stored
 * id. Of the request's headers only those the envelope read at ingest are kept (by an inbox; a dead letter keeps
 * none): an envelope that reads another one gets `undefined`.
 */
export async function readStoredEvent(config: EventReading, stored: StoredEvent): Promise<WebhookEvent | Refusal> {
  const parsed = await parseEvent(config, stored.payload, headerReader(stored.headers ?? {}), stored.id);
  if (isRefusal(parsed)) return parsed;
  return {
    id: stored.id,
    type: parsed.type,
    ...(stored.timestamp === undefined ? {} : { timestamp: stored.timestamp }),
    data: parsed.data,
  };
}

/**
 * Every step in order. `onVerified` is told as soon as the signature checks out (before the body is parsed).
 */
export function intake(
  config: IntakeConfig,
  input: DeliveryInput,
  onVerified: (info: DeliveryInfo) => void,
): MaybePromise<Intake | Refusal> {
  const admitted = admit(config, input);
  if (isRefusal(admitted)) return admitted;
  const { header, peer } = admitted;
  const verify = (bytes: Uint8Array | Refusal) =>
    isRefusal(bytes)
      ? bytes
      : whenReady(authenticate(config, bytes, header, peer), (verified) => read(verified, bytes));
  const read = (verified: VerifiedWebhook | Refusal, bytes: Uint8Array) => {
    if (isRefusal(verified)) return verified;
    const info = deliveryInfo(config, verified);
    onVerified(info);
    const envelopeHeaders: Record<string, string> = {};
    const recording: HeaderReader = (name) => {
      const value = header(name);
      if (value !== undefined) envelopeHeaders[name.toLowerCase()] = value;
      return value;
    };
    return whenReady(readEvent(config, verified, bytes, recording), (event) =>
      isRefusal(event)
        ? event
        : { event, deliveryId: info.deliveryId, payload: verified.payload, header, envelopeHeaders },
    );
  };
  return whenReady(limit(config, peer), (limited) => limited ?? whenReady(readPayload(config, input, header), verify));
}

/** What logs and hooks may know of a verified delivery before its body is read: its id, as signed or not. */
function deliveryInfo(config: IntakeConfig, verified: VerifiedWebhook): DeliveryInfo {
  if (verified.id === undefined) return {};
  return config.scheme.signsId === true ? { id: verified.id } : { deliveryId: verified.id };
}

/** The SHA-256 of the signed bytes themselves (not of their decoded text), in hex. */
async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
