import { HooklineError } from "../errors";
import {
  type ClaimResult,
  claimToken,
  type DeadLetter,
  type DeadLetterStore,
  type IdempotencyStore,
  mergeDeadLetter,
} from "./store";

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The most keys kept; past it the least recently used key is forgotten (so a very late duplicate of it
   * would be processed again).
   * @default 10_000
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
}

interface Entry {
  token: string | undefined;
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 30_000;

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new HooklineError("invalid_option", `${name} must be a positive number, got ${value}`);
  }
  return value;
}

/**
 * The in-process idempotency store: bounded (LRU + TTL), so memory never grows past `maxEntries`. It protects one
 * process only; when several instances receive webhooks, use `@hookline/redis` or `@hookline/postgres`.
 */
export function memoryStore(
  options: MemoryStoreOptions = {},
): IdempotencyStore & { readonly size: number; close(): void } {
  const maxEntries = positive("maxEntries", options.maxEntries ?? 10_000);
  const defaultLease = positive("leaseMs", options.leaseMs ?? 60_000);
  const defaultRetention = positive("retentionMs", options.retentionMs ?? 3 * 24 * 60 * 60 * 1000);
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  const entries = new Map<string, Entry>();
  let sweeper: ReturnType<typeof setInterval> | undefined;

  function sweep(now = Date.now()) {
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
  }

  function put(key: string, entry: Entry) {
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size > maxEntries) sweep();
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
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
      put(key, { token, expiresAt: now + leaseMs });
      return { status: "claimed", token };
    },

    async complete(key, token, retentionMs = defaultRetention) {
      const entry = entries.get(key);
      if (!entry || entry.token !== token || entry.expiresAt <= Date.now()) return false;
      put(key, { token: undefined, expiresAt: Date.now() + retentionMs });
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
