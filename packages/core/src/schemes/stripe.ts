import { hmacSha256 } from "../backend";
import { safeEqual } from "../encoding";
import { verificationError } from "../errors";
import { some, whenReady } from "../maybe";
import { utf8Key } from "../secrets";
import { parseTimestamp } from "../tolerance";
import { addCandidate, noMatch, requireHeader } from "./failure";
import type { WebhookScheme } from "./types";

const HEADER = "stripe-signature";

/**
 * Stripe: `stripe-signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 over `${t}.${payload}` keyed by
 * the secret's UTF-8 bytes (the whole `whsec_…` string; Stripe secrets are not base64-decoded). Signing with
 * several secrets writes one `v1` per secret, as Stripe does while a secret rolls. Stripe sends no id header;
 * read the event id from the body.
 */
export function stripe(): WebhookScheme {
  return {
    name: "stripe",

    async sign({ secrets, payload, timestamp }) {
      const parts = [`t=${timestamp}`];
      for (const secret of secrets)
        parts.push(`v1=${await hmacSha256(utf8Key(secret), `${timestamp}.`, payload, "hex")}`);
      return { [HEADER]: parts.join(",") };
    },

    verify({ secrets, payload, header, checkTimestamp }) {
      let timestampValue: string | undefined;
      const v1: string[] = [];
      for (const item of requireHeader(header, HEADER).split(",")) {
        const eq = item.indexOf("=");
        if (eq <= 0) continue;
        const key = item.slice(0, eq).trim();
        const value = item.slice(eq + 1).trim();
        if (key === "t") timestampValue = value;
        else if (key === "v1") addCandidate(v1, value.toLowerCase(), HEADER);
      }
      if (timestampValue === undefined) {
        throw verificationError("malformed_header", `${HEADER} has no t=<timestamp> element`);
      }
      const timestamp = parseTimestamp(timestampValue, `${HEADER} t`);
      if (v1.length === 0) throw verificationError("no_matching_signature", `${HEADER} has no v1 signature`);
      checkTimestamp(timestamp);

      const matched = some(secrets, (secret) =>
        whenReady(hmacSha256(utf8Key(secret), `${timestamp}.`, payload, "hex"), (expected) =>
          v1.some((candidate) => safeEqual(candidate, expected)),
        ),
      );
      return whenReady(matched, (ok) => {
        if (!ok) throw noMatch("Stripe", secrets);
        return { timestamp };
      });
    },
  };
}
