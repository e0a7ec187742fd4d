import type { PostgresClient } from "./client";

/** A subscription to a notification channel; `close` gives back the connection it took. */
export interface Listener {
  close(): Promise<void>;
}

interface PgNotifyingClient {
  query(text: string): Promise<unknown>;
  on(event: "notification", listener: (message: { channel: string }) => void): unknown;
  on(event: "error" | "end", listener: (error?: unknown) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  release?(error?: unknown): void;
}

const quote = (channel: string) => `"${channel.replaceAll('"', '""')}"`;

/** Whether {@link listen} can subscribe through `client` (else its workers poll). */
export function canListen(client: PostgresClient): boolean {
  const candidate = client as unknown as Record<string, unknown>;
  return (
    typeof candidate.listen === "function" ||
    (typeof candidate.connect === "function" && typeof candidate.on === "function")
  );
}

/**
 * Calls `wake` on every notification on `channel`, and once more whenever the subscription is (re)established, so
 * that nothing notified while it was down waits for a poll. Resolves `undefined` for a client that cannot
 * listen (then the caller polls):
 *
 * - postgres.js: `sql.listen`, on the connection postgres.js keeps for listening (it re-listens after a drop;
 *   `sql.end()` closes it);
 * - PGlite: `pglite.listen`, in process;
 * - a `pg` Pool: one connection of the pool, held until `close` and replaced when it drops;
 * - a single `pg` Client: that client (it must stay connected).
 */
export async function listen(
  client: PostgresClient,
  channel: string,
  wake: () => void,
  onError: (error: unknown) => void,
): Promise<Listener | undefined> {
  const candidate = client as unknown as Record<string, unknown>;
  if (typeof candidate.unsafe === "function" && typeof candidate.listen === "function") {
    const sql = client as unknown as {
      listen(channel: string, fn: () => void, onlisten: () => void): Promise<{ unlisten(): Promise<unknown> }>;
    };
    const { unlisten } = await sql.listen(channel, wake, wake);
    return { close: async () => void (await unlisten()) };
  }
  if (typeof candidate.exec === "function" && typeof candidate.listen === "function") {
    const pglite = client as unknown as {
      listen(channel: string, fn: () => void): Promise<unknown>;
      unlisten(channel: string, fn: () => void): Promise<void>;
    };
    // PGlite puts the name into LISTEN as given (and unquotes a quoted one to match notifications); the function
    // that listen() resolves would UNLISTEN the unquoted name, so unlisten() is called with the quoted one.
    await pglite.listen(quote(channel), wake);
    wake();
    return { close: () => pglite.unlisten(quote(channel), wake) };
  }
  if (typeof candidate.connect === "function" && typeof candidate.totalCount === "number") {
    return poolListener(client as unknown as { connect(): Promise<PgNotifyingClient> }, channel, wake, onError);
  }
  if (typeof candidate.connect === "function" && typeof candidate.on === "function") {
    const pg = client as unknown as PgNotifyingClient;
    const notified = (message: { channel: string }) => message.channel === channel && wake();
    pg.on("notification", notified);
    await pg.query(`LISTEN ${quote(channel)}`);
    wake();
    return {
      async close() {
        pg.removeListener("notification", notified);
        await pg.query(`UNLISTEN ${quote(channel)}`).catch(onError);
      },
    };
  }
  return undefined;
}

const RECONNECT_MS = [100, 500, 1_000, 2_000, 5_000];

/** LISTEN on a connection taken from a `pg` Pool, taken again (with backoff) whenever it drops. */
async function poolListener(
  pool: { connect(): Promise<PgNotifyingClient> },
  channel: string,
  wake: () => void,
  onError: (error: unknown) => void,
): Promise<Listener> {
  let connection: PgNotifyingClient | undefined;
  let closed = false;
  let failures = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let connecting: Promise<void> | undefined;

  const notified = (message: { channel: string }) => message.channel === channel && wake();
  // Takes the connection out of service: no more events from it.
  const detach = () => {
    const held = connection;
    connection = undefined;
    held?.removeListener("notification", notified);
    held?.removeListener("error", dropped);
    held?.removeListener("end", dropped);
    return held;
  };
  const dropped = (error?: unknown) => {
    const lost = detach();
    if (!lost) return;
    lost.release?.(error instanceof Error ? error : new Error("The LISTEN connection ended"));
    if (error) onError(error);
    schedule();
  };
  const schedule = () => {
    if (closed) return;
    const delay = RECONNECT_MS[Math.min(failures, RECONNECT_MS.length - 1)];
    retry = setTimeout(() => {
      connecting = open();
    }, delay);
    retry.unref?.();
  };
  const open = async () => {
    let taken: PgNotifyingClient | undefined;
    try {
      taken = await pool.connect();
      taken.on("notification", notified);
      taken.on("error", dropped);
      taken.on("end", dropped);
      connection = taken;
      await taken.query(`LISTEN ${quote(channel)}`);
      failures = 0;
      wake(); // whatever was notified while no connection listened
    } catch (error) {
      failures += 1;
      if (taken && connection === taken) dropped(error);
      else {
        onError(error);
        schedule();
      }
    }
    if (closed) await close();
  };
  const close = async () => {
    closed = true;
    clearTimeout(retry);
    const held = detach();
    if (!held) return;
    try {
      await held.query(`UNLISTEN ${quote(channel)}`);
      held.release?.();
    } catch (error) {
      held.release?.(error);
    }
  };

  connecting = open();
  await connecting;
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      await connecting;
      await close();
    },
  };
}
