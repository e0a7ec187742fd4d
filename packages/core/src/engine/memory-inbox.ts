import { HooklineError } from "../errors";
import { claimToken } from "../receiver/store";
import { settleAfterRollback } from "./after-rollback";
import { memoryWorker } from "./memory-worker";
import type { InboxEvent, InboxJob, InboxRecord, InboxSettlement, InboxStatus, InboxStore, Lease } from "./types";

/** Options of {@link memoryInbox}. */
export interface MemoryInboxOptions {
  /**
   * The engine's clock, in milliseconds since the epoch. Tests inject a fake one and call `tick()` after moving it.
   * @default Date.now
   */
  now?: () => number;
  /**
   * The longest a worker sleeps before looking for due events again. Enqueued events wake the workers at once, so
   * this only bounds how late a moved clock is noticed without `tick()`.
   * @default 1000
   */
  pollMs?: number;
  /**
   * How long a `processed` or `exhausted` event is remembered after it ended: a redelivery within it is a
   * duplicate. Then it is forgotten, so that memory stays bounded.
   * @default 86_400_000 (one day)
   */
  retentionMs?: number;
}

/** The memory inbox: an {@link InboxStore} with a way to wake its workers after moving an injected clock. */
export interface MemoryInbox extends InboxStore<never> {
  /** Wakes every worker to look for due events now (after an injected clock moved). */
  tick(): void;
}

interface EventRecord {
  event: InboxEvent;
  status: InboxStatus;
  attempts: number;
  lastError?: string;
  dueAt: number;
  lease?: Lease;
  endedAt?: number;
}

// How often, at most, enqueue looks for ended events past their retention.
const PRUNE_EVERY_MS = 60_000;

/**
 * The embedded inbox: received events in this process's memory, worked by a {@link claimLoop}. It answers
 * senders fast and retries on Hookline's schedule, but a process that exits loses what is pending, and no other
 * process can work it: for an inbox that survives a crash or is worked by separate worker processes, use
 * `postgresInbox` (`@hookline/postgres`, with transactional handlers) or `bullmqInbox` (`@hookline/redis`).
 *
 * @example
 * const receiver = createReceiver({ secret, events, inbox: memoryInbox() }).on("invoice.paid", markPaid);
 * receiver.work();
 */
export function memoryInbox(options: MemoryInboxOptions = {}): MemoryInbox {
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 1000;
  const retentionMs = options.retentionMs ?? 24 * 60 * 60 * 1000;
  if (!(retentionMs >= 0)) throw new HooklineError("invalid_option", `retentionMs must be ≥ 0, got ${retentionMs}`);
  const records = new Map<string, EventRecord>();
  // The pending events in enqueue order: what a claim scans, and what decides the order of one key.
  const pending = new Set<EventRecord>();
  const loops = new Set<{ wake(): void }>();
  let prunedAt = now();

  const wakeAll = () => {
    for (const loop of loops) loop.wake();
  };
  const leased = (record: EventRecord, at: number) => record.lease !== undefined && record.lease.expiresAt > at;

  /**
   * Walks the pending events that may run now or next: every one without a key, and the oldest pending one of
   * each key (the later ones wait for it to end).
   */
  function* heads(): Generator<EventRecord> {
    const seen = new Set<string>();
    for (const record of pending) {
      const key = record.event.orderKey;
      if (key !== undefined) {
        if (seen.has(key)) continue;
        seen.add(key);
      }
      yield record;
    }
  }

  function claim(limit: number, leaseMs: number): InboxJob[] {
    const at = now();
    const jobs: InboxJob[] = [];
    for (const record of heads()) {
      if (jobs.length >= limit) break;
      if (record.dueAt > at || leased(record, at)) continue;
      record.lease = { token: claimToken(), expiresAt: at + leaseMs };
      jobs.push({ event: { ...record.event }, attempts: record.attempts, lease: { ...record.lease } });
    }
    return jobs;
  }

  function dueIn(): number | undefined {
    const at = now();
    let earliest: number | undefined;
    for (const record of heads()) {
      const due = leased(record, at) ? (record.lease as Lease).expiresAt : record.dueAt;
      if (earliest === undefined || due < earliest) earliest = due;
    }
    return earliest === undefined ? undefined : earliest - at;
  }

  function settle(job: InboxJob, settlement: InboxSettlement): void {
    const at = now();
    const record = records.get(job.event.id);
    // A lease that ran out (and may have been handed to another worker) changes nothing.
    if (!record || record.lease?.token !== job.lease.token || record.lease.expiresAt <= at) return;
    delete record.lease;
    record.attempts++;
    const { next, error } = settlement;
    if (error !== undefined) record.lastError = error;
    record.status = next.status;
    if (next.status === "pending") {
      record.dueAt = at + next.delayMs;
      return;
    }
    record.endedAt = at;
    pending.delete(record);
    // The next event of the key may run now.
    if (record.event.orderKey !== undefined) wakeAll();
  }

  function prune(at: number) {
    prunedAt = at;
    for (const [id, record] of records) {
      if (record.endedAt !== undefined && at - record.endedAt >= retentionMs) records.delete(id);
    }
  }

  return {
    tick: wakeAll,

    async enqueue(event) {
      if (records.has(event.id)) return { created: false };
      const at = now();
      if (at - prunedAt >= PRUNE_EVERY_MS) prune(at);
      const record: EventRecord = { event: { ...event }, status: "pending", attempts: 0, dueAt: at };
      records.set(event.id, record);
      pending.add(record);
      wakeAll();
      return { created: true };
    },

    async get(id) {
      const record = records.get(id);
      if (!record) return undefined;
      const { event, status, attempts, lastError } = record;
      return { event: { ...event }, status, attempts, ...(lastError !== undefined && { lastError }) } as InboxRecord;
    },

    work(processor, options) {
      const { concurrency, leaseMs, onError, onSettled } = options;
      if (!(Number.isInteger(leaseMs) && leaseMs >= 1)) {
        throw new HooklineError("invalid_option", `leaseMs must be a whole number ≥ 1, got ${leaseMs}`);
      }
      return memoryWorker(loops, {
        // No transaction to roll back: a failed run's own recording (its dead letter) runs at once.
        processor: async (job) => settleAfterRollback(await processor(job)),
        concurrency,
        pollMs,
        claim: (limit) => claim(limit, leaseMs),
        settle,
        dueIn,
        onError,
        onSettled,
      });
    },
  } satisfies MemoryInbox;
}
