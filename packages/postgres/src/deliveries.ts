import {
  type Attempt,
  claimLoop,
  claimToken,
  type Delivery,
  type DeliveryJob,
  type DeliveryStore,
  type Endpoint,
  HooklineError,
  type Message,
  type Page,
  type Processor,
  type Settlement,
  type Worker,
  type WorkOptions,
} from "@hookline/core";
import {
  type Database,
  database,
  type PostgresClient,
  type PostgresTransaction,
  type SqlParameter,
  transactionDriver,
} from "./client";
import { deliveryStatements } from "./delivery-statements";
import { engineWorkers, json, purgeInBatches, whileLeased } from "./engine";
import { canListen } from "./listen";
import { DEFAULT_DELIVERY_PREFIX, deliverySchema, deliveryTables, migration } from "./schema";
import { positive } from "./store";

/** Options of {@link postgresDeliveries}. */
export interface PostgresDeliveriesOptions {
  /**
   * The database: a `pg` Pool, a postgres.js `sql`, or a `PGlite`. With a Pool, a worker holds one of its
   * connections for LISTEN while it runs (size the pool for it); `stop()` gives it back.
   */
  client: PostgresClient;
  /**
   * What the four tables' names start with: `hookline_endpoints`, `hookline_messages`, `hookline_deliveries`,
   * `hookline_attempts`. Schema-qualify it (`"webhooks.hookline_"`) to keep them in a schema of their own (it
   * must exist). Its deliveries table's name is also the NOTIFY channel.
   * @default "hookline_"
   */
  tablePrefix?: string;
  /**
   * The longest any statement may take (a pool wait included); past it the call rejects with `store_unavailable`
   * (a worker reports it to `onError` and tries again). Not applied to statements on a caller's `tx`.
   * @default 5_000
   */
  timeoutMs?: number;
  /**
   * How often an idle worker looks for due deliveries when nothing wakes it: always for a client that cannot
   * LISTEN (a `{ query }` port, PGlite in another process), and as a safety net for one that can (a notification
   * lost while its connection was being replaced). A retry falling due wakes it by its own timer.
   * @default 1_000 without LISTEN, 10_000 with it
   */
  pollMs?: number;
}

/** The PostgreSQL engine, plus the upkeep of its tables. */
export interface PostgresDeliveries extends DeliveryStore {
  /** Creates the four tables and their indexes if they do not exist (one idempotent statement, safe at every start). */
  migrate(): Promise<void>;
  /**
   * Deletes the messages created before `olderThan` (ms since the epoch, or a Date) whose deliveries have all
   * ended, with their deliveries and attempt log; resolves how many messages went. Pending work is never purged.
   */
  purge(options: { olderThan: number | Date }): Promise<number>;
  /** Gives back the connections the engine's workers opened (LISTEN); the client itself stays the caller's. */
  close(): Promise<void>;
}

// What a delivery job, endpoint, … look like on the wire: their JSON, with null for absent optional fields.
type Row = Record<string, unknown>;

/**
 * The row's fields in the order given, without the null ones (which the domain types leave out). A fixed order
 * keeps what is returned equal, as JSON text, to what the sender built: required fields first, optional ones after.
 */
function present<T>(row: Row, order: readonly string[]): T {
  const result: Row = {};
  for (const key of order) if (row[key] !== null && row[key] !== undefined) result[key] = row[key];
  return result as T;
}

const ENDPOINT_FIELDS = [
  "id",
  "url",
  "headers",
  "metadata",
  "secrets",
  "disabled",
  "createdAt",
  "updatedAt",
  "tenant",
  "types",
  "disabledReason",
  "failingSince",
] as const satisfies readonly (keyof Endpoint)[];
const MESSAGE_FIELDS = ["id", "type", "payload", "createdAt", "tenant"] as const satisfies readonly (keyof Message)[];
const DELIVERY_FIELDS = [
  "id",
  "messageId",
  "endpointId",
  "status",
  "attempts",
  "createdAt",
  "updatedAt",
  "nextAttemptAt",
  "lastStatus",
  "lastError",
  "lastAttemptAt",
] as const satisfies readonly (keyof Delivery)[];
const ATTEMPT_FIELDS = [
  "id",
  "deliveryId",
  "messageId",
  "endpointId",
  "startedAt",
  "durationMs",
  "outcome",
  "status",
  "responseBody",
  "error",
] as const satisfies readonly (keyof Attempt)[];

const endpointFrom = (row: Row): Endpoint => present<Endpoint>(row, ENDPOINT_FIELDS);
const deliveryFrom = (row: Row): Delivery => present<Delivery>(row, DELIVERY_FIELDS);
const messageFrom = (row: Row): Message => present<Message>(row, MESSAGE_FIELDS);
const attemptFrom = (row: Row): Attempt => present<Attempt>(row, ATTEMPT_FIELDS);

// A cursor is the last item's creation time and insertion number: stable while rows come and go.
function parseCursor(cursor: string | undefined): [number | null, string | null] {
  if (cursor === undefined) return [null, null];
  const match = /^(-?\d+(?:\.\d+)?):(\d+)$/.exec(cursor);
  if (!match) {
    throw new HooklineError(
      "invalid_option",
      `cursor must be one returned by a listing, got ${JSON.stringify(cursor)}`,
    );
  }
  return [Number(match[1]), match[2] as string];
}

/** A page of `size` items from `rows` (fetched one more than `size`, to know whether more follow). */
function page<Item>(rows: Row[], size: number, from: (row: Row) => Item): Page<Item> {
  const items = rows.slice(0, size).map(from);
  const last = rows[size - 1];
  return rows.length > size && last ? { items, cursor: `${last.createdAt}:${last.seq}` } : { items };
}

function limitOf(limit: number | undefined, max: number): number {
  const value = limit ?? 100;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new HooklineError("invalid_option", `limit must be a whole number from 1 to ${max}, got ${value}`);
  }
  return value;
}

// JSON of a patch or an endpoint: a key given as undefined is kept, as null, so that it clears the field.
const jsonOf = (value: object) => JSON.stringify(value, (_, field) => (field === undefined ? null : field));

/**
 * The sender's engine on PostgreSQL: endpoints, messages, deliveries and the attempt log in four tables, shared by
 * every worker process. Due deliveries are claimed with `FOR UPDATE SKIP LOCKED` in one statement, under a lease
 * on the database's clock; `perEndpointConcurrency` holds across all workers. Idle workers are woken by
 * LISTEN/NOTIFY (pg, postgres.js, PGlite). `enqueue` joins the caller's transaction (`tx`): the transactional
 * outbox. Works with `pg`, postgres.js and PGlite.
 *
 * @example
 * const store = postgresDeliveries({ client: pool });
 * await store.migrate();
 * const sender = createSender({ store });
 * await sender.start();
 */
export function postgresDeliveries(options: PostgresDeliveriesOptions): PostgresDeliveries {
  const tables = deliveryTables(options.tablePrefix ?? DEFAULT_DELIVERY_PREFIX);
  const names = Object.values(tables).map((table) => table.name);
  const timeoutMs = positive("timeoutMs", options.timeoutMs ?? 5_000);
  const pollMs = options.pollMs === undefined ? undefined : positive("pollMs", options.pollMs);
  const db: Database = database(options.client, timeoutMs, names);
  const sql = deliveryStatements(tables);
  const channel = tables.deliveries.name;
  const workers = engineWorkers(options.client, db, channel);
  const notify = workers.notify;

  const rows = async (statement: string, params: SqlParameter[] = [], on: Database = db) =>
    (await on.query(statement, params)).map((row) => json<Row>(row[0]));
  /** Where a statement runs: the caller's transaction when there is one, else the client. */
  const databaseFor = (tx: unknown): Database =>
    tx === undefined ? db : database(options.client, timeoutMs, names, transactionDriver(tx as PostgresTransaction));

  const dueIn = async (perKey: number | null): Promise<number | undefined> => {
    const [row] = await db.query(sql.dueIn, [perKey]);
    const due = row?.[0];
    return due === null || due === undefined ? undefined : Number(due);
  };

  const claim = async (limit: number, perKey: number, leaseMs: number): Promise<DeliveryJob[]> =>
    (await rows(sql.claim, [limit, perKey, leaseMs, claimToken()])).map((row) => {
      const job = row as { delivery: Row; message: Row; endpoint: Row; lease: DeliveryJob["lease"] };
      return {
        delivery: deliveryFrom(job.delivery),
        message: messageFrom(job.message),
        endpoint: endpointFrom(job.endpoint),
        lease: job.lease,
      };
    });

  // `attemptId` makes a repeated settle (one that timed out but landed) log its attempt once. Settlements of one
  // delivery made in this process (a stale worker's and the new lease holder's) go out one after the other, so
  // that the log keeps the order in which they were made; others run side by side.
  const settling = new Map<string, Promise<unknown>>();
  const settle = (job: DeliveryJob, settlement: Settlement, attemptId = `att_${claimToken()}`): Promise<boolean> => {
    const id = job.delivery.id;
    const previous = settling.get(id);
    const record = async () => {
      const [row] = await db.query(sql.settle, [
        id,
        job.lease.token,
        JSON.stringify(settlement.attempt),
        JSON.stringify(settlement.next),
        settlement.endpoint ? jsonOf(settlement.endpoint) : null,
        attemptId,
      ]);
      return row?.[0] === 1;
    };
    const recorded = previous ? previous.then(record, record) : record();
    settling.set(id, recorded);
    const forget = () => {
      if (settling.get(id) === recorded) settling.delete(id);
    };
    recorded.then(forget, forget);
    return recorded;
  };

  // The attempt was made: recording it is worth a few tries while the database is briefly away.
  const settleWhileLeased = (job: DeliveryJob, settlement: Settlement, leaseEnds: number) => {
    const attemptId = `att_${claimToken()}`;
    return whileLeased(() => settle(job, settlement, attemptId), leaseEnds);
  };

  const store: PostgresDeliveries = {
    endpoints: {
      async create(endpoint) {
        const [row] = await db.query(sql.createEndpoint, [jsonOf(endpoint)]);
        if (!row) throw new HooklineError("invalid_option", `An endpoint with id ${endpoint.id} exists`);
      },
      async get(id, { tx } = {}) {
        const [row] = await rows(sql.getEndpoint, [id], databaseFor(tx));
        return row && endpointFrom(row);
      },
      async list({ tenant, limit, cursor, tx } = {}) {
        const size = limitOf(limit, 1000);
        const [time, id] = parseCursor(cursor);
        return page(
          await rows(sql.listEndpoints, [tenant ?? null, size + 1, time, id], databaseFor(tx)),
          size,
          endpointFrom,
        );
      },
      async update(id, patch) {
        const [row] = await rows(sql.updateEndpoint, [id, jsonOf(patch)]);
        if (row && patch.disabled === false) notify();
        return row && endpointFrom(row);
      },
      async delete(id) {
        const [row] = await db.query(sql.deleteEndpoint, [id]);
        return row?.[0] === 1;
      },
      async rotateSecret(id, secret, { at, expiresAt }) {
        const [row] = await rows(sql.rotateSecret, [id, JSON.stringify(secret), at, expiresAt]);
        return row && endpointFrom(row);
      },
    },
    messages: {
      async enqueue(message, deliveries, { tx } = {}) {
        const statements = databaseFor(tx);
        const input = deliveries.map(({ id, endpointId, createdAt }) => ({ id, endpointId, createdAt }));
        const [row] = await rows(
          sql.enqueue,
          [
            message.id,
            message.type,
            message.tenant ?? null,
            message.payload,
            message.createdAt,
            tx === undefined || input.length === 0 ? null : channel,
            JSON.stringify(input),
          ],
          statements,
        );
        const result = row as { message: Row | null; deliveries: Row[] };
        if (result.message) {
          if (tx === undefined && input.length > 0) notify();
          return {
            created: true,
            message: messageFrom(result.message),
            deliveries: result.deliveries.map(deliveryFrom),
          };
        }
        // The message exists: read it as stored, in a statement of its own (one whose snapshot sees a message
        // committed while the insert waited on it).
        const [stored] = await rows(sql.getMessage, [message.id], statements);
        if (!stored) throw new Error(`Message ${message.id} conflicted on insert but cannot be read`);
        return {
          created: false,
          message: messageFrom(stored),
          deliveries: (await rows(sql.messageDeliveries, [message.id], statements)).map(deliveryFrom),
        };
      },
      async get(id) {
        const [row] = await rows(sql.getMessage, [id]);
        return row && messageFrom(row);
      },
    },
    deliveries: {
      async get(id) {
        const [row] = await rows(sql.getDelivery, [id]);
        return row && deliveryFrom(row);
      },
      async list({ messageId, endpointId, status, limit, cursor } = {}) {
        const size = limitOf(limit, 1000);
        const [time, id] = parseCursor(cursor);
        const found = await rows(sql.listDeliveries, [
          messageId ?? null,
          endpointId ?? null,
          status ?? null,
          size + 1,
          time,
          id,
        ]);
        return page(found, size, deliveryFrom);
      },
      async requeue(filter) {
        const byIds = "deliveryIds" in filter;
        const [row] = await db.query(sql.requeue, [
          JSON.stringify(byIds ? filter.deliveryIds : []),
          byIds ? null : filter.endpointId,
          byIds ? 0 : filter.since,
          byIds ? null : (filter.until ?? null),
          byIds ? null : (filter.status ?? null),
          byIds ? filter.deliveryIds.length : filter.limit,
          channel,
        ]);
        const requeued = Number(row?.[0] ?? 0);
        if (requeued > 0) workers.wake();
        return requeued;
      },
      dueIn: () => dueIn(null),
    },
    attempts: {
      async list(deliveryId) {
        return (await rows(sql.listAttempts, [deliveryId])).map(attemptFrom);
      },
    },
    work(processor: Processor<DeliveryJob, Settlement>, work: WorkOptions): Worker {
      const { concurrency, perKeyConcurrency, leaseMs, onError, onSettled } = work;
      for (const [name, value] of Object.entries({ perKeyConcurrency, leaseMs })) {
        if (!(Number.isInteger(value) && value >= 1)) {
          throw new HooklineError("invalid_option", `${name} must be a whole number ≥ 1, got ${value}`);
        }
      }
      const report = (error: unknown) => onError?.(error);
      const loop = claimLoop<DeliveryJob>({
        concurrency,
        pollMs: pollMs ?? (canListen(options.client) ? 10_000 : 1_000),
        claim: (limit) => claim(limit, perKeyConcurrency, leaseMs),
        run: async (job) => {
          const claimedAt = Date.now();
          const settlement = await processor(job);
          try {
            await settleWhileLeased(job, settlement, claimedAt + leaseMs);
          } catch (error) {
            report(error);
          } finally {
            onSettled?.(job, settlement);
          }
        },
        dueIn: () => dueIn(perKeyConcurrency),
        onError: report,
      });
      return workers.start(loop, report);
    },
    async migrate() {
      await db.query(migration(deliverySchema(tables)));
    },
    purge: ({ olderThan }) => purgeInBatches(db, sql.purge, olderThan),
    close: () => workers.close(),
  };
  return Object.assign(store, { claim, settle }) as PostgresDeliveries;
}
