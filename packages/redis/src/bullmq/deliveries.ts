import {
  type Attempt,
  claimToken,
  type Delivery,
  type DeliveryJob,
  type DeliveryStore,
  type Endpoint,
  type EndpointSecret,
  HooklineError,
  type Message,
  type Page,
  type Processor,
  rotatedSecrets,
  type Settlement,
  type Worker,
  type WorkOptions,
} from "@hookline/core";
import { positive } from "../scripts";
import { type EngineConnectionOptions, type Flat, jobEngine, leaseWorker, recordSettlement } from "./jobs";
import {
  CLAIM,
  CREATE_ENDPOINT,
  DELETE_ENDPOINT,
  DUE_IN,
  ENQUEUE,
  LIST_DELIVERIES,
  LIST_ENDPOINTS,
  REQUEUE,
  ROTATE_SECRET,
  SETTLE,
  SWEEP,
  UPDATE_ENDPOINT,
} from "./lua";

/** Options of {@link bullmqDeliveries}. */
export interface BullmqDeliveriesOptions extends EngineConnectionOptions {
  /**
   * Put before every key: the engine's own (`<prefix>:delivery:<id>`, …) and its BullMQ queue's
   * (`<prefix>:jobs:…`). In a Redis Cluster it must be a hash tag, `{…}`, so that every key is in one slot.
   * @default "{hookline}"
   */
  prefix?: string;
  /**
   * How long a delivery that ended (`delivered`, `failed`, `exhausted`) is kept, with its attempts, before the
   * workers remove it; a message goes with its last delivery.
   * @default 2_592_000_000 (30 days)
   */
  retentionMs?: number;
  /**
   * How often each worker runs its repair round: it re-adds the job of a delivery overdue by more than the lease
   * (a process that died between storing a message and adding its jobs), gives endpoint slots freed by expired
   * leases to waiting deliveries, and removes what is past its retention.
   * @default 5_000
   */
  sweepIntervalMs?: number;
}

/** The BullMQ queue's name, under the prefix: `<prefix>:jobs:wait`, `<prefix>:jobs:delayed`, … */
const QUEUE = "jobs";
const DAY = 24 * 60 * 60 * 1000;

/** A record from a Redis hash whose fields hold JSON text; the engine's own fields (`_…`) are left out. */
function decode<T>(flat: Flat): T {
  const record: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const field = flat[i]!;
    if (!field.startsWith("_")) record[field] = JSON.parse(flat[i + 1]!);
  }
  return record as T;
}

/** Field/JSON pairs for a Redis hash; `undefined` properties are left out. */
function encode(record: object): string[] {
  const pairs: string[] = [];
  for (const [field, value] of Object.entries(record)) {
    if (value !== undefined) pairs.push(field, JSON.stringify(value));
  }
  return pairs;
}

/** The start of the index members of things created at `createdAt` (see `member` in lua.ts). */
const since = (createdAt: number) => `${String(Math.max(0, Math.floor(createdAt))).padStart(15, "0")}:`;

/** Refuses a caller's transaction: Redis cannot join an SQL one. */
function noTransaction(tx: unknown): void {
  if (tx !== undefined) {
    throw new HooklineError(
      "invalid_option",
      "Redis cannot join an SQL transaction: use the PostgreSQL engine (postgresDeliveries) for a transactional outbox",
    );
  }
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new HooklineError("invalid_option", `limit must be a positive integer, got ${limit}`);
  }
  return Math.min(limit, 1000);
}

/**
 * The sender's engine on Redis and BullMQ: endpoints, messages, deliveries and attempts in Redis hashes under
 * one prefix, and one BullMQ job per due attempt, pushed to the workers of every process that calls `work`.
 *
 * - A retry is a delayed job (the sender's schedule and Retry-After give the delay).
 * - A crashed worker's job is recovered by BullMQ's stalled-job check once its lock (the lease) ends.
 * - Every state change is one Lua script, fenced by the lease's token and the delivery's version, so a worker
 *   whose job was recovered records its attempt but changes nothing else.
 * - Per-endpoint concurrency holds across workers through a slot set per endpoint (no BullMQ Pro groups):
 *   a job that finds its endpoint's slots taken leaves its delivery waiting, and the settlement that frees a
 *   slot queues the next one.
 *
 * Redis cannot join an SQL transaction: `enqueue` and the endpoint reads reject `tx`. For the transactional outbox
 * use the PostgreSQL engine.
 *
 * @example
 * import { createSender } from "@hookline/core";
 * import { bullmqDeliveries } from "@hookline/redis/bullmq";
 * import { Redis } from "ioredis";
 *
 * const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
 * const sender = createSender({ store: bullmqDeliveries({ connection }) });
 * sender.start();
 */
export function bullmqDeliveries(options: BullmqDeliveriesOptions): DeliveryStore {
  const engine = jobEngine(options, QUEUE);
  const { connection, prefix, run, addJobs } = engine;
  const retentionMs = positive("retentionMs", options.retentionMs ?? 30 * DAY);

  /** An endpoint or a delivery, read in one HGETALL. */
  async function readHash<T>(key: string): Promise<T | undefined> {
    const fields = (await connection.hgetall(key)) as Record<string, string>;
    return Object.keys(fields).length === 0 ? undefined : decode<T>(Object.entries(fields).flat());
  }

  const endpoints: DeliveryStore["endpoints"] = {
    async create(endpoint) {
      const created = await run<number>(CREATE_ENDPOINT, [endpoint.id, endpoint.createdAt, ...encode(endpoint)]);
      if (Number(created) !== 1) throw new HooklineError("invalid_option", `endpoint ${endpoint.id} exists`);
    },
    async get(id, getOptions = {}) {
      noTransaction(getOptions.tx);
      return readHash<Endpoint>(`${prefix}:endpoint:${id}`);
    },
    async list(listOptions = {}) {
      noTransaction(listOptions.tx);
      const limit = pageLimit(listOptions.limit);
      const [items, cursor] = await run<[Flat[], string]>(LIST_ENDPOINTS, [
        listOptions.tenant ?? "",
        limit,
        listOptions.cursor ?? "",
      ]);
      return page(
        items.map((flat) => decode<Endpoint>(flat)),
        cursor,
      );
    },
    async update(id, patch) {
      const set: string[] = [];
      const del: string[] = [];
      for (const [field, value] of Object.entries(patch)) {
        if (field === "id" || field === "createdAt") continue;
        if (value === undefined) del.push(field);
        else set.push(field, JSON.stringify(value));
      }
      if (!("updatedAt" in patch)) set.push("updatedAt", JSON.stringify(Date.now()));
      const reply = await run<[] | [Flat, Flat]>(UPDATE_ENDPOINT, [id, ...set, "del", ...del]);
      if (reply.length === 0) return undefined;
      await addJobs(reply[1]);
      return decode<Endpoint>(reply[0]);
    },
    async delete(id) {
      return Number(await run(DELETE_ENDPOINT, [id, retentionMs])) === 1;
    },
    async rotateSecret(id, secret, grace) {
      let secrets = await connection.hget(`${prefix}:endpoint:${id}`, "secrets");
      for (;;) {
        if (secrets === null) return undefined;
        const rotated = rotatedSecrets(JSON.parse(secrets) as EndpointSecret[], secret, grace);
        const reply = await run<[] | [0, string] | [1, Flat]>(ROTATE_SECRET, [
          id,
          secrets,
          JSON.stringify(rotated),
          JSON.stringify(Date.now()),
        ]);
        if (reply.length === 0) return undefined;
        if (Number(reply[0]) === 1) return decode<Endpoint>(reply[1] as Flat);
        secrets = reply[1] as string; // changed since it was read: rotate from what is there now
      }
    },
  };

  const messages: DeliveryStore["messages"] = {
    async enqueue(message, deliveries, enqueueOptions) {
      noTransaction(enqueueOptions?.tx);
      const args: (string | number)[] = [message.id, JSON.stringify(message), retentionMs];
      for (const delivery of deliveries) {
        const fields = encode(delivery);
        args.push(delivery.id, delivery.endpointId, delivery.createdAt, fields.length / 2, ...fields);
      }
      const reply = await run<[1, Flat] | [0, string, Flat[]]>(ENQUEUE, args);
      if (Number(reply[0]) === 1) {
        await addJobs(reply[1] as Flat);
        return { created: true, message, deliveries: deliveries.map((delivery) => ({ ...delivery })) };
      }
      const [, stored, storedDeliveries] = reply as [0, string, Flat[]];
      return {
        created: false,
        message: JSON.parse(stored) as Message,
        deliveries: storedDeliveries.map((flat) => decode<Delivery>(flat)),
      };
    },
    async get(id) {
      const stored = await connection.get(`${prefix}:message:${id}`);
      return stored === null ? undefined : (JSON.parse(stored) as Message);
    },
  };

  const deliveries: DeliveryStore["deliveries"] = {
    get: (id) => readHash<Delivery>(`${prefix}:delivery:${id}`),
    async list(filter = {}) {
      const limit = pageLimit(filter.limit);
      // The narrowest index first; the script checks the other conditions on each delivery.
      const index = filter.messageId
        ? `message:${filter.messageId}:deliveries`
        : filter.endpointId
          ? `endpoint:${filter.endpointId}:deliveries`
          : filter.status
            ? `status:${filter.status}`
            : "deliveries";
      const args = [
        index,
        filter.messageId ?? "",
        filter.endpointId ?? "",
        filter.status ?? "",
        limit,
        filter.cursor ?? "",
      ];
      const [items, cursor] = await run<[Flat[], string]>(LIST_DELIVERIES, args);
      return page(
        items.map((flat) => decode<Delivery>(flat)),
        cursor,
      );
    },
    async requeue(filter) {
      const args: (string | number)[] = [retentionMs];
      if ("deliveryIds" in filter) {
        if (filter.deliveryIds.length === 0) return 0;
        args.push("ids", ...filter.deliveryIds);
      } else {
        // [since, until): every member of a delivery created at `since` sorts after since(since).
        const until = filter.until === undefined ? "+" : `(${since(filter.until)}`;
        args.push("range", filter.endpointId, since(filter.since), until, filter.status ?? "", filter.limit);
      }
      const [count, jobs] = await run<[number, Flat]>(REQUEUE, args);
      await addJobs(jobs);
      return Number(count);
    },
    async dueIn() {
      const [dueIn] = await run<[number?]>(DUE_IN, []);
      return dueIn === undefined ? undefined : Number(dueIn);
    },
  };

  const attempts: DeliveryStore["attempts"] = {
    async list(deliveryId) {
      const stored = await connection.lrange(`${prefix}:attempts:${deliveryId}`, 0, -1);
      return stored.map((text) => JSON.parse(text) as Attempt);
    },
  };

  function work(processor: Processor<DeliveryJob, Settlement>, workOptions: WorkOptions): Worker {
    const perKey = positive("perKeyConcurrency", workOptions.perKeyConcurrency);
    const leaseMs = workOptions.leaseMs;
    return leaseWorker(engine, QUEUE, workOptions, {
      sweep: () => run<Flat>(SWEEP, [leaseMs, perKey, 500]),
      async run(job, busy, report) {
        const { d, v } = job.data;
        const leaseToken = claimToken();
        const reply = await run<[string, ...unknown[]]>(CLAIM, [d, v, leaseToken, leaseMs, perKey, retentionMs]);
        const [kind] = reply;
        if (kind === "busy") return busy(Number(reply[1]));
        if (kind === "stale") return addJobs(reply[1] as Flat);
        if (kind !== "claimed") return; // waiting for a slot, or parked: a later job hands it out

        const [, leaseEnd, deliveryFlat, messageText, endpointFlat] = reply as [string, number, Flat, string, Flat];
        const delivery = decode<Delivery>(deliveryFlat);
        const deliveryJob: DeliveryJob = {
          delivery,
          message: JSON.parse(messageText) as Message,
          endpoint: decode<Endpoint>(endpointFlat),
          lease: { token: leaseToken, expiresAt: Number(leaseEnd) },
        };
        const settlement = await processor(deliveryJob);
        const logged: Attempt = {
          id: `att_${claimToken()}`,
          deliveryId: d,
          messageId: delivery.messageId,
          endpointId: delivery.endpointId,
          ...settlement.attempt,
        };
        const { next, endpoint } = settlement;
        const failingSince =
          endpoint?.failingSince === undefined ? "" : endpoint.failingSince === null ? "null" : endpoint.failingSince;
        await recordSettlement(engine, report, workOptions.onSettled, deliveryJob, settlement, async () => {
          const [, jobs] = await run<[string, Flat]>(SETTLE, [
            d,
            leaseToken,
            JSON.stringify(logged),
            settlement.attempt.status ?? "",
            settlement.attempt.error === undefined ? "" : JSON.stringify(settlement.attempt.error),
            settlement.attempt.startedAt,
            next.status,
            next.status === "pending" ? Math.max(0, Math.ceil(next.delayMs)) : 0,
            failingSince,
            endpoint?.disable ? JSON.stringify(endpoint.disable.reason) : "",
            perKey,
            retentionMs,
          ]);
          return jobs;
        });
      },
    });
  }

  return {
    endpoints,
    messages,
    deliveries,
    attempts,
    work,
    close: engine.close,
  } satisfies DeliveryStore;
}

function page<Item>(items: Item[], cursor: string): Page<Item> {
  return cursor === "" ? { items } : { items, cursor };
}
