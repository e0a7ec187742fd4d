import { hexEncode } from "../encoding";
import { randomBytes } from "../random";
/**
 * The answer to a claim.
 * - `claimed`: this caller owns the key until its lease ends; `token` proves it to `complete` and `release`.
 * - `processing`: another caller holds an unexpired lease; `retryAfterMs` is what is left of it.
 * - `done`: the key was completed and is still retained.
 */
export type ClaimResult =
  | { status: "claimed"; token: string }
  | { status: "processing"; retryAfterMs: number }
  | { status: "done" };

/**
 * Where a receiver records which messages it has processed, shared by every instance that must process a
 * message once. Each method is one atomic step on the backing store: two callers can never both get `claimed`
 * for one key while a lease holds, and a caller whose lease expired (and was claimed again) can neither
 * complete nor release the newer claim, because its token no longer matches.
 *
 * Run `runStoreContract` from `@hookline/testing` against your own implementation.
 */
export interface IdempotencyStore {
  /**
   * Atomically claims `key`: when it is absent, or was claimed and its lease has expired, it becomes claimed
   * with a new random token for `leaseMs`; when claimed with a live lease, `processing`; when completed and
   * retained, `done`.
   * @param leaseMs How long the claim holds. @default the store's `leaseMs` option
   */
  claim(key: string, leaseMs?: number): Promise<ClaimResult>;
  /**
   * Atomically marks `key` done, to be remembered for `retentionMs`, if and only if `token` still holds the
   * claim. Resolves `false` (changing nothing) when it does not: the lease expired and another caller claimed.
   * @param retentionMs How long a done key is remembered. @default the store's `retentionMs` option
   */
  complete(key: string, token: string, retentionMs?: number): Promise<boolean>;
  /**
   * Atomically drops the claim on `key` if and only if `token` still holds it, so a redelivery can claim it
   * at once. Resolves `false` when the token no longer holds it.
   */
  release(key: string, token: string): Promise<boolean>;
}

/** An event whose handler failed, kept so that it is never silently lost. */
export interface DeadLetter {
  /** The event id (the idempotency key). */
  id: string;
  /** The event type. */
  type: string;
  /** The signed timestamp in unix seconds, when the scheme carries one. */
  timestamp?: number;
  /** The raw body as received and verified: replay re-validates it against the current schemas. */
  payload: string;
  /** The last failure. */
  error: { name: string; message: string; stack?: string };
  /** How many times handling failed, counting replays. */
  attempts: number;
  /** When handling first failed (ms since the epoch). */
  firstFailedAt: number;
  /** When handling last failed (ms since the epoch). */
  lastFailedAt: number;
}

/** Where dead letters are kept. Each method is atomic on its own. */
export interface DeadLetterStore {
  /**
   * Stores a dead letter; when one with the same id exists it is replaced, keeping its `firstFailedAt` and
   * adding to its `attempts`. Rejects when the letter cannot be stored durably: the receiver then answers 500 so
   * that the sender delivers again. A `put` that rejected on a timeout may still land later; the receiver deletes
   * the event's letter once a redelivery succeeds, so apply a `put` and a later `delete` of one id in the order
   * they were sent.
   */
  put(letter: DeadLetter): Promise<void>;
  /** The dead letter with this id, if any. */
  get(id: string): Promise<DeadLetter | undefined>;
  /** Dead letters, oldest failure first. @param limit at most this many @default 100 */
  list(options?: { limit?: number }): Promise<DeadLetter[]>;
  /**
   * Removes a dead letter; `false` when there was none. The receiver calls it after every successful delivery
   * (to clear a letter a timed-out `put` left), so a miss must be cheap.
   */
  delete(id: string): Promise<boolean>;
}

/** A new random claim token (128 bits, hex), for store implementations. */
export function claimToken(): string {
  return hexEncode(randomBytes(16));
}

/** Merges a new failure into an existing dead letter, as `DeadLetterStore.put` prescribes. */
export function mergeDeadLetter(previous: DeadLetter | undefined, next: DeadLetter): DeadLetter {
  if (!previous) return next;
  return { ...next, attempts: previous.attempts + next.attempts, firstFailedAt: previous.firstFailedAt };
}
