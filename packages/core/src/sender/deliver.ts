/**
 * One delivery attempt: sign the payload with every secret, POST the exact bytes, read the answer up to a limit,
 * and say what it means. The sender's dispatcher calls it for every attempt; it is public for anyone who
 * schedules attempts themselves.
 *
 * @example
 * ```ts
 * const result = await deliver({ url, payload, id: "msg_1", secret: "whsec_…" });
 * if (result.outcome.kind === "retry") scheduleAgain(result.outcome.retryAfter);
 * ```
 * @module
 */
import { version } from "../../package.json";
import { base64Encode, utf8Encode } from "../encoding";
import { HooklineError } from "../errors";
import { AddressRefused, createTransport, guardKind, parseRange } from "../net";
import type { DeliveryLookup, Transport } from "../net/transport";
import { classifyDelivery, type DeliveryOutcome } from "../retry";
import type { WebhookScheme } from "../schemes";
import type { SecretInput } from "../secrets";
import { sign } from "../webhook";

export type { DeliveryLookup } from "../net/transport";

/** Options of one delivery attempt. */
export interface DeliverOptions {
  /** The endpoint URL: `http:` or `https:`. Credentials in it (`https://user:pass@…`) become Basic authorization. */
  url: string;
  /** The exact bytes to POST (the same on every attempt). */
  payload: string | Uint8Array;
  /** The message id: `webhook-id`, stable across retries. */
  id: string;
  /** The signing secrets: every unexpired secret of the endpoint signs (Standard Webhooks and Stripe carry several). */
  secret: SecretInput;
  /**
   * The wire format.
   * @default standardWebhooks()
   */
  scheme?: WebhookScheme;
  /**
   * The endpoint's custom headers. They never replace a header Hookline sets: the signature headers,
   * `content-type`, `user-agent`, nor the framing ones (`content-length`, `host`, `connection`, …).
   * @default {}
   */
  headers?: Record<string, string>;
  /**
   * The signed timestamp, fresh per attempt: unix seconds or a Date.
   * @default now
   */
  timestamp?: number | Date;
  /**
   * How long the attempt may take, answer body included, in milliseconds; then it ends as a `retry` with
   * `error` "timeout".
   * @default 15000
   */
  timeoutMs?: number;
  /**
   * The response body is read up to this many bytes and cut there (the rest is not downloaded).
   * @default 20000
   */
  maxResponseBytes?: number;
  /** Aborts the attempt (the sender's stop): it ends as a `retry` with `error` "aborted". */
  signal?: AbortSignal;
}

/** One attempt's result. Never a thrown error for a network failure: that is an outcome. */
export interface AttemptResult {
  /**
   * `classifyDelivery`'s result for the answer (2xx success; 410 disable; 408, 409, 429, 5xx retry with `retryAfter`;
   * any other status, 3xx included, final), then, for an answer that is not a 2xx, the `webhook-delivery` header:
   * `disable` → disable, `abort-message` → final. No answer (timeout, network error, abort) → retry. A URL the
   * SSRF guard refused → `blocked` (final; no connection was made). A URL that is not http(s), or a custom header
   * that cannot be sent (a name that is not a token, a value with a control character or above U+00FF) → final, nothing sent.
   */
  outcome: DeliveryOutcome | { kind: "blocked" };
  /** The HTTP status, when an answer came. */
  status?: number;
  /** The answer's headers, lower-case names, when an answer came. */
  headers?: Record<string, string>;
  /** The answer's body as text, cut at `maxResponseBytes`, when an answer came. */
  body?: string;
  /** From the start of the attempt (signing included) to its end. */
  durationMs: number;
  /** Why no answer came: a timeout, a network error, an abort, or why the guard refused the URL. */
  error?: string;
  /** What kind of failure `error` is, for metrics. */
  errorKind?: AttemptErrorKind;
}

/**
 * Why an attempt got no answer: `timeout` (after `timeoutMs`), `network` (the connection failed or broke),
 * `blocked` (the SSRF guard refused the address; no connection was made), `aborted` (by the caller's signal),
 * `invalid` (a URL that is not http(s), or a bad option).
 */
export type AttemptErrorKind = "timeout" | "network" | "blocked" | "aborted" | "invalid";

/** Options of {@link createDeliveryAgent}. */
export interface DeliveryAgentOptions {
  /**
   * CIDRs (or single addresses) the SSRF guard lets through besides public unicast, e.g. `["10.0.0.0/8",
   * "127.0.0.1/32"]`. Both `0.0.0.0/0` and `::/0` together turn the guard off.
   * @default [] (public unicast only)
   */
  allow?: readonly string[];
  /**
   * A fetch to use instead of the agent's own connection. Then the SSRF guard is the caller's: only IP literals
   * and `localhost` are checked. Redirects are still not followed.
   * @default undefined (on Node, node:http with the guarded lookup; elsewhere the global fetch)
   */
  fetch?: typeof fetch;
  /**
   * How hostnames are resolved before the guard checks them (Node only): like `dns.lookup(host, { all: true })`.
   * A test seam: resolve a name to 127.0.0.1 to see it refused.
   * @default node:dns lookup
   */
  lookup?: DeliveryLookup;
}

/** The connection side of sending, with its pool; one per sender, closed by `sender.stop()`. */
export interface DeliveryAgent {
  /** Makes one attempt. @throws {HooklineError} only for bad options (`invalid_option`, `invalid_secret`). */
  deliver(options: DeliverOptions): Promise<AttemptResult>;
  /** Closes every pooled socket. */
  close(): Promise<void>;
}

const USER_AGENT = `Hookline/${version}`;

// Headers the caller's may not replace: Hookline's own, and those that frame the request.
const RESERVED = new Set([
  "content-type",
  "user-agent",
  "content-length",
  "transfer-encoding",
  "host",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
]);

// An HTTP token (RFC 9110), and a value that stays on its line in bytes that both node:http and fetch accept.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Whether a header can go out as is: a token for a name, and a string value that stays on its line. */
export function isSendableHeader(name: string, value: unknown): value is string {
  return HEADER_NAME.test(name) && typeof value === "string" && HEADER_VALUE.test(value);
}

function checkMilliseconds(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new HooklineError("invalid_option", `${name} must be a number ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

/**
 * Creates the connection side of sending: a pool of keep-alive connections and the SSRF guard. On Node (the
 * `node` build) every hostname is resolved by the guard, which refuses the URL when any address is not public
 * unicast and connects only to the addresses it checked; elsewhere, and with a custom `fetch`, IP literals and
 * `localhost` are refused and the platform resolves names (see the README).
 * @throws {HooklineError} `invalid_option` when an `allow` entry is not a CIDR.
 */
export function createDeliveryAgent(options: DeliveryAgentOptions = {}): DeliveryAgent {
  const allow = (options.allow ?? []).map((entry) => parseRange(entry, "allow"));
  const transport: Transport = createTransport({ ...options, allow });
  return {
    deliver: (attempt) => attemptDelivery(transport, attempt),
    close: () => transport.close(),
  };
}

const defaultAgents = new Map<string, DeliveryAgent>();

/**
 * One attempt through a shared agent (one per `allow` list, kept for the life of the process; its idle
 * connections do not keep the process alive). With the default `allow`, only public unicast addresses are
 * reached (on Node every resolved address is checked).
 * @throws {HooklineError} only for bad options (`invalid_option`, `invalid_secret`).
 */
export function deliver(options: DeliverOptions & { allow?: readonly string[] }): Promise<AttemptResult> {
  const { allow = [], ...attempt } = options;
  const key = allow.join(" ");
  let agent = defaultAgents.get(key);
  if (!agent) {
    agent = createDeliveryAgent({ allow });
    defaultAgents.set(key, agent);
  }
  return agent.deliver(attempt);
}

/**
 * How the SSRF guard of an agent without a custom `fetch` checks hosts here: `"lookup"` (Node: every resolved
 * address) or `"literal"` (IP literals and `localhost` only: the runtime-neutral build, Bun and Deno).
 */
export const deliveryGuard = guardKind;

async function attemptDelivery(transport: Transport, options: DeliverOptions): Promise<AttemptResult> {
  const started = performance.now();
  const timeoutMs = checkMilliseconds("timeoutMs", options.timeoutMs ?? 15_000, 1);
  const maxResponseBytes = checkMilliseconds("maxResponseBytes", options.maxResponseBytes ?? 20_000, 0);
  const signed = await sign({
    secret: options.secret,
    payload: options.payload,
    id: options.id,
    ...(options.scheme && { scheme: options.scheme }),
    ...(options.timestamp !== undefined && { timestamp: options.timestamp }),
  });
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;

  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    const error = `invalid URL ${JSON.stringify(options.url)}`;
    return { outcome: { kind: "final" }, durationMs: elapsed(), error, errorKind: "invalid" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    const error = `unsupported protocol ${url.protocol}`;
    return { outcome: { kind: "final" }, durationMs: elapsed(), error, errorKind: "invalid" };
  }

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!isSendableHeader(name, value)) {
      return { outcome: { kind: "final" }, durationMs: elapsed(), error: `invalid header ${JSON.stringify(name)}` };
    }
    const lower = name.toLowerCase();
    if (!RESERVED.has(lower) && !(lower in signed)) headers[lower] = value;
  }
  if (url.username || url.password) {
    headers.authorization ??= `Basic ${base64Encode(utf8Encode(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`))}`;
    url.username = "";
    url.password = "";
  }
  headers["content-type"] = "application/json";
  headers["user-agent"] = USER_AGENT;
  Object.assign(headers, signed);

  if (options.signal?.aborted) {
    return { outcome: { kind: "retry" }, durationMs: elapsed(), error: "aborted", errorKind: "aborted" };
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const stop = () => controller.abort();
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    const answer = await transport.send({
      url,
      headers,
      body: options.payload,
      signal: controller.signal,
      maxResponseBytes,
    });
    return {
      outcome: outcomeOf(answer.status, answer.headers),
      status: answer.status,
      headers: answer.headers,
      body: answer.body,
      durationMs: elapsed(),
    };
  } catch (error) {
    if (error instanceof AddressRefused) {
      const reason = `blocked: ${error.message}`;
      return { outcome: { kind: "blocked" }, durationMs: elapsed(), error: reason, errorKind: "blocked" };
    }
    const errorKind: AttemptErrorKind = timedOut ? "timeout" : controller.signal.aborted ? "aborted" : "network";
    const reason = timedOut ? `timeout after ${timeoutMs} ms` : errorKind === "aborted" ? "aborted" : describe(error);
    return { outcome: { kind: "retry" }, durationMs: elapsed(), error: reason, errorKind };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", stop);
  }
}

function outcomeOf(status: number, headers: Record<string, string>): DeliveryOutcome {
  const outcome = classifyDelivery({ status, headers });
  if (outcome.kind === "success") return outcome;
  const directive = headers["webhook-delivery"]?.trim().toLowerCase();
  if (directive === "disable") return { kind: "disable" };
  if (directive === "abort-message") return { kind: "final" };
  return outcome;
}

/** A network error as one line: its code and message, and its cause's (fetch wraps the real one). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const own = typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  return error.cause instanceof Error ? `${own} (${describe(error.cause)})` : own;
}
