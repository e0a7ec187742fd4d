import { randomBytes } from "node:crypto";
import {
  generateKeyPair,
  generateSecret,
  github,
  hmac,
  standardWebhooks,
  stripe,
  type WebhookScheme,
} from "@hookline/core";
import { Option } from "commander";
import { UsageError } from "./exit";

export const SCHEME_NAMES = ["standard-webhooks", "svix", "stripe", "github", "hmac"] as const;
export type SchemeName = (typeof SCHEME_NAMES)[number];

/** The options every signing or verifying command shares. */
export interface SchemeOptions {
  scheme: SchemeName;
  hmacHeader: string;
  hmacPrefix: string;
  hmacEncoding: "hex" | "base64";
}

export function schemeOptions(): Option[] {
  return [
    new Option("--scheme <name>", "the wire format").choices(SCHEME_NAMES).default("standard-webhooks"),
    new Option("--hmac-header <name>", "with --scheme hmac: the signature header").default("x-webhook-signature"),
    new Option("--hmac-prefix <text>", "with --scheme hmac: text before the signature").default("sha256="),
    new Option("--hmac-encoding <encoding>", "with --scheme hmac: how the digest is written")
      .choices(["hex", "base64"])
      .default("hex"),
  ];
}

/** The core scheme for the options; `svix` is Standard Webhooks under svix's header names. */
export function schemeFor(options: SchemeOptions): WebhookScheme {
  switch (options.scheme) {
    case "standard-webhooks":
      return standardWebhooks();
    case "svix":
      return standardWebhooks({ headerPrefix: "svix" });
    case "stripe":
      return stripe();
    case "github":
      return github();
    case "hmac":
      return hmac({ header: options.hmacHeader, prefix: options.hmacPrefix, encoding: options.hmacEncoding });
    default:
      throw new UsageError(`unknown scheme ${String(options.scheme)}`);
  }
}

/** The headers that carry a message id, so that a re-signed replay keeps it. */
export const ID_HEADERS = ["webhook-id", "svix-id", "x-github-delivery"] as const;

/** A new secret in the scheme's own form; with `ed25519`, a Standard Webhooks `whsk_`/`whpk_` pair. */
export async function newSecret(scheme: SchemeName, ed25519: boolean): Promise<{ secret: string; publicKey?: string }> {
  if (ed25519) {
    if (scheme !== "standard-webhooks" && scheme !== "svix") {
      throw new UsageError("--ed25519 works with --scheme standard-webhooks or svix only (v1a signatures)");
    }
    const pair = await generateKeyPair();
    return { secret: pair.secretKey, publicKey: pair.publicKey };
  }
  if (scheme === "standard-webhooks" || scheme === "svix") return { secret: generateSecret() };
  // Stripe shows whsec_ + 32 alphanumerics and keys the HMAC with that whole string; GitHub and HMAC take any text.
  if (scheme === "stripe") return { secret: `whsec_${randomBytes(24).toString("base64url").replace(/[-_]/g, "0")}` };
  return { secret: randomBytes(32).toString("hex") };
}
