import { ed25519Sign, ed25519Verify, hmacSha256 } from "../backend";
import { base64Decode, concatContent, safeEqual } from "../encoding";
import { verificationError } from "../errors";
import { some, whenReady } from "../maybe";
import { type StandardSecret, standardSecret } from "../secrets";
import { parseTimestamp } from "../tolerance";
import { addCandidate, noMatch, requireHeader } from "./failure";
import type { WebhookScheme, WebhookVerifier } from "./types";

const HEADERS = {
  webhook: { id: "webhook-id", timestamp: "webhook-timestamp", signature: "webhook-signature" },
  svix: { id: "svix-id", timestamp: "svix-timestamp", signature: "svix-signature" },
} as const;

/**
 * The verifying half of {@link standardWebhooks}: what `verify` and a receiver use when given no scheme, so that a
 * bundle that only receives carries no signing code (nor Ed25519 signing).
 */
export const standardWebhooksVerifier: WebhookVerifier = {
  name: "standard-webhooks",
  signsId: true,

  verify({ secrets, payload, header, checkTimestamp }) {
    let names: (typeof HEADERS)[keyof typeof HEADERS] = HEADERS.webhook;
    let signatureHeader = header(names.signature);
    if (signatureHeader === undefined) {
      signatureHeader = header(HEADERS.svix.signature);
      if (signatureHeader !== undefined) names = HEADERS.svix;
    }
    const id = requireHeader(header, names.id);
    const timestamp = parseTimestamp(requireHeader(header, names.timestamp), names.timestamp);
    const signatures = parseSignatures(requireHeader(header, names.signature), names.signature);
    checkTimestamp(timestamp);

    const signed = `${id}.${timestamp}.`;
    const matched = some(secrets, (secret) => {
      const parsed = standardSecret(secret);
      if (parsed.kind === "symmetric") {
        if (signatures.v1.length === 0) return false;
        return whenReady(hmacSha256(parsed.key, signed, payload, "base64"), (expected) =>
          signatures.v1.some((candidate) => safeEqual(candidate, expected)),
        );
      }
      return signatures.v1a.length > 0 && matchesEd25519(parsed, signatures.v1a, signed, payload);
    });
    return whenReady(matched, (ok) => {
      if (!ok) throw noMatch("Standard Webhooks", secrets);
      return { id, timestamp };
    });
  },
};

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
    ...standardWebhooksVerifier,

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
  };
}

/**
 * Splits `"v1,<base64> v1a,<base64> …"`; unknown versions are skipped, not errors; each version keeps at most
 * `MAX_SIGNATURES` distinct signatures.
 */
function parseSignatures(list: string, name: string): { v1: string[]; v1a: string[] } {
  const v1: string[] = [];
  const v1a: string[] = [];
  let entries = 0;
  for (let start = 0; start < list.length; ) {
    let end = list.indexOf(" ", start);
    if (end === -1) end = list.length;
    const comma = list.indexOf(",", start);
    if (comma > start && comma < end) {
      entries++;
      // A list joined from repeated headers carries ", " separators; base64 never ends in a comma.
      const value = list.slice(comma + 1, list.charCodeAt(end - 1) === 44 ? end - 1 : end);
      if (comma - start === 2 && list.startsWith("v1", start)) addCandidate(v1, value, name);
      else if (comma - start === 3 && list.startsWith("v1a", start)) addCandidate(v1a, value, name);
    }
    start = end + 1;
  }
  if (entries === 0)
    throw verificationError("malformed_header", `${name} must be a list of "version,signature" entries`);
  return { v1, v1a };
}

async function matchesEd25519(
  secret: Exclude<StandardSecret, { kind: "symmetric" }>,
  candidates: readonly string[],
  signed: string,
  payload: string | Uint8Array,
): Promise<boolean> {
  const publicKey = secret.kind === "verifying" ? secret.publicKey : await secret.publicKey();
  let content: Uint8Array | undefined; // built once, not copied per candidate
  for (const candidate of candidates) {
    const signature = base64Decode(candidate);
    if (signature?.length !== 64) continue;
    content ??= concatContent(signed, payload);
    if (await ed25519Verify(publicKey, signature, "", content)) return true;
  }
  return false;
}
