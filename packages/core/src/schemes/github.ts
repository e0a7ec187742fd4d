import { hmac } from "./hmac";
import type { WebhookScheme } from "./types";

/**
 * GitHub: `x-hub-signature-256: sha256=<hex>` over the body, keyed by the secret's UTF-8 bytes; the delivery id
 * comes from `x-github-delivery`. GitHub sends no timestamp, so there is no tolerance check: rely on idempotency.
 */
export function github(): WebhookScheme {
  return hmac({ name: "github", header: "x-hub-signature-256", prefix: "sha256=", idHeader: "x-github-delivery" });
}
