import type { ClaimLoop, Worker } from "@hookline/core";
import type { Database, PostgresClient } from "./client";
import { type Listener, listen } from "./listen";

// What the two engines (postgresDeliveries, postgresInbox) share: waking workers (this process's directly, the
// others' by NOTIFY), a worker that LISTENs while it runs, and recording a settlement while its lease holds.

/** The workers of one engine in this process, and the LISTEN connections they hold. */
export interface EngineWorkers {
  /** Wakes this process's workers at once and the other processes' by a NOTIFY on the engine's channel. */
  notify(): void;
  /** Wakes this process's workers only (a statement that notified on its own). */
  wake(): void;
  /** Runs `loop` as a worker: LISTENs on the channel while it runs; `stop()` ends the loop, then the LISTEN. */
  start(loop: ClaimLoop, report: (error: unknown) => void): Worker;
  /** Gives back every LISTEN connection still held. */
  close(): Promise<void>;
}

/** The workers of an engine whose NOTIFY channel is `channel`. */
export function engineWorkers(client: PostgresClient, db: Database, channel: string): EngineWorkers {
  const listeners = new Set<Listener>();
  // This process's workers: woken directly by its own writes, without waiting for the notification.
  const loops = new Set<ClaimLoop>();
  const wake = () => {
    for (const loop of loops) loop.wake();
  };

  // The notification is sent after the write commits, in a statement of its own: a NOTIFY inside a writing
  // transaction holds a database-wide lock through that commit's WAL flush, which would serialise every write.
  // Concurrent writes share one notification.
  let notifying: Promise<void> | undefined;
  let notifyAgain = false;
  const notify = () => {
    wake();
    if (notifying) {
      notifyAgain = true;
      return;
    }
    notifying = (async () => {
      do {
        notifyAgain = false;
        await db.query("SELECT pg_notify($1::text, '')", [channel]).catch(() => {}); // workers poll too
      } while (notifyAgain);
      notifying = undefined;
    })();
  };

  return {
    notify,
    wake,
    start(loop, report) {
      loops.add(loop);
      let stopping = false;
      let listener: Listener | undefined;
      const listening = listen(client, channel, loop.wake, report).then(
        (subscribed) => {
          listener = subscribed;
          if (subscribed) listeners.add(subscribed);
        },
        report, // the worker polls
      );
      return {
        async stop() {
          if (stopping) return;
          stopping = true;
          loops.delete(loop);
          await loop.stop();
          await listening;
          if (listener) {
            listeners.delete(listener);
            await listener.close();
          }
        },
      };
    },
    async close() {
      await Promise.all([...listeners].map((listener) => listener.close()));
      listeners.clear();
    },
  };
}

/**
 * Runs `record` (a settlement) until it resolves, a few times while the database is briefly away (a restart, a
 * failover), as long as the lease ending at `leaseEnds` (this process's clock) could still hold: past it, the
 * work is handed out again anyway.
 */
export async function whileLeased<T>(record: () => Promise<T>, leaseEnds: number): Promise<T> {
  for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await record();
    } catch (error) {
      if (Date.now() + wait >= leaseEnds) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** A json column from any driver: parsed already, or its text (a port over a driver that does not parse json). */
export function json<T>(value: unknown): T {
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}

/**
 * Runs a purge statement (`$1` the cut-off in ms, `$2` the batch size; it resolves how many rows went) until a
 * batch comes back short, so that no one statement holds many locks; resolves the total.
 */
export async function purgeInBatches(db: Database, statement: string, olderThan: number | Date): Promise<number> {
  const before = olderThan instanceof Date ? olderThan.getTime() : olderThan;
  let total = 0;
  for (;;) {
    const [row] = await db.query(statement, [before, 1_000]);
    const purged = Number(row?.[0] ?? 0);
    total += purged;
    if (purged < 1_000) return total;
  }
}
