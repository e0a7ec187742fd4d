import { utf8Decode } from "./encoding";
import { WebhookVerificationError, type WebhookVerificationErrorCode } from "./errors";
import { type HeaderReader, headerReader } from "./headers";
import { github, type SchemeVerified, standardWebhooks, stripe, type WebhookScheme } from "./schemes";
import { secretList } from "./secrets";
import { DEFAULT_TOLERANCE_SECONDS } from "./tolerance";
import { type VerifyOptions, verify } from "./webhook";

/** Why a webhook verified or not, in terms a person can act on: made by {@link diagnose}. */
export interface Diagnosis {
  /** True when `verify` accepts the message with these options. */
  valid: boolean;
  /** The verification code when not valid, as `verify` throws it. */
  code?: WebhookVerificationErrorCode;
  /** `verify`'s message when not valid; `"valid"` otherwise. */
  message: string;
  /** What most likely went wrong and what to do about it, most likely first; empty when valid. */
  hints: string[];
  /** Seconds from the signed timestamp to `now`: positive when the message is older, negative when from the future. */
  skewSeconds?: number;
  /** The message id, when the scheme carries one and the headers have it. */
  id?: string;
  /** The signed timestamp in unix seconds, when the scheme carries one and it parses. */
  timestamp?: number;
}

/** The shipped schemes a delivery may really be signed with, recognised by their signature header. */
const KNOWN_SCHEMES = [
  { name: "standard-webhooks", headers: ["webhook-signature", "svix-signature"], make: () => standardWebhooks() },
  { name: "stripe", headers: ["stripe-signature"], make: () => stripe() },
  { name: "github", headers: ["x-hub-signature-256"], make: () => github() },
] as const;

type Attempt = { ok: true; verified: SchemeVerified } | { ok: false; code: WebhookVerificationErrorCode };

/** Runs a scheme's check with the clock left out, remembering the timestamp it read. */
async function attempt(
  scheme: WebhookScheme,
  secrets: readonly string[],
  payload: string | Uint8Array,
  header: HeaderReader,
  seen: { timestamp?: number } = {},
): Promise<Attempt> {
  try {
    const verified = await scheme.verify({
      secrets,
      payload,
      header,
      checkTimestamp: (timestamp) => {
        seen.timestamp = timestamp;
      },
    });
    return { ok: true, verified };
  } catch (error) {
    if (error instanceof WebhookVerificationError) return { ok: false, code: error.code };
    throw error;
  }
}

function textOf(payload: VerifyOptions["payload"]): string | undefined {
  if (typeof payload === "string") return payload;
  if (payload instanceof Uint8Array || payload instanceof ArrayBuffer) {
    try {
      return utf8Decode(payload instanceof Uint8Array ? payload : new Uint8Array(payload));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Bodies the signed one often was, each with what changed since signing. */
function bodyVariants(body: string): { body: string; change: string }[] {
  const variants: { body: string; change: string }[] = [];
  if (body.endsWith("\r\n")) {
    variants.push({ body: body.slice(0, -2), change: "the body gained a trailing CRLF after it was signed" });
  }
  if (body.endsWith("\n")) {
    variants.push({
      body: body.slice(0, -1),
      change:
        "the body gained a trailing newline after it was signed (an editor or `echo` adds one; send files with curl --data-binary @file)",
    });
  } else {
    variants.push({ body: `${body}\n`, change: "the body lost its trailing newline after it was signed" });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return variants;
  }
  const change =
    "the JSON body was re-serialized after it was signed (parsed and stringified again, so its bytes changed though its " +
    "data did not): verify the raw body exactly as received, never JSON.stringify(req.body)";
  for (const indent of [undefined, 2, 4, "\t"]) {
    const serialized = JSON.stringify(parsed, null, indent);
    for (const candidate of [serialized, `${serialized}\n`]) {
      if (candidate !== body) variants.push({ body: candidate, change });
    }
  }
  return variants;
}

/** The Standard Webhooks signature versions a header lists, such as `["v1a"]`. */
function standardVersions(header: HeaderReader): string[] {
  const list = header("webhook-signature") ?? header("svix-signature") ?? "";
  return [...new Set(list.split(" ").flatMap((entry) => (entry.includes(",") ? [entry.split(",")[0]!] : [])))];
}

function seconds(value: number): string {
  const abs = Math.abs(value);
  if (abs < 120) return `${abs} s`;
  if (abs < 7200) return `${abs} s (${Math.round(abs / 60)} min)`;
  if (abs < 172_800) return `${abs} s (${Math.round(abs / 3600)} h)`;
  return `${abs} s (${Math.round(abs / 86_400)} days)`;
}

function missingHeaderHints(scheme: WebhookScheme, header: HeaderReader): string[] {
  const hints: string[] = [];
  if (scheme.name === "standard-webhooks") {
    // verify reads the names of whichever signature header is present; a mix leaves one of them missing.
    const used =
      header("webhook-signature") === undefined && header("svix-signature") !== undefined ? "svix" : "webhook";
    const other = used === "svix" ? "webhook" : "svix";
    for (const part of ["id", "timestamp", "signature"]) {
      if (header(`${used}-${part}`) === undefined && header(`${other}-${part}`) !== undefined) {
        hints.push(
          `${other}-${part} is present but ${used}-${part} is not: the headers mix the webhook- and svix- prefixes; send all three under one prefix`,
        );
      }
    }
  }
  for (const known of KNOWN_SCHEMES) {
    if (known.name === scheme.name) continue;
    const present = known.headers.find((name) => header(name) !== undefined);
    if (present) {
      hints.push(
        `The request carries ${present}, the ${known.name} scheme's header: verify with the ${known.name} scheme`,
      );
    }
  }
  if (hints.length === 0) {
    hints.push(
      "No signature header this scheme reads is present: check that the sender signs, which scheme it uses, and that no proxy strips the headers",
    );
  }
  return hints;
}

/**
 * Verifies like {@link verify}, but never throws on a bad message: it says why it fails, and what probably
 * changed, by checking what a person would check by hand — the clock skew in seconds, whether the signature
 * matches a body with or without a trailing newline or with its JSON re-serialized, whether the secret has
 * whitespace around it, whether the headers mix the `webhook-`/`svix-` prefixes or belong to another scheme,
 * whether the signatures are Ed25519 while the secret is HMAC (or the reverse). Meant for tools and error
 * pages, not the hot path: a failure costs a few dozen extra HMACs.
 *
 * @throws {HooklineError} `invalid_option` for a bad `tolerance` or `now`, as `verify` does.
 * @example
 * const diagnosis = await diagnose({ secret, payload: rawBody, headers });
 * if (!diagnosis.valid) console.error(`${diagnosis.code}: ${diagnosis.message}\n${diagnosis.hints.join("\n")}`);
 */
export async function diagnose(options: VerifyOptions): Promise<Diagnosis> {
  const scheme = options.scheme ?? standardWebhooks();
  let code: WebhookVerificationErrorCode;
  let message: string;
  try {
    const verified = await verify(options);
    const diagnosis: Diagnosis = { valid: true, message: "valid", hints: [] };
    if (verified.id !== undefined) diagnosis.id = verified.id;
    if (verified.timestamp !== undefined) {
      diagnosis.timestamp = verified.timestamp;
      diagnosis.skewSeconds = nowSeconds(options.now) - verified.timestamp;
    }
    return diagnosis;
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
    code = error.code;
    message = error.message;
  }
  const diagnosis: Diagnosis = { valid: false, code, message, hints: [] };
  const hints = diagnosis.hints;
  if (code === "invalid_payload") return diagnosis;
  if (code === "invalid_secret") {
    const list = typeof options.secret === "string" ? [options.secret] : options.secret;
    if (list.some((secret) => typeof secret === "string" && secret.trim() !== secret)) {
      hints.push("The secret has whitespace around it (a newline from a file or a copy): trim it");
      return diagnosis;
    }
    hints.push(
      scheme.name === "standard-webhooks"
        ? "Standard Webhooks secrets are whsec_ + base64 (HMAC), whsk_ (Ed25519 signing) or whpk_ (Ed25519 verifying)"
        : "Pass the secret exactly as the sender shows it",
    );
    return diagnosis;
  }

  const header = headerReader(options.headers);
  const secrets = secretList(options.secret);
  const payload =
    typeof options.payload === "string" ? options.payload : new Uint8Array(options.payload as ArrayBuffer);
  const seen: { timestamp?: number } = {};
  const timeless = await attempt(scheme, secrets, payload, header, seen);
  if (seen.timestamp !== undefined) {
    diagnosis.timestamp = seen.timestamp;
    diagnosis.skewSeconds = nowSeconds(options.now) - seen.timestamp;
  }
  const id = timeless.ok ? timeless.verified.id : undefined;
  if (id !== undefined) diagnosis.id = id;

  if (code === "missing_header") {
    hints.push(...missingHeaderHints(scheme, header));
    return diagnosis;
  }
  if (code === "timestamp_too_old" || code === "timestamp_too_new") {
    const skew = diagnosis.skewSeconds ?? 0;
    const window = toleranceText(options.tolerance, code === "timestamp_too_old" ? "past" : "future");
    hints.push(
      code === "timestamp_too_old"
        ? `Signed ${seconds(skew)} ago, beyond the ${window} tolerance: a replayed message, one that waited in a queue (verify it with its receipt time as now), or a sender whose clock is behind`
        : `Signed ${seconds(skew)} in the future, beyond the ${window} tolerance: the sender's clock is ahead (check NTP), or this machine's is behind`,
    );
    if (timeless.ok) {
      hints.push("The signature itself is valid: only the time is off");
      return diagnosis;
    }
    hints.push("The signature does not match either:");
  } else if (code === "malformed_header" || code === "invalid_timestamp") {
    hints.push(...missingHeaderHints(scheme, header).filter((hint) => !hint.startsWith("No signature header")));
    return diagnosis;
  } else if (code !== "no_matching_signature") {
    return diagnosis;
  }

  // No signature matches: find what the signed message probably was.
  const trimmed = secrets.map((secret) => secret.trim());
  if (trimmed.some((secret, index) => secret !== secrets[index])) {
    if ((await attempt(scheme, trimmed, payload, header)).ok) {
      hints.push("The secret has whitespace around it (a newline from a file or a copy): trim it");
      return diagnosis;
    }
  }
  const body = textOf(options.payload);
  if (body !== undefined) {
    for (const variant of bodyVariants(body)) {
      if ((await attempt(scheme, secrets, variant.body, header)).ok) {
        hints.push(`The body changed since signing: ${variant.change}`);
        return diagnosis;
      }
    }
  }
  for (const known of KNOWN_SCHEMES) {
    if (known.name === scheme.name || !known.headers.some((name) => header(name) !== undefined)) continue;
    if ((await attempt(known.make(), secrets, payload, header)).ok) {
      hints.push(
        `The message is signed with the ${known.name} scheme and this secret: verify with the ${known.name} scheme`,
      );
      return diagnosis;
    }
  }
  if (scheme.name === "standard-webhooks") {
    const versions = standardVersions(header);
    const symmetric = secrets.every((secret) => !/^wh(sk|pk)_/.test(secret));
    if (symmetric && versions.length > 0 && !versions.includes("v1")) {
      hints.push(
        `The signatures are ${versions.join(", ")} (v1a is Ed25519) but the secret is an HMAC whsec_ secret: verify with the sender's whpk_ public key`,
      );
      return diagnosis;
    }
    if (!symmetric && versions.length > 0 && !versions.includes("v1a")) {
      hints.push("The signatures are v1 (HMAC) but the key is Ed25519: verify with the endpoint's whsec_ secret");
      return diagnosis;
    }
  }
  hints.push(
    secrets.length > 1
      ? "No signature was made with any of these secrets: check that they are this endpoint's (each endpoint has its own)"
      : "No signature was made with this secret: check that it is this endpoint's secret (each endpoint has its own); during a rotation pass the old and the new one",
    "Or the body changed since signing in a way that cannot be guessed: a proxy, a body parser or a test fixture rewrote it",
  );
  return diagnosis;
}

function nowSeconds(now: number | Date | undefined): number {
  return Math.floor((now === undefined ? Date.now() : typeof now === "number" ? now : now.getTime()) / 1000);
}

function toleranceText(tolerance: VerifyOptions["tolerance"], side: "past" | "future"): string {
  const value =
    tolerance === undefined ? DEFAULT_TOLERANCE_SECONDS : typeof tolerance === "number" ? tolerance : tolerance[side];
  return `${value} s`;
}
