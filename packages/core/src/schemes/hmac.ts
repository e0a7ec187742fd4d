import { hmacSha256 } from "../backend";
import { safeEqual } from "../encoding";
import { HooklineError, verificationError } from "../errors";
import { some, whenReady } from "../maybe";
import { utf8Key } from "../secrets";
import { noMatch, requireHeader } from "./failure";
import type { WebhookScheme } from "./types";

/** Options of {@link hmac}. */
export interface HmacSchemeOptions {
  /** The signature header, such as `x-webhook-signature` or `x-shopify-hmac-sha256` (any case). */
  header: string;
  /**
   * Text before the signature in the header, such as `sha256=`.
   * @default ""
   */
  prefix?: string;
  /**
   * How the digest is written.
   * @default "hex"
   */
  encoding?: "hex" | "base64";
  /**
   * A header carrying the delivery id, such as `x-shopify-webhook-id`; `verify` returns it as `id`. The
   * signature covers only the body, not this header: a receiver keys idempotency by the body (its `id` field,
   * else its SHA-256) and keeps this id for its logs.
   * @default undefined (no id)
   */
  idHeader?: string;
  /**
   * A name for logs and error messages.
   * @default "hmac"
   */
  name?: string;
}

/**
 * Body-only HMAC-SHA256 keyed by the secret's UTF-8 bytes: `X-Webhook-Signature: sha256=<hex>`,
 * Shopify's base64 `X-Shopify-Hmac-Sha256`, and most hand-rolled providers. There is no timestamp, so nothing
 * here stops a replay: rely on idempotency. Signs with the first secret only (the header holds one signature).
 *
 * @example
 * const shopify = hmac({ header: "x-shopify-hmac-sha256", encoding: "base64", idHeader: "x-shopify-webhook-id" });
 */
export function hmac(options: HmacSchemeOptions): WebhookScheme {
  const header = options.header?.toLowerCase();
  if (!header) throw new HooklineError("invalid_option", "hmac({ header }) needs the signature header's name");
  const prefix = options.prefix ?? "";
  const encoding = options.encoding ?? "hex";
  const idHeader = options.idHeader?.toLowerCase();
  const name = options.name ?? "hmac";

  return {
    name,
    signsId: false,

    async sign({ secrets, payload, id }) {
      const headers: Record<string, string> = {
        [header]: prefix + (await hmacSha256(utf8Key(secrets[0]!), "", payload, encoding)),
      };
      if (idHeader) headers[idHeader] = id;
      return headers;
    },

    verify({ secrets, payload, header: read }) {
      const value = requireHeader(read, header).trim();
      if (!value.startsWith(prefix)) {
        throw verificationError("malformed_header", `${header} must start with ${JSON.stringify(prefix)}`);
      }
      const signature = value.slice(prefix.length);
      const candidate = encoding === "hex" ? signature.toLowerCase() : signature;
      const matched = some(secrets, (secret) =>
        whenReady(hmacSha256(utf8Key(secret), "", payload, encoding), (expected) => safeEqual(candidate, expected)),
      );
      return whenReady(matched, (ok) => {
        if (!ok) throw noMatch(name, secrets);
        const id = idHeader ? read(idHeader)?.trim() : undefined;
        return id ? { id } : {};
      });
    },
  };
}
