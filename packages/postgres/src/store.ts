import { type ClaimResult, claimToken, HooklineError, type IdempotencyStore } from "@hookline/core";
import { type Database, database, type PostgresClient } from "./client";
import { storedKey } from "./keys";
import { DEFAULT_TABLE, idempotencySchema, migration, type TableName, tableName } from "./schema";

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /** The database: a `pg` Pool or Client, a postgres.js `sql`, or a `PGlite` instance. */
  client: PostgresClient;
  /**
   * The table, optionally schema-qualified (`"webhooks.claims"`); the schema must exist. Used exactly as written
   * (quoted), so case counts.
   * @default "hookline_idempotency"
   */
  table?: string;
  /**
   * How long a claim holds before another delivery may take it over (a crashed instance's claim frees itself).
   * Keep it longer than your slowest handler. Leases run on the database's clock, never the app's.
   * @default 60_000 (one minute)
   */
  leaseMs?: number;
  /**
   * How long a processed message id is remembered. Cover the sender's whole retry window.
   * @default 259_200_000 (three days, the Standard Webhooks retry schedule)
   */
  retentionMs?: number;
  /**
   * The longest any statement may take. Past it the call rejects, so the receiver answers 503 with Retry-After
   * instead of hanging while the database is unreachable. It includes any wait for a pool connection. A claim
   * that timed out and still lands later (a frozen server, a long pool queue) is released as soon as it does.
   * @default 5_000
   */
  timeoutMs?: number;
}

/** A PostgreSQL {@link IdempotencyStore}, plus the upkeep of its table. */
export interface PostgresStore extends IdempotencyStore {
  /** Creates the table and its index if they do not exist (one idempotent statement; safe to run at every start). */
  migrate(): Promise<void>;
  /** Deletes expired claims and expired done ids; resolves how many rows went. Expired rows already count as absent. */
  purge(): Promise<number>;
}

/** Checks a duration or size option. */
export function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new HooklineError("invalid_option", `${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** The statements of the store: every one is a single round trip, timed by the database's own clock. */
function statements(table: TableName) {
  const t = table.sql;
  const expiresIn = (parameter: string) => `statement_timestamp() + ${parameter}::float8 * interval '1 millisecond'`;
  return {
    // The conflict branch always updates, keeping the row unless it expired: RETURNING then reports the current
    // row, locked, in every case. (With `DO UPDATE … WHERE expired` plus a fallback SELECT, the SELECT reads the
    // statement's snapshot and misses a row that a concurrent claim inserted after it began.)
    claim: `INSERT INTO ${t} AS claim (key, token, expires_at)
VALUES ($1::text, $2::text, ${expiresIn("$3")})
ON CONFLICT (key) DO UPDATE SET
  token = CASE WHEN claim.expires_at <= statement_timestamp() THEN excluded.token ELSE claim.token END,
  expires_at = CASE WHEN claim.expires_at <= statement_timestamp() THEN excluded.expires_at ELSE claim.expires_at END
RETURNING token, (extract(epoch FROM expires_at - statement_timestamp()) * 1000)::float8`,
    complete: `UPDATE ${t} SET token = NULL, expires_at = ${expiresIn("$3")}
WHERE key = $1::text AND token = $2::text AND expires_at > statement_timestamp()
RETURNING true`,
    release: `DELETE FROM ${t} WHERE key = $1::text AND token = $2::text AND expires_at > statement_timestamp()
RETURNING true`,
    purge: `WITH purged AS (DELETE FROM ${t} WHERE expires_at <= statement_timestamp() RETURNING true)
SELECT count(*)::float8 FROM purged`,
  };
}

/**
 * An idempotency store on PostgreSQL, shared by every instance that uses the same database: each message is
 * processed once across all of them. Works with `pg`, postgres.js and PGlite (embedded, no server: for local
 * runs and tests). A claim is one statement, as are complete and release; leases use the database's clock.
 *
 * @example
 * const store = postgresStore({ client: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
 * await store.migrate();
 * const receiver = createReceiver({ secret, store });
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const table = tableName("table", options.table ?? DEFAULT_TABLE);
  const defaultLease = positive("leaseMs", options.leaseMs ?? 60_000);
  const defaultRetention = positive("retentionMs", options.retentionMs ?? 3 * 24 * 60 * 60 * 1000);
  const db: Database = database(options.client, positive("timeoutMs", options.timeoutMs ?? 5_000), [table.name]);
  const sql = statements(table);

  return {
    async claim(id, leaseMs = defaultLease): Promise<ClaimResult> {
      const key = await storedKey(id);
      const token = claimToken();
      // A claim that timed out and lands later would hold the message for a whole lease with nobody working on
      // it: release it as soon as it lands.
      const releaseIfClaimed = ([late]: unknown[][]) => {
        if (late?.[0] === token) db.query(sql.release, [key, token]).catch(() => {});
      };
      const [row] = await db.query(sql.claim, [key, token, leaseMs], releaseIfClaimed);
      if (!row) throw new Error(`The claim of ${JSON.stringify(id)} returned no row`);
      const [held, leftMs] = row as [string | null, number];
      if (held === token) return { status: "claimed", token };
      if (held === null) return { status: "done" };
      return { status: "processing", retryAfterMs: Math.max(1, Math.ceil(leftMs)) };
    },

    async complete(id, token, retentionMs = defaultRetention) {
      return (await db.query(sql.complete, [await storedKey(id), token, retentionMs])).length === 1;
    },

    async release(id, token) {
      return (await db.query(sql.release, [await storedKey(id), token])).length === 1;
    },

    async migrate() {
      await db.query(migration(idempotencySchema(table)));
    },

    async purge() {
      const [row] = await db.query(sql.purge);
      return Number(row?.[0] ?? 0);
    },
  } satisfies PostgresStore;
}
