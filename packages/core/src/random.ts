// Random bytes drawn from a pooled buffer. Each `crypto.getRandomValues` call costs a system call (≈ 5 µs on a
// busy Linux VM, more than verifying a webhook), so ids and claim tokens share one 4 KiB draw, as Node's own
// `randomUUID` does.

const POOL_BYTES = 4096;
let pool: Uint8Array | undefined; // drawn on first use, not at load (a bundle that never draws drops it)
let offset = 0;

/** `size` fresh random bytes; read them at once (the view is into the shared pool). */
export function randomBytes(size: number): Uint8Array {
  if (pool === undefined || offset + size > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(Math.max(POOL_BYTES, size)));
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + size);
  offset += size;
  return bytes;
}

const ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `prefix` and 24 random base62 characters (143 bits), such as `msg_…`, `ep_…`, `dlv_…`. */
export function randomId(prefix: string): string {
  const length = prefix.length + 24;
  let id = prefix;
  while (id.length < length) {
    for (const byte of randomBytes(32)) {
      // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
      if (byte < 248 && id.length < length) id += ID_ALPHABET[byte % 62];
    }
  }
  return id;
}
