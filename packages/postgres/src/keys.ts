/** What a hashed key starts with; an id that itself starts so is hashed too, so no two ids share a key. */
export const HASHED_KEY_PREFIX = "hookline-sha256:";

/**
 * The longest id, in UTF-8 bytes, kept as written. A btree index entry holds at most 2 704 bytes, so a longer
 * key would fail every insert; this leaves room for the dead-letter index's timestamp and the entry's headers.
 */
export const MAX_PLAIN_KEY_BYTES = 2_000;

// U+0000, which `text` cannot hold, or a lone surrogate, which drivers send as U+FFFD (two ids, one key).
const UNSTORABLE = /[\0\p{Cs}]/u;

const encoder = new TextEncoder();

/**
 * The key column's value for a message id: the id itself when it can be stored as written (most ids: short,
 * readable in psql), otherwise `hookline-sha256:` and the hex SHA-256 of its UTF-16 code units. So ids of any
 * length and content work, each one key, with no two ids on one key (short of a SHA-256 collision).
 */
export function storedKey(id: string): string | Promise<string> {
  const plain =
    (id.length * 3 <= MAX_PLAIN_KEY_BYTES || encoder.encode(id).byteLength <= MAX_PLAIN_KEY_BYTES) &&
    !UNSTORABLE.test(id) &&
    !id.startsWith(HASHED_KEY_PREFIX);
  return plain ? id : hashedKey(id);
}

async function hashedKey(id: string): Promise<string> {
  // UTF-16 code units, little-endian: unlike UTF-8, this tells apart ids that differ only in lone surrogates.
  const units = new DataView(new ArrayBuffer(id.length * 2));
  for (let i = 0; i < id.length; i++) units.setUint16(i * 2, id.charCodeAt(i), true);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", units));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return HASHED_KEY_PREFIX + hex;
}
