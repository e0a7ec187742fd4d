import { hmac } from "./hmac";
import type { WebhookScheme } from "./types";

/**
 * GitHub: `x-hub-signature-256: sha256=<hex>` over the body, keyed by the secret's UTF-8 bytes; the delivery id
 * comes from `x-github-delivery`, which the signature does not cover: a receiver keys idempotency by the SHA-256 of
 * the signed body and logs the delivery id. GitHub sends no timestamp, so there is no tolerance check: a captured
 * delivery is refused as a duplicate for as long as the idempotency store remembers its body.
 */
export function github(): WebhookScheme {
  return hmac({ name: "github", header: "x-hub-signature-256", prefix: "sha256=", idHeader: "x-github-delivery" });
}
