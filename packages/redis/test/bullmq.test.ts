import type { Delivery, DeliveryStore, Endpoint, Settlement, WorkOptions } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullmqDeliveries } from "../src/bullmq";
import { sleep } from "./deliveries";
import { bullmqCluster, deleteKeys, startRedisServer } from "./redis-server";

const url = serviceUrl("REDIS_URL");

let sequence = 0;
const unique = (label: string) => `${label}_${Date.now().toString(36)}${(sequence++).toString(36)}`;

function endpoint(overrides: Partial<Endpoint> = {}): Endpoint {
  const now = Date.now();
  return {
    id: unique("ep"),
    url: "https://example.test/webhooks",
    headers: {},
    metadata: {},
    secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }],
    disabled: false,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** Enqueues `count` messages, each with one delivery to every endpoint given. */
async function send(store: DeliveryStore, endpointIds: string[], count = 1): Promise<Delivery[]> {
  const all: Delivery[] = [];
  for (let n = 0; n < count; n++) {
    const now = Date.now();
    const message = { id: unique("msg"), type: "order.created", payload: `{"n":${n}}`, createdAt: now };
    const deliveries = endpointIds.map((endpointId) => ({
      id: unique("dlv"),
      messageId: message.id,
      endpointId,
      status: "pending" as const,
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
    }));
    all.push(...(await store.messages.enqueue(message, deliveries)).deliveries);
  }
  return all;
}

const settled = (outcome: Settlement["attempt"]["outcome"], next: Settlement["next"], status?: number): Settlement => ({
  attempt: { startedAt: Date.now(), durationMs: 1, outcome, ...(status === undefined ? {} : { status }) },
  next,
});
const delivered = () => settled("success", { status: "delivered" }, 200);

async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}

async function allDelivered(store: DeliveryStore, deliveries: Delivery[]) {
  const stored = await Promise.all(deliveries.map((one) => store.deliveries.get(one.id)));
  return stored.every((one) => one?.status === "delivered");
}

const work: WorkOptions = { concurrency: 10, perKeyConcurrency: 10, leaseMs: 10_000 };

describe("bullmqDeliveries options", () => {
  it("refuses what is not an ioredis connection, and an empty prefix", () => {
    const refused = { code: "invalid_option" };
    const notIoredis = { evalSha: async () => 0, eval: async () => 0 } as unknown as Redis;
    expect(() => bullmqDeliveries({ connection: notIoredis })).toThrow(expect.objectContaining(refused));
    const connection = new Redis({ lazyConnect: true });
    expect(() => bullmqDeliveries({ connection, prefix: "" })).toThrow(expect.objectContaining(refused));
    expect(() => bullmqDeliveries({ connection, retentionMs: 0 })).toThrow(expect.objectContaining(refused));
    connection.disconnect();
  });
});

describe.skipIf(!url)("bullmqDeliveries on real Redis", () => {
  const prefixes: string[] = [];
  const connections: Redis[] = [];
  const stores: DeliveryStore[] = [];
  let admin: Redis;

  /** An engine under a prefix of its own, on a connection of its own (as another process would have). */
  function engine(options: { retentionMs?: number; sweepIntervalMs?: number } = {}) {
    const connection = new Redis(url!, { maxRetriesPerRequest: null });
    const prefix = `{${unique("bullmq-test")}}`;
    connections.push(connection);
    prefixes.push(prefix);
    const store = bullmqDeliveries({ connection, prefix, ...options });
    stores.push(store);
    return { store, prefix, connection };
  }
  beforeAll(() => {
    admin = new Redis(url!);
  });
  afterAll(async () => {
    for (const store of stores) await store.close?.();
    for (const connection of connections) connection.disconnect();
    for (const prefix of prefixes) await deleteKeys(admin, prefix);
    admin.disconnect();
  });

  it("keeps an endpoint's empty arrays and objects as they were, and refuses a transaction", async () => {
    const { store } = engine();
    const target = endpoint({ types: [], secrets: [], metadata: { list: [], map: {} } });
    await store.endpoints.create(target);
    expect(await store.endpoints.get(target.id)).toEqual(target);
    const message = { id: unique("msg"), type: "t", payload: "{}", createdAt: Date.now() };
    await expect(store.messages.enqueue(message, [], { tx: {} })).rejects.toMatchObject({ code: "invalid_option" });
    expect(await store.messages.get(message.id)).toBeUndefined();
  });

  it("ends failed a delivery enqueued for an endpoint that is gone", async () => {
    const { store } = engine();
    const [orphan] = await send(store, ["ep_gone"]);
    const worker = store.work(async () => delivered(), work);
    await until(async () => (await store.deliveries.get(orphan!.id))?.status === "failed");
    await worker.stop();
    expect(await store.deliveries.get(orphan!.id)).toMatchObject({ lastError: "endpoint deleted", attempts: 0 });
    expect(await store.deliveries.dueIn()).toBeUndefined();
  });

  it("loses nothing when Redis crashes and restarts from its append-only file (appendfsync always)", async () => {
    const server = await startRedisServer({ appendfsync: "always" });
    const connection = new Redis(server.url, { maxRetriesPerRequest: null });
    connection.on("error", () => {}); // while Redis is down; ioredis reconnects
    try {
      const store = bullmqDeliveries({ connection, sweepIntervalMs: 200 });
      const target = endpoint();
      await store.endpoints.create(target);
      const deliveries = await send(store, [target.id], 20);
      const worker = store.work(async (job) => {
        // The first attempt fails and schedules the next as a delayed job; the crash comes before it is due.
        if (job.delivery.attempts === 0) return settled("retry", { status: "pending", delayMs: 1_500 }, 503);
        return delivered();
      }, work);
      await until(async () => (await store.attempts.list(deliveries.at(-1)!.id)).length === 1);
      await server.crash();
      await sleep(200);
      await server.start();
      await until(() => allDelivered(store, deliveries), 30_000);
      await worker.stop();
      await store.close?.();
      for (const delivery of deliveries) {
        const log = await store.attempts.list(delivery.id);
        expect(log.map((attempt) => attempt.status)).toEqual([503, 200]);
      }
    } finally {
      connection.disconnect();
      await server.kill();
    }
  }, 60_000);

  it("re-adds the job of a delivery whose job was lost (a process that died between enqueue and queue.add)", async () => {
    const { store, prefix, connection } = engine({ sweepIntervalMs: 100 });
    const target = endpoint();
    await store.endpoints.create(target);
    const deliveries = await send(store, [target.id], 3);
    const queue = new Queue("jobs", { connection, prefix });
    await queue.obliterate({ force: true }); // every job gone, the deliveries still pending
    expect(Object.values(await queue.getJobCounts()).every((count) => count === 0)).toBe(true);
    await queue.close();
    const worker = store.work(async () => delivered(), { ...work, leaseMs: 300 });
    await until(() => allDelivered(store, deliveries));
    await worker.stop();
  });

  it("removes ended deliveries, their attempts and their message after the retention", async () => {
    const { store, prefix, connection } = engine({ retentionMs: 200, sweepIntervalMs: 100 });
    const target = endpoint();
    await store.endpoints.create(target);
    const worker = store.work(async () => delivered(), work);
    const [delivery] = await send(store, [target.id]);
    await until(async () => (await store.deliveries.get(delivery!.id)) === undefined);
    await worker.stop();
    expect(await store.messages.get(delivery!.messageId)).toBeUndefined();
    expect(await store.attempts.list(delivery!.id)).toEqual([]);
    expect((await store.deliveries.list()).items).toEqual([]);
    // What stays: the endpoint, the insertion counter, and BullMQ's bookkeeping of its queue.
    const keys = await connection.keys(`${prefix}:*`);
    expect(keys.filter((key) => !key.startsWith(`${prefix}:jobs:`)).sort()).toEqual(
      [`${prefix}:endpoint:${target.id}`, `${prefix}:endpoints`, `${prefix}:sequence`].sort(),
    );
  });

  it("gives back on stop() every connection its workers opened", async () => {
    const { store, connection } = engine();
    const clients = async () =>
      String(await admin.client("LIST"))
        .trim()
        .split("\n").length;
    const target = endpoint();
    await store.endpoints.create(target);
    await send(store, [target.id]); // the queue is open: the engine's own, closed by close()
    await connection.ping();
    const before = await clients();
    const workers = [store.work(async () => delivered(), work), store.work(async () => delivered(), work)];
    await until(async () => (await clients()) > before);
    await Promise.all(workers.map((worker) => worker.stop()));
    expect(await clients()).toBe(before);
  });
});

describe.skipIf(!url)("bullmqDeliveries on a Redis Cluster", () => {
  const suite = bullmqCluster((connection, prefix) => bullmqDeliveries({ connection, prefix }));

  it("delivers with every key, its own and BullMQ's, in the prefix's one slot", async () => {
    const store = bullmqDeliveries({ connection: suite.cluster, prefix: "{cluster-test}" });
    const target = endpoint();
    await store.endpoints.create(target);
    const worker = store.work(async (job) => {
      if (job.delivery.attempts === 0) return settled("retry", { status: "pending", delayMs: 50 }, 500);
      return delivered();
    }, work);
    const deliveries = await send(store, [target.id], 3);
    await until(() => allDelivered(store, deliveries));
    await worker.stop();
    await store.close?.();

    const { keys, slots, expected } = await suite.slotsOf("{cluster-test}");
    expect(keys).toBeGreaterThan(10);
    expect(slots).toEqual(expected);
  });
});
