// node:crypto backend, chosen by the `node` condition of the package's `#backend` import: the same results as the WebCrypto
// backend at a fraction of the cost (createHmac ≈ 3.5 µs against ≈ 60 µs for crypto.subtle on Node 20).
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { pkcs8FromSeed } from "./der";

export type DigestEncoding = "base64" | "hex";

export const backendName: "webcrypto" | "node" = "node";

const hmacKeys = new WeakMap<Uint8Array, KeyObject>();
const signingKeys = new WeakMap<Uint8Array, KeyObject>();
const verifyingKeys = new WeakMap<Uint8Array, KeyObject>();

function cached(cache: WeakMap<Uint8Array, KeyObject>, bytes: Uint8Array, make: () => KeyObject): KeyObject {
  let key = cache.get(bytes);
  if (!key) {
    key = make();
    cache.set(bytes, key);
  }
  return key;
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow.
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

const privateKey = (seed: Uint8Array) =>
  cached(signingKeys, seed, () =>
    createPrivateKey({ key: Buffer.from(pkcs8FromSeed(seed)), format: "der", type: "pkcs8" }),
  );

function content(prefix: string, payload: string | Uint8Array): Buffer {
  if (typeof payload === "string") return Buffer.from(prefix + payload, "utf8");
  // No prefix: a view of the caller's bytes, not a copy (verification passes content it built once).
  if (prefix === "") return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return Buffer.concat([Buffer.from(prefix, "utf8"), payload]);
}

/** HMAC-SHA256 over `prefix + payload`, encoded. */
export function hmacSha256(
  key: Uint8Array,
  prefix: string,
  payload: string | Uint8Array,
  encoding: DigestEncoding,
): string {
  const hmac = createHmac(
    "sha256",
    cached(hmacKeys, key, () => createSecretKey(key)),
  );
  if (prefix !== "") hmac.update(prefix, "utf8");
  return hmac.update(payload).digest(encoding);
}

/** Ed25519 signature of `prefix + payload` with a 32-byte seed, base64. */
export function ed25519Sign(seed: Uint8Array, prefix: string, payload: string | Uint8Array): string {
  return sign(null, content(prefix, payload), privateKey(seed)).toString("base64");
}

/** Checks an Ed25519 signature over `prefix + payload` against a 32-byte public key. */
export function ed25519Verify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  prefix: string,
  payload: string | Uint8Array,
): boolean {
  const key = cached(verifyingKeys, publicKey, () =>
    createPublicKey({ key: Buffer.concat([SPKI_ED25519, publicKey]), format: "der", type: "spki" }),
  );
  return verify(null, content(prefix, payload), key, signature);
}

/** The 32-byte public key of a 32-byte Ed25519 seed. */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  const der = createPublicKey(privateKey(seed)).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - 32));
}
