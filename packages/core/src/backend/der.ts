// An Ed25519 seed wrapped as PKCS#8 DER: the one private-key form both WebCrypto and node:crypto import.
const PKCS8_ED25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

export function pkcs8FromSeed(seed: Uint8Array): Uint8Array {
  const der = new Uint8Array(PKCS8_ED25519.length + 32);
  der.set(PKCS8_ED25519);
  der.set(seed, PKCS8_ED25519.length);
  return der;
}
