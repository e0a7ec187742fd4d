import { HooklineError } from "@hookline/core";

// The three drivers are optional peers: only their shapes are described here, so that the package imports none
// of them and a project that installs one of them still gets its client type-checked.

/** A node-postgres (`pg` 8) `Pool`, `PoolClient` or `Client`. */
export interface PgClient {
  query(config: {
    text: string;
    values: SqlParameter[];
    rowMode: "array";
    name?: string;
  }): Promise<{ rows: unknown[] }>;
}

/** A postgres.js (`postgres` 3) `sql` instance. */
export interface PostgresJsClient {
  unsafe(
    query: string,
    parameters: SqlParameter[],
    options: { prepare: boolean },
  ): { values(): PromiseLike<unknown[]> };
}

/** An `@electric-sql/pglite` `PGlite` (or `PGliteWorker`) instance: PostgreSQL embedded, no server needed. */
export interface PGliteClient {
  query(query: string, params: SqlParameter[], options: { rowMode: "array" }): Promise<{ rows: unknown[] }>;
  exec(query: string): Promise<unknown>;
}

/** Any client the stores accept: a `pg` Pool or Client, a postgres.js `sql`, or a `PGlite`. */
export type PostgresClient = PgClient | PostgresJsClient | PGliteClient;

/** What the stores send as statement parameters. */
export type SqlParameter = string | number | null;

/** The one thing the stores need from a client: run a statement, get its rows as arrays of column values. */
export interface Database {
  /**
   * Runs `text`, rejecting after the store's `timeoutMs`. A statement that timed out may still run later (it may
   * have been waiting for a pool connection, or in a frozen server); `late` then gets its rows.
   */
  query(text: string, params?: SqlParameter[], late?: (rows: unknown[][]) => void): Promise<unknown[][]>;
}

/** Runs one statement and resolves its rows as arrays of column values. */
export type Driver = (text: string, params: SqlParameter[]) => PromiseLike<unknown[]>;

/**
 * The one-function port that any library's transaction can be wrapped in (an ORM's, say): run `text` with the
 * positional parameters `$1…$n`, resolve the rows, as objects or arrays, bare or under `rows`.
 *
 * @example
 * // Kysely
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto("orders").values(order).execute();
 *   await sender.send("order.created", order, {
 *     tx: { query: (text, params) => trx.executeQuery(CompiledQuery.raw(text, params)) },
 *   });
 * });
 */
export interface SqlPort {
  query(text: string, params: SqlParameter[]): PromiseLike<{ rows: unknown[] } | unknown[]>;
}

/**
 * A caller's open transaction: a `pg` `PoolClient` (or `Client`) between BEGIN and COMMIT, the `sql` that a
 * postgres.js `sql.begin` hands its callback, a PGlite `transaction` callback's `tx`, or a {@link SqlPort}.
 */
export type PostgresTransaction = PgClient | PostgresJsClient | PGliteClient | SqlPort;

/**
 * The driver of a caller's transaction. A `pg` client is told from a port by its `release` (PoolClient) or
 * `connect` (Client); a port's rows may be objects, read in column order.
 */
export function transactionDriver(tx: PostgresTransaction): Driver {
  const candidate = (tx ?? {}) as Partial<Record<"unsafe" | "query" | "exec" | "release" | "connect", unknown>>;
  const isPg = typeof candidate.release === "function" || typeof candidate.connect === "function";
  if (typeof candidate.unsafe === "function" || typeof candidate.exec === "function" || isPg) {
    return driver(tx as PostgresClient);
  }
  if (typeof candidate.query !== "function") {
    throw new HooklineError(
      "invalid_option",
      "tx must be a pg PoolClient, a postgres.js transaction, a PGlite transaction or a { query(text, params) } port",
    );
  }
  const port = tx as SqlPort;
  return async (text, params) => {
    const result = await port.query(text, params);
    const rows = Array.isArray(result) ? result : result.rows;
    return rows.map((row) => (Array.isArray(row) ? row : Object.values(row as object)));
  };
}

/** Which driver `client` is; rows come back as arrays so that no driver's column-name transform applies. */
function driver(client: PostgresClient): Driver {
  const candidate = (client ?? {}) as Partial<PgClient & PGliteClient & PostgresJsClient>;
  if (typeof candidate.unsafe === "function") {
    const sql = client as PostgresJsClient;
    // unsafe() does not prepare by default, and an unprepared statement with parameters costs postgres.js two
    // round trips (it describes the statement first). Prepared, only a connection's first use of it does; a
    // client created with `prepare: false` (for PgBouncer) keeps its own choice.
    return (text, params) => sql.unsafe(text, params, { prepare: true }).values();
  }
  if (typeof candidate.query === "function" && typeof candidate.exec === "function") {
    const pglite = client as PGliteClient;
    return async (text, params) => (await pglite.query(text, params, { rowMode: "array" })).rows;
  }
  if (typeof candidate.query === "function") {
    const pg = client as PgClient;
    // The per-delivery statements (those with parameters; not migrate() or purge()) are named, so that each
    // connection parses and plans them once instead of at every call: that planning cost the store a third of its
    // throughput against a bare INSERT + UPDATE. Still one round trip: pg sends the Parse with the first Bind.
    let named = true;
    return async (text, params) => {
      const name = named && params.length > 0 ? statementName(text) : undefined;
      if (name) {
        try {
          return (await pg.query({ name, text, values: params, rowMode: "array" })).rows;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          // A pooler in transaction mode (PgBouncer before 1.21, or without max_prepared_statements) hands each
          // statement to any server session, where ours is missing or another's is there. Nothing ran: run it
          // again unnamed, as every statement from now on.
          if (code !== "26000" && code !== "42P05") throw error;
          named = false;
        }
      }
      return (await pg.query({ text, values: params, rowMode: "array" })).rows;
    };
  }
  throw new HooklineError(
    "invalid_option",
    "client must be a pg Pool or Client, a postgres.js sql instance or a PGlite instance",
  );
}

const statementNames = new Map<string, string>();
// Every name stays prepared on each connection that used it: a caller that builds statement texts on the fly
// must not fill the sessions (and this map) without end. Past this many texts, new ones go unnamed.
const MAX_STATEMENT_NAMES = 100;

/**
 * A prepared statement's name, the same for the same text (so in every store and process), distinct for others;
 * undefined once {@link MAX_STATEMENT_NAMES} texts have one.
 */
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined) {
    if (statementNames.size >= MAX_STATEMENT_NAMES) return undefined;
    // FNV-1a, twice over (forwards and backwards): 64 bits, so no two of the few texts a process runs share one.
    let forwards = 0x811c9dc5;
    let backwards = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      forwards = Math.imul(forwards ^ text.charCodeAt(i), 0x01000193);
      backwards = Math.imul(backwards ^ text.charCodeAt(text.length - 1 - i), 0x01000193);
    }
    name = `hookline_${(forwards >>> 0).toString(36)}${(backwards >>> 0).toString(36)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * Wraps a client so that every statement settles within `timeoutMs`: a server that stopped answering makes the
 * store reject (and the receiver answer 503) instead of holding the delivery until the sender gives up.
 */
export function database(
  client: PostgresClient,
  timeoutMs: number,
  tables: readonly string[],
  run: Driver = driver(client),
): Database {
  const failed = (error: unknown) =>
    (error as { code?: unknown }).code === "42P01"
      ? new HooklineError(
          "store_unavailable",
          `A Hookline table is missing (${tables.join(", ")}): call migrate() once, or apply the package's sql/schema.sql`,
          { cause: error },
        )
      : error;
  return {
    // One timer and two callbacks per statement, no Promise.race: every microsecond of the app's CPU counts
    // against the database's on a busy host.
    query(text, params = [], late) {
      return new Promise((resolve, reject) => {
        const work = run(text, params) as PromiseLike<unknown[][]>; // (a driver that throws rejects)
        const timer = setTimeout(() => {
          if (late) work.then(late, () => {});
          reject(
            new HooklineError("store_unavailable", `PostgreSQL did not answer within ${timeoutMs} ms (timeoutMs)`),
          );
        }, timeoutMs);
        work.then(
          (rows) => {
            clearTimeout(timer);
            resolve(rows);
          },
          (error: unknown) => {
            clearTimeout(timer);
            reject(failed(error));
          },
        );
      });
    },
  };
}
