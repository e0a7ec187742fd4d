import { type DeadLetter, type DeadLetterStore, HooklineError } from "@hookline/core";
import { database, type PostgresClient } from "./client";
import { storedKey } from "./keys";
import { DEFAULT_DEAD_LETTER_TABLE, deadLetterSchema, migration, tableName } from "./schema";
import { positive } from "./store";

/** Options of {@link postgresDeadLetters}. */
export interface PostgresDeadLettersOptions {
  /** The database: a `pg` Pool or Client, a postgres.js `sql`, or a `PGlite` instance. */
  client: PostgresClient;
  /**
   * The table, optionally schema-qualified (`"webhooks.dead_letters"`); the schema must exist. Used exactly as
   * written (quoted), so case counts.
   * @default "hookline_dead_letters"
   */
  table?: string;
  /**
   * The longest any statement may take; past it the call rejects (a failed `put` makes the receiver answer 500,
   * so the sender delivers again).
   * @default 5_000
   */
  timeoutMs?: number;
}

/** A PostgreSQL {@link DeadLetterStore}, plus the creation of its table. */
export interface PostgresDeadLetters extends DeadLetterStore {
  /** Creates the table and its index if they do not exist (one idempotent statement; safe to run at every start). */
  migrate(): Promise<void>;
}

type Row = [
  id: string,
  type: string,
  signedAt: number | null,
  payload: string,
  errorName: string,
  errorMessage: string,
  errorStack: string | null,
  attempts: number,
  firstFailedAt: number,
  lastFailedAt: number,
  fullId: string | null,
];

function letterFrom(row: unknown[]): DeadLetter {
  const [id, type, signedAt, payload, errorName, errorMessage, errorStack, attempts, firstFailedAt, lastFailedAt] =
    row as Row;
  const fullId = (row as Row)[10]; // set when id is a hash of the message id
  return {
    id: fullId === null ? id : (JSON.parse(fullId) as string),
    type,
    ...(signedAt === null ? {} : { timestamp: signedAt }),
    payload,
    error:
      errorStack === null
        ? { name: errorName, message: errorMessage }
        : { name: errorName, message: errorMessage, stack: errorStack },
    attempts,
    firstFailedAt,
    lastFailedAt,
  };
}

/**
 * Dead letters in PostgreSQL: events whose handler failed, kept durably until replayed or deleted. A repeated
 * failure of one event merges into its letter in one statement (attempts add up, the first failure time stays).
 *
 * @example
 * const deadLetters = postgresDeadLetters({ client: pool });
 * await deadLetters.migrate();
 * const receiver = createReceiver({ secret, store, deadLetters });
 */
export function postgresDeadLetters(options: PostgresDeadLettersOptions): PostgresDeadLetters {
  const table = tableName("table", options.table ?? DEFAULT_DEAD_LETTER_TABLE);
  const db = database(options.client, positive("timeoutMs", options.timeoutMs ?? 5_000), [table.name]);
  const t = table.sql;
  // Times are stored as timestamptz (readable in psql) and travel as epoch milliseconds, exactly.
  const columns = `id, type, extract(epoch FROM signed_at)::float8, payload, error_name, error_message, error_stack,
  attempts, (extract(epoch FROM first_failed_at) * 1000)::float8, (extract(epoch FROM last_failed_at) * 1000)::float8,
  full_id`;
  const sql = {
    put: `INSERT INTO ${t} AS letter
  (id, type, signed_at, payload, error_name, error_message, error_stack, attempts, first_failed_at, last_failed_at,
  full_id)
VALUES ($1::text, $2::text, to_timestamp($3::float8), $4::text, $5::text, $6::text, $7::text, $8::integer,
  to_timestamp($9::float8 / 1000), to_timestamp($10::float8 / 1000), $11::text)
ON CONFLICT (id) DO UPDATE SET
  type = excluded.type, signed_at = excluded.signed_at, payload = excluded.payload,
  error_name = excluded.error_name, error_message = excluded.error_message, error_stack = excluded.error_stack,
  attempts = letter.attempts + excluded.attempts, last_failed_at = excluded.last_failed_at`,
    get: `SELECT ${columns} FROM ${t} WHERE id = $1::text`,
    list: `SELECT ${columns} FROM ${t} ORDER BY first_failed_at, id LIMIT $1::integer`,
    delete: `DELETE FROM ${t} WHERE id = $1::text RETURNING true`,
  };

  return {
    async put(letter) {
      const key = await storedKey(letter.id);
      await db.query(sql.put, [
        key,
        letter.type,
        letter.timestamp ?? null,
        letter.payload,
        letter.error.name,
        letter.error.message,
        letter.error.stack ?? null,
        letter.attempts,
        letter.firstFailedAt,
        letter.lastFailedAt,
        key === letter.id ? null : JSON.stringify(letter.id),
      ]);
    },

    async get(id) {
      const [row] = await db.query(sql.get, [await storedKey(id)]);
      return row && letterFrom(row);
    },

    async list({ limit = 100 } = {}) {
      if (!Number.isInteger(limit) || limit < 0) {
        throw new HooklineError("invalid_option", `limit must be a whole number, got ${limit}`);
      }
      return (await db.query(sql.list, [limit])).map(letterFrom);
    },

    async delete(id) {
      return (await db.query(sql.delete, [await storedKey(id)])).length === 1;
    },

    async migrate() {
      await db.query(migration(deadLetterSchema(table)));
    },
  } satisfies PostgresDeadLetters;
}
