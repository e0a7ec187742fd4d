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

/** The default prefix of {@link postgresDeliveries}' tables: `hookline_endpoints`, `hookline_messages`, … */
export const DEFAULT_DELIVERY_PREFIX = "hookline_";

/** The four tables of the sender's engine. */
export interface DeliveryTables {
  endpoints: TableName;
  messages: TableName;
  deliveries: TableName;
  attempts: TableName;
}

/** The engine's tables from a `tablePrefix` option (`"hookline_"`, or schema-qualified `"webhooks.hookline_"`). */
export function deliveryTables(prefix: string): DeliveryTables {
  const table = (name: string) => tableName("tablePrefix", `${prefix}${name}`);
  return {
    endpoints: table("endpoints"),
    messages: table("messages"),
    deliveries: table("deliveries"),
    attempts: table("attempts"),
  };
}

/** The statements that create the sender's tables, each idempotent. */
export function deliverySchema({ endpoints, messages, deliveries, attempts }: DeliveryTables): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${endpoints.sql} (
  id text PRIMARY KEY,
  -- Insertion order: ties on created_at list in the order they were stored.
  seq bigint GENERATED ALWAYS AS IDENTITY,
  url text NOT NULL,
  tenant text,
  -- NULL: every event type.
  types text[],
  -- json, not jsonb: returned exactly as given (key order included).
  headers json NOT NULL,
  metadata json NOT NULL,
  -- [{ "secret": "whsec_…", "expiresAt": 1700000000000 }], newest first.
  secrets json NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  disabled_reason text,
  failing_since timestamptz,
  -- The live leases on its deliveries, { "<delivery id>": { "token": "…", "expiresAt": <ms> } }, kept on the row
  -- that every claim locks, so that the per-endpoint concurrency holds across all workers.
  leases jsonb NOT NULL DEFAULT '{}',
  -- When a worker last claimed for it: claims go round the endpoints, least recently served first.
  claimed_at timestamptz NOT NULL DEFAULT '-infinity',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
)`,
    `CREATE INDEX IF NOT EXISTS ${endpoints.index("tenant")} ON ${endpoints.sql} (tenant, created_at, seq)`,
    `CREATE INDEX IF NOT EXISTS ${endpoints.index("claimed_at")} ON ${endpoints.sql} (claimed_at) WHERE NOT disabled`,
    `CREATE TABLE IF NOT EXISTS ${messages.sql} (
  -- The webhook-id of every delivery, and the key of idempotent enqueue.
  id text PRIMARY KEY,
  type text NOT NULL,
  tenant text,
  -- The exact JSON text sent on every attempt.
  payload text NOT NULL,
  created_at timestamptz NOT NULL
)`,
    `CREATE INDEX IF NOT EXISTS ${messages.index("created_at")} ON ${messages.sql} (created_at)`,
    `CREATE TABLE IF NOT EXISTS ${deliveries.sql} (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  message_id text NOT NULL REFERENCES ${messages.sql} (id) ON DELETE CASCADE,
  -- No foreign key: a deleted endpoint's deliveries stay, failed, as history.
  endpoint_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'exhausted')),
  -- Attempts since created or last requeued: the place in the retry schedule.
  attempts integer NOT NULL DEFAULT 0,
  -- While pending: when it can next be claimed (its next attempt, or the end of its live lease).
  next_attempt_at timestamptz,
  -- The last claim's token; its lease ended early (settled) when lease_expires_at is NULL.
  lease_token text,
  lease_expires_at timestamptz,
  last_status integer,
  last_error text,
  last_attempt_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
)`,
    // The dispatcher's and dueIn's: an endpoint's due deliveries, oldest first.
    `CREATE INDEX IF NOT EXISTS ${deliveries.index("due")} ON ${deliveries.sql} (endpoint_id, next_attempt_at)
  WHERE status = 'pending'`,
    `CREATE INDEX IF NOT EXISTS ${deliveries.index("message_id")} ON ${deliveries.sql} (message_id)`,
    `CREATE INDEX IF NOT EXISTS ${deliveries.index("endpoint_id")} ON ${deliveries.sql} (endpoint_id, created_at, seq)`,
    `CREATE INDEX IF NOT EXISTS ${deliveries.index("created_at")} ON ${deliveries.sql} (created_at, seq)`,
    `CREATE TABLE IF NOT EXISTS ${attempts.sql} (
  id text PRIMARY KEY,
  -- The log's order.
  seq bigint GENERATED ALWAYS AS IDENTITY,
  delivery_id text NOT NULL REFERENCES ${deliveries.sql} (id) ON DELETE CASCADE,
  message_id text NOT NULL,
  endpoint_id text NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms double precision NOT NULL,
  outcome text NOT NULL,
  status integer,
  response_body text,
  error text
)`,
    `CREATE INDEX IF NOT EXISTS ${attempts.index("delivery_id")} ON ${attempts.sql} (delivery_id, seq)`,
  ];
}

/** The default table of {@link postgresInbox}. */
export const DEFAULT_INBOX_TABLE = "hookline_inbox";

/** The statements that create the receiver's inbox table, each idempotent. */
export function inboxSchema(table: TableName): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${table.sql} (
  -- The event's idempotency key: one row per id, so a redelivery is a duplicate (ON CONFLICT DO NOTHING).
  id text PRIMARY KEY,
  -- Enqueue order: what orders the events of one order_key.
  seq bigint GENERATED ALWAYS AS IDENTITY,
  type text NOT NULL,
  -- The raw body as verified, byte for byte.
  payload text NOT NULL,
  -- The signed timestamp (unix seconds), when the scheme carries one.
  signed_at bigint,
  -- The receiver's orderBy key: events with one key run one at a time, in seq order.
  order_key text,
  -- The request headers the envelope read at ingest, when it read any (json, not jsonb: kept as written).
  headers json,
  received_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'processed', 'exhausted')),
  -- Runs that ended: the place in the retry schedule.
  attempts integer NOT NULL DEFAULT 0,
  -- While pending: when it can next be claimed (now, after a retry's delay, or the end of its live lease).
  next_attempt_at timestamptz,
  -- The last claim's token; its lease ended early (settled) when lease_expires_at is NULL.
  lease_token text,
  lease_expires_at timestamptz,
  last_error text,
  -- When it became processed or exhausted: what purge() goes by.
  ended_at timestamptz
)`,
    // The claim's and dueIn's: pending events by due time.
    `CREATE INDEX IF NOT EXISTS ${table.index("due")} ON ${table.sql} (next_attempt_at, seq) WHERE status = 'pending'`,
    // Whether an earlier event of the same key is still pending.
    `CREATE INDEX IF NOT EXISTS ${table.index("order_key")} ON ${table.sql} (order_key, seq)
  WHERE status = 'pending' AND order_key IS NOT NULL`,
    `CREATE INDEX IF NOT EXISTS ${table.index("ended_at")} ON ${table.sql} (ended_at) WHERE ended_at IS NOT NULL`,
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
  /**
   * The prefix of the sender's tables, as passed to `postgresDeliveries`.
   * @default "hookline_"
   */
  tablePrefix?: string;
  /**
   * The receiver's inbox table, as passed to `postgresInbox`.
   * @default "hookline_inbox"
   */
  inboxTable?: string;
}

/**
 * The SQL that creates every table of the package, for teams that run their own migrations: the same statements `migrate()`
 * runs. With no options it is exactly the package's `sql/schema.sql`.
 *
 * @example
 * writeFileSync("migrations/0042_hookline.sql", postgresSchema({ table: "webhooks.claims" }));
 */
export function postgresSchema(options: PostgresSchemaOptions = {}): string {
  const table = tableName("table", options.table ?? DEFAULT_TABLE);
  const deadLetterTable = tableName("deadLetterTable", options.deadLetterTable ?? DEFAULT_DEAD_LETTER_TABLE);
  const delivery = deliveryTables(options.tablePrefix ?? DEFAULT_DELIVERY_PREFIX);
  const inboxTable = tableName("inboxTable", options.inboxTable ?? DEFAULT_INBOX_TABLE);
  const statements = (list: string[]) => list.map((statement) => `${statement};\n`).join("\n");
  return `-- @hookline/postgres: the tables of postgresStore, postgresDeadLetters, postgresDeliveries and
-- postgresInbox.
-- Their migrate() methods run these same statements (generated by postgresSchema(), which also takes other table
-- names). Every statement is idempotent.

-- Idempotency: one row per message id, claimed (token set) or done (token NULL) until expires_at.
${statements(idempotencySchema(table))}
-- Dead letters: events whose handler failed, kept until replayed or deleted.
${statements(deadLetterSchema(deadLetterTable))}
-- The sender (postgresDeliveries): endpoints, messages, one delivery per message and endpoint, the attempt log.
${statements(deliverySchema(delivery))}
-- The receiver's inbox (postgresInbox): received events until their handlers have run, then their ids until purged.
${statements(inboxSchema(inboxTable))}`;
}
