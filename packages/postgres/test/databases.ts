import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import postgres from "postgres";
import {
  type PostgresClient,
  postgresDeadLetters,
  postgresDeliveries,
  postgresInbox,
  postgresStore,
} from "../src/index";

/** A database for one test file: a client, and a schema of its own so files sharing a server never meet. */
export interface TestDatabase {
  client: PostgresClient;
  /** The idempotency table, in this file's schema. */
  table: string;
  /** The dead-letter table, in this file's schema. */
  deadLetterTable: string;
  /** The sender's tables' prefix (`tablePrefix`), in this file's schema. */
  tablePrefix: string;
  /** The file's schema. */
  schema: string;
  /** Drops the schema and closes the client. */
  close(): Promise<void>;
}

const uniqueSchema = () => `hookline_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;

/** The file's database, its tables created by the stores' own `migrate()`. */
async function inSchema(schema: string, client: PostgresClient, close: () => Promise<void>): Promise<TestDatabase> {
  const table = `${schema}.hookline_idempotency`;
  const deadLetterTable = `${schema}.hookline_dead_letters`;
  await postgresStore({ client, table }).migrate();
  await postgresDeadLetters({ client, table: deadLetterTable }).migrate();
  const tablePrefix = `${schema}.hookline_`;
  await postgresDeliveries({ client, tablePrefix }).migrate();
  await postgresInbox({ client, table: `${schema}.hookline_inbox` }).migrate();
  return { client, schema, table, deadLetterTable, tablePrefix, close };
}

/** A pg Pool on the server at `url`. */
export async function pgDatabase(url: string, config: pg.PoolConfig = {}): Promise<TestDatabase & { pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: url, max: 10, ...config });
  pool.on("error", () => {}); // idle connections dropped by the server are replaced on the next query
  const schema = uniqueSchema();
  await pool.query(`CREATE SCHEMA ${schema}`);
  const database = await inSchema(schema, pool, async () => {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`).finally(() => pool.end());
  });
  return { ...database, pool };
}

/** A postgres.js `sql` on the server at `url`. */
export async function postgresJsDatabase(url: string): Promise<TestDatabase> {
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  const schema = uniqueSchema();
  await sql.unsafe(`CREATE SCHEMA ${schema}`);
  return await inSchema(schema, sql, async () => {
    await sql.unsafe(`DROP SCHEMA ${schema} CASCADE`).finally(() => sql.end({ timeout: 5 }));
  });
}

/** An in-memory PGlite: no server. Starting one costs seconds of CPU, so a test file shares one. */
export async function pgliteDatabase(): Promise<TestDatabase & { pglite: PGlite }> {
  const pglite = await PGlite.create();
  const schema = uniqueSchema();
  await pglite.exec(`CREATE SCHEMA ${schema}`);
  return { ...(await inSchema(schema, pglite, () => pglite.close())), pglite };
}
