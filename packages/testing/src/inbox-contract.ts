import type { InboxEvent, InboxJob, InboxSettlement, InboxStore, InboxWorkOptions, Processor } from "@hookline/core";
import { type Check, contractChecks, json, sleep, unique } from "./engine-contract";
import type { ContractRunner } from "./store-contract";

const { check: checkInbox, eventually } = contractChecks("InboxStore");
const check: Check = checkInbox;

function inboxEvent(fields: Partial<InboxEvent> = {}): InboxEvent {
  const id = fields.id ?? unique("msg_");
  return {
    id,
    type: "invoice.paid",
    // Bytes a parser would normalize: key order, spacing, escapes and astral characters must come back as sent.
    payload: `{"type":"invoice.paid", "data":{"z":1,"a":"Zo\\u00eb 🎉","id":"${id}"}}`,
    timestamp: 1_767_225_600,
    receivedAt: Date.now(),
    headers: { "x-github-event": "invoice", "x-note": "Zoë" },
    ...fields,
  };
}

const processed: InboxSettlement = { next: { status: "processed" } };
const retryIn = (delayMs: number, error = "handler failed"): InboxSettlement => ({
  next: { status: "pending", delayMs },
  error,
});

/** What the contract needs to check an engine's transactions; see {@link InboxContractOptions.transaction}. */
export interface InboxTransactionProbe<Tx> {
  /** Writes a row keyed by `key` on the job's transaction (`INSERT INTO t (key) VALUES ($1)` on `tx`). */
  write(tx: Tx, key: string): Promise<void>;
  /** How many rows with `key` are committed, read outside any job's transaction. */
  count(key: string): Promise<number>;
}

/** Options of {@link runInboxContract}. */
export interface InboxContractOptions<Tx> {
  /**
   * For an engine that gives jobs a transaction (`job.tx`): checks that a `processed` settlement commits the
   * handler's writes with the mark, and that any other settlement, a throwing processor and `stop()` leave none.
   * @default undefined (the engine gives no transaction; the contract checks that `job.tx` is absent)
   */
  transaction?: InboxTransactionProbe<Tx>;
}

interface Harness<Tx> {
  inbox: InboxStore<Tx>;
  /** Starts a worker; every worker is stopped (and the inbox closed) when the test ends. */
  work(
    processor: Processor<InboxJob<Tx>, InboxSettlement>,
    options?: Partial<InboxWorkOptions<Tx>>,
  ): {
    stop(): Promise<void>;
  };
  enqueue(count: number, fields?: Partial<InboxEvent>): Promise<InboxEvent[]>;
  status(id: string): Promise<string | undefined>;
  errors: unknown[];
}

/**
 * Checks the guarantees a receiver relies on from an `InboxStore`: one event per id (a duplicate writes nothing
 * and says so), the payload kept byte for byte, leases that keep two workers off one event and hand out a dead
 * worker's event again, settlements fenced by their lease, retry delays, `orderKey` ordering across workers
 * (one at a time, in enqueue order, a retrying event holding its key), waking idle workers, `stop()`, a failed
 * run's `afterRollback` run after its transaction ended and before anything is recorded, and — with
 * {@link InboxContractOptions.transaction} — that a job's transaction commits only with a `processed` settlement.
 * The memory, PostgreSQL and BullMQ inboxes run it unchanged.
 *
 * `work` takes every due event in the inbox, so `makeInbox` must return an inbox of its own each time (a fresh
 * schema, key prefix or database). Takes about ten seconds, mostly waiting for leases and delays to run out. A
 * transactional engine passes the lease tests only if it ends a job's transaction when the lease runs out (a
 * processor that stalls past it must not keep the row locked).
 *
 * @param makeInbox called once per test; the inbox is closed (`close()`) when the test ends.
 * @example
 * import { describe, it } from "vitest";
 * runInboxContract("postgres", () => postgresInbox({ client, schema: freshSchema() }), { describe, it }, {
 *   transaction: {
 *     write: (tx, key) => tx.query("INSERT INTO probe (key) VALUES ($1)", [key]).then(() => {}),
 *     count: async (key) => (await pool.query("SELECT count(*)::int AS n FROM probe WHERE key = $1", [key])).rows[0].n,
 *   },
 * });
 */
export function runInboxContract<Tx = never>(
  name: string,
  makeInbox: () => InboxStore<Tx> | Promise<InboxStore<Tx>>,
  { describe, it }: ContractRunner,
  options: InboxContractOptions<Tx> = {},
): void {
  const test = (title: string, body: (harness: Harness<Tx>) => Promise<void>, timeout = 30_000) =>
    it(
      title,
      async () => {
        const inbox = await makeInbox();
        const workers: { stop(): Promise<void> }[] = [];
        const errors: unknown[] = [];
        const harness: Harness<Tx> = {
          inbox,
          errors,
          work(processor, workOptions = {}) {
            const worker = inbox.work(processor, {
              concurrency: 10,
              leaseMs: 30_000,
              onError: (error) => errors.push(error),
              ...workOptions,
            });
            workers.push(worker);
            return worker;
          },
          async enqueue(count, fields = {}) {
            const events: InboxEvent[] = [];
            for (let i = 0; i < count; i++) {
              const event = inboxEvent(fields);
              check((await inbox.enqueue(event)).created, "a new id is created");
              events.push(event);
            }
            return events;
          },
          async status(id) {
            return (await inbox.get(id))?.status;
          },
        };
        try {
          await body(harness);
        } finally {
          await Promise.all(workers.map((worker) => worker.stop()));
          await inbox.close?.();
        }
      },
      timeout,
    );

  describe(`InboxStore contract: ${name}`, () => {
    test("stores an event once: the same id again writes nothing and says so", async ({ inbox }) => {
      const event = inboxEvent();
      check(json(await inbox.enqueue(event)) === json({ created: true }), "the first enqueue creates");
      const again = await inbox.enqueue({ ...event, payload: '{"other":true}', type: "other" });
      check(json(again) === json({ created: false }), `the same id again does not create: ${json(again)}`);
      const stored = await inbox.get(event.id);
      check(stored !== undefined, "get finds the event");
      check(json(stored.event) === json(event), `the event comes back as stored, byte for byte: ${json(stored.event)}`);
      check(stored.status === "pending" && stored.attempts === 0, `it starts pending, no attempts: ${json(stored)}`);
      check(stored.lastError === undefined, "with no last error");
      const bare = inboxEvent({ orderKey: "order_1" });
      delete bare.timestamp;
      delete bare.headers;
      await inbox.enqueue(bare);
      check(json((await inbox.get(bare.id))?.event) === json(bare), "optional fields are kept or left out as given");
      check((await inbox.get(unique("msg_"))) === undefined, "an unknown id is undefined");
    });

    test("hands a due event to a worker with its lease, records processed, and remembers the id", async (harness) => {
      const { inbox } = harness;
      const [event] = await harness.enqueue(1);
      const jobs: InboxJob<Tx>[] = [];
      harness.work(async (job) => {
        jobs.push(job);
        if (options.transaction) check(job.tx !== undefined, "a transactional engine gives every job its tx");
        else check(job.tx === undefined, "an engine without transactions gives no tx");
        return processed;
      });
      await eventually("the event is processed", async () => (await harness.status(event!.id)) === "processed");
      check(jobs.length === 1, `handed out once, got ${jobs.length}`);
      const [job] = jobs;
      check(json(job!.event) === json(event), `the job carries the event as enqueued: ${json(job!.event)}`);
      check(job!.attempts === 0, `the first run has no attempts before it, got ${job!.attempts}`);
      check(typeof job!.lease.token === "string" && job!.lease.token.length >= 16, "and a random lease token");
      const stored = await inbox.get(event!.id);
      check(stored?.attempts === 1, `one attempt recorded, got ${json(stored)}`);
      check(json(await inbox.enqueue(event!)) === json({ created: false }), "a processed id is a duplicate");
      await sleep(300);
      check(jobs.length === 1, "a processed event is never handed out again");
    });

    test("calls onSettled once per settled job, after the settlement is recorded", async (harness) => {
      const events = await harness.enqueue(5);
      const seen: Promise<string | undefined>[] = [];
      harness.work(async () => processed, {
        onSettled: (job, settled) => {
          check(settled.next.status === "processed", "onSettled gets the settlement");
          seen.push(harness.status(job.event.id));
        },
      });
      await eventually("every job is settled", () => seen.length === events.length);
      const statuses = await Promise.all(seen);
      check(
        statuses.every((status) => status === "processed"),
        `onSettled ran before the settlement was recorded: ${json(statuses)}`,
      );
    });

    test("hands a pending event out again only after its delay, counting attempts, and ends it exhausted", async (harness) => {
      const [event] = await harness.enqueue(1);
      const runs: { at: number; attempts: number }[] = [];
      let settledAt = 0;
      harness.work(async (job) => {
        runs.push({ at: Date.now(), attempts: job.attempts });
        if (runs.length === 1) {
          settledAt = Date.now();
          return retryIn(600, "first failure");
        }
        return { next: { status: "exhausted" }, error: "second failure" };
      });
      await eventually("the event is exhausted", async () => (await harness.status(event!.id)) === "exhausted");
      check(runs.length === 2, `two runs, got ${runs.length}`);
      check(runs[1]!.at - settledAt >= 550, `the second run waited ${runs[1]!.at - settledAt} ms of a 600 ms delay`);
      check(json(runs.map((run) => run.attempts)) === json([0, 1]), `attempts before each run: ${json(runs)}`);
      const stored = await harness.inbox.get(event!.id);
      check(stored?.attempts === 2 && stored.lastError === "second failure", `as settled: ${json(stored)}`);
      check(json(await harness.inbox.enqueue(event!)) === json({ created: false }), "an exhausted id is a duplicate");
    });

    test("never hands one event to two workers at once, and each exactly once", async (harness) => {
      const events = await harness.enqueue(40);
      const holding = new Set<string>();
      const runs = new Map<string, number>();
      let overlaps = 0;
      const processor: Processor<InboxJob<Tx>, InboxSettlement> = async (job) => {
        const id = job.event.id;
        if (holding.has(id)) overlaps++;
        holding.add(id);
        runs.set(id, (runs.get(id) ?? 0) + 1);
        await sleep(Math.floor(Math.random() * 5));
        holding.delete(id);
        return processed;
      };
      for (let i = 0; i < 3; i++) harness.work(processor, { concurrency: 4 });
      await eventually("every event is processed", async () => {
        const statuses = await Promise.all(events.map((event) => harness.status(event.id)));
        return statuses.every((status) => status === "processed");
      });
      check(overlaps === 0, `${overlaps} events were held by two workers at once`);
      const repeated = [...runs.values()].filter((count) => count !== 1).length;
      check(repeated === 0, `${repeated} events were handed out more than once`);
    });

    test("hands an event out again once its lease ends; the late settlement changes nothing", async (harness) => {
      const [event] = await harness.enqueue(1);
      const handedOut: number[] = [];
      let secondDone!: () => void;
      const second = new Promise<void>((resolve) => {
        secondDone = resolve;
      });
      let lateSettled = false;
      const processor: Processor<InboxJob<Tx>, InboxSettlement> = async () => {
        handedOut.push(Date.now());
        if (handedOut.length === 1) {
          await second; // a worker that stalls past its lease
          lateSettled = true;
          return { next: { status: "exhausted" }, error: "stale" };
        }
        secondDone();
        return processed;
      };
      harness.work(processor, { leaseMs: 1_000 });
      harness.work(processor, { leaseMs: 1_000 });
      await eventually("the stalled worker has settled too", () => lateSettled);
      await sleep(100);
      check(handedOut.length === 2, `handed out twice, got ${handedOut.length}`);
      check(
        handedOut[1]! - handedOut[0]! >= 700,
        `handed out again only once the 1000 ms lease ended, after ${handedOut[1]! - handedOut[0]!} ms`,
      );
      const stored = await harness.inbox.get(event!.id);
      check(stored?.status === "processed", `the lease holder's settlement stands, got ${json(stored)}`);
      check(stored.attempts === 1 && stored.lastError === undefined, `the stale one did not count: ${json(stored)}`);
    });

    test("a processor that throws leaves its event to be handed out again when the lease ends", async (harness) => {
      const [event] = await harness.enqueue(1);
      let calls = 0;
      harness.work(
        async () => {
          calls++;
          if (calls === 1) throw new Error("worker bug");
          return processed;
        },
        { leaseMs: 400 },
      );
      await eventually("the event is processed", async () => (await harness.status(event!.id)) === "processed");
      check(calls === 2, `handed out twice, got ${calls}`);
      check(
        harness.errors.some((error) => (error as Error).message === "worker bug"),
        "the error went to onError",
      );
    });

    test("runs the events of one orderKey one at a time in enqueue order, a retry holding the key", async (harness) => {
      if (harness.inbox.ordered === false) return; // the engine says it cannot; the receiver refuses orderBy
      const key = unique("order_");
      const ordered: InboxEvent[] = [];
      const others: InboxEvent[] = [];
      // Interleaved with events of no key and of another key, which must not wait for this one.
      for (let i = 0; i < 6; i++) {
        ordered.push(...(await harness.enqueue(1, { orderKey: key })));
        others.push(...(await harness.enqueue(1)), ...(await harness.enqueue(1, { orderKey: unique("other_") })));
      }
      const seen: string[] = [];
      let holding = 0;
      let most = 0;
      let failedOnce = false;
      const processor: Processor<InboxJob<Tx>, InboxSettlement> = async (job) => {
        if (job.event.orderKey !== key) return processed;
        holding++;
        most = Math.max(most, holding);
        seen.push(job.event.id);
        await sleep(Math.floor(Math.random() * 10));
        holding--;
        // The third event fails once: the fourth must wait for its retry.
        if (job.event.id === ordered[2]!.id && !failedOnce) {
          failedOnce = true;
          return retryIn(300);
        }
        return processed;
      };
      harness.work(processor, { concurrency: 5 });
      harness.work(processor, { concurrency: 5 });
      await eventually("every event is processed", async () => {
        const statuses = await Promise.all([...ordered, ...others].map((event) => harness.status(event.id)));
        return statuses.every((status) => status === "processed");
      });
      check(most === 1, `one event of a key at a time, saw ${most}`);
      const expected = [...ordered.slice(0, 3), ...ordered.slice(2)].map((event) => event.id);
      check(json(seen) === json(expected), `enqueue order, the retry before the rest: ${json(seen)}`);
    });

    test("wakes an idle worker as soon as an event is enqueued", async (harness) => {
      let handedAt = 0;
      harness.work(async () => {
        handedAt = Date.now();
        return processed;
      });
      await sleep(1_500);
      const sentAt = Date.now();
      await harness.enqueue(1);
      await eventually("the event is handed out", () => handedAt > 0, 5_000);
      check(handedAt - sentAt < 2_000, `an idle worker took ${handedAt - sentAt} ms to see a new event`);
    });

    test("stop waits for the runs in flight and hands out nothing afterwards", async (harness) => {
      const [first] = await harness.enqueue(1);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let calls = 0;
      const worker = harness.work(async () => {
        calls++;
        await gate;
        return processed;
      });
      await eventually("the event is held", () => calls === 1);
      let stopped = false;
      const stopping = worker.stop().then(() => {
        stopped = true;
      });
      await sleep(100);
      check(!stopped, "stop waits for the run in flight");
      release();
      await stopping;
      check((await harness.status(first!.id)) === "processed", "the run in flight was settled");
      const [later] = await harness.enqueue(1);
      await sleep(500);
      check(calls === 1 && (await harness.status(later!.id)) === "pending", "a stopped worker takes nothing");
    });

    test("runs a failed run's afterRollback after its transaction ended, records what it resolves; a rejection records nothing", async (harness) => {
      const [replaced, refused, done] = await harness.enqueue(3);
      const runs = new Map<string, number>();
      const seen: { id: string; written?: number; record?: string }[] = [];
      const settled: { id: string; settlement: InboxSettlement }[] = [];
      const probe = options.transaction;
      harness.work(
        async (job) => {
          const id = job.event.id;
          const run = (runs.get(id) ?? 0) + 1;
          runs.set(id, run);
          if (probe) await probe.write(job.tx as Tx, `${id}:${run}`);
          const after = async (): Promise<InboxSettlement> => {
            // Outside the job's transaction: on a one-session database (PGlite) these would wait for it forever.
            const written = probe ? await probe.count(`${id}:${run}`) : undefined;
            const record = await harness.inbox.get(id);
            seen.push({
              id,
              ...(written !== undefined && { written }),
              record: json(record && [record.status, record.attempts]),
            });
            if (id === refused!.id) throw new Error("could not record the failure");
            return retryIn(100, "recorded after the rollback");
          };
          if (id === done!.id) return { ...processed, afterRollback: after };
          if (run === 1) return { next: { status: "exhausted" }, error: "failed", afterRollback: after };
          return processed;
        },
        {
          leaseMs: 1_000,
          onSettled: (job, settlement) => settled.push({ id: job.event.id, settlement }),
        },
      );
      await eventually(
        "every event is processed",
        async () => {
          const statuses = await Promise.all([replaced, refused, done].map((event) => harness.status(event!.id)));
          return statuses.every((status) => status === "processed");
        },
        15_000,
      );
      check(!seen.some((item) => item.id === done!.id), "a processed settlement's afterRollback is not run");
      for (const event of [replaced!, refused!]) {
        const during = seen.filter((item) => item.id === event.id);
        check(during.length === 1, `afterRollback ran once for the failed run, got ${json(during)}`);
        check(during[0]!.record === json(["pending", 0]), `and before anything was recorded: ${json(during[0])}`);
        if (probe) check(during[0]!.written === 0, "after the run's writes were rolled back");
      }
      const stored = await harness.inbox.get(replaced!.id);
      check(
        stored?.attempts === 2 && stored.lastError === "recorded after the rollback",
        `what afterRollback resolved was recorded in place of the settlement: ${json(stored)}`,
      );
      const first = settled.find((item) => item.id === replaced!.id)?.settlement;
      check(
        first?.next.status === "pending" && first.error === "recorded after the rollback" && !first.afterRollback,
        `onSettled got what was recorded: ${json(first)}`,
      );
      const lost = await harness.inbox.get(refused!.id);
      check(lost?.attempts === 1 && lost.lastError === undefined, `a rejected one recorded nothing: ${json(lost)}`);
      check(
        harness.errors.some((error) => (error as Error).message === "could not record the failure"),
        "its error went to onError",
      );
    });

    const probe = options.transaction;
    if (probe) {
      test("commits the job's transaction only with a processed settlement", async (harness) => {
        const [kept, retried, thrown] = await harness.enqueue(3);
        const runs = new Map<string, number>();
        harness.work(
          async (job) => {
            const id = job.event.id;
            const run = (runs.get(id) ?? 0) + 1;
            runs.set(id, run);
            await probe.write(job.tx as Tx, `${id}:${run}`);
            if (id === retried!.id && run === 1) return retryIn(200, "rolled back");
            if (id === thrown!.id && run === 1) throw new Error("worker bug");
            return processed;
          },
          { leaseMs: 500 },
        );
        await eventually("every event is processed", async () => {
          const statuses = await Promise.all([kept, retried, thrown].map((event) => harness.status(event!.id)));
          return statuses.every((status) => status === "processed");
        });
        check((await probe.count(`${kept!.id}:1`)) === 1, "a processed run's write is committed");
        check((await probe.count(`${retried!.id}:1`)) === 0, "a pending settlement rolls the write back");
        check((await probe.count(`${retried!.id}:2`)) === 1, "and the retry's write is committed");
        check((await probe.count(`${thrown!.id}:1`)) === 0, "a processor that threw leaves no write");
        check((await probe.count(`${thrown!.id}:2`)) === 1, "and the run after its lease is committed");
      });
    }
  });
}
