import type { DeliveryTables } from "./schema";

// Every statement of the engine. Times travel as epoch milliseconds (float8) and are stored as timestamptz;
// "now" is always the database's statement_timestamp(), so that no worker's clock decides a due time or a lease.
// Rows come back as one json column: every driver (and an ORM's port) parses it the same way.

export const ms = (column: string) => `floor(extract(epoch FROM ${column}) * 1000)::float8`;
export const at = (parameter: string) => `to_timestamp(${parameter}::float8 / 1000)`;
export const later = (parameter: string) => `statement_timestamp() + ${parameter}::float8 * interval '1 millisecond'`;

const endpointJson = (e: string) => `json_build_object(
  'id', ${e}.id, 'url', ${e}.url, 'tenant', ${e}.tenant, 'types', ${e}.types, 'headers', ${e}.headers,
  'metadata', ${e}.metadata, 'secrets', ${e}.secrets, 'disabled', ${e}.disabled, 'disabledReason', ${e}.disabled_reason,
  'failingSince', ${ms(`${e}.failing_since`)}, 'createdAt', ${ms(`${e}.created_at`)}, 'updatedAt', ${ms(`${e}.updated_at`)},
  'seq', ${e}.seq)`;

const messageJson = (m: string) => `json_build_object(
  'id', ${m}.id, 'type', ${m}.type, 'tenant', ${m}.tenant, 'payload', ${m}.payload, 'createdAt', ${ms(`${m}.created_at`)})`;

const deliveryJson = (d: string) => `json_build_object(
  'id', ${d}.id, 'messageId', ${d}.message_id, 'endpointId', ${d}.endpoint_id, 'status', ${d}.status,
  'attempts', ${d}.attempts, 'nextAttemptAt', ${ms(`${d}.next_attempt_at`)}, 'lastStatus', ${d}.last_status,
  'lastError', ${d}.last_error, 'lastAttemptAt', ${ms(`${d}.last_attempt_at`)}, 'createdAt', ${ms(`${d}.created_at`)},
  'updatedAt', ${ms(`${d}.updated_at`)}, 'seq', ${d}.seq)`;

const attemptJson = (a: string) => `json_build_object(
  'id', ${a}.id, 'deliveryId', ${a}.delivery_id, 'messageId', ${a}.message_id, 'endpointId', ${a}.endpoint_id,
  'startedAt', ${ms(`${a}.started_at`)}, 'durationMs', ${a}.duration_ms, 'outcome', ${a}.outcome, 'status', ${a}.status,
  'responseBody', ${a}.response_body, 'error', ${a}.error)`;

// A patch field applies when its key is present (null clears it).
const patched = (column: string, key: string, value: string) =>
  `CASE WHEN jsonb_exists($2::text::jsonb, '${key}') THEN ${value} ELSE ${column} END`;
const patch = "($2::text::json)";

/** The engine's statements, for its tables; `channel` is the NOTIFY channel that wakes idle workers. */
export function deliveryStatements(tables: DeliveryTables) {
  const e = tables.endpoints.sql;
  const m = tables.messages.sql;
  const d = tables.deliveries.sql;
  const a = tables.attempts.sql;
  // A lease of a locked endpoint still counts while it has not expired and its delivery does not show it settled
  // (its token with no expiry). A claim that committed after this statement's snapshot shows up in the locked row
  // but not yet on its delivery: it counts, as it must.
  const liveLeases = (leases: string) => `(SELECT count(*) FROM jsonb_each(${leases}) held
    WHERE (held.value->>'expiresAt')::float8 > ${ms("statement_timestamp()")}
      AND NOT EXISTS (SELECT 1 FROM ${d} settled WHERE settled.id = held.key
        AND settled.lease_token = held.value->>'token' AND settled.lease_expires_at IS NULL))`;

  return {
    createEndpoint: `INSERT INTO ${e} (id, url, tenant, types, headers, metadata, secrets, disabled, disabled_reason,
  failing_since, created_at, updated_at)
SELECT p->>'id', p->>'url', p->>'tenant',
  CASE WHEN json_typeof(p->'types') = 'array' THEN ARRAY(SELECT json_array_elements_text(p->'types')) END,
  coalesce(p->'headers', '{}'), coalesce(p->'metadata', '{}'), coalesce(p->'secrets', '[]'),
  coalesce((p->>'disabled')::boolean, false), p->>'disabledReason', ${at("(p->>'failingSince')")},
  ${at("(p->>'createdAt')")}, ${at("(p->>'updatedAt')")}
FROM (SELECT $1::text::json AS p) input
ON CONFLICT (id) DO NOTHING
RETURNING true`,
    getEndpoint: `SELECT ${endpointJson("e")} FROM ${e} e WHERE e.id = $1::text`,
    listEndpoints: `SELECT ${endpointJson("e")} FROM ${e} e
WHERE ($1::text IS NULL OR e.tenant = $1::text)
  AND ($3::float8 IS NULL OR (e.created_at, e.seq) > (${at("$3")}, $4::bigint))
ORDER BY e.created_at, e.seq
LIMIT $2::integer`,
    // $2 is the patch; a delivery waiting for a re-enabled endpoint is claimable again at once (it is due).
    updateEndpoint: `UPDATE ${e} AS e SET
  url = ${patched("url", "url", `${patch}->>'url'`)},
  tenant = ${patched("tenant", "tenant", `${patch}->>'tenant'`)},
  types = ${patched(
    "types",
    "types",
    `CASE WHEN json_typeof(${patch}->'types') = 'array' THEN ARRAY(SELECT json_array_elements_text(${patch}->'types')) END`,
  )},
  headers = ${patched("headers", "headers", `coalesce(${patch}->'headers', '{}')`)},
  metadata = ${patched("metadata", "metadata", `coalesce(${patch}->'metadata', '{}')`)},
  secrets = ${patched("secrets", "secrets", `coalesce(${patch}->'secrets', '[]')`)},
  disabled = ${patched("disabled", "disabled", `coalesce((${patch}->>'disabled')::boolean, false)`)},
  disabled_reason = ${patched("disabled_reason", "disabledReason", `${patch}->>'disabledReason'`)},
  failing_since = ${patched("failing_since", "failingSince", at(`(${patch}->>'failingSince')`))},
  updated_at = statement_timestamp()
WHERE e.id = $1::text
RETURNING ${endpointJson("e")}`,
    // One statement, so that two rotations at once keep both new secrets: $2 the new secret first, then every
    // secret unexpired at $3, its expiresAt capped at $4 (set when it had none; the others' keys kept in order).
    // An UPDATE that waited for a concurrent one's row lock computes from the row that one left.
    rotateSecret: `UPDATE ${e} AS e SET
  secrets = (
    SELECT json_agg(kept.secret ORDER BY kept.ord) FROM (
      SELECT $2::text::json AS secret, 0::bigint AS ord
      UNION ALL
      SELECT CASE WHEN (old.secret->>'expiresAt')::numeric <= $4::numeric THEN old.secret ELSE (
        SELECT json_object_agg(field.key, field.value ORDER BY field.ord) FROM (
          SELECT own.key, CASE WHEN own.key = 'expiresAt' THEN to_json($4::numeric) ELSE own.value END AS value, own.ord
          FROM json_each(old.secret) WITH ORDINALITY own(key, value, ord)
          UNION ALL
          SELECT 'expiresAt', to_json($4::numeric), 2147483648::bigint -- after every key the secret has
          WHERE old.secret->'expiresAt' IS NULL
        ) field
      ) END, old.ord
      FROM json_array_elements(e.secrets) WITH ORDINALITY old(secret, ord)
      WHERE old.secret->>'expiresAt' IS NULL OR (old.secret->>'expiresAt')::numeric > $3::numeric
    ) kept
  ),
  updated_at = statement_timestamp()
WHERE e.id = $1::text
RETURNING ${endpointJson("e")}`,
    deleteEndpoint: `WITH gone AS (DELETE FROM ${e} WHERE id = $1::text RETURNING id),
ended AS (
  UPDATE ${d} SET status = 'failed', next_attempt_at = NULL, lease_expires_at = NULL, last_error = 'endpoint deleted',
    updated_at = statement_timestamp()
  WHERE endpoint_id = (SELECT id FROM gone) AND status = 'pending'
  RETURNING true
)
SELECT (SELECT count(*) FROM gone)::integer, (SELECT count(*) FROM ended)::integer`,

    // One statement: the message and its deliveries, unless the message id exists (then nothing is written, and
    // `created` is false). $6 is the NOTIFY channel or NULL: notified inside the caller's transaction, the
    // notification is delivered at its COMMIT, and never after a ROLLBACK.
    enqueue: `WITH message AS (
  INSERT INTO ${m} (id, type, tenant, payload, created_at)
  VALUES ($1::text, $2::text, $3::text, $4::text, ${at("$5")})
  ON CONFLICT (id) DO NOTHING
  RETURNING *
), created AS (
  INSERT INTO ${d} (id, message_id, endpoint_id, status, attempts, next_attempt_at, created_at, updated_at)
  SELECT input.id, message.id, input."endpointId", 'pending', 0, statement_timestamp(), ${at('input."createdAt"')},
    ${at('input."createdAt"')}
  FROM message, jsonb_to_recordset($7::text::jsonb) AS input(id text, "endpointId" text, "createdAt" float8)
  RETURNING *
), woken AS (
  SELECT pg_notify($6::text, '') FROM message WHERE $6::text IS NOT NULL
)
SELECT json_build_object(
  'message', (SELECT ${messageJson("message")} FROM message),
  'deliveries', coalesce((SELECT json_agg(${deliveryJson("created")} ORDER BY created.seq) FROM created), '[]'),
  'woken', (SELECT count(*) FROM woken))`,
    getMessage: `SELECT ${messageJson("m")} FROM ${m} m WHERE m.id = $1::text`,
    messageDeliveries: `SELECT ${deliveryJson("d")} FROM ${d} d WHERE d.message_id = $1::text ORDER BY d.seq`,

    getDelivery: `SELECT ${deliveryJson("d")} FROM ${d} d WHERE d.id = $1::text`,
    listDeliveries: `SELECT ${deliveryJson("d")} FROM ${d} d
WHERE ($1::text IS NULL OR d.message_id = $1::text)
  AND ($2::text IS NULL OR d.endpoint_id = $2::text)
  AND ($3::text IS NULL OR d.status = $3::text)
  AND ($5::float8 IS NULL OR (d.created_at, d.seq) < (${at("$5")}, $6::bigint))
ORDER BY d.created_at DESC, d.seq DESC
LIMIT $4::integer`,
    // By ids ($1) or an endpoint's in a time range ($2–$6); one under a live lease stays with its worker.
    requeue: `WITH chosen AS (
  SELECT d.id FROM ${d} d
  WHERE (d.id IN (SELECT jsonb_array_elements_text($1::text::jsonb)) OR (d.endpoint_id = $2::text AND d.created_at >= ${at("$3")}
      AND ($4::float8 IS NULL OR d.created_at < ${at("$4")}) AND ($5::text IS NULL OR d.status = $5::text)))
    AND NOT (d.status = 'pending' AND d.lease_expires_at > statement_timestamp())
  ORDER BY d.created_at, d.seq
  LIMIT $6::integer
), requeued AS (
  UPDATE ${d} d SET status = 'pending', attempts = 0, next_attempt_at = statement_timestamp(), lease_expires_at = NULL,
    updated_at = statement_timestamp()
  FROM chosen WHERE d.id = chosen.id
    AND NOT (d.status = 'pending' AND d.lease_expires_at > statement_timestamp())
  RETURNING true
), woken AS (
  SELECT pg_notify($7::text, '') WHERE $7::text IS NOT NULL AND EXISTS (SELECT 1 FROM requeued)
)
SELECT (SELECT count(*) FROM requeued)::integer, (SELECT count(*) FROM woken)::integer`,
    // Per enabled endpoint, its earliest pending delivery (a leased one is due when its lease ends): one index probe
    // per endpoint rather than a scan of every pending delivery. $1, when given, leaves out the endpoints already
    // at that many live leases: a worker held back by them waits for a lease to end, not for a poll.
    dueIn: `SELECT extract(epoch FROM min(first.next_attempt_at) - statement_timestamp())::float8 * 1000
FROM ${e} e CROSS JOIN LATERAL (
  SELECT d.next_attempt_at FROM ${d} d WHERE d.endpoint_id = e.id AND d.status = 'pending'
  ORDER BY d.next_attempt_at LIMIT 1
) first
WHERE NOT e.disabled AND ($1::integer IS NULL OR ${liveLeases("e.leases")} < $1::integer)`,

    listAttempts: `SELECT ${attemptJson("a")} FROM ${a} a WHERE a.delivery_id = $1::text ORDER BY a.seq`,

    // The dispatcher's claim, in one statement:
    // 1. lock enabled endpoints that have due deliveries and room under perKeyConcurrency ($2), least recently
    //    served first; one locked by another worker's claim is skipped. FOR UPDATE returns the row's newest
    //    version, so its `leases` include every claim committed before the lock was taken.
    // 2. per endpoint, lock its oldest due deliveries up to its room (SKIP LOCKED), take $1 in all, round-robin;
    // 3. lease them (token $4, $3 ms on the database's clock: the lease end is also when the delivery is due
    //    again, should its worker die) and record the leases on their endpoints.
    claim: `WITH ready AS (
  SELECT e.id, e.leases FROM ${e} e
  WHERE NOT e.disabled
    AND EXISTS (SELECT 1 FROM ${d} due WHERE due.endpoint_id = e.id AND due.status = 'pending'
      AND due.next_attempt_at <= statement_timestamp())
    AND ${liveLeases("e.leases")} < $2::integer
  ORDER BY e.claimed_at
  LIMIT $1::integer
  FOR UPDATE OF e SKIP LOCKED
), held AS (
  SELECT ready.id AS endpoint_id, lease.key AS delivery_id, lease.value AS lease
  FROM ready, jsonb_each(ready.leases) lease
  WHERE (lease.value->>'expiresAt')::float8 > ${ms("statement_timestamp()")}
    AND NOT EXISTS (SELECT 1 FROM ${d} settled WHERE settled.id = lease.key
      AND settled.lease_token = lease.value->>'token' AND settled.lease_expires_at IS NULL)
), room AS (
  SELECT ready.id, $2::integer - (SELECT count(*) FROM held WHERE held.endpoint_id = ready.id)::integer AS free
  FROM ready
), picked AS (
  SELECT due.id, room.id AS endpoint_id, due.next_attempt_at
  FROM room CROSS JOIN LATERAL (
    SELECT d.id, d.next_attempt_at FROM ${d} d
    WHERE d.endpoint_id = room.id AND d.status = 'pending' AND d.next_attempt_at <= statement_timestamp()
    ORDER BY d.next_attempt_at
    -- Never more than the batch: a row locked here and not taken would be skipped by the other workers.
    LIMIT least(greatest(room.free, 0), $1::integer)
    FOR UPDATE OF d SKIP LOCKED
  ) due
), chosen AS (
  SELECT id, endpoint_id FROM (
    SELECT id, endpoint_id, next_attempt_at,
      row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at) AS turn
    FROM picked
  ) turns
  ORDER BY turn, next_attempt_at
  LIMIT $1::integer
), claimed AS (
  UPDATE ${d} d SET lease_token = $4::text, lease_expires_at = ${later("$3")}, next_attempt_at = ${later("$3")}
  FROM chosen WHERE d.id = chosen.id
  RETURNING d.*
), served AS (
  UPDATE ${e} e SET
    leases = coalesce((SELECT jsonb_object_agg(held.delivery_id, held.lease) FROM held WHERE held.endpoint_id = e.id), '{}')
      || coalesce((SELECT jsonb_object_agg(claimed.id, jsonb_build_object('token', $4::text,
        'expiresAt', ${ms("claimed.lease_expires_at")})) FROM claimed WHERE claimed.endpoint_id = e.id), '{}'),
    claimed_at = statement_timestamp()
  FROM ready WHERE e.id = ready.id
  RETURNING e.*
), relaxed AS (
  -- A claim commits without waiting for its WAL flush (synchronous_commit off, for this transaction only): the
  -- endpoint rows it locks are free again at once instead of after an fsync. Losing a claim in a crash of the
  -- database only hands its deliveries out again sooner; settlements and enqueues stay synchronous.
  SELECT set_config('synchronous_commit', 'off', true)
)
SELECT json_build_object('delivery', ${deliveryJson("claimed")}, 'message', ${messageJson("m")},
  'endpoint', ${endpointJson("served")}, 'lease', json_build_object('token', claimed.lease_token,
  'expiresAt', ${ms("claimed.lease_expires_at")}))
FROM claimed JOIN served ON served.id = claimed.endpoint_id JOIN ${m} m ON m.id = claimed.message_id, relaxed
ORDER BY claimed.next_attempt_at`,

    // The attempt is logged whatever happens; the delivery and its endpoint change only under the live lease.
    // $3 is the attempt, $4 the next state ({ status, delayMs? }), $5 the endpoint's changes or NULL.
    settle: `WITH attempt AS (
  INSERT INTO ${a} (id, delivery_id, message_id, endpoint_id, started_at, duration_ms, outcome, status, response_body,
    error)
  SELECT $6::text, d.id, d.message_id, d.endpoint_id, ${at("($3::text::jsonb->>'startedAt')")},
    ($3::text::jsonb->>'durationMs')::float8, $3::text::jsonb->>'outcome', ($3::text::jsonb->>'status')::integer,
    $3::text::jsonb->>'responseBody', $3::text::jsonb->>'error'
  FROM ${d} d WHERE d.id = $1::text
  ON CONFLICT (id) DO NOTHING
  RETURNING true
), settled AS (
  UPDATE ${d} d SET
    status = $4::text::jsonb->>'status',
    attempts = d.attempts + 1,
    next_attempt_at = CASE WHEN $4::text::jsonb->>'status' = 'pending' THEN ${later("($4::text::jsonb->>'delayMs')")} END,
    lease_expires_at = NULL,
    last_status = ($3::text::jsonb->>'status')::integer,
    last_error = $3::text::jsonb->>'error',
    last_attempt_at = ${at("($3::text::jsonb->>'startedAt')")},
    updated_at = statement_timestamp()
  WHERE d.id = $1::text AND d.status = 'pending' AND d.lease_token = $2::text
    AND d.lease_expires_at > statement_timestamp()
  RETURNING d.endpoint_id
), changed AS (
  UPDATE ${e} e SET
    failing_since = CASE WHEN jsonb_exists($5::text::jsonb, 'failingSince') THEN ${at("($5::text::jsonb->>'failingSince')")}
      ELSE e.failing_since END,
    disabled = e.disabled OR jsonb_exists($5::text::jsonb, 'disable'),
    disabled_reason = CASE WHEN jsonb_exists($5::text::jsonb, 'disable') THEN $5::text::jsonb->'disable'->>'reason'
      ELSE e.disabled_reason END,
    updated_at = statement_timestamp()
  FROM settled WHERE e.id = settled.endpoint_id AND $5::text::jsonb IS NOT NULL
  RETURNING true
)
SELECT (SELECT count(*) FROM settled)::integer, (SELECT count(*) FROM attempt)::integer,
  (SELECT count(*) FROM changed)::integer`,

    // Messages older than $1 whose deliveries have all ended go, with their deliveries and attempts.
    purge: `WITH old AS (
  SELECT m.id FROM ${m} m
  WHERE m.created_at < ${at("$1")}
    AND NOT EXISTS (SELECT 1 FROM ${d} d WHERE d.message_id = m.id AND d.status = 'pending')
  LIMIT $2::integer
), purged AS (DELETE FROM ${m} m USING old WHERE m.id = old.id RETURNING true)
SELECT count(*)::integer FROM purged`,
  };
}
