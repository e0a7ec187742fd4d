import {
  claimToken,
  type InboxEvent,
  type InboxJob,
  type InboxRecord,
  type InboxSettlement,
  type InboxStatus,
  type InboxStore,
  type InboxWorkOptions,
  type Processor,
  settleAfterRollback,
  type Worker,
} from "@hookline/core";
import { positive } from "../scripts";
import { INBOX_CLAIM, INBOX_ENQUEUE, INBOX_SETTLE, INBOX_SWEEP } from "./inbox-lua";
import { type EngineConnectionOptions, type Flat, jobEngine, leaseWorker, recordSettlement } from "./jobs";

/** Options of {@link bullmqInbox}. */
export interface BullmqInboxOptions extends EngineConnectionOptions {
  /**
   * Put before every key: the inbox's own (`<prefix>:inbox:event:<id>`, …) and its BullMQ queue's
   * (`<prefix>:inbox-jobs:…`). In a Redis Cluster it must be a hash tag, `{…}`, so that every key is in one slot.
   * A sender's `bullmqDeliveries` may share the prefix.
   * @default "{hookline}"
   */
  prefix?: string;
  /**
   * The deduplication window: how long a `processed` or `exhausted` event is kept after it ended. A redelivery
   * of its id within it is a duplicate; after it, the event is forgotten (memory stays bounded) and the same id
   * would be handled again. Pending events are never forgotten.
   * @default 604_800_000 (7 days: longer than the retry schedules of Stripe, Svix and GitHub)
   */
  retentionMs?: number;
  /**
   * How often each worker runs its repair round: it re-adds the job of an event overdue by more than the lease
   * (a process that died between storing an event and adding its job) and forgets the ended events past their
   * retention.
   * @default 5_000
   */
  sweepIntervalMs?: number;
}

/** The BullMQ queue's name, under the prefix: `<prefix>:inbox-jobs:wait`, … */
const QUEUE = "inbox-jobs";
const DAY = 24 * 60 * 60 * 1000;

/**
 * A receiver's inbox on Redis and BullMQ: each event stored under the prefix keyed by its id, and one BullMQ job
 * per due run, pushed to the workers of every process that calls `receiver.work()`. The same mechanism as
 * `bullmqDeliveries` (Lua scripts fenced by a version and the lease's token, the lease as BullMQ's lock, a repair
 * round).
 *
 * - `enqueue` stores the event in one Lua script (a duplicate id writes nothing and resolves `created: false`),
 *   then adds its job; a process that dies between the two leaves the event stored, and the repair round adds
 *   its job once it is overdue by a lease. So what the receiver acknowledged is always stored.
 * - A retry is a delayed job (the settlement's `delayMs`); a crashed worker's event is handed out again once its
 *   lease ends (BullMQ's stalled check).
 * - `orderBy` without BullMQ Pro groups: the events of one key are a list in Redis in arrival order, and only the
 *   first has a job; the settlement that ends it (processed or exhausted) queues the next. So a key runs one at a
 *   time across every worker and process, and a retrying event holds its key back. Keys cost nothing while idle.
 * - No `tx`: Redis cannot join an SQL transaction. A handler's effects are at least once (a worker that dies after
 *   its handler ran, before the settlement, runs it again): make them idempotent, or use `postgresInbox` for
 *   exactly-once writes to PostgreSQL.
 * - Processed and exhausted events are kept for `retentionMs` (the deduplication window), then forgotten.
 *
 * @example
 * import { createReceiver } from "@hookline/core";
 * import { bullmqInbox } from "@hookline/redis/bullmq";
 * import { Redis } from "ioredis";
 *
 * const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
 * const receiver = createReceiver({ secret, events, inbox: bullmqInbox({ connection }) });
 * receiver.work(); // in the processes that run handlers
 */
export function bullmqInbox(options: BullmqInboxOptions): InboxStore {
  const engine = jobEngine(options, QUEUE);
  const { connection, prefix, run, addJobs } = engine;
  const retentionMs = positive("retentionMs", options.retentionMs ?? 7 * DAY);

  async function enqueue(event: InboxEvent): Promise<{ created: boolean }> {
    // One round trip: the job goes out right behind the script, on the same connection, so Redis runs the store
    // first. The job of a duplicate or of an event waiting behind its key finds nothing to claim (its version is
    // stale); a job whose add failed after the store is added by the repair round.
    const [created] = await Promise.all([
      run<number>(INBOX_ENQUEUE, [event.id, JSON.stringify(event), event.orderKey ?? ""]),
      addJobs([event.id, "1", "0"]),
    ]);
    return { created: Number(created) === 1 };
  }

  async function get(id: string): Promise<InboxRecord | undefined> {
    const [event, status, attempts, error] = await connection.hmget(
      `${prefix}:inbox:event:${id}`,
      "event",
      "status",
      "attempts",
      "error",
    );
    if (event === null || event === undefined) return undefined;
    const record: InboxRecord = {
      event: JSON.parse(event) as InboxEvent,
      status: status as InboxStatus,
      attempts: Number(attempts),
    };
    if (error !== null && error !== undefined) record.lastError = error;
    return record;
  }

  function work(processor: Processor<InboxJob, InboxSettlement>, workOptions: InboxWorkOptions): Worker {
    const { leaseMs } = workOptions;
    return leaseWorker(engine, QUEUE, workOptions, {
      sweep: () => run<Flat>(INBOX_SWEEP, [leaseMs, 500, QUEUE]),
      async run(job, busy, report) {
        const { d, v } = job.data;
        const token = claimToken();
        const reply = await run<[string, ...unknown[]]>(INBOX_CLAIM, [d, v, token, leaseMs]);
        const [kind] = reply;
        if (kind === "busy") return busy(Number(reply[1]));
        if (kind === "stale") return addJobs(reply[1] as Flat);
        const [, leaseEnd, event, attempts] = reply as [string, number, string, string];
        const inboxJob: InboxJob = {
          event: JSON.parse(event) as InboxEvent,
          attempts: Number(attempts),
          lease: { token, expiresAt: Number(leaseEnd) },
        };
        // No transaction to roll back: a failed run's own recording (its dead letter) runs at once.
        const settlement = await settleAfterRollback(await processor(inboxJob));
        const { next } = settlement;
        await recordSettlement(engine, report, workOptions.onSettled, inboxJob, settlement, async () => {
          const [, jobs] = await run<[string, Flat]>(INBOX_SETTLE, [
            d,
            token,
            next.status,
            next.status === "pending" ? Math.max(0, Math.ceil(next.delayMs)) : 0,
            settlement.error ?? "",
            retentionMs,
          ]);
          return jobs;
        });
      },
    });
  }

  return { enqueue, get, work, close: engine.close } satisfies InboxStore;
}
