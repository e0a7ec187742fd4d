import { ed25519PublicKey } from "./backend";
import { base64Encode } from "./encoding";

/** An Ed25519 key pair for Standard Webhooks `v1a` signatures. */
export interface WebhookKeyPair {
  /** `whsk_` + base64 of the 32-byte Ed25519 seed: the sender's secret; it signs. */
  secretKey: string;
  /** `whpk_` + base64 of the 32-byte raw public key: give it to receivers; it verifies. */
  publicKey: string;
}

/** A new Ed25519 key pair for Standard Webhooks `v1a` (asymmetric) signatures. */
export async function generateKeyPair(): Promise<WebhookKeyPair> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = await ed25519PublicKey(seed);
  return { secretKey: `whsk_${base64Encode(seed)}`, publicKey: `whpk_${base64Encode(publicKey)}` };
}
