import { HooklineError } from "../errors";
import { consoleLogger } from "./log";
import {
  type ClaimResult,
  claimToken,
  type DeadLetter,
  type DeadLetterStore,
  type IdempotencyStore,
  mergeDeadLetter,
} from "./store";
import type { ReceiverLogger } from "./types";

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The most keys kept; past it the least recently written key is forgotten (so a late duplicate of it would be
   * processed again), with a warning when that key could still be replayed (see `replayWindowMs`).
   * @default room for `replayWindowMs` at 200 deliveries a second: 120_000 (about 20 MB) for the default window
   */
  maxEntries?: number;
  /**
   * How long a claim holds before another delivery may take it over (a crashed handler's claim frees itself).
   * Keep it longer than your slowest handler.
   * @default 60_000 (one minute)
   */
  leaseMs?: number;
  /**
   * How long a processed key is remembered. Cover the sender's whole retry window.
   * @default 259_200_000 (three days, the Standard Webhooks retry schedule)
   */
  retentionMs?: number;
  /**
   * How long after a delivery a captured copy of it still passes the timestamp check: the receiver's tolerance,
   * past plus future. A key younger than this must not be forgotten, or a replay of it runs again: when the
   * store is full and has to, it warns. A receiver's default store takes it from the receiver's `tolerance`.
   * @default 600_000 (the default ±300 s tolerance)
   */
  replayWindowMs?: number;
  /**
   * Where the warning about forgotten keys goes (at most once a minute).
   * @default consoleLogger
   */
  logger?: Pick<ReceiverLogger, "warn">;
}

interface Entry {
  token: string | undefined;
  expiresAt: number;
  /** When the key was last written: a done key younger than the replay window can still be replayed. */
  writtenAt: number;
}

const SWEEP_INTERVAL_MS = 30_000;
const WARN_INTERVAL_MS = 60_000;
/** The delivery rate the default `maxEntries` leaves room for over the whole replay window. */
const DEFAULT_RATE_PER_SECOND = 200;

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new HooklineError("invalid_option", `${name} must be a positive number, got ${value}`);
  }
  return value;
}

/**
 * The in-process idempotency store: bounded (LRU + TTL), so memory never grows past `maxEntries`; a new key
 * costs O(1) even when full. It protects one process only; when several instances receive webhooks, use
 * `@hookline/redis` or `@hookline/postgres`.
 */
export function memoryStore(
  options: MemoryStoreOptions = {},
): IdempotencyStore & { readonly size: number; close(): void } {
  const replayWindowMs = positive("replayWindowMs", options.replayWindowMs ?? 600_000);
  const maxEntries = positive(
    "maxEntries",
    options.maxEntries ?? Math.max(10_000, Math.ceil((replayWindowMs / 1000) * DEFAULT_RATE_PER_SECOND)),
  );
  const defaultLease = positive("leaseMs", options.leaseMs ?? 60_000);
  const defaultRetention = positive("retentionMs", options.retentionMs ?? 3 * 24 * 60 * 60 * 1000);
  const logger = options.logger ?? consoleLogger;
  // A Map iterates in insertion order; re-inserting on every write keeps the least recently written first.
  const entries = new Map<string, Entry>();
  let sweeper: ReturnType<typeof setInterval> | undefined;
  let forgotten = 0; // keys that could still be replayed, forgotten since the last warning
  let warnedAt = Number.NEGATIVE_INFINITY;

  function sweep(now = Date.now()) {
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
  }

  /** Forgets the least recently written key: O(1). */
  function evictOldest(now: number) {
    const oldest = entries.keys().next().value as string;
    const entry = entries.get(oldest)!;
    entries.delete(oldest);
    if (entry.expiresAt <= now) return;
    if (entry.token === undefined && now - entry.writtenAt >= replayWindowMs) return;
    forgotten++;
    if (now - warnedAt < WARN_INTERVAL_MS) return;
    warnedAt = now;
    logger.warn(
      { maxEntries, replayWindowMs, forgotten },
      "memoryStore is full and forgot ids that could still be replayed or are in flight: raise maxEntries, or use " +
        "a shared store (@hookline/redis, @hookline/postgres)",
    );
    forgotten = 0;
  }

  function put(key: string, entry: Entry) {
    entries.delete(key);
    entries.set(key, entry);
    while (entries.size > maxEntries) evictOldest(entry.writtenAt);
    if (!sweeper) {
      sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
      (sweeper as { unref?: () => void }).unref?.();
    }
  }

  return {
    get size() {
      return entries.size;
    },

    async claim(key, leaseMs = defaultLease): Promise<ClaimResult> {
      const now = Date.now();
      const entry = entries.get(key);
      if (entry && entry.expiresAt > now) {
        if (entry.token === undefined) return { status: "done" };
        return { status: "processing", retryAfterMs: entry.expiresAt - now };
      }
      const token = claimToken();
      put(key, { token, expiresAt: now + leaseMs, writtenAt: now });
      return { status: "claimed", token };
    },

    async complete(key, token, retentionMs = defaultRetention) {
      const now = Date.now();
      const entry = entries.get(key);
      if (!entry || entry.token !== token || entry.expiresAt <= now) return false;
      put(key, { token: undefined, expiresAt: now + retentionMs, writtenAt: now });
      return true;
    },

    async release(key, token) {
      const entry = entries.get(key);
      if (!entry || entry.token !== token || entry.expiresAt <= Date.now()) return false;
      entries.delete(key);
      return true;
    },

    close() {
      clearInterval(sweeper);
      sweeper = undefined;
      entries.clear();
    },
  };
}

/** Options of {@link memoryDeadLetters}. */
export interface MemoryDeadLettersOptions {
  /**
   * The most dead letters kept. When full, `put` rejects rather than drop one, so the receiver answers 500 and
   * the sender delivers again: nothing is lost silently.
   * @default 10_000
   */
  maxEntries?: number;
}

/**
 * In-process dead letters: for development and tests. They are gone when the process exits; in production use
 * a durable store (`@hookline/redis`, `@hookline/postgres`).
 */
export function memoryDeadLetters(options: MemoryDeadLettersOptions = {}): DeadLetterStore {
  const maxEntries = positive("maxEntries", options.maxEntries ?? 10_000);
  const letters = new Map<string, DeadLetter>();
  return {
    async put(letter) {
      const previous = letters.get(letter.id);
      if (!previous && letters.size >= maxEntries) {
        throw new Error(`memoryDeadLetters is full (${maxEntries} letters): replay or delete some`);
      }
      letters.set(letter.id, structuredClone(mergeDeadLetter(previous, letter)));
    },
    async get(id) {
      const letter = letters.get(id);
      return letter && structuredClone(letter);
    },
    async list({ limit = 100 } = {}) {
      return [...letters.values()]
        .sort((a, b) => a.firstFailedAt - b.firstFailedAt)
        .slice(0, limit)
        .map((letter) => structuredClone(letter));
    },
    async delete(id) {
      return letters.delete(id);
    },
  };
}
