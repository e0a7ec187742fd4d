import { HooklineError } from "@hookline/core";

/** The default table of {@link postgresStore}. */
export const DEFAULT_TABLE = "hookline_idempotency";
/** The default table of {@link postgresDeadLetters}. */
export const DEFAULT_DEAD_LETTER_TABLE = "hookline_dead_letters";

/** A validated table name, quoted for SQL, with the names of the indexes that go with it. */
export interface TableName {
  /** As written, for messages. */
  readonly name: string;
  /** Quoted, schema-qualified when it was given so: `"schema"."table"`. */
  readonly sql: string;
  /** The quoted name of the table's index on `column` (indexes live in their table's schema). */
  index(column: string): string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Index names append at most 16 characters ("_first_failed_at") and must stay within PostgreSQL's 63.
const MAX_TABLE_LENGTH = 47;

/** Validates a `table` option: a plain identifier, optionally schema-qualified, used exactly as written. */
export function tableName(option: string, name: string): TableName {
  const parts = name.split(".");
  const table = parts[parts.length - 1] ?? "";
  if (
    parts.length > 2 ||
    !parts.every((part) => IDENTIFIER.test(part) && part.length <= 63) ||
    table.length > MAX_TABLE_LENGTH
  ) {
    throw new HooklineError(
      "invalid_option",
      `${option} must be a table name, optionally schema-qualified ("schema.table"), of letters, digits and _ ` +
        `(the table at most ${MAX_TABLE_LENGTH} characters), got ${JSON.stringify(name)}`,
    );
  }
  const quote = (identifier: string) => `"${identifier}"`;
  return { name, sql: parts.map(quote).join("."), index: (column) => quote(`${table}_${column}`) };
}

/** The statements that create the idempotency table, each idempotent. */
export function idempotencySchema(table: TableName): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${table.sql} (
  -- The message id; an id over 2 000 bytes, or with characters text cannot hold, as "hookline-sha256:<hex>".
  key text PRIMARY KEY,
  -- The live claim's token; NULL once the message is done.
  token text,
  -- The end of the lease while claimed, of the retention once done. An expired row counts as absent;
  -- purge() deletes it.
  expires_at timestamptz NOT NULL
)`,
    `CREATE INDEX IF NOT EXISTS ${table.index("expires_at")} ON ${table.sql} (expires_at)`,
  ];
}

/** The statements that create the dead-letter table, each idempotent. */
export function deadLetterSchema(table: TableName): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${table.sql} (
  -- The message id, hashed as in the idempotency table's key when it must be (then full_id holds it whole).
  id text PRIMARY KEY,
  type text NOT NULL,
  -- The timestamp the sender signed, when the scheme carries one.
  signed_at timestamptz,
  -- The raw body as received and verified.
  payload text NOT NULL,
  error_name text NOT NULL,
  error_message text NOT NULL,
  error_stack text,
  attempts integer NOT NULL,
  first_failed_at timestamptz NOT NULL,
  last_failed_at timestamptz NOT NULL,
  -- The whole message id as a JSON string when id holds its hash; NULL when id is the message id.
  full_id text
)`,
    // Tables created before full_id existed gain it here (a nullable column: no rewrite, existing rows unchanged).
    `ALTER TABLE ${table.sql} ADD COLUMN IF NOT EXISTS full_id text`,
    `CREATE INDEX IF NOT EXISTS ${table.index("first_failed_at")} ON ${table.sql} (first_failed_at, id)`,
  ];
}

// Two instances starting at once would otherwise race in CREATE TABLE IF NOT EXISTS, where one can fail on a
// catalog unique index. The key is "hook" in ASCII.
const MIGRATION_LOCK = 0x686f6f6b;

/**
 * One statement that runs `statements` in one transaction, under an advisory lock, without the notices that
 * `IF NOT EXISTS` raises for tables already there.
 */
export function migration(statements: string[]): string {
  return [
    "DO $hookline$",
    "BEGIN",
    "PERFORM set_config('client_min_messages', 'warning', true);",
    `PERFORM pg_advisory_xact_lock(${MIGRATION_LOCK});`,
    ...statements.map((statement) => `${statement};`),
    "END",
    "$hookline$",
  ].join("\n");
}

/** Options of {@link postgresSchema}. */
export interface PostgresSchemaOptions {
  /**
   * The idempotency table, as passed to `postgresStore`.
   * @default "hookline_idempotency"
   */
  table?: string;
  /**
   * The dead-letter table, as passed to `postgresDeadLetters`.
   * @default "hookline_dead_letters"
   */
  deadLetterTable?: string;
}

/**
 * The SQL that creates both tables, for teams that run their own migrations: the same statements `migrate()`
 * runs. With no options it is exactly the package's `sql/schema.sql`.
 *
 * @example
 * writeFileSync("migrations/0042_hookline.sql", postgresSchema({ table: "webhooks.claims" }));
 */
export function postgresSchema(options: PostgresSchemaOptions = {}): string {
  const table = tableName("table", options.table ?? DEFAULT_TABLE);
  const deadLetterTable = tableName("deadLetterTable", options.deadLetterTable ?? DEFAULT_DEAD_LETTER_TABLE);
  const statements = (list: string[]) => list.map((statement) => `${statement};\n`).join("\n");
  return `-- @hookline/postgres: the tables of postgresStore and postgresDeadLetters.
-- store.migrate() and deadLetters.migrate() run these same statements (generated by postgresSchema(), which also
-- takes other table names). Every statement is idempotent.

-- Idempotency: one row per message id, claimed (token set) or done (token NULL) until expires_at.
${statements(idempotencySchema(table))}
-- Dead letters: events whose handler failed, kept until replayed or deleted.
${statements(deadLetterSchema(deadLetterTable))}`;
}
