import type {
  Delivery,
  DeliveryJob,
  DeliveryStatus,
  DeliveryStore,
  Endpoint,
  Message,
  Processor,
  Settlement,
  WorkOptions,
} from "@hookline/core";
import { type Check, contractChecks, json, sleep, unique } from "./engine-contract";
import type { ContractRunner } from "./store-contract";

const { check: checkDelivery, eventually } = contractChecks("DeliveryStore");
const check: Check = checkDelivery;

function endpoint(fields: Partial<Endpoint> = {}): Endpoint {
  const at = Date.now();
  return {
    id: unique("ep_"),
    url: "https://example.com/webhooks",
    headers: { "x-contract": "yes" },
    metadata: { owner: "Zoë", nested: { n: 1 } },
    secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }],
    disabled: false,
    createdAt: at,
    updatedAt: at,
    ...fields,
  };
}

function message(fields: Partial<Message> = {}): Message {
  return {
    id: unique("msg_"),
    type: "invoice.paid",
    payload: '{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00.000Z","data":{"note":"Zoë 🎉"}}',
    createdAt: Date.now(),
    ...fields,
  };
}

function delivery(messageId: string, endpointId: string, createdAt = Date.now()): Delivery {
  return {
    id: unique("dlv_"),
    messageId,
    endpointId,
    status: "pending",
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
  };
}

/** A settlement as the sender makes one. */
function settlement(next: Settlement["next"], fields: Partial<Settlement["attempt"]> = {}): Settlement {
  const outcome = next.status === "delivered" ? "success" : next.status === "pending" ? "retry" : "final";
  return { attempt: { startedAt: Date.now(), durationMs: 3, outcome, ...fields }, next };
}

const delivered = (status = 200) => settlement({ status: "delivered" }, { status, responseBody: "ok" });

/** Options of {@link runDeliveryStoreContract}. */
export interface DeliveryContractOptions {
  /**
   * For an engine that joins the caller's transaction (`tx`): opens one, runs `body` on it, commits when `body`
   * resolves and rolls back when it rejects (then rejects with its error), as postgres.js's `sql.begin` and
   * PGlite's `transaction` do. The contract then checks that the endpoint reads and `enqueue` run on that `tx`
   * (on PGlite, one session, a read outside it would wait for it forever) and that a rollback leaves no message.
   * @default undefined (the engine joins none; the contract checks that it rejects a `tx`)
   */
  transaction?: <T>(body: (tx: unknown) => Promise<T>) => Promise<T>;
}

interface Harness {
  store: DeliveryStore;
  /** Stores endpoints, then one message per entry fanned out to those endpoints; returns the deliveries. */
  send(endpoints: Endpoint[], count?: number): Promise<Delivery[]>;
  /** Starts a worker; every worker is stopped (and the store closed) when the test ends. */
  work(processor: Processor<DeliveryJob, Settlement>, options?: Partial<WorkOptions>): { stop(): Promise<void> };
  status(id: string): Promise<DeliveryStatus | undefined>;
  errors: unknown[];
}

/**
 * Checks the guarantees a sender relies on from a `DeliveryStore`: endpoints, idempotent enqueue, listings,
 * leases that keep two workers off one delivery and hand out a dead worker's delivery again, settlements
 * fenced by their lease, delays, per-endpoint concurrency across workers, disabled endpoints, requeue, delete,
 * `dueIn`, waking idle workers and `stop()`. The PostgreSQL and BullMQ engines run it unchanged.
 *
 * With {@link DeliveryContractOptions.transaction}, it also checks that the endpoint reads and `enqueue` join the
 * caller's transaction; without it, that the engine refuses one.
 *
 * `work` takes every due delivery in the engine, so `makeStore` must return an engine of its own each time (a
 * fresh schema, key prefix or database): two tests sharing one would take each other's deliveries. Takes about
 * ten seconds, mostly waiting for leases and delays to run out.
 *
 * @param makeStore called once per test; the engine is closed (`close()`) when the test ends.
 * @example
 * import { describe, it } from "vitest";
 * runDeliveryStoreContract("postgres", () => postgresDeliveries({ client, schema: freshSchema() }), { describe, it });
 */
export function runDeliveryStoreContract(
  name: string,
  makeStore: () => DeliveryStore | Promise<DeliveryStore>,
  { describe, it }: ContractRunner,
  options: DeliveryContractOptions = {},
): void {
  const test = (title: string, body: (harness: Harness) => Promise<void>, timeout = 30_000) =>
    it(
      title,
      async () => {
        const store = await makeStore();
        const workers: { stop(): Promise<void> }[] = [];
        const errors: unknown[] = [];
        const harness: Harness = {
          store,
          errors,
          async send(endpoints, count = 1) {
            for (const item of endpoints) await store.endpoints.create(item);
            const all: Delivery[] = [];
            for (let i = 0; i < count; i++) {
              const sent = message();
              const result = await store.messages.enqueue(
                sent,
                endpoints.map((item) => delivery(sent.id, item.id)),
              );
              all.push(...result.deliveries);
            }
            return all;
          },
          work(processor, options = {}) {
            const worker = store.work(processor, {
              concurrency: 10,
              perKeyConcurrency: 10,
              leaseMs: 30_000,
              onError: (error) => errors.push(error),
              ...options,
            });
            workers.push(worker);
            return worker;
          },
          async status(id) {
            return (await store.deliveries.get(id))?.status;
          },
        };
        try {
          await body(harness);
        } finally {
          await Promise.all(workers.map((worker) => worker.stop()));
          await store.close?.();
        }
      },
      timeout,
    );

  describe(`DeliveryStore contract: ${name}`, () => {
    test("stores endpoints: create, get, update, list by tenant oldest first in pages; refuses a taken id", async ({
      store,
    }) => {
      const tenant = unique("tenant_");
      const created = [endpoint({ tenant }), endpoint({ tenant, types: ["invoice.paid"] }), endpoint({ tenant })];
      for (const item of created) await store.endpoints.create(item);
      await store.endpoints.create(endpoint({ tenant: unique("other_") }));
      check(json(await store.endpoints.get(created[1]!.id)) === json(created[1]), "get returns what was created");
      check((await store.endpoints.get(unique("ep_"))) === undefined, "an unknown endpoint is undefined");

      const first = await store.endpoints.list({ tenant, limit: 2 });
      check(
        json(first.items.map((item) => item.id)) === json(created.slice(0, 2).map((item) => item.id)),
        `the first page holds the two oldest of the tenant, got ${json(first.items.map((item) => item.id))}`,
      );
      check(first.cursor !== undefined, "a page with more after it has a cursor");
      const second = await store.endpoints.list({ tenant, limit: 2, cursor: first.cursor });
      check(
        json(second.items.map((item) => item.id)) === json([created[2]!.id]) && second.cursor === undefined,
        "the last page holds the rest and no cursor",
      );

      const updated = await store.endpoints.update(created[0]!.id, {
        url: "https://example.com/v2",
        types: ["invoice.voided"],
        disabled: true,
        disabledReason: "manual",
      });
      check(updated?.url === "https://example.com/v2" && updated.disabled, "update returns the endpoint as stored");
      check(updated.createdAt === created[0]!.createdAt && updated.id === created[0]!.id, "id and createdAt stay");
      const reenabled = await store.endpoints.update(created[0]!.id, { disabled: false, disabledReason: undefined });
      check(
        reenabled?.disabled === false && reenabled.disabledReason === undefined,
        "an undefined field in a patch clears it",
      );
      check((await store.endpoints.update(unique("ep_"), { url: "https://x.test" })) === undefined, "update of none");

      let refused: unknown;
      await store.endpoints.create({ ...created[0]!, url: "https://example.com/other" }).catch((error) => {
        refused = error;
      });
      check(
        (refused as { code?: string } | undefined)?.code === "invalid_option",
        "creating a taken id rejects invalid_option",
      );
      check((await store.endpoints.get(created[0]!.id))?.url === "https://example.com/v2", "and changes nothing");
    });

    test("rotates a secret in one step: rotations at once keep every new secret, expired ones go", async ({
      store,
    }) => {
      const at = Date.now();
      const target = endpoint({
        secrets: [
          { secret: "whsec_current" },
          { secret: "whsec_graced", publicKey: "whpk_graced", expiresAt: at + 60_000 },
          { secret: "whsec_expired", expiresAt: at - 1 },
        ],
      });
      await store.endpoints.create(target);
      const grace = { at, expiresAt: at + 1_000 };
      const rotated = await store.endpoints.rotateSecret(target.id, { secret: "whsec_new" }, grace);
      check(
        json(rotated?.secrets) ===
          json([
            { secret: "whsec_new" },
            { secret: "whsec_current", expiresAt: at + 1_000 },
            { secret: "whsec_graced", publicKey: "whpk_graced", expiresAt: at + 1_000 },
          ]),
        `the new secret first, the unexpired ones capped at the grace, the expired gone: ${json(rotated?.secrets)}`,
      );
      check(json(await store.endpoints.get(target.id)) === json(rotated), "rotateSecret returns what is stored");
      const kept = { secret: "whsec_short", expiresAt: at + 500 };
      await store.endpoints.update(target.id, { secrets: [{ secret: "whsec_a" }, kept] });
      const again = await store.endpoints.rotateSecret(target.id, { secret: "whsec_b" }, grace);
      check(
        json(again?.secrets) === json([{ secret: "whsec_b" }, { secret: "whsec_a", expiresAt: at + 1_000 }, kept]),
        `an expiry sooner than the grace stays as it was: ${json(again?.secrets)}`,
      );

      const news = Array.from({ length: 8 }, (_, i) => `whsec_at_once_${i}`);
      await Promise.all(news.map((secret) => store.endpoints.rotateSecret(target.id, { secret }, grace)));
      const stored = new Set((await store.endpoints.get(target.id))?.secrets.map((item) => item.secret));
      const lost = news.filter((secret) => !stored.has(secret));
      check(lost.length === 0, `rotations at once keep every new secret, lost ${json(lost)}`);
      check(
        (await store.endpoints.rotateSecret(unique("ep_"), { secret: "whsec_x" }, grace)) === undefined,
        "rotating an unknown endpoint resolves undefined",
      );
    });

    const transaction = options.transaction;
    if (transaction) {
      test("reads endpoints and enqueues on the caller's transaction: stored at COMMIT, never after a ROLLBACK", async ({
        store,
      }) => {
        const target = endpoint({ tenant: unique("tenant_") });
        await store.endpoints.create(target);
        const sendIn = (tx: unknown) => async () => {
          const found = await store.endpoints.get(target.id, { tx });
          const listed = await store.endpoints.list({ tenant: target.tenant as string, tx });
          check(found?.id === target.id, "get on the transaction finds the endpoint");
          check(json(listed.items.map((item) => item.id)) === json([target.id]), "and so does list on it");
          const sent = message();
          const result = await store.messages.enqueue(sent, [delivery(sent.id, target.id)], { tx });
          check(result.created && result.deliveries.length === 1, "enqueue on the transaction creates");
          return sent.id;
        };
        const committed = await transaction((tx) => sendIn(tx)());
        let rolledBack: string | undefined;
        const refused = await transaction(async (tx) => {
          rolledBack = await sendIn(tx)();
          throw new Error("rolled back on purpose");
        }).catch((error: Error) => error.message);
        check(refused === "rolled back on purpose", `the transaction body's error comes back, got ${refused}`);
        check((await store.messages.get(committed)) !== undefined, "a committed transaction's message is stored");
        check((await store.deliveries.list({ messageId: committed })).items.length === 1, "with its delivery");
        check((await store.messages.get(rolledBack as string)) === undefined, "a rolled-back one's is not");
        check(
          (await store.deliveries.list({ messageId: rolledBack as string })).items.length === 0,
          "nor its delivery",
        );
      });
    } else {
      test("refuses a caller's transaction (invalid_option): reads and enqueue cannot join one", async ({ store }) => {
        const target = endpoint();
        await store.endpoints.create(target);
        const tx = { query: async () => [] };
        const sent = message();
        const codes = await Promise.all(
          [
            () => store.endpoints.get(target.id, { tx }),
            () => store.endpoints.list({ tx }),
            () => store.messages.enqueue(sent, [delivery(sent.id, target.id)], { tx }),
          ].map(async (call) => {
            try {
              await call();
              return "resolved";
            } catch (error) {
              return (error as { code?: string }).code;
            }
          }),
        );
        check(json(codes) === json(["invalid_option", "invalid_option", "invalid_option"]), `got ${json(codes)}`);
        check((await store.messages.get(sent.id)) === undefined, "and stores nothing");
      });
    }

    test("enqueues a message and its deliveries once: the same id again writes nothing", async ({ store }) => {
      const [a, b] = [endpoint(), endpoint()];
      await store.endpoints.create(a);
      await store.endpoints.create(b);
      const sent = message();
      const first = await store.messages.enqueue(sent, [delivery(sent.id, a.id), delivery(sent.id, b.id)]);
      check(first.created, "the first enqueue creates");
      check(json(first.message) === json(sent), "and returns the message");
      check(
        first.deliveries.length === 2 &&
          first.deliveries.every((item) => item.status === "pending" && item.attempts === 0),
        "deliveries start pending with no attempts",
      );
      const again = await store.messages.enqueue({ ...sent, payload: '{"other":true}' }, [delivery(sent.id, a.id)]);
      check(!again.created, "the same id again does not create");
      check(again.message.payload === sent.payload, "it returns the stored message, not the new one");
      check(
        json(again.deliveries.map((item) => item.id).sort()) === json(first.deliveries.map((item) => item.id).sort()),
        "and the stored deliveries",
      );
      check(json(await store.messages.get(sent.id)) === json(sent), "get returns the message byte for byte");
      check((await store.messages.get(unique("msg_"))) === undefined, "an unknown message is undefined");
      const listed = await store.deliveries.list({ messageId: sent.id });
      check(listed.items.length === 2, `the message has exactly two deliveries, got ${listed.items.length}`);
    });

    test("lists deliveries newest first, filtered by message, endpoint and status, in pages", async (harness) => {
      const { store } = harness;
      const [a, b] = [endpoint(), endpoint()];
      const deliveries = await harness.send([a, b], 3);
      const ofA = deliveries.filter((item) => item.endpointId === a.id).map((item) => item.id);
      const page1 = await store.deliveries.list({ endpointId: a.id, limit: 2 });
      const page2 = await store.deliveries.list({ endpointId: a.id, limit: 2, cursor: page1.cursor });
      check(
        json([...page1.items, ...page2.items].map((item) => item.id)) === json([...ofA].reverse()),
        "an endpoint's deliveries, newest first, over two pages",
      );
      check(page1.cursor !== undefined && page2.cursor === undefined, "the cursor marks every page but the last");
      check(
        (await store.deliveries.list({ endpointId: a.id, status: "delivered" })).items.length === 0,
        "none delivered yet",
      );
      check((await store.deliveries.list({ endpointId: b.id, status: "pending" })).items.length === 3, "three pending");
      check((await store.deliveries.get(unique("dlv_"))) === undefined, "an unknown delivery is undefined");
    });

    test("hands a due delivery to a worker with its message, endpoint and lease, and records the settlement", async (harness) => {
      const { store } = harness;
      const target = endpoint();
      const [sent] = await harness.send([target]);
      const jobs: DeliveryJob[] = [];
      harness.work(async (job) => {
        jobs.push(job);
        return delivered(204);
      });
      await eventually("the delivery is delivered", async () => (await harness.status(sent!.id)) === "delivered");
      check(jobs.length === 1, `one attempt, got ${jobs.length}`);
      const [job] = jobs;
      check(job!.delivery.id === sent!.id && job!.delivery.attempts === 0, "the job carries the delivery");
      check(json(job!.endpoint) === json(target), "and its endpoint as stored");
      check(json(job!.message) === json(await store.messages.get(sent!.messageId)), "and its message");
      check(typeof job!.lease.token === "string" && job!.lease.token.length >= 16, "and a random lease token");
      const stored = await store.deliveries.get(sent!.id);
      check(stored?.attempts === 1 && stored.lastStatus === 204, `attempts 1, lastStatus 204: ${json(stored)}`);
      check(stored.nextAttemptAt === undefined, "a delivered delivery has no next attempt");
      const log = await store.attempts.list(sent!.id);
      check(log.length === 1, `one attempt in the log, got ${log.length}`);
      check(
        log[0]!.status === 204 && log[0]!.outcome === "success" && log[0]!.responseBody === "ok",
        `the attempt as settled: ${json(log[0])}`,
      );
      check(
        log[0]!.deliveryId === sent!.id && log[0]!.messageId === sent!.messageId && log[0]!.endpointId === target.id,
        "the attempt names its delivery, message and endpoint",
      );
      check(typeof log[0]!.id === "string" && log[0]!.id.length > 0, "the attempt has an id");
      check((await store.deliveries.dueIn()) === undefined, "nothing is pending any more");
    });

    test("calls onSettled once per settled job, after the settlement is recorded", async (harness) => {
      const deliveries = await harness.send([endpoint(), endpoint()], 3);
      const seen: Promise<DeliveryStatus | undefined>[] = [];
      const returned = new Map<string, Settlement>();
      harness.work(
        async (job) => {
          const settlement = delivered();
          returned.set(job.delivery.id, settlement);
          return settlement;
        },
        {
          onSettled: (job, settled) => {
            check(settled.next.status === "delivered", "onSettled gets the settlement");
            check(
              settled === returned.get(job.delivery.id),
              "onSettled gets the very object the processor returned, not a copy (the sender keys on it)",
            );
            seen.push(harness.status(job.delivery.id));
          },
        },
      );
      await eventually("every job is settled", () => seen.length === deliveries.length);
      const statuses = await Promise.all(seen);
      check(
        statuses.every((status) => status === "delivered"),
        `onSettled ran before the settlement was recorded: ${json(statuses)}`,
      );
    });

    test("hands a pending delivery out again only after its delay, and ends it as settled", async (harness) => {
      const target = endpoint();
      const [sent] = await harness.send([target]);
      const started: number[] = [];
      let settledAt = 0;
      harness.work(async () => {
        started.push(Date.now());
        if (started.length === 1) {
          settledAt = Date.now();
          return settlement({ status: "pending", delayMs: 600 }, { status: 503, responseBody: "busy" });
        }
        return settlement({ status: "exhausted" }, { error: "timed out", outcome: "retry" });
      });
      await eventually("the delivery is exhausted", async () => (await harness.status(sent!.id)) === "exhausted");
      check(started.length === 2, `two attempts, got ${started.length}`);
      check(
        started[1]! - settledAt >= 550,
        `the second attempt waited ${started[1]! - settledAt} ms of a 600 ms delay`,
      );
      const stored = await harness.store.deliveries.get(sent!.id);
      check(stored?.attempts === 2, `attempts 2, got ${stored?.attempts}`);
      check(
        stored.lastError === "timed out" && stored.lastStatus === undefined,
        `the last attempt's error replaces the previous status: ${json(stored)}`,
      );
      const log = await harness.store.attempts.list(sent!.id);
      check(
        json(log.map((item) => item.status ?? item.error)) === json([503, "timed out"]),
        "the log keeps both, oldest first",
      );
    });

    test("never hands one delivery to two workers at once", async (harness) => {
      const deliveries = await harness.send([endpoint(), endpoint(), endpoint()], 12);
      const holding = new Set<string>();
      const attempts = new Map<string, number>();
      let overlaps = 0;
      const processor: Processor<DeliveryJob, Settlement> = async (job) => {
        const id = job.delivery.id;
        if (holding.has(id)) overlaps++;
        holding.add(id);
        attempts.set(id, (attempts.get(id) ?? 0) + 1);
        await sleep(Math.floor(Math.random() * 5));
        holding.delete(id);
        return delivered();
      };
      harness.work(processor, { concurrency: 4 });
      harness.work(processor, { concurrency: 4 });
      harness.work(processor, { concurrency: 4 });
      await eventually("every delivery is delivered", async () => {
        const page = await harness.store.deliveries.list({ status: "pending", limit: 1000 });
        return page.items.length === 0 && attempts.size === deliveries.length;
      });
      check(overlaps === 0, `${overlaps} deliveries were held by two workers at once`);
      const repeated = [...attempts.values()].filter((count) => count !== 1).length;
      check(repeated === 0, `${repeated} deliveries were attempted more than once`);
    });

    test("keeps per-endpoint concurrency across workers, without starving other endpoints", async (harness) => {
      const [slow, fast] = [endpoint(), endpoint()];
      await harness.store.endpoints.create(slow);
      const slowDeliveries: Delivery[] = [];
      for (let i = 0; i < 8; i++) {
        const sent = message();
        slowDeliveries.push(...(await harness.store.messages.enqueue(sent, [delivery(sent.id, slow.id)])).deliveries);
      }
      let slowHeld = 0;
      let slowMax = 0;
      let fastDone = 0;
      let releaseSlow!: () => void;
      const slowGate = new Promise<void>((resolve) => {
        releaseSlow = resolve;
      });
      const processor: Processor<DeliveryJob, Settlement> = async (job) => {
        if (job.endpoint.id === fast.id) {
          fastDone++;
          return delivered();
        }
        slowHeld++;
        slowMax = Math.max(slowMax, slowHeld);
        await slowGate;
        slowHeld--;
        return delivered();
      };
      harness.work(processor, { concurrency: 10, perKeyConcurrency: 2 });
      harness.work(processor, { concurrency: 10, perKeyConcurrency: 2 });
      await eventually("the slow endpoint holds its two slots", () => slowHeld === 2);
      await harness.send([fast], 4);
      await eventually("the other endpoint's deliveries go through meanwhile", () => fastDone === 4);
      check(slowMax === 2, `at most 2 in flight for one endpoint across workers, saw ${slowMax}`);
      releaseSlow();
      await eventually("the slow endpoint's deliveries all end", async () => {
        const statuses = await Promise.all(slowDeliveries.map((item) => harness.status(item.id)));
        return statuses.every((status) => status === "delivered");
      });
      check(slowMax === 2, `at most 2 in flight for one endpoint across workers, saw ${slowMax}`);
    });

    test("hands a delivery out again once its lease ends; the late settlement is logged but changes nothing", async (harness) => {
      const [sent] = await harness.send([endpoint()]);
      const handedOut: number[] = [];
      let secondDone!: () => void;
      const second = new Promise<void>((resolve) => {
        secondDone = resolve;
      });
      const processor: Processor<DeliveryJob, Settlement> = async () => {
        handedOut.push(Date.now());
        if (handedOut.length === 1) {
          await second; // a worker that stalls past its lease
          return settlement({ status: "failed" }, { status: 400 });
        }
        secondDone();
        return delivered();
      };
      harness.work(processor, { leaseMs: 1_000 });
      harness.work(processor, { leaseMs: 1_000 });
      await eventually("the stalled worker has settled too", async () => {
        return (await harness.store.attempts.list(sent!.id)).length === 2;
      });
      check(handedOut.length === 2, `handed out twice, got ${handedOut.length}`);
      check(
        handedOut[1]! - handedOut[0]! >= 700,
        `handed out again only once the 1000 ms lease ended, after ${handedOut[1]! - handedOut[0]!} ms`,
      );
      const stored = await harness.store.deliveries.get(sent!.id);
      check(stored?.status === "delivered", `the lease holder's settlement stands, got ${stored?.status}`);
      check(stored.attempts === 1 && stored.lastStatus === 200, `the stale one did not count: ${json(stored)}`);
      const log = await harness.store.attempts.list(sent!.id);
      check(
        json(log.map((item) => item.status)) === json([200, 400]),
        `both attempts are in the log, got ${json(log)}`,
      );
    });

    test("a processor that throws leaves its delivery to be handed out again when the lease ends", async (harness) => {
      const [sent] = await harness.send([endpoint()]);
      let calls = 0;
      harness.work(
        async () => {
          calls++;
          if (calls === 1) throw new Error("worker bug");
          return delivered();
        },
        { leaseMs: 400 },
      );
      await eventually("the delivery is delivered", async () => (await harness.status(sent!.id)) === "delivered");
      check(calls === 2, `attempted twice, got ${calls}`);
      check(
        harness.errors.some((error) => (error as Error).message === "worker bug"),
        "the error went to onError",
      );
    });

    test("holds a disabled endpoint's deliveries until it is enabled; settlements disable and mark failing", async (harness) => {
      const { store } = harness;
      const target = endpoint();
      const [first] = await harness.send([target]);
      const seen: string[] = [];
      harness.work(async (job) => {
        seen.push(job.delivery.id);
        if (seen.length === 1) {
          return {
            ...settlement({ status: "pending", delayMs: 0 }, { status: 410, outcome: "disable" }),
            endpoint: { disable: { reason: "gone" }, failingSince: 1_000 },
          };
        }
        return { ...delivered(), endpoint: { failingSince: null } };
      });
      await eventually(
        "the endpoint is disabled",
        async () => (await store.endpoints.get(target.id))?.disabled === true,
      );
      const disabled = await store.endpoints.get(target.id);
      check(
        disabled?.disabledReason === "gone" && disabled.failingSince === 1_000,
        `the settlement's endpoint changes: ${json(disabled)}`,
      );
      const sent = message();
      const [waiting] = (await store.messages.enqueue(sent, [delivery(sent.id, target.id)])).deliveries;
      await sleep(700);
      check(json(seen) === json([first!.id]), `nothing is handed out while disabled, got ${json(seen)}`);
      check((await store.deliveries.dueIn()) === undefined, "a disabled endpoint's deliveries are not due");
      check((await harness.status(waiting!.id)) === "pending", "they wait, pending");

      await store.endpoints.update(target.id, { disabled: false, disabledReason: undefined });
      await eventually("both are delivered once enabled", async () => {
        return (await harness.status(first!.id)) === "delivered" && (await harness.status(waiting!.id)) === "delivered";
      });
      const enabled = await store.endpoints.get(target.id);
      check(enabled?.failingSince === undefined, `failingSince: null clears it, got ${json(enabled)}`);
    });

    test("requeues by id whatever the status, and by endpoint, time range and status up to a limit", async (harness) => {
      const { store } = harness;
      const target = endpoint();
      await store.endpoints.create(target);
      const base = Date.now() - 60_000;
      const old: Delivery[] = [];
      for (let i = 0; i < 5; i++) {
        const sent = message({ createdAt: base + i * 1000 });
        old.push(...(await store.messages.enqueue(sent, [delivery(sent.id, target.id, base + i * 1000)])).deliveries);
      }
      let attempt = 0;
      harness.work(async (job) => {
        attempt++;
        // The first pass ends the five in every final state; requeued ones are delivered.
        const index = old.findIndex((item) => item.id === job.delivery.id);
        if (job.delivery.attempts === 0 && attempt <= 5) {
          return settlement({
            status: (["failed", "exhausted", "exhausted", "exhausted", "delivered"] as const)[index]!,
          });
        }
        return delivered();
      });
      await eventually("the first pass ends", async () => {
        const statuses = await Promise.all(old.map((item) => harness.status(item.id)));
        return statuses.every((status) => status !== "pending");
      });
      check((await store.deliveries.requeue({ deliveryIds: [old[0]!.id, unique("dlv_")] })) === 1, "one by id");
      await eventually("the failed one is delivered", async () => (await harness.status(old[0]!.id)) === "delivered");
      const retried = await store.deliveries.get(old[0]!.id);
      check(retried?.attempts === 1, `requeue starts a fresh schedule: attempts ${retried?.attempts}`);
      check((await store.attempts.list(old[0]!.id)).length === 2, "the log keeps the attempt before the requeue");

      const replayed = await store.deliveries.requeue({
        endpointId: target.id,
        since: base + 1000,
        until: base + 3000,
        status: "exhausted",
        limit: 1,
      });
      check(replayed === 1, `the limit holds, requeued ${replayed}`);
      const rest = await store.deliveries.requeue({
        endpointId: target.id,
        since: base + 1000,
        until: base + 3000,
        status: "exhausted",
        limit: 10,
      });
      check(rest === 1, `the range [since, until) and status select the other, requeued ${rest}`);
      await eventually("the requeued ones are delivered", async () => {
        return (await harness.status(old[1]!.id)) === "delivered" && (await harness.status(old[2]!.id)) === "delivered";
      });
      check((await harness.status(old[3]!.id)) === "exhausted", "the one outside the range is left alone");
    });

    test("leaves a delivery under a live lease to its worker when requeued", async (harness) => {
      const [sent] = await harness.send([endpoint()]);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let calls = 0;
      harness.work(async () => {
        calls++;
        await gate;
        return delivered();
      });
      await eventually("the delivery is held", () => calls === 1);
      check((await harness.store.deliveries.requeue({ deliveryIds: [sent!.id] })) === 0, "a held one is not requeued");
      release();
      await eventually("the delivery is delivered", async () => (await harness.status(sent!.id)) === "delivered");
      check(calls === 1, `attempted once, got ${calls}`);
    });

    test("delete ends an endpoint's pending deliveries failed and keeps their history", async (harness) => {
      const { store } = harness;
      const target = endpoint();
      const [sent] = await harness.send([target]);
      check((await store.endpoints.delete(target.id)) === true, "delete reports a removal");
      check((await store.endpoints.delete(target.id)) === false, "a second delete reports nothing removed");
      check((await store.endpoints.get(target.id)) === undefined, "the endpoint is gone");
      const stored = await store.deliveries.get(sent!.id);
      check(
        stored?.status === "failed" && stored.lastError === "endpoint deleted",
        `its pending delivery ends failed: ${json(stored)}`,
      );
      check((await store.messages.get(sent!.messageId)) !== undefined, "the message is kept");
      check((await store.deliveries.dueIn()) === undefined, "nothing is due");
    });

    test("dueIn says when the next delivery is due", async (harness) => {
      const { store } = harness;
      check((await store.deliveries.dueIn()) === undefined, "an empty engine has nothing due");
      const [sent] = await harness.send([endpoint()]);
      const now = await store.deliveries.dueIn();
      check(now !== undefined && now <= 0, `a new delivery is due now, got ${now}`);
      harness.work(async () => settlement({ status: "pending", delayMs: 60_000 }, { status: 503 }));
      await eventually("the attempt is recorded", async () => (await store.attempts.list(sent!.id)).length === 1);
      await eventually("the delivery waits", async () => ((await store.deliveries.dueIn()) ?? 0) > 0);
      const later = await store.deliveries.dueIn();
      check(later !== undefined && later > 50_000 && later <= 60_000, `due in about a minute, got ${later}`);
    });

    test("wakes an idle worker as soon as a message is enqueued", async (harness) => {
      const target = endpoint();
      await harness.store.endpoints.create(target);
      let handedAt = 0;
      harness.work(async () => {
        handedAt = Date.now();
        return delivered();
      });
      await sleep(1_500);
      const sentAt = Date.now();
      const sent = message();
      await harness.store.messages.enqueue(sent, [delivery(sent.id, target.id)]);
      await eventually("the delivery is handed out", () => handedAt > 0, 5_000);
      check(handedAt - sentAt < 2_000, `an idle worker took ${handedAt - sentAt} ms to see a new delivery`);
    });

    test("stop waits for attempts in flight and hands out nothing afterwards", async (harness) => {
      const target = endpoint();
      const [first] = await harness.send([target]);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let calls = 0;
      const worker = harness.work(async () => {
        calls++;
        await gate;
        return delivered();
      });
      await eventually("the delivery is held", () => calls === 1);
      let stopped = false;
      const stopping = worker.stop().then(() => {
        stopped = true;
      });
      await sleep(100);
      check(!stopped, "stop waits for the attempt in flight");
      release();
      await stopping;
      check((await harness.status(first!.id)) === "delivered", "the attempt in flight was settled");
      const sent = message();
      const [later] = (await harness.store.messages.enqueue(sent, [delivery(sent.id, target.id)])).deliveries;
      await sleep(500);
      check(calls === 1 && (await harness.status(later!.id)) === "pending", "a stopped worker takes nothing");
    });
  });
}
