import { HooklineError } from "@hookline/core";

// The three drivers are optional peers: only their shapes are described here, so that the package imports none
// of them and a project that installs one of them still gets its client type-checked.

/** A node-postgres (`pg` 8) `Pool`, `PoolClient` or `Client`. */
export interface PgClient {
  query(config: { text: string; values: SqlParameter[]; rowMode: "array" }): Promise<{ rows: unknown[] }>;
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

/** Which driver `client` is; rows come back as arrays so that no driver's column-name transform applies. */
function driver(client: PostgresClient): (text: string, params: SqlParameter[]) => PromiseLike<unknown[]> {
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
    return async (text, params) => (await pg.query({ text, values: params, rowMode: "array" })).rows;
  }
  throw new HooklineError(
    "invalid_option",
    "client must be a pg Pool or Client, a postgres.js sql instance or a PGlite instance",
  );
}

/**
 * Wraps a client so that every statement settles within `timeoutMs`: a server that stopped answering makes the
 * store reject (and the receiver answer 503) instead of holding the delivery until the sender gives up.
 */
export function database(client: PostgresClient, timeoutMs: number, tables: readonly string[]): Database {
  const run = driver(client);
  return {
    async query(text, params = [], late) {
      const work = run(text, params) as PromiseLike<unknown[][]>;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          if (late) work.then(late, () => {});
          reject(
            new HooklineError("store_unavailable", `PostgreSQL did not answer within ${timeoutMs} ms (timeoutMs)`),
          );
        }, timeoutMs);
      });
      try {
        return await Promise.race([work, timeout]);
      } catch (error) {
        if ((error as { code?: unknown }).code === "42P01") {
          throw new HooklineError(
            "store_unavailable",
            `A Hookline table is missing (${tables.join(", ")}): call migrate() once, or apply the package's sql/schema.sql`,
            { cause: error },
          );
        }
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
