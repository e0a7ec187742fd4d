import { at, later, ms } from "./delivery-statements";
import type { TableName } from "./schema";

// The inbox's statements: the same shapes as the sender's (one json column per row, times as epoch ms on the
// database's clock, claims with FOR UPDATE SKIP LOCKED under a lease that is also the due time).

/** The event as enqueued: fields in the order the receiver builds them, absent ones left null. */
const eventJson = (i: string) => `json_build_object('id', ${i}.id, 'type', ${i}.type, 'payload', ${i}.payload,
  'timestamp', ${i}.signed_at, 'receivedAt', ${ms(`${i}.received_at`)}, 'headers', ${i}.headers, 'orderKey', ${i}.order_key)`;

/** The statements of the inbox in `table`. */
export function inboxStatements(table: TableName) {
  const t = table.sql;
  // An event may run now when no earlier event of its key is still pending (a retry holds the later ones back).
  const head = (i: string) => `(${i}.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM ${t} earlier
    WHERE earlier.order_key = ${i}.order_key AND earlier.status = 'pending' AND earlier.seq < ${i}.seq))`;
  return {
    // One durable write: a held id (any status, until purged) writes nothing.
    enqueue: `INSERT INTO ${t} (id, type, payload, signed_at, order_key, headers, received_at, status, next_attempt_at)
VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::text, $6::text::json, ${at("$7")}, 'pending', statement_timestamp())
ON CONFLICT (id) DO NOTHING
RETURNING true`,
    get: `SELECT json_build_object('event', ${eventJson("i")}, 'status', i.status, 'attempts', i.attempts,
  'lastError', i.last_error) FROM ${t} i WHERE i.id = $1::text`,
    // $1 events at most, leased for $2 ms with token $3: the lease end is also when the event is due again,
    // should its worker die. A claim commits without waiting for its WAL flush (as the sender's does): losing one
    // in a crash of the database only hands its events out again sooner.
    claim: `WITH picked AS (
  SELECT i.id FROM ${t} i
  WHERE i.status = 'pending' AND i.next_attempt_at <= statement_timestamp() AND ${head("i")}
  ORDER BY i.next_attempt_at, i.seq
  LIMIT $1::integer
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE ${t} i SET lease_token = $3::text, lease_expires_at = ${later("$2")}, next_attempt_at = ${later("$2")}
  FROM picked WHERE i.id = picked.id
  RETURNING i.*
), relaxed AS (
  SELECT set_config('synchronous_commit', 'off', true)
)
SELECT json_build_object('event', ${eventJson("claimed")}, 'attempts', claimed.attempts,
  'lease', json_build_object('token', claimed.lease_token, 'expiresAt', ${ms("claimed.lease_expires_at")}))
FROM claimed, relaxed
ORDER BY claimed.seq`,
    // The earliest due head (a leased event is due when its lease ends).
    dueIn: `SELECT extract(epoch FROM min(i.next_attempt_at) - statement_timestamp())::float8 * 1000
FROM ${t} i WHERE i.status = 'pending' AND ${head("i")}`,
    // Only under the live lease. $3 the next status, $4 its delay (pending), $5 the error or NULL. Returns
    // whether the event had an order key (its end lets the next one of the key run).
    settle: `UPDATE ${t} i SET
  status = $3::text,
  attempts = i.attempts + 1,
  next_attempt_at = CASE WHEN $3::text = 'pending' THEN ${later("$4")} END,
  lease_expires_at = NULL,
  last_error = coalesce($5::text, i.last_error),
  ended_at = CASE WHEN $3::text <> 'pending' THEN statement_timestamp() END
WHERE i.id = $1::text AND i.status = 'pending' AND i.lease_token = $2::text
  AND i.lease_expires_at > statement_timestamp()
RETURNING i.order_key IS NOT NULL`,
    // Ended events older than $1, $2 at a time.
    purge: `WITH old AS (
  SELECT id FROM ${t} WHERE ended_at < ${at("$1")} LIMIT $2::integer FOR UPDATE SKIP LOCKED
), purged AS (DELETE FROM ${t} i USING old WHERE i.id = old.id RETURNING true)
SELECT count(*)::integer FROM purged`,
  };
}
