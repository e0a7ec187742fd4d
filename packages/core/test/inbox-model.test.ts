import { signedRequest } from "@hookline/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createReceiver, memoryDeadLetters, memoryInbox } from "../src";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const silent = { info() {}, warn() {}, error() {} };
// Long enough that a live run never outlasts it on a loaded machine; a crashed run outlasts it on purpose.
const LEASE_MS = 400;

/**
 * What one run of an event's handler does: succeed (its effect lands), fail (throw: the schedule runs it again),
 * or crash (the worker dies holding the lease: nothing settles until the lease ends, then the event is handed
 * out again; the dead run's late settlement must change nothing).
 */
type Run = "ok" | "fail" | "crash";

const eventPlan = fc.record({
  key: fc.option(fc.constantFrom("cus_a", "cus_b", "cus_c"), { nil: undefined }),
  runs: fc.array(fc.constantFrom<Run>("ok", "fail", "fail", "crash"), { maxLength: 3 }),
  // What every later run does, so that each event ends: processed, or exhausted after its 4 attempts.
  last: fc.constantFrom<Run>("ok", "ok", "fail"),
});

describe("the inbox model", () => {
  it("loses nothing, never runs one event (or one key) twice at once, and keeps each key's order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventPlan, { minLength: 1, maxLength: 24 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        async (plans, workerCount, concurrency) => {
          const inbox = memoryInbox();
          const deadLetters = memoryDeadLetters();
          const ids = plans.map((_, index) => `msg_${index}`);
          const keyOf = new Map(ids.map((id, index) => [id, plans[index]?.key]));
          const runs = new Map<string, number>();
          const effects = new Map<string, number>();
          const live = new Map<string, number>();
          const liveKeys = new Map<string, number>();
          const succeeded = new Map<string, string[]>();
          const dying: Promise<void>[] = [];
          let overlaps = 0;

          const make = () =>
            createReceiver({
              secret,
              inbox,
              deadLetters,
              logger: silent,
              schedule: [0, 5, 5, 5],
              orderBy: (event) => keyOf.get(event.id),
            });
          const ingress = make();
          const workers = Array.from({ length: workerCount }, make);
          for (const worker of workers) {
            worker.onAny(async (event) => {
              const index = Number(event.id.slice(4));
              const plan = plans[index] as (typeof plans)[number];
              const run = runs.get(event.id) ?? 0;
              runs.set(event.id, run + 1);
              const what = plan.runs[run] ?? plan.last;
              if (what === "crash") {
                // A dead worker takes no part any more: it is not live, and its settlement comes too late.
                const death = new Promise<void>((resolve) => setTimeout(resolve, LEASE_MS + 50));
                dying.push(death);
                await death;
                throw new Error("crashed");
              }
              const key = plan.key;
              if ((live.get(event.id) ?? 0) > 0 || (key !== undefined && (liveKeys.get(key) ?? 0) > 0)) overlaps++;
              live.set(event.id, (live.get(event.id) ?? 0) + 1);
              if (key !== undefined) liveKeys.set(key, (liveKeys.get(key) ?? 0) + 1);
              await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
              live.set(event.id, (live.get(event.id) ?? 0) - 1);
              if (key !== undefined) liveKeys.set(key, (liveKeys.get(key) ?? 0) - 1);
              if (what === "fail") throw new Error("handler failed");
              effects.set(event.id, (effects.get(event.id) ?? 0) + 1);
              if (key !== undefined) succeeded.set(key, [...(succeeded.get(key) ?? []), event.id]);
            });
            worker.work({ concurrency, leaseMs: LEASE_MS });
          }
          try {
            for (const id of ids) {
              const response = await ingress.handle(
                await signedRequest({ secret, id, event: { type: "order.updated", data: { id } } }),
              );
              expect(response.status).toBe(200);
            }
            const deadline = Date.now() + 60_000;
            for (;;) {
              const records = await Promise.all(ids.map((id) => inbox.get(id)));
              if (records.every((record) => record?.status !== "pending")) break;
              if (Date.now() > deadline) throw new Error(`stuck: ${JSON.stringify(records)}`);
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          } finally {
            await Promise.all(workers.map((worker) => worker.stop()));
            await Promise.all(dying);
          }

          expect(overlaps).toBe(0);
          for (const id of ids) {
            const record = await inbox.get(id);
            const letter = await deadLetters.get(id);
            if (record?.status === "processed") {
              expect(effects.get(id), `${id} took effect once`).toBe(1);
              expect(letter).toBeUndefined();
            } else {
              expect(record?.status).toBe("exhausted");
              expect(effects.get(id), `${id} never took effect`).toBeUndefined();
              expect(letter?.attempts, `${id} is a dead letter of its four attempts`).toBe(4);
            }
          }
          for (const [key, done] of succeeded) {
            const arrival = ids.filter((id) => keyOf.get(id) === key && done.includes(id));
            expect(done, `key ${key} in arrival order`).toEqual(arrival);
          }
        },
      ),
      { numRuns: 15 },
    );
  }, 180_000);
});
