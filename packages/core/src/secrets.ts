import { ed25519PublicKey } from "./backend";
import { base64Decode, utf8Encode } from "./encoding";
import { verificationError } from "./errors";

/** One secret or several (rotation: the first signs, any verifies). */
export type SecretInput = string | readonly string[];

export function secretList(secret: SecretInput): readonly string[] {
  const list = typeof secret === "string" ? [secret] : secret;
  if (!Array.isArray(list) || list.length === 0) {
    throw verificationError("invalid_secret", "A secret is required: pass a string or a non-empty array of strings");
  }
  for (const item of list) {
    if (typeof item !== "string" || item.trim() === "") {
      throw verificationError("invalid_secret", "Secrets must be non-empty strings");
    }
  }
  return list;
}

/** A Standard Webhooks secret, decoded: symmetric (`whsec_`), Ed25519 signing (`whsk_`) or verifying (`whpk_`). */
export type StandardSecret =
  | { kind: "symmetric"; key: Uint8Array }
  | { kind: "signing"; seed: Uint8Array; publicKey: () => Promise<Uint8Array> }
  | { kind: "verifying"; publicKey: Uint8Array };

const CACHE_LIMIT = 1024;

// Decoding and key import happen once per secret; the decoded bytes also key the backend's CryptoKey cache.
function memo<T>(parse: (secret: string) => T): (secret: string) => T {
  const cache = new Map<string, T>();
  return (secret) => {
    let value = cache.get(secret);
    if (value === undefined) {
      value = parse(secret);
      if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
      cache.set(secret, value);
    }
    return value;
  };
}

/** The secret's UTF-8 bytes are the key (Stripe, GitHub, generic HMAC). */
export const utf8Key = memo((secret: string): Uint8Array => utf8Encode(secret));

function decodeKey(secret: string, prefix: string, sizes: readonly number[]): Uint8Array {
  const body = secret.slice(prefix.length);
  if (body.trim() !== body) {
    throw verificationError("invalid_secret", `The ${prefix || "webhook"} secret has whitespace around it; remove it`);
  }
  const bytes = base64Decode(body);
  if (!bytes || bytes.length === 0) {
    throw verificationError(
      "invalid_secret",
      `The ${prefix}… secret is not valid base64${body === "" ? " (it is empty)" : ""}`,
    );
  }
  if (sizes.length > 0 && !sizes.includes(bytes.length)) {
    throw verificationError(
      "invalid_secret",
      `The ${prefix}… key must be ${sizes.join(" or ")} bytes, got ${bytes.length}`,
    );
  }
  return bytes;
}

/**
 * Standard Webhooks secrets: `whsec_<base64>` (the prefix is optional), `whsk_<base64 32-byte Ed25519 seed>`
 * (a 64-byte libsodium secret key, seed then public key, is accepted too) and `whpk_<base64 32-byte public key>`.
 */
export const standardSecret = memo((secret: string): StandardSecret => {
  if (secret.startsWith("whsk_")) {
    const seed = decodeKey(secret, "whsk_", [32, 64]).subarray(0, 32);
    let publicKey: Promise<Uint8Array> | undefined;
    return { kind: "signing", seed, publicKey: () => (publicKey ??= Promise.resolve(ed25519PublicKey(seed))) };
  }
  if (secret.startsWith("whpk_")) return { kind: "verifying", publicKey: decodeKey(secret, "whpk_", [32]) };
  return { kind: "symmetric", key: decodeKey(secret, secret.startsWith("whsec_") ? "whsec_" : "", []) };
});
