// WebCrypto backend: every runtime with `crypto.subtle` (Node ≥ 20, Bun, Deno, Workers, browsers).
// Under the `node` condition the package's `#backend` import (tsup.config.ts) loads ./node.ts instead; both
// export exactly these names.
import { base64Encode, concatContent, hexEncode } from "../encoding";
import type { MaybePromise } from "../maybe";
import { pkcs8FromSeed } from "./der";

export type DigestEncoding = "base64" | "hex";

// TypeScript types Uint8Array over any ArrayBufferLike; WebCrypto only wants to know it is a view.
const view = (bytes: Uint8Array): BufferSource => bytes as Uint8Array<ArrayBuffer>;

export const backendName: "webcrypto" | "node" = "webcrypto";

// Imported keys are cached per key-bytes object; the secret cache keeps those objects alive.
const hmacKeys = new WeakMap<Uint8Array, CryptoKey>();
const signingKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
const verifyingKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function cached(
  cache: WeakMap<Uint8Array, Promise<CryptoKey>>,
  bytes: Uint8Array,
  importKey: () => Promise<CryptoKey>,
): Promise<CryptoKey> {
  let key = cache.get(bytes);
  if (!key) {
    key = importKey();
    cache.set(bytes, key);
  }
  return key;
}

/** HMAC-SHA256 over `prefix + payload`, encoded. Typed as the node backend's (which answers at once). */
export function hmacSha256(
  key: Uint8Array,
  prefix: string,
  payload: string | Uint8Array,
  encoding: DigestEncoding,
): MaybePromise<string> {
  const cryptoKey = hmacKeys.get(key);
  if (cryptoKey) return hmacDigest(cryptoKey, prefix, payload, encoding);
  return crypto.subtle
    .importKey("raw", view(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
    .then((imported) => {
      hmacKeys.set(key, imported);
      return hmacDigest(imported, prefix, payload, encoding);
    });
}

function hmacDigest(key: CryptoKey, prefix: string, payload: string | Uint8Array, encoding: DigestEncoding) {
  return crypto.subtle.sign("HMAC", key, view(concatContent(prefix, payload))).then((mac) => {
    const bytes = new Uint8Array(mac);
    return encoding === "hex" ? hexEncode(bytes) : base64Encode(bytes);
  });
}

/** Ed25519 signature of `prefix + payload` with a 32-byte seed, base64. */
export async function ed25519Sign(seed: Uint8Array, prefix: string, payload: string | Uint8Array): Promise<string> {
  const cryptoKey = await cached(signingKeys, seed, () =>
    crypto.subtle.importKey("pkcs8", view(pkcs8FromSeed(seed)), { name: "Ed25519" }, false, ["sign"]),
  );
  return base64Encode(
    new Uint8Array(await crypto.subtle.sign("Ed25519", cryptoKey, view(concatContent(prefix, payload)))),
  );
}

/** Checks an Ed25519 signature over `prefix + payload` against a 32-byte public key. */
export async function ed25519Verify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  prefix: string,
  payload: string | Uint8Array,
): Promise<boolean> {
  const cryptoKey = await cached(verifyingKeys, publicKey, () =>
    crypto.subtle.importKey("raw", view(publicKey), { name: "Ed25519" }, false, ["verify"]),
  );
  return crypto.subtle.verify("Ed25519", cryptoKey, view(signature), view(concatContent(prefix, payload)));
}

/** The 32-byte public key of a 32-byte Ed25519 seed. */
export async function ed25519PublicKey(seed: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("pkcs8", view(pkcs8FromSeed(seed)), { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const x = (jwk.x ?? "").replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(x), (c) => c.charCodeAt(0));
}
