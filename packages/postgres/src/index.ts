/**
 * PostgreSQL stores for Hookline receivers: {@link postgresStore} records which messages were processed, so that
 * every instance sharing the database processes each message once; {@link postgresDeadLetters} keeps the events
 * whose handler failed. Bring your own client: `pg`, postgres.js, or PGlite (embedded, no server).
 *
 * @example
 * import pg from "pg";
 * import { createReceiver } from "@hookline/core";
 * import { postgresStore } from "@hookline/postgres";
 *
 * const store = postgresStore({ client: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
 * await store.migrate();
 * const receiver = createReceiver({ secret: process.env.WEBHOOK_SECRET!, store });
 *
 * @module
 */
export type {
  PGliteClient,
  PgClient,
  PostgresClient,
  PostgresJsClient,
  PostgresTransaction,
  SqlParameter,
  SqlPort,
} from "./client";
export { type PostgresDeadLetters, type PostgresDeadLettersOptions, postgresDeadLetters } from "./dead-letters";
export { type PostgresDeliveries, type PostgresDeliveriesOptions, postgresDeliveries } from "./deliveries";
export {
  type InboxTransaction,
  type InboxTransactionOf,
  type PostgresInbox,
  type PostgresInboxOptions,
  postgresInbox,
} from "./inbox";
export { type PostgresSchemaOptions, postgresSchema } from "./schema";
export { type PostgresStore, type PostgresStoreOptions, postgresStore } from "./store";
