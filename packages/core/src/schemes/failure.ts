import { verificationError, type WebhookVerificationError } from "../errors";
import type { HeaderReader } from "../headers";

/** `no_matching_signature`, with the hints that solve it most often. */
export function noMatch(scheme: string, secrets: readonly string[]): WebhookVerificationError {
  const hints = ["make sure you pass the raw request body exactly as received, not re-serialized JSON"];
  if (secrets.some((secret) => secret.trim() !== secret)) {
    hints.unshift("a secret has whitespace around it (check how it was copied)");
  }
  return verificationError(
    "no_matching_signature",
    `No ${scheme} signature matches the payload with the given secret${secrets.length > 1 ? "s" : ""}: ${hints.join("; ")}`,
  );
}

export function requireHeader(header: HeaderReader, name: string): string {
  const value = header(name);
  if (value === undefined || value.trim() === "") throw verificationError("missing_header", `Missing ${name} header`);
  return value;
}

/**
 * At most this many distinct signatures of one version are checked; a header carrying more is refused. A sender
 * writes one per secret it signs with (two during a rotation), so this is ample, and it bounds what an
 * unauthenticated caller can make the receiver compute: each Ed25519 candidate costs a pass over the body per
 * key. Repeated copies of one signature count once.
 */
export const MAX_SIGNATURES = 5;

/** Adds a signature candidate unless it is already listed; refuses the header past {@link MAX_SIGNATURES}. */
export function addCandidate(candidates: string[], value: string, header: string): void {
  if (candidates.includes(value)) return;
  if (candidates.length === MAX_SIGNATURES) {
    throw verificationError(
      "malformed_header",
      `${header} carries more than ${MAX_SIGNATURES} signatures of one version; senders write one per secret`,
    );
  }
  candidates.push(value);
}
