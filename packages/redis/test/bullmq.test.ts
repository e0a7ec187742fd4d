import type { Delivery, DeliveryJob, DeliveryStore, Endpoint, Settlement, WorkOptions } from "@hookline/core";
import { HooklineError } from "@hookline/core";
import { serviceUrl } from "@hookline/core/testing";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullmqDeliveries } from "../src/bullmq";
import { sleep } from "./deliveries";
import { deleteKeys, type RedisServer, startRedisServer } from "./redis-server";

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

async function statuses(store: DeliveryStore, ids: string[]) {
  return Promise.all(ids.map(async (id) => (await store.deliveries.get(id))?.status));
}

const work: WorkOptions = { concurrency: 10, perKeyConcurrency: 10, leaseMs: 10_000 };

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
  /** A second engine on the same prefix, as a worker in another process. */
  function peer(prefix: string) {
    const connection = new Redis(url!, { maxRetriesPerRequest: null });
    connections.push(connection);
    const store = bullmqDeliveries({ connection, prefix });
    stores.push(store);
    return store;
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

  it("stores endpoints, pages them, and refuses a taken id and a transaction", async () => {
    const { store } = engine();
    const tenant = unique("tenant");
    const created = [endpoint({ tenant }), endpoint(), endpoint({ tenant, types: [], metadata: { a: [1] } })];
    for (const one of created) await store.endpoints.create(one);
    await expect(store.endpoints.create(created[0]!)).rejects.toThrow(HooklineError);
    expect(await store.endpoints.get(created[2]!.id)).toEqual(created[2]); // empty arrays stay arrays

    const first = await store.endpoints.list({ limit: 2 });
    expect(first.items.map((one) => one.id)).toEqual([created[0]!.id, created[1]!.id]);
    const second = await store.endpoints.list({ limit: 2, cursor: first.cursor });
    expect(second).toEqual({ items: [created[2]] });
    const own = await store.endpoints.list({ tenant });
    expect(own).toEqual({ items: [created[0], created[2]] });

    const updated = await store.endpoints.update(created[0]!.id, { url: "https://example.test/v2", tenant: undefined });
    expect(updated).toMatchObject({ url: "https://example.test/v2" });
    expect(updated).not.toHaveProperty("tenant");
    expect(await store.endpoints.update("ep_missing", { url: "https://x.test" })).toBeUndefined();

    const message = { id: unique("msg"), type: "t", payload: "{}", createdAt: Date.now() };
    await expect(store.messages.enqueue(message, [], { tx: {} })).rejects.toMatchObject({ code: "invalid_option" });
    expect(await store.messages.get(message.id)).toBeUndefined();
  });

  it("enqueues a message once: the same id returns what is stored", async () => {
    const { store } = engine();
    const target = endpoint();
    await store.endpoints.create(target);
    const [first] = await send(store, [target.id]);
    const message = (await store.messages.get(first!.messageId))!;
    const again = await store.messages.enqueue(message, [{ ...first!, id: unique("dlv") }]);
    expect(again).toEqual({ created: false, message, deliveries: [first] });
    expect((await store.deliveries.list({ messageId: message.id })).items).toEqual([first]);
  });

  it("attempts each due delivery, schedules the next attempt as a delayed job, and logs every attempt", async () => {
    const { store } = engine();
    const target = endpoint();
    await store.endpoints.create(target);
    const deliveries = await send(store, [target.id], 5);
    const seen: { id: string; attempts: number; at: number }[] = [];
    const worker = store.work(async (job) => {
      seen.push({ id: job.delivery.id, attempts: job.delivery.attempts, at: Date.now() });
      if (job.delivery.attempts < 2) return settled("retry", { status: "pending", delayMs: 300 }, 503);
      return delivered();
    }, work);
    await until(async () =>
      (
        await statuses(
          store,
          deliveries.map((one) => one.id),
        )
      ).every((s) => s === "delivered"),
    );
    await worker.stop();

    for (const delivery of deliveries) {
      const attempts = seen.filter((one) => one.id === delivery.id);
      expect(attempts.map((one) => one.attempts)).toEqual([0, 1, 2]);
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(250); // the delay held
      const log = await store.attempts.list(delivery.id);
      expect(log.map((one) => one.status)).toEqual([503, 503, 200]);
      expect(log[0]).toMatchObject({ deliveryId: delivery.id, endpointId: target.id, outcome: "retry" });
      expect(await store.deliveries.get(delivery.id)).toMatchObject({
        status: "delivered",
        attempts: 3,
        lastStatus: 200,
      });
    }
    expect(await store.deliveries.nextDue()).toBeUndefined();
    expect((await store.deliveries.list({ status: "delivered", limit: 3 })).items).toHaveLength(3);
  });

  it("holds per-endpoint concurrency across workers, and one slow endpoint leaves the other's slots alone", async () => {
    const { store, prefix } = engine();
    const other = peer(prefix);
    const [slow, fast] = [endpoint(), endpoint()];
    await store.endpoints.create(slow);
    await store.endpoints.create(fast);
    const inFlight = new Map<string, number>();
    const most = new Map<string, number>();
    const processor = async (job: DeliveryJob) => {
      const key = job.endpoint.id;
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      most.set(key, Math.max(most.get(key) ?? 0, inFlight.get(key)!));
      await sleep(key === slow.id ? 60 : 5);
      inFlight.set(key, inFlight.get(key)! - 1);
      return delivered();
    };
    const options = { concurrency: 8, perKeyConcurrency: 2, leaseMs: 10_000 };
    const workers = [store.work(processor, options), other.work(processor, options)];
    const deliveries = await send(store, [slow.id, fast.id], 30);
    await until(
      async () =>
        (
          await statuses(
            store,
            deliveries.map((one) => one.id),
          )
        ).every((s) => s === "delivered"),
      30_000,
    );
    await Promise.all(workers.map((worker) => worker.stop()));
    expect(most.get(slow.id)).toBe(2);
    expect(most.get(fast.id)).toBeLessThanOrEqual(2);
  });

  it("parks the deliveries of a disabled endpoint and resumes them when it is enabled", async () => {
    const { store } = engine();
    const [gone, kept] = [endpoint(), endpoint()];
    await store.endpoints.create(gone);
    await store.endpoints.create(kept);
    let disabled = false;
    const worker = store.work(async (job) => {
      if (job.endpoint.id === gone.id && !disabled) {
        disabled = true;
        return {
          ...settled("disable", { status: "pending", delayMs: 0 }, 410),
          endpoint: { disable: { reason: "gone" } },
        };
      }
      return delivered();
    }, work);
    const first = await send(store, [gone.id, kept.id], 1);
    await until(async () => (await store.endpoints.get(gone.id))?.disabled === true);
    const later = await send(store, [gone.id], 3);
    await until(async () => (await store.deliveries.get(first[1]!.id))?.status === "delivered");
    await sleep(300);
    const parked = [first[0]!, ...later].map((one) => one.id);
    expect(await statuses(store, parked)).toEqual(["pending", "pending", "pending", "pending"]);
    expect(await store.deliveries.nextDue()).toBeUndefined(); // nothing due behind a disabled endpoint
    expect(await store.endpoints.get(gone.id)).toMatchObject({ disabled: true, disabledReason: "gone" });

    await store.endpoints.update(gone.id, { disabled: false, disabledReason: undefined });
    await until(async () => (await statuses(store, parked)).every((s) => s === "delivered"));
    await worker.stop();
  });

  it("fences a worker whose job was recovered: its late settlement is logged but changes nothing", async () => {
    const { store, prefix } = engine();
    const other = peer(prefix);
    const target = endpoint();
    await store.endpoints.create(target);
    const leaseMs = 600;
    let hung: DeliveryJob | undefined;
    let lateSettled = false;
    // The first worker hangs past its lease, then reports a final failure that must not win.
    const stuck = store.work(
      async (job) => {
        hung = job;
        await sleep(leaseMs * 4);
        lateSettled = true;
        return settled("final", { status: "failed" }, 400);
      },
      { concurrency: 1, perKeyConcurrency: 1, leaseMs },
    );
    const [delivery] = await send(store, [target.id]);
    await until(() => hung !== undefined);
    const healthy = other.work(async () => delivered(), { concurrency: 1, perKeyConcurrency: 1, leaseMs });
    await until(async () => (await store.deliveries.get(delivery!.id))?.status === "delivered");
    await until(() => lateSettled);
    await sleep(100);
    await Promise.all([stuck.stop(), healthy.stop()]);

    expect(await store.deliveries.get(delivery!.id)).toMatchObject({
      status: "delivered",
      attempts: 1,
      lastStatus: 200,
    });
    const log = await store.attempts.list(delivery!.id);
    expect(log.map((one) => one.status).sort()).toEqual([200, 400]); // both attempts happened; one counted
    expect(hung!.lease.expiresAt).toBeGreaterThan(0);
  });

  it("requeues by id and by endpoint range, leaves live leases alone, and fails pending deliveries of a deleted endpoint", async () => {
    const { store } = engine();
    const [target, doomed] = [endpoint(), endpoint()];
    await store.endpoints.create(target);
    await store.endpoints.create(doomed);
    const worker = store.work(async () => settled("final", { status: "failed" }, 400), work);
    const deliveries = await send(store, [target.id], 4);
    const ids = deliveries.map((one) => one.id);
    await until(async () => (await statuses(store, ids)).every((s) => s === "failed"));
    await worker.stop();

    expect(await store.deliveries.requeue({ deliveryIds: [ids[0]!, "dlv_missing"] })).toBe(1);
    expect(await store.deliveries.get(ids[0]!)).toMatchObject({ status: "pending", attempts: 0 });
    const since = deliveries[1]!.createdAt;
    const count = await store.deliveries.requeue({ endpointId: target.id, since, status: "failed", limit: 2 });
    expect(count).toBe(2);
    expect((await store.deliveries.list({ endpointId: target.id, status: "pending" })).items).toHaveLength(3);

    const again = store.work(async () => delivered(), work);
    await until(
      async () => (await store.deliveries.list({ endpointId: target.id, status: "delivered" })).items.length === 3,
    );
    await again.stop();
    expect(await store.attempts.list(ids[0]!)).toHaveLength(2); // the log keeps every attempt across requeues

    const orphans = await send(store, [doomed.id], 2);
    expect(await store.endpoints.delete(doomed.id)).toBe(true);
    expect(await store.endpoints.delete(doomed.id)).toBe(false);
    for (const orphan of orphans) {
      expect(await store.deliveries.get(orphan.id)).toMatchObject({ status: "failed", lastError: "endpoint deleted" });
    }
    expect((await store.deliveries.list({ endpointId: doomed.id })).items).toHaveLength(2); // history kept
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
    // What stays: the endpoint, and BullMQ's bookkeeping of its queue.
    const keys = await connection.keys(`${prefix}:*`);
    expect(keys.filter((key) => !key.startsWith(`${prefix}:jobs:`)).sort()).toEqual(
      [`${prefix}:endpoint:${target.id}`, `${prefix}:endpoints`].sort(),
    );
  });

  it("gives back on stop() every connection its workers opened", async () => {
    const { store, connection } = engine();
    const clients = async () => (await admin.client("LIST")).trim().split("\n").length;
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
  let server: RedisServer;
  let cluster: Cluster;

  beforeAll(async () => {
    server = await startRedisServer({ cluster: true });
    const admin = new Redis(server.url);
    await admin.cluster("ADDSLOTSRANGE", 0, 16383);
    while (!(await admin.cluster("INFO")).includes("cluster_state:ok")) await sleep(20);
    admin.disconnect();
    cluster = new Cluster([{ host: "127.0.0.1", port: server.port }], { redisOptions: { maxRetriesPerRequest: null } });
  }, 20_000);
  afterAll(async () => {
    cluster?.disconnect();
    await server?.kill();
  });

  it("refuses a prefix without a hash tag", () => {
    expect(() => bullmqDeliveries({ connection: cluster, prefix: "hookline" })).toThrow(/hash tag/);
  });

  it("delivers with every key, its own and BullMQ's, in the prefix's one slot", async () => {
    const store = bullmqDeliveries({ connection: cluster, prefix: "{cluster-test}" });
    const target = endpoint();
    await store.endpoints.create(target);
    const worker = store.work(async (job) => {
      if (job.delivery.attempts === 0) return settled("retry", { status: "pending", delayMs: 50 }, 500);
      return delivered();
    }, work);
    const deliveries = await send(store, [target.id], 3);
    await until(async () =>
      (
        await statuses(
          store,
          deliveries.map((one) => one.id),
        )
      ).every((s) => s === "delivered"),
    );
    await worker.stop();
    await store.close?.();

    const keys = await cluster.keys("{cluster-test}:*");
    expect(keys.length).toBeGreaterThan(10);
    const slots = new Set(await Promise.all(keys.map((key) => cluster.cluster("KEYSLOT", key))));
    expect(slots).toEqual(new Set([await cluster.cluster("KEYSLOT", "{cluster-test}")]));
  });
});
