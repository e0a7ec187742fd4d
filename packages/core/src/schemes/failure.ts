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
