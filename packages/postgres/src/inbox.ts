import {
  claimLoop,
  claimToken,
  HooklineError,
  type InboxEvent,
  type InboxJob,
  type InboxRecord,
  type InboxSettlement,
  type InboxStore,
  type InboxWorkOptions,
  type Processor,
  settleAfterRollback,
  type Worker,
} from "@hookline/core";
import {
  type Database,
  type Driver,
  database,
  type PostgresClient,
  type SqlParameter,
  type SqlPort,
  transactionDriver,
} from "./client";
import { engineWorkers, json, purgeInBatches, whileLeased } from "./engine";
import { inboxStatements } from "./inbox-statements";
import { canListen } from "./listen";
import { DEFAULT_INBOX_TABLE, inboxSchema, migration, tableName } from "./schema";
import { positive } from "./store";

/**
 * Opens a transaction of your own library (an ORM's) for one job, runs `run` in it and commits when `run`
 * resolves, rolls back when it rejects: `db.transaction().execute(...)` (Kysely), `db.transaction(...)`
 * (Drizzle). `port` runs the inbox's own statement (the `processed` mark) on that transaction; `tx` is what the
 * handlers get as `context.tx`.
 *
 * Name `Tx` when you call `postgresInbox` (TypeScript cannot read it from the function's body).
 *
 * @example
 * // Kysely
 * const inbox = postgresInbox<Transaction<DB>>({ client: pool, transaction: (run) =>
 *   db.transaction().execute((trx) =>
 *     run({ query: (text, params) => trx.executeQuery(CompiledQuery.raw(text, params)) }, trx)) });
 */
export type InboxTransaction<Tx> = <T>(run: (port: SqlPort, tx: Tx) => Promise<T>) => Promise<T>;

/**
 * What the handlers get as `context.tx` for a client: a `pg` `PoolClient` for a Pool, a postgres.js
 * `TransactionSql` for `sql`, a PGlite `Transaction` for a PGlite. A single `pg` Client gives none (it is one
 * connection, which every job would share): use a Pool.
 */
export type InboxTransactionOf<Client> = Client extends {
  unsafe: unknown;
  begin(options: string, cb: (sql: infer Tx) => unknown): unknown;
}
  ? Tx
  : Client extends { exec: unknown; transaction(callback: (tx: infer Tx) => Promise<unknown>): Promise<unknown> }
    ? Tx
    : // A pg Pool: its connect() overloads end with the callback form, which is the one `infer` reads.
      Client extends {
          totalCount: number;
          connect(callback: (error: Error | undefined, client: infer Tx, done: never) => void): void;
        }
      ? NonNullable<Tx>
      : never;

/** Options of {@link postgresInbox}. */
export interface PostgresInboxOptions<Client extends PostgresClient = PostgresClient, Tx = InboxTransactionOf<Client>> {
  /**
   * The database: a `pg` Pool (or Client), a postgres.js `sql`, or a `PGlite`. Each running job holds one
   * connection for its transaction, so at most the pool's `max` − 2 jobs run at once (the other two serve
   * LISTEN and the claims and settlements; a failed run's dead letter is written after its transaction ended):
   * give the pool `concurrency` + 2 connections.
   */
  client: Client;
  /**
   * The table, optionally schema-qualified (`"webhooks.inbox"`); the schema must exist. Its name is also the
   * NOTIFY channel that wakes idle workers.
   * @default "hookline_inbox"
   */
  table?: string;
  /**
   * Runs each job in a transaction of your own library (an ORM's) instead of the client's: see
   * {@link InboxTransaction}. `tx` is then whatever your library's transaction is.
   * @default undefined (the client's own transaction: pg Pool, postgres.js, PGlite)
   */
  transaction?: InboxTransaction<Tx>;
  /**
   * The longest any statement of the inbox may take (a pool wait included); past it the call rejects with
   * `store_unavailable` (`enqueue`: the receiver answers 503; a worker reports it to `onError` and tries again).
   * Not applied to the handlers' statements on `tx`.
   * @default 5_000
   */
  timeoutMs?: number;
  /**
   * How often an idle worker looks for due events when nothing wakes it: always for a client that cannot LISTEN,
   * and as a safety net for one that can. A retry falling due wakes it by its own timer.
   * @default 1_000 without LISTEN, 10_000 with it
   */
  pollMs?: number;
}

/** The PostgreSQL inbox, plus the upkeep of its table. */
export interface PostgresInbox<Tx = never> extends InboxStore<Tx> {
  /** Creates the table and its indexes if they do not exist (one idempotent statement, safe at every start). */
  migrate(): Promise<void>;
  /**
   * Deletes the events that ended (`processed` or `exhausted`) before `olderThan` (ms since the epoch, or a
   * Date): their ids are forgotten, so a redelivery after it runs again. Resolves how many went. Pending events
   * are never purged. Keep `olderThan` past the senders' retry window (three days for Standard Webhooks).
   */
  purge(options: { olderThan: number | Date }): Promise<number>;
  /** Gives back the connections the inbox's workers opened (LISTEN); the client itself stays the caller's. */
  close(): Promise<void>;
}

type Row = Record<string, unknown>;

/** The event from its row: optional fields left out when null, in the order the receiver builds them. */
function eventFrom(row: Row): InboxEvent {
  const event: Row = {};
  for (const key of ["id", "type", "payload", "timestamp", "receivedAt", "headers", "orderKey"]) {
    const value = row[key];
    if (value !== null && value !== undefined) event[key] = key === "headers" ? json(value) : value;
  }
  if (typeof event.timestamp === "string") event.timestamp = Number(event.timestamp);
  return event as unknown as InboxEvent;
}

/** A transaction's end was asked for: a settlement other than `processed`, or a lease that ran out. */
class Rollback extends Error {}

/** How a job's transaction is opened: `run` gets the driver for the inbox's statements and the handlers' `tx`. */
type Begin = <T>(run: (driver: Driver, tx: unknown) => Promise<T>, abort: Promise<never>) => Promise<T>;

/** The client's own transaction, or `undefined` for a client that cannot give one per job. */
function clientTransaction(client: PostgresClient): Begin | undefined {
  const candidate = client as unknown as Record<string, unknown>;
  if (typeof candidate.unsafe === "function" && typeof candidate.begin === "function") {
    const sql = client as unknown as { begin<T>(cb: (tx: unknown) => Promise<T>): Promise<T> };
    return (run) => sql.begin((tx) => run(transactionDriver(tx as PostgresClient), tx));
  }
  if (typeof candidate.exec === "function" && typeof candidate.transaction === "function") {
    const pglite = client as unknown as { transaction<T>(cb: (tx: unknown) => Promise<T>): Promise<T> };
    // A PGlite transaction's tx has query and exec, as PGlite itself.
    return (run) => pglite.transaction((tx) => run(transactionDriver(tx as PostgresClient), tx));
  }
  if (typeof candidate.connect === "function" && typeof candidate.totalCount === "number") {
    const pool = client as unknown as {
      connect(): Promise<{ query(text: string): Promise<unknown>; release(error?: Error | boolean): void }>;
    };
    return async (run, abort) => {
      const connection = await pool.connect();
      let broken: Error | undefined;
      try {
        await connection.query("BEGIN");
        // A lease that runs out closes the connection (the server rolls back): a stalled handler neither keeps
        // the row locked nor commits late.
        const result = await Promise.race([
          run(transactionDriver(connection as unknown as PostgresClient), connection),
          abort.catch((error: Error) => {
            broken = error;
            throw error;
          }),
        ]);
        await connection.query("COMMIT");
        return result;
      } catch (error) {
        if (!broken) await connection.query("ROLLBACK").catch((failed: Error) => (broken = failed));
        throw error;
      } finally {
        connection.release(broken ?? undefined);
      }
    };
  }
  return undefined;
}

/** The most connections a pg Pool or postgres.js `sql` opens (`max`), when it says. */
function poolSize(client: PostgresClient): number | undefined {
  const max = (client as { options?: { max?: unknown } }).options?.max;
  return typeof max === "number" && max > 0 ? max : undefined;
}

/**
 * Opens at most `size - 2` job transactions at once: each holds a connection until it ends, and the worker needs
 * two beside them, one for LISTEN and one for its claims and settlements (a failed run's dead letter and failure
 * are written after its transaction gave its own connection back). A pool filled with transactions would leave
 * the claims waiting on them.
 */
function withRoom(begin: Begin | undefined, size: number | undefined): Begin | undefined {
  if (!begin || size === undefined) return begin;
  let free = Math.max(1, size - 2);
  const waiting: (() => void)[] = [];
  return async (run, abort) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await begin(run, abort);
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

/**
 * The receiver's inbox on PostgreSQL: one row per event id, enqueued with one `INSERT … ON CONFLICT DO NOTHING`
 * (a redelivery writes nothing and is a duplicate), claimed by any number of worker processes with `FOR UPDATE
 * SKIP LOCKED` under a lease on the database's clock, idle workers woken by LISTEN/NOTIFY. Events of one
 * `orderKey` run one at a time in enqueue order across all workers.
 *
 * Transactional handlers: with a pg Pool, postgres.js, PGlite or your ORM's transaction (`transaction`), each job
 * runs in a transaction that the handlers get as `context.tx`, and the event's `processed` mark is written in it
 * before it commits: the handlers' writes to this database land exactly once, whatever crashes when. Any other
 * outcome rolls them back first.
 *
 * @example
 * const inbox = postgresInbox({ client: pool });
 * await inbox.migrate();
 * const receiver = createReceiver({ secret, events, inbox }).on("invoice.paid", async (event, { tx }) => {
 *   await tx!.query("INSERT INTO payments (invoice, amount) VALUES ($1, $2)", [event.data.id, event.data.amount]);
 * });
 * receiver.work({ concurrency: 10 });
 */
export function postgresInbox<Tx>(
  options: PostgresInboxOptions<PostgresClient, Tx> & { transaction: InboxTransaction<Tx> },
): PostgresInbox<Tx>;
export function postgresInbox<Client extends PostgresClient>(
  options: PostgresInboxOptions<Client>,
): PostgresInbox<InboxTransactionOf<Client>>;
export function postgresInbox(options: PostgresInboxOptions<PostgresClient, unknown>): PostgresInbox<unknown> {
  const table = tableName("table", options.table ?? DEFAULT_INBOX_TABLE);
  const timeoutMs = positive("timeoutMs", options.timeoutMs ?? 5_000);
  const pollMs = options.pollMs === undefined ? undefined : positive("pollMs", options.pollMs);
  const db: Database = database(options.client, timeoutMs, [table.name]);
  const sql = inboxStatements(table);
  const workers = engineWorkers(options.client, db, table.name);
  const port = options.transaction;
  const begin: Begin | undefined = port
    ? (run) => port((tx, library) => run(transactionDriver(tx), library))
    : withRoom(clientTransaction(options.client), poolSize(options.client));

  const rows = async (statement: string, params: SqlParameter[] = []) =>
    (await db.query(statement, params)).map((row) => json<Row>(row[0]));

  const claim = async (limit: number, leaseMs: number): Promise<InboxJob<unknown>[]> =>
    (await rows(sql.claim, [limit, leaseMs, claimToken()])).map((row) => ({
      event: eventFrom(row.event as Row),
      attempts: Number(row.attempts),
      lease: row.lease as InboxJob["lease"],
    }));

  const dueIn = async (): Promise<number | undefined> => {
    const [row] = await db.query(sql.dueIn);
    const due = row?.[0];
    return due === null || due === undefined ? undefined : Number(due);
  };

  const settleParams = (job: InboxJob<unknown>, { next, error }: InboxSettlement): SqlParameter[] => [
    job.event.id,
    job.lease.token,
    next.status,
    next.status === "pending" ? next.delayMs : null,
    error ?? null,
  ];

  /** Records the settlement under the live lease; resolves whether it was recorded. */
  const settle = async (job: InboxJob<unknown>, settlement: InboxSettlement, run: Driver = db.query) => {
    const [row] = (await run(sql.settle, settleParams(job, settlement))) as unknown[][];
    if (row === undefined) return false;
    // The end of an ordered event lets the next one of its key run, in any process.
    if (row[0] === true && settlement.next.status !== "pending") workers.notify();
    return true;
  };

  /**
   * Runs a job in a transaction: the processor on `tx`, then the `processed` mark in the same transaction, then
   * COMMIT. Any other settlement, a throw or the end of the lease rolls back first. Resolves the settlement when
   * it was recorded, `undefined` when the lease was lost.
   */
  const runInTransaction = async (
    transaction: Begin,
    processor: Processor<InboxJob<unknown>, InboxSettlement>,
    job: InboxJob<unknown>,
    leaseEnds: number,
  ): Promise<InboxSettlement | undefined> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const abort = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Rollback("the lease ran out")), Math.max(0, leaseEnds - Date.now()));
    });
    abort.catch(() => {});
    let outcome: InboxSettlement | undefined;
    try {
      await transaction(async (driver, tx) => {
        const settlement = await Promise.race([processor({ ...job, tx }), abort]);
        outcome = settlement;
        if (settlement.next.status !== "processed") throw new Rollback("not processed");
        const [row] = (await Promise.race([driver(sql.settle, settleParams(job, settlement)), abort])) as unknown[][];
        if (row === undefined) throw new Rollback("the lease was lost");
        if (row[0] === true) outcome = { ...settlement, notify: true } as InboxSettlement;
      }, abort);
    } catch (error) {
      if (!(error instanceof Rollback)) throw error;
      if (!outcome || outcome.next.status === "processed") return undefined; // lease lost: nothing recorded
      // Rolled back and its connection given back: the receiver's dead letter, then the failure, each on its own
      // (on PGlite, one session, nothing else could run before). A crash between them leaves the event leased,
      // to be handed out again.
      const settlement = await settleAfterRollback(outcome);
      return (await whileLeased(() => settle(job, settlement), leaseEnds)) ? settlement : undefined;
    } finally {
      clearTimeout(timer);
    }
    const { notify, ...settlement } = outcome as InboxSettlement & { notify?: boolean };
    if (notify) workers.notify();
    return settlement;
  };

  const inbox: PostgresInbox<unknown> = {
    async enqueue(event) {
      const [row] = await db.query(sql.enqueue, [
        event.id,
        event.type,
        event.payload,
        event.timestamp ?? null,
        event.orderKey ?? null,
        event.headers === undefined ? null : JSON.stringify(event.headers),
        event.receivedAt,
      ]);
      if (row === undefined) return { created: false };
      workers.notify();
      return { created: true };
    },
    async get(id) {
      const [row] = await rows(sql.get, [id]);
      if (!row) return undefined;
      const record: InboxRecord = {
        event: eventFrom(row.event as Row),
        status: row.status as InboxRecord["status"],
        attempts: Number(row.attempts),
      };
      if (row.lastError !== null && row.lastError !== undefined) record.lastError = row.lastError as string;
      return record;
    },
    work(processor: Processor<InboxJob<unknown>, InboxSettlement>, work: InboxWorkOptions<unknown>): Worker {
      const { concurrency, leaseMs, onError, onSettled } = work;
      if (!(Number.isInteger(leaseMs) && leaseMs >= 1)) {
        throw new HooklineError("invalid_option", `leaseMs must be a whole number ≥ 1, got ${leaseMs}`);
      }
      const report = (error: unknown) => onError?.(error);
      const loop = claimLoop<InboxJob<unknown>>({
        concurrency,
        pollMs: pollMs ?? (canListen(options.client) ? 10_000 : 1_000),
        claim: (limit) => claim(limit, leaseMs),
        run: async (job) => {
          const leaseEnds = Date.now() + leaseMs;
          if (begin) {
            const settled = await runInTransaction(begin, processor, job, leaseEnds);
            if (settled) onSettled?.(job, settled);
            return;
          }
          const settlement = await settleAfterRollback(await processor(job));
          try {
            await whileLeased(() => settle(job, settlement), leaseEnds);
          } catch (error) {
            report(error);
          } finally {
            onSettled?.(job, settlement);
          }
        },
        dueIn,
        onError: report,
      });
      return workers.start(loop, report);
    },
    async migrate() {
      await db.query(migration(inboxSchema(table)));
    },
    purge: ({ olderThan }) => purgeInBatches(db, sql.purge, olderThan),
    close: () => workers.close(),
  };
  return inbox;
}
