import type { LuaScript } from "../scripts";
import { JOBS_LUA } from "./jobs";

/*
 * The engine's Lua scripts. Every script gets the engine's key prefix as KEYS[1] (for example "{hookline}:")
 * and builds its keys from it: they all share the prefix's hash tag, so in a Redis Cluster they live in one slot
 * with the BullMQ queue, and Redis runs each script as one atomic step.
 *
 * A delivery is a hash whose fields hold the JSON text of the `Delivery` properties, plus the engine's own:
 * `_v` (its version: bumped whenever a job for it becomes obsolete), `_place` (where a pending delivery waits:
 * `queued` with a BullMQ job, `leased` to a worker, `waiting` for an endpoint slot, `parked` behind a disabled
 * endpoint), `_lease` and `_leaseEnd` (the lease's token and end, on the Redis clock).
 *
 * Scripts that make a delivery due return the jobs to add as flat triples (delivery id, version, delay in ms);
 * the job id `<delivery id>-<version>` makes adding one twice a no-op.
 */

const COMMON = `${JOBS_LUA}local function dkey(id) return P .. "delivery:" .. id end
local function ekey(id) return P .. "endpoint:" .. id end
-- An index member: the creation time and an insertion number, zero-padded so that members sort by them (ties in
-- insertion order), then the id, from character 30 on. A hash keeps its member in \`_m\`.
local function member(created, id)
  return string.format("%015d:%012d:", created, redis.call("INCR", P .. "sequence")) .. id
end
local function id_of(m) return string.sub(m, 30) end
local function unquote(text) return string.sub(text, 2, -2) end
local function set_status(d, new)
  local old = unquote(redis.call("HGET", d, "status"))
  if old == new then return end
  local m = redis.call("HGET", d, "_m")
  redis.call("ZREM", P .. "status:" .. old, m)
  redis.call("ZADD", P .. "status:" .. new, 0, m)
  redis.call("HSET", d, "status", '"' .. new .. '"')
end
-- Up to \`limit\` members of a lexically ordered index from \`from\` that \`matches\` accepts, and the cursor
-- (the last one's member) when one more matches after them, else "".
local function page(index, from, to, reverse, limit, matches)
  local found = {}
  while true do
    local batch
    if reverse then
      batch = redis.call("ZRANGE", index, from, to, "BYLEX", "REV", "LIMIT", 0, limit + 1)
    else
      batch = redis.call("ZRANGE", index, from, to, "BYLEX", "LIMIT", 0, limit + 1)
    end
    if #batch == 0 then return {found, ""} end
    for _, m in ipairs(batch) do
      if matches(m) then
        if #found == limit then return {found, found[limit]} end
        found[#found + 1] = m
      end
      from = "(" .. m
    end
  end
end
-- Takes a pending delivery out of every place it may wait in; true when it held one of its endpoint's slots.
local function unplace(id, e)
  redis.call("ZREM", P .. "due", id)
  redis.call("ZREM", e .. ":waiting", id)
  redis.call("SREM", e .. ":parked", id)
  return redis.call("ZREM", e .. ":leased", id) == 1
end
-- Hands a pending delivery to the queue at dueAt (a fresh version, so every older job of it is obsolete), or
-- parks it when its endpoint is disabled.
local function schedule(id, d, e, dueAt)
  unplace(id, e)
  local version = bump(d)
  redis.call("HDEL", d, "_lease", "_leaseEnd")
  if redis.call("HGET", e, "disabled") == "true" then
    redis.call("HSET", d, "_place", "parked")
    redis.call("SADD", e .. ":parked", id)
  else
    redis.call("HSET", d, "_place", "queued")
    redis.call("ZADD", P .. "due", dueAt, id)
    queue_job(id, version, dueAt - t)
  end
end
-- Frees the endpoint's expired slots and queues as many waiting deliveries as there are free slots.
local function fill_slots(endpointId, perKey)
  local e = ekey(endpointId)
  if redis.call("ZCARD", e .. ":waiting") == 0 then
    redis.call("SREM", P .. "waiting", endpointId)
    return
  end
  redis.call("ZREMRANGEBYSCORE", e .. ":leased", "-inf", t)
  local free = perKey - redis.call("ZCARD", e .. ":leased")
  if free > 0 then
    local popped = redis.call("ZPOPMIN", e .. ":waiting", free)
    for i = 1, #popped, 2 do
      local id = popped[i]
      local d = dkey(id)
      local version = bump(d)
      redis.call("HSET", d, "_place", "queued")
      queue_job(id, version, 0)
    end
  end
  if redis.call("ZCARD", e .. ":waiting") == 0 then redis.call("SREM", P .. "waiting", endpointId) end
end
-- Ends a delivery: out of every place, no longer pending for its endpoint, removed after the retention.
local function finish(id, d, e, retention)
  local held = unplace(id, e)
  redis.call("SREM", e .. ":pending", id)
  redis.call("HDEL", d, "_lease", "_leaseEnd", "nextAttemptAt")
  redis.call("HSET", d, "_place", "")
  bump(d)
  redis.call("ZADD", P .. "expiring", t + retention, "d:" .. id)
  return held
end
-- Parks every pending delivery of a disabled endpoint that is not under a lease.
local function park_all(e)
  for _, id in ipairs(redis.call("SMEMBERS", e .. ":pending")) do
    local d = dkey(id)
    if redis.call("HGET", d, "_place") ~= "leased" then
      unplace(id, e)
      bump(d)
      redis.call("HSET", d, "_place", "parked")
      redis.call("SADD", e .. ":parked", id)
    end
  end
end
-- Queues every parked delivery of an endpoint enabled again, each when due.
local function unpark_all(e)
  for _, id in ipairs(redis.call("SMEMBERS", e .. ":parked")) do
    local d = dkey(id)
    schedule(id, d, e, tonumber(redis.call("HGET", d, "nextAttemptAt")) or t)
  end
end
`;

const script = (body: string): LuaScript => ({ source: COMMON + body });

/** ARGV: id, created, then field/JSON pairs. Returns 0 when the id exists. */
export const CREATE_ENDPOINT = script(`local e = ekey(ARGV[1])
if redis.call("EXISTS", e) == 1 then return 0 end
local m = member(tonumber(ARGV[2]), ARGV[1])
redis.call("HSET", e, "_m", m, unpack(ARGV, 3))
redis.call("ZADD", P .. "endpoints", 0, m)
return 1`);

/**
 * ARGV: id, then "set" field/JSON pairs, "del" fields. Returns {} when absent, else {fields, jobs}.
 * The patch's `updatedAt` is the caller's; disabling parks the endpoint's deliveries, enabling queues them.
 */
export const UPDATE_ENDPOINT = script(`local e = ekey(ARGV[1])
if redis.call("EXISTS", e) == 0 then return {} end
local was = redis.call("HGET", e, "disabled")
local i = 2
local mode = "set"
while i <= #ARGV do
  if ARGV[i] == "del" then mode = "del"; i = i + 1
  elseif mode == "set" then redis.call("HSET", e, ARGV[i], ARGV[i + 1]); i = i + 2
  else redis.call("HDEL", e, ARGV[i]); i = i + 1 end
end
local now = redis.call("HGET", e, "disabled")
if was ~= "true" and now == "true" then park_all(e) end
if was == "true" and now ~= "true" then unpark_all(e) end
return {redis.call("HGETALL", e), jobs}`);

/**
 * ARGV: id, the secrets' JSON text as read, the rotated secrets' JSON text, updatedAt. Writes them only when the
 * secrets are still as read (compare and set: a rotation or update in between is never lost). Returns {} when
 * the endpoint is absent, {0, the secrets now} when they changed (rotate again from those), else {1, endpoint}.
 */
export const ROTATE_SECRET = script(`local e = ekey(ARGV[1])
if redis.call("EXISTS", e) == 0 then return {} end
local now = redis.call("HGET", e, "secrets")
if now ~= ARGV[2] then return {0, now} end
redis.call("HSET", e, "secrets", ARGV[3], "updatedAt", ARGV[4])
return {1, redis.call("HGETALL", e)}`);

/** ARGV: id, retention ms. Fails its pending deliveries ("endpoint deleted"); returns 0 when absent. */
export const DELETE_ENDPOINT = script(`local e = ekey(ARGV[1])
if redis.call("EXISTS", e) == 0 then return 0 end
local retention = tonumber(ARGV[2])
for _, id in ipairs(redis.call("SMEMBERS", e .. ":pending")) do
  local d = dkey(id)
  set_status(d, "failed")
  redis.call("HSET", d, "lastError", '"endpoint deleted"', "updatedAt", tostring(t))
  finish(id, d, e, retention)
end
redis.call("ZREM", P .. "endpoints", redis.call("HGET", e, "_m"))
redis.call("DEL", e, e .. ":pending", e .. ":parked", e .. ":leased", e .. ":waiting")
redis.call("SREM", P .. "waiting", ARGV[1])
return 1`);

/** ARGV: tenant ("" for any), limit, cursor member ("" from the start). Returns {endpoints, next cursor or ""}. */
export const LIST_ENDPOINTS = script(`local tenant, limit = ARGV[1], tonumber(ARGV[2])
local function matches(m)
  if tenant == "" then return true end
  local own = redis.call("HGET", ekey(id_of(m)), "tenant")
  return own ~= false and unquote(own) == tenant
end
local found = page(P .. "endpoints", ARGV[3] == "" and "-" or "(" .. ARGV[3], "+", false, limit, matches)
local items = {}
for i, m in ipairs(found[1]) do items[i] = redis.call("HGETALL", ekey(id_of(m))) end
return {items, found[2]}`);

/**
 * ARGV: message id, message JSON, retention ms, then per delivery: id, endpoint id, created,
 * field count, field/JSON pairs. Returns {1, jobs} when created, else {0, message JSON, deliveries}.
 */
export const ENQUEUE = script(`local m = P .. "message:" .. ARGV[1]
local index = m .. ":deliveries"
local stored = redis.call("GET", m)
if stored then
  local deliveries = {}
  for _, entry in ipairs(redis.call("ZRANGE", index, "-", "+", "BYLEX")) do
    deliveries[#deliveries + 1] = redis.call("HGETALL", dkey(id_of(entry)))
  end
  return {0, stored, deliveries}
end
redis.call("SET", m, ARGV[2])
local retention = tonumber(ARGV[3])
local i = 4
while i <= #ARGV do
  local id, endpointId, count = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 3])
  local d, e = dkey(id), ekey(endpointId)
  local entry = member(tonumber(ARGV[i + 2]), id)
  redis.call("HSET", d, unpack(ARGV, i + 4, i + 3 + count * 2))
  redis.call("ZADD", index, 0, entry)
  redis.call("ZADD", P .. "deliveries", 0, entry)
  redis.call("ZADD", e .. ":deliveries", 0, entry)
  redis.call("ZADD", P .. "status:pending", 0, entry)
  redis.call("SADD", e .. ":pending", id)
  -- What schedule() does, for a delivery that is nowhere yet: version 1, queued or parked.
  if redis.call("HGET", e, "disabled") == "true" then
    redis.call("HSET", d, "_v", 1, "_m", entry, "_place", "parked")
    redis.call("SADD", e .. ":parked", id)
  else
    local dueAt = tonumber(redis.call("HGET", d, "nextAttemptAt")) or t
    redis.call("HSET", d, "_v", 1, "_m", entry, "_place", "queued")
    redis.call("ZADD", P .. "due", dueAt, id)
    queue_job(id, 1, dueAt - t)
  end
  i = i + 4 + count * 2
end
if i == 4 then redis.call("ZADD", P .. "expiring", t + retention, "m:" .. ARGV[1]) end
return {1, jobs}`);

/**
 * ARGV: delivery id, job version, lease token, lease ms, per-endpoint concurrency, retention ms.
 * Returns one of:
 * - {"claimed", lease end, delivery, message JSON, endpoint, now}
 * - {"busy", ms until the lease ends}: another worker holds it (a job recovered while its lease runs)
 * - {"stale", jobs}: an obsolete job; the jobs re-add the current one if a crash lost it
 * - {"waiting"} (its endpoint's slots are full) or {"parked"} (its endpoint is disabled)
 */
export const CLAIM = script(`local id = ARGV[1]
local d = dkey(id)
local f = redis.call("HMGET", d, "status", "_v", "_place", "_leaseEnd", "endpointId", "messageId")
if f[1] ~= '"pending"' then return {"stale", jobs} end
local e = ekey(unquote(f[5]))
if f[2] ~= ARGV[2] then
  if f[3] == "queued" then queue_job(id, f[2], tonumber(redis.call("ZSCORE", P .. "due", id) or t) - t) end
  return {"stale", jobs}
end
if f[3] == "parked" then return {"parked"} end
if f[3] == "leased" and tonumber(f[4]) > t then return {"busy", tonumber(f[4]) - t} end
if redis.call("EXISTS", e) == 0 then
  -- Enqueued for an endpoint deleted meanwhile: it ends as the endpoint's other deliveries did.
  set_status(d, "failed")
  redis.call("HSET", d, "lastError", '"endpoint deleted"', "updatedAt", tostring(t))
  finish(id, d, e, tonumber(ARGV[6]))
  return {"stale", jobs}
end
if redis.call("HGET", e, "disabled") == "true" then
  unplace(id, e)
  bump(d)
  redis.call("HSET", d, "_place", "parked")
  redis.call("SADD", e .. ":parked", id)
  return {"parked"}
end
local perKey = tonumber(ARGV[5])
redis.call("ZREMRANGEBYSCORE", e .. ":leased", "-inf", t)
redis.call("ZREM", e .. ":leased", id)
if redis.call("ZCARD", e .. ":leased") >= perKey then
  bump(d)
  redis.call("HSET", d, "_place", "waiting")
  redis.call("ZADD", e .. ":waiting", t, id)
  redis.call("SADD", P .. "waiting", unquote(f[5]))
  return {"waiting"}
end
local leaseEnd = t + tonumber(ARGV[4])
redis.call("HSET", d, "_place", "leased", "_lease", ARGV[3], "_leaseEnd", leaseEnd)
redis.call("ZADD", e .. ":leased", leaseEnd, id)
redis.call("ZADD", P .. "due", leaseEnd, id)
redis.call("ZREM", e .. ":waiting", id)
return {"claimed", leaseEnd, redis.call("HGETALL", d), redis.call("GET", P .. "message:" .. unquote(f[6])),
  redis.call("HGETALL", e), t}`);

/**
 * ARGV: delivery id, lease token, attempt JSON, attempt status ("" none), attempt error as JSON ("" none),
 * attempt start, next status, delay ms, failingSince ("" unchanged, "null" cleared, or ms), disable reason as
 * JSON ("" none), per-endpoint concurrency, retention ms.
 * Appends the attempt always; the rest only while the lease holds. Returns {"settled" | "lost", jobs}.
 */
export const SETTLE = script(`local id = ARGV[1]
local d = dkey(id)
if redis.call("EXISTS", d) == 0 then return {"lost", jobs} end
redis.call("RPUSH", P .. "attempts:" .. id, ARGV[3])
local f = redis.call("HMGET", d, "_lease", "_leaseEnd", "endpointId", "status")
if f[4] ~= '"pending"' or f[1] ~= ARGV[2] or tonumber(f[2]) <= t then return {"lost", jobs} end
local endpointId = unquote(f[3])
local e = ekey(endpointId)
redis.call("HINCRBY", d, "attempts", 1)
redis.call("HSET", d, "lastAttemptAt", ARGV[6], "updatedAt", tostring(t))
if ARGV[4] == "" then redis.call("HDEL", d, "lastStatus") else redis.call("HSET", d, "lastStatus", ARGV[4]) end
if ARGV[5] == "" then redis.call("HDEL", d, "lastError") else redis.call("HSET", d, "lastError", ARGV[5]) end
if redis.call("EXISTS", e) == 1 then
  if ARGV[9] == "null" then redis.call("HDEL", e, "failingSince")
  elseif ARGV[9] ~= "" then redis.call("HSET", e, "failingSince", ARGV[9]) end
  if ARGV[10] ~= "" and redis.call("HGET", e, "disabled") ~= "true" then
    redis.call("HSET", e, "disabled", "true", "disabledReason", ARGV[10], "updatedAt", tostring(t))
    park_all(e)
  end
end
local retention = tonumber(ARGV[12])
if ARGV[7] == "pending" then
  local dueAt = t + tonumber(ARGV[8])
  redis.call("HSET", d, "nextAttemptAt", tostring(dueAt))
  schedule(id, d, e, dueAt)
else
  set_status(d, ARGV[7])
  finish(id, d, e, retention)
end
if redis.call("EXISTS", e) == 1 then fill_slots(endpointId, tonumber(ARGV[11])) end
return {"settled", jobs}`);

/**
 * ARGV: retention ms, then either "ids" and delivery ids, or "range", endpoint id, since member, until member,
 * status ("" any), limit. Returns {count, jobs}.
 */
export const REQUEUE = script(`local retention = tonumber(ARGV[1])
local count = 0
local function requeue(id)
  local d = dkey(id)
  local f = redis.call("HMGET", d, "status", "_place", "_leaseEnd", "endpointId")
  if not f[1] then return end
  if f[2] == "leased" and tonumber(f[3]) > t then return end
  local e = ekey(unquote(f[4]))
  if redis.call("EXISTS", e) == 0 then return end
  set_status(d, "pending")
  redis.call("HSET", d, "attempts", "0", "nextAttemptAt", tostring(t), "updatedAt", tostring(t))
  redis.call("ZREM", P .. "expiring", "d:" .. id)
  redis.call("SADD", e .. ":pending", id)
  schedule(id, d, e, t)
  count = count + 1
end
if ARGV[2] == "ids" then
  for i = 3, #ARGV do requeue(ARGV[i]) end
else
  local index = ekey(ARGV[3]) .. ":deliveries"
  local status, limit = ARGV[6], tonumber(ARGV[7])
  local from = "[" .. ARGV[4]
  while count < limit do
    local batch = redis.call("ZRANGE", index, from, ARGV[5], "BYLEX", "LIMIT", 0, 500)
    if #batch == 0 then break end
    for _, m in ipairs(batch) do
      local id = id_of(m)
      if status == "" or redis.call("HGET", dkey(id), "status") == '"' .. status .. '"' then requeue(id) end
      if count == limit then break end
      from = "(" .. m
    end
  end
end
return {count, jobs}`);

/**
 * ARGV: index ("deliveries", "message:<id>:deliveries", "endpoint:<id>:deliveries", "status:<status>"),
 * message id, endpoint id, status ("" for any), limit, cursor member ("" from the newest).
 * Returns {deliveries, next cursor or ""}, newest first.
 */
export const LIST_DELIVERIES = script(`local messageId, endpointId, status = ARGV[2], ARGV[3], ARGV[4]
local function matches(m)
  local f = redis.call("HMGET", dkey(id_of(m)), "messageId", "endpointId", "status")
  return f[1] ~= false and (messageId == "" or unquote(f[1]) == messageId)
    and (endpointId == "" or unquote(f[2]) == endpointId) and (status == "" or unquote(f[3]) == status)
end
local found = page(P .. ARGV[1], ARGV[6] == "" and "+" or "(" .. ARGV[6], "-", true, tonumber(ARGV[5]), matches)
local items = {}
for i, m in ipairs(found[1]) do items[i] = redis.call("HGETALL", dkey(id_of(m))) end
return {items, found[2]}`);

/**
 * Returns {ms until the earliest pending delivery to an enabled endpoint is due}, or {} when none is pending.
 * A leased delivery's score is its lease's end, a waiting one's the time it became due.
 */
export const DUE_IN = script(`local first = redis.call("ZRANGE", P .. "due", 0, 0, "WITHSCORES")
if #first == 0 then return {} end
return {tonumber(first[2]) - t}`);

/**
 * The repair round every worker runs now and then. ARGV: grace ms, per-endpoint concurrency, batch size.
 * - queues again the deliveries overdue by more than the grace whose job is missing (a process that died between
 *   writing a delivery and adding its job);
 * - fills endpoint slots freed by expired leases;
 * - removes the ended deliveries (with their attempts) and messages whose retention is over.
 * Returns {jobs}.
 */
export const SWEEP = script(`local grace, perKey, batch = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for _, id in ipairs(redis.call("ZRANGE", P .. "due", "-inf", t - grace, "BYSCORE", "LIMIT", 0, batch)) do
  local f = redis.call("HMGET", dkey(id), "_v", "_place")
  if not has_job("jobs", id, f[1]) and (f[2] == "queued" or f[2] == "leased") then queue_job(id, f[1], 0) end
end
for _, endpointId in ipairs(redis.call("SMEMBERS", P .. "waiting")) do fill_slots(endpointId, perKey) end
for _, entry in ipairs(redis.call("ZRANGE", P .. "expiring", "-inf", t, "BYSCORE", "LIMIT", 0, batch)) do
  redis.call("ZREM", P .. "expiring", entry)
  local kind, id = string.sub(entry, 1, 1), string.sub(entry, 3)
  local messageId
  if kind == "d" then
    local d = dkey(id)
    local f = redis.call("HMGET", d, "_m", "messageId", "endpointId", "status")
    if f[1] then
      local m = f[1]
      messageId = unquote(f[2])
      redis.call("ZREM", P .. "deliveries", m)
      redis.call("ZREM", P .. "status:" .. unquote(f[4]), m)
      redis.call("ZREM", ekey(unquote(f[3])) .. ":deliveries", m)
      redis.call("ZREM", P .. "message:" .. messageId .. ":deliveries", m)
      redis.call("DEL", d, P .. "attempts:" .. id)
    end
  else
    messageId = id
  end
  if messageId and redis.call("ZCARD", P .. "message:" .. messageId .. ":deliveries") == 0 then
    redis.call("DEL", P .. "message:" .. messageId)
  end
end
return jobs`);
