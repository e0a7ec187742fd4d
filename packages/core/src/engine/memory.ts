import { HooklineError } from "../errors";
import { randomId } from "../random";
import { claimToken } from "../receiver/store";
import { memoryWorker } from "./memory-worker";
import { rotatedSecrets } from "./rotation";
import type {
  Attempt,
  Delivery,
  DeliveryFilter,
  DeliveryJob,
  DeliveryStore,
  Endpoint,
  Lease,
  Message,
  Page,
  RequeueFilter,
  Settlement,
} from "./types";

/** Options of {@link memoryDeliveries}. */
export interface MemoryDeliveriesOptions {
  /**
   * The engine's clock, in milliseconds since the epoch. Tests inject a fake one and call `tick()` after moving it.
   * @default Date.now
   */
  now?: () => number;
  /**
   * The longest a worker sleeps before looking for due deliveries again. Work made due through this engine wakes
   * its workers at once, so this only bounds how late a moved clock is noticed without `tick()`.
   * @default 1000
   */
  pollMs?: number;
  /**
   * How long a message is kept once all its deliveries have ended (delivered, failed, exhausted), counted from
   * their last change: then it is forgotten with its deliveries and attempts, so that memory stays bounded. A
   * forgotten message's id can be sent again.
   * @default 86_400_000 (one day)
   */
  retentionMs?: number;
}

/** The memory engine: a {@link DeliveryStore} with a way to wake its workers after moving an injected clock. */
export interface MemoryDeliveries extends DeliveryStore {
  /** Wakes every worker to look for due deliveries now (after an injected clock moved). */
  tick(): void;
}

interface DeliveryRecord {
  delivery: Delivery;
  lease?: Lease;
  /** Creation order: what listing cursors count in. */
  seq: number;
}

// How often, at most, enqueue looks for messages past their retention.
const PRUNE_EVERY_MS = 60_000;

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** Refuses a caller's transaction: memory cannot join one. */
function noTransaction(tx: unknown): void {
  if (tx !== undefined) {
    throw new HooklineError(
      "invalid_option",
      "memoryDeliveries cannot join a transaction: use postgresDeliveries for the transactional outbox",
    );
  }
}

function pageLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(value) || value < 1) {
    throw new HooklineError("invalid_option", `limit must be a whole number ≥ 1, got ${value}`);
  }
  return Math.min(value, MAX_LIMIT);
}

function cursorIndex(cursor: string | undefined, fallback: number): number {
  if (cursor === undefined) return fallback;
  const index = Number(cursor);
  if (!Number.isInteger(index) || index < 0) throw new HooklineError("invalid_option", "cursor is not one of ours");
  return index;
}

/** Sets or (for `undefined` and `null`) removes each field of `patch` on `target`. */
function assign(target: object, patch: object): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined || value === null) delete (target as Record<string, unknown>)[key];
    else (target as Record<string, unknown>)[key] = value;
  }
}

/**
 * A deep copy, so that no caller can change what the engine holds. Endpoints, messages and deliveries are plain
 * data (what a database row would hold): walked by hand, which is many times cheaper than `structuredClone` on the
 * claim path; anything else (a Date or Map in an endpoint's metadata) goes to `structuredClone`.
 */
function copy<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(copy) as T;
  if (Object.getPrototypeOf(value) !== Object.prototype) return structuredClone(value);
  const result: Record<string, unknown> = {};
  for (const key in value) result[key] = copy((value as Record<string, unknown>)[key]);
  return result as T;
}

/** The last index of `records` (in creation order) whose `seq` is below `below`; -1 when none is. */
function lastBelow(records: readonly DeliveryRecord[], below: number): number {
  let [low, high] = [0, records.length];
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((records[middle] as DeliveryRecord).seq < below) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/**
 * The embedded engine: endpoints, messages, deliveries and attempts in this process's memory, dispatched by a
 * {@link claimLoop}. The sender's default. A process that exits loses what is pending: for deliveries that
 * must survive a crash or be shared by several processes, use `postgresDeliveries` or `bullmqDeliveries`.
 *
 * Messages whose deliveries have all ended are forgotten after `retentionMs`, with their attempt logs.
 */
export function memoryDeliveries(options: MemoryDeliveriesOptions = {}): MemoryDeliveries {
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 1000;
  const retentionMs = options.retentionMs ?? 24 * 60 * 60 * 1000;
  if (!(retentionMs >= 0)) throw new HooklineError("invalid_option", `retentionMs must be ≥ 0, got ${retentionMs}`);
  let seq = 0;
  let prunedAt = now();
  const endpoints = new Map<string, Endpoint>();
  // The order endpoints were created in, which `list` pages through; deleted ones leave a hole.
  const endpointOrder: (string | undefined)[] = [];
  const messages = new Map<string, { message: Message; deliveryIds: string[] }>();
  // Every delivery ever created, oldest first (listing pages backwards through it); `pending` indexes the
  // ones a worker may claim.
  const records: DeliveryRecord[] = [];
  const byId = new Map<string, DeliveryRecord>();
  const pending = new Set<DeliveryRecord>();
  // Deliveries with a lease, live or run out: what per-endpoint limits count.
  const leasedRecords = new Set<DeliveryRecord>();
  const attempts = new Map<string, Attempt[]>();
  const loops = new Set<{ wake(): void }>();

  const wakeAll = () => {
    for (const loop of loops) loop.wake();
  };

  const enabled = (endpointId: string) => {
    const endpoint = endpoints.get(endpointId);
    return endpoint !== undefined && !endpoint.disabled;
  };

  const leased = (record: DeliveryRecord, at: number) => record.lease !== undefined && record.lease.expiresAt > at;

  // When each pending delivery of an enabled endpoint can next be claimed; endpoints already at `perKey` leases
  // are left out (their workers wake the loop when a lease ends).
  function dueIn(perKey = Number.POSITIVE_INFINITY): number | undefined {
    const at = now();
    const held = perKey === Number.POSITIVE_INFINITY ? undefined : leasesByEndpoint(at);
    let earliest: number | undefined;
    for (const record of pending) {
      const { endpointId, nextAttemptAt = at } = record.delivery;
      if (!enabled(endpointId) || (held?.get(endpointId) ?? 0) >= perKey) continue;
      const due = leased(record, at) ? (record.lease as Lease).expiresAt : nextAttemptAt;
      if (earliest === undefined || due < earliest) earliest = due;
    }
    return earliest === undefined ? undefined : earliest - at;
  }

  function leasesByEndpoint(at: number): Map<string, number> {
    const held = new Map<string, number>();
    for (const record of leasedRecords) {
      if (leased(record, at)) held.set(record.delivery.endpointId, (held.get(record.delivery.endpointId) ?? 0) + 1);
    }
    return held;
  }

  function setLease(record: DeliveryRecord, lease: Lease | undefined) {
    record.lease = lease;
    if (lease) leasedRecords.add(record);
    else leasedRecords.delete(record);
  }

  // Oldest first (insertion order), which for deliveries due now is also the order they became due; retries
  // waiting for their time are skipped over.
  function claim(limit: number, perKey: number, leaseMs: number): DeliveryJob[] {
    const at = now();
    const held = leasesByEndpoint(at);
    const jobs: DeliveryJob[] = [];
    for (const record of pending) {
      if (jobs.length >= limit) break;
      const { endpointId, messageId, nextAttemptAt = at } = record.delivery;
      if (nextAttemptAt > at || leased(record, at) || !enabled(endpointId)) continue;
      const count = held.get(endpointId) ?? 0;
      if (count >= perKey) continue;
      held.set(endpointId, count + 1);
      setLease(record, { token: claimToken(), expiresAt: at + leaseMs });
      jobs.push({
        delivery: copy(record.delivery),
        message: copy((messages.get(messageId) as { message: Message }).message),
        endpoint: copy(endpoints.get(endpointId) as Endpoint),
        lease: { ...(record.lease as Lease) },
      });
    }
    return jobs;
  }

  function settle(job: DeliveryJob, settlement: Settlement): void {
    const { delivery } = job;
    const list = attempts.get(delivery.id) ?? [];
    list.push({
      ...copy(settlement.attempt),
      id: randomId("att_"),
      deliveryId: delivery.id,
      messageId: delivery.messageId,
      endpointId: delivery.endpointId,
    });
    attempts.set(delivery.id, list);

    const at = now();
    const record = byId.get(delivery.id);
    // A lease that ran out (and may have been handed to another worker) changes nothing but the log.
    if (!record || record.lease?.token !== job.lease.token || record.lease.expiresAt <= at) return;
    setLease(record, undefined);
    const stored = record.delivery;
    const { next, attempt } = settlement;
    stored.status = next.status;
    stored.attempts++;
    assign(stored, { lastStatus: attempt.status, lastError: attempt.error });
    stored.lastAttemptAt = attempt.startedAt;
    stored.updatedAt = at;
    if (next.status === "pending") stored.nextAttemptAt = at + next.delayMs;
    else {
      delete stored.nextAttemptAt;
      pending.delete(record);
    }

    const endpoint = endpoints.get(delivery.endpointId);
    if (endpoint && settlement.endpoint) {
      const { failingSince, disable } = settlement.endpoint;
      if (failingSince !== undefined) assign(endpoint, { failingSince });
      if (disable) Object.assign(endpoint, { disabled: true, disabledReason: disable.reason });
      endpoint.updatedAt = at;
    }
  }

  // Forgets the messages past their retention whose deliveries have all ended, oldest first.
  function prune(at: number) {
    prunedAt = at;
    const cutoff = at - retentionMs;
    let dropped = false;
    for (const [id, entry] of messages) {
      if (entry.message.createdAt > cutoff) break; // sent in order: the rest are younger
      const kept = entry.deliveryIds.map((deliveryId) => byId.get(deliveryId) as DeliveryRecord);
      if (kept.some(({ delivery }) => delivery.status === "pending" || delivery.updatedAt > cutoff)) continue;
      for (const { delivery } of kept) {
        byId.delete(delivery.id);
        attempts.delete(delivery.id);
      }
      messages.delete(id);
      dropped ||= kept.length > 0;
    }
    if (dropped) {
      const live = records.filter((record) => byId.has(record.delivery.id));
      records.length = 0;
      records.push(...live);
    }
  }

  return {
    tick: wakeAll,

    endpoints: {
      async create(endpoint) {
        if (endpoints.has(endpoint.id)) {
          throw new HooklineError("invalid_option", `An endpoint with id ${endpoint.id} exists`);
        }
        endpoints.set(endpoint.id, copy(endpoint));
        endpointOrder.push(endpoint.id);
      },
      async get(id, options = {}) {
        noTransaction(options.tx);
        const endpoint = endpoints.get(id);
        return endpoint && copy(endpoint);
      },
      async list(options = {}) {
        noTransaction(options.tx);
        const limit = pageLimit(options.limit);
        const items: Endpoint[] = [];
        let index = cursorIndex(options.cursor, 0);
        for (; index < endpointOrder.length && items.length < limit; index++) {
          const endpoint = endpoints.get(endpointOrder[index] as string);
          if (endpoint && (options.tenant === undefined || endpoint.tenant === options.tenant)) {
            items.push(copy(endpoint));
          }
        }
        return index < endpointOrder.length ? { items, cursor: String(index) } : { items };
      },
      async update(id, patch) {
        const endpoint = endpoints.get(id);
        if (!endpoint) return undefined;
        const wasDisabled = endpoint.disabled;
        const { id: _id, createdAt: _createdAt, updatedAt: _updatedAt, ...changes } = patch as Partial<Endpoint>;
        assign(endpoint, copy(changes));
        endpoint.updatedAt = now();
        if (wasDisabled && !endpoint.disabled) wakeAll();
        return copy(endpoint);
      },
      async delete(id) {
        if (!endpoints.delete(id)) return false;
        endpointOrder[endpointOrder.indexOf(id)] = undefined;
        const at = now();
        for (const record of pending) {
          if (record.delivery.endpointId !== id) continue;
          // The lease goes too, so that an attempt in flight cannot settle the delivery afterwards.
          setLease(record, undefined);
          Object.assign(record.delivery, { status: "failed", lastError: "endpoint deleted", updatedAt: at });
          delete record.delivery.nextAttemptAt;
          pending.delete(record);
        }
        return true;
      },
      async rotateSecret(id, secret, grace) {
        const endpoint = endpoints.get(id);
        if (!endpoint) return undefined;
        endpoint.secrets = rotatedSecrets(endpoint.secrets, copy(secret), grace);
        endpoint.updatedAt = now();
        return copy(endpoint);
      },
    },

    messages: {
      async enqueue(message, deliveries, options = {}) {
        noTransaction(options.tx);
        const existing = messages.get(message.id);
        if (existing) {
          return {
            created: false,
            message: copy(existing.message),
            deliveries: existing.deliveryIds.map((id) => copy((byId.get(id) as DeliveryRecord).delivery)),
          };
        }
        const at = now();
        if (at - prunedAt >= PRUNE_EVERY_MS) prune(at);
        const stored = deliveries.map((delivery): DeliveryRecord => {
          const record = {
            delivery: { ...copy(delivery), status: "pending" as const, attempts: 0, nextAttemptAt: at },
            seq: seq++,
          };
          records.push(record);
          byId.set(delivery.id, record);
          pending.add(record);
          return record;
        });
        messages.set(message.id, { message: copy(message), deliveryIds: deliveries.map((delivery) => delivery.id) });
        if (stored.length > 0) wakeAll();
        return { created: true, message: copy(message), deliveries: stored.map((record) => copy(record.delivery)) };
      },
      async get(id) {
        const entry = messages.get(id);
        return entry && copy(entry.message);
      },
    },

    deliveries: {
      async get(id) {
        const record = byId.get(id);
        return record && copy(record.delivery);
      },
      async list(filter: DeliveryFilter = {}): Promise<Page<Delivery>> {
        const limit = pageLimit(filter.limit);
        const items: Delivery[] = [];
        const candidates = filter.messageId
          ? (messages.get(filter.messageId)?.deliveryIds ?? []).map((id) => byId.get(id) as DeliveryRecord)
          : records;
        // A cursor is the creation order (seq) to continue below, so that pruning never shifts a page.
        let index =
          filter.cursor === undefined ? candidates.length - 1 : lastBelow(candidates, cursorIndex(filter.cursor, 0));
        for (; index >= 0 && items.length < limit; index--) {
          const { delivery } = candidates[index] as DeliveryRecord;
          if (filter.messageId !== undefined && delivery.messageId !== filter.messageId) continue;
          if (filter.endpointId !== undefined && delivery.endpointId !== filter.endpointId) continue;
          if (filter.status !== undefined && delivery.status !== filter.status) continue;
          items.push(copy(delivery));
        }
        return index >= 0 ? { items, cursor: String((candidates[index] as DeliveryRecord).seq + 1) } : { items };
      },
      async requeue(filter: RequeueFilter) {
        const at = now();
        let matching: DeliveryRecord[];
        if ("deliveryIds" in filter) {
          matching = filter.deliveryIds.flatMap((id) => byId.get(id) ?? []);
        } else {
          const { endpointId, since, until = Number.POSITIVE_INFINITY, status, limit } = filter;
          matching = [];
          for (const record of records) {
            if (matching.length >= limit) break;
            const { delivery } = record;
            if (delivery.endpointId !== endpointId || delivery.createdAt < since || delivery.createdAt >= until)
              continue;
            if (status === undefined || delivery.status === status) matching.push(record);
          }
        }
        let count = 0;
        for (const record of new Set(matching)) {
          if (leased(record, at) || !endpoints.has(record.delivery.endpointId)) continue;
          setLease(record, undefined);
          Object.assign(record.delivery, { status: "pending", attempts: 0, nextAttemptAt: at, updatedAt: at });
          pending.add(record);
          count++;
        }
        if (count > 0) wakeAll();
        return count;
      },
      async dueIn() {
        return dueIn();
      },
    },

    attempts: {
      async list(deliveryId) {
        return copy(attempts.get(deliveryId) ?? []);
      },
    },

    work(processor, options) {
      const { concurrency, perKeyConcurrency, leaseMs, onError, onSettled } = options;
      for (const [name, value] of Object.entries({ perKeyConcurrency, leaseMs })) {
        if (!(Number.isInteger(value) && value >= 1)) {
          throw new HooklineError("invalid_option", `${name} must be a whole number ≥ 1, got ${value}`);
        }
      }
      return memoryWorker(loops, {
        processor,
        concurrency,
        pollMs,
        claim: (limit) => claim(limit, perKeyConcurrency, leaseMs),
        settle,
        dueIn: () => dueIn(perKeyConcurrency),
        onError,
        onSettled,
      });
    },
  } satisfies MemoryDeliveries;
}
