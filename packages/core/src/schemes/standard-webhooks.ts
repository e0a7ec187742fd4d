import { ed25519Sign, ed25519Verify, hmacSha256 } from "../backend";
import { base64Decode, safeEqual } from "../encoding";
import { verificationError } from "../errors";
import { standardSecret } from "../secrets";
import { parseTimestamp } from "../tolerance";
import { noMatch, requireHeader } from "./failure";
import type { WebhookScheme } from "./types";

/** Options of {@link standardWebhooks}. */
export interface StandardWebhooksOptions {
  /**
   * The header names `sign` writes: `webhook-id/-timestamp/-signature`, or svix's `svix-…` names.
   * `verify` accepts both either way.
   * @default "webhook"
   */
  headerPrefix?: "webhook" | "svix";
}

/**
 * [Standard Webhooks](https://www.standardwebhooks.com/) (also svix): `v1` HMAC-SHA256 with `whsec_` secrets and
 * `v1a` Ed25519 with `whsk_` signing / `whpk_` verifying keys, over `${id}.${timestamp}.${payload}`.
 *
 * @example
 * await verify({ scheme: standardWebhooks(), secret: "whsec_…", payload: rawBody, headers: req.headers });
 */
export function standardWebhooks(options: StandardWebhooksOptions = {}): WebhookScheme {
  const prefix = options.headerPrefix ?? "webhook";
  return {
    name: "standard-webhooks",

    async sign({ secrets, payload, id, timestamp }) {
      const signed = `${id}.${timestamp}.`;
      const signatures: string[] = [];
      for (const secret of secrets) {
        const parsed = standardSecret(secret);
        if (parsed.kind === "verifying") {
          throw verificationError(
            "invalid_secret",
            "A whpk_ public key can only verify; sign with the whsk_ secret key",
          );
        }
        signatures.push(
          parsed.kind === "symmetric"
            ? `v1,${await hmacSha256(parsed.key, signed, payload, "base64")}`
            : `v1a,${await ed25519Sign(parsed.seed, signed, payload)}`,
        );
      }
      return {
        [`${prefix}-id`]: id,
        [`${prefix}-timestamp`]: String(timestamp),
        [`${prefix}-signature`]: signatures.join(" "),
      };
    },

    async verify({ secrets, payload, header, checkTimestamp }) {
      const names =
        header("webhook-signature") === undefined && header("svix-signature") !== undefined ? "svix" : "webhook";
      const id = requireHeader(header, `${names}-id`);
      const timestampHeader = requireHeader(header, `${names}-timestamp`);
      const signatureHeader = requireHeader(header, `${names}-signature`);
      const timestamp = parseTimestamp(timestampHeader, `${names}-timestamp`);
      checkTimestamp(timestamp);

      // "v1,<base64> v1a,<base64> …"; unknown versions are skipped, not errors.
      const v1: string[] = [];
      const v1a: string[] = [];
      let entries = 0;
      for (const token of signatureHeader.split(" ")) {
        const comma = token.indexOf(",");
        if (comma <= 0) continue;
        entries++;
        const version = token.slice(0, comma);
        // A list joined from repeated headers carries ", " separators; base64 never ends in a comma.
        const value = token.endsWith(",") ? token.slice(comma + 1, -1) : token.slice(comma + 1);
        if (version === "v1") v1.push(value);
        else if (version === "v1a") v1a.push(value);
      }
      if (entries === 0) {
        throw verificationError("malformed_header", `${names}-signature must be a list of "version,signature" entries`);
      }

      const signed = `${id}.${timestamp}.`;
      for (const secret of secrets) {
        const parsed = standardSecret(secret);
        if (parsed.kind === "symmetric") {
          if (v1.length === 0) continue;
          const expected = await hmacSha256(parsed.key, signed, payload, "base64");
          for (const candidate of v1) if (safeEqual(candidate, expected)) return { id, timestamp };
        } else {
          const publicKey = parsed.kind === "verifying" ? parsed.publicKey : await parsed.publicKey();
          for (const candidate of v1a) {
            const signature = base64Decode(candidate);
            if (signature?.length === 64 && (await ed25519Verify(publicKey, signature, signed, payload))) {
              return { id, timestamp };
            }
          }
        }
      }
      throw noMatch("Standard Webhooks", secrets);
    },
  };
}
