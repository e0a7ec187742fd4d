import type { LuaScript } from "../scripts";
import { JOBS_LUA } from "./jobs";

/*
 * The inbox's Lua scripts, on the prelude the deliveries' share (`JOBS_LUA`: prefix, clock, jobs to add, version).
 * KEYS[1] is the prefix ("{hookline}:"); every key is built from it, so one Cluster slot holds them all.
 *
 * An event is the hash `inbox:event:<id>`: `event` (the InboxEvent's JSON text, as enqueued), `status`, `attempts`,
 * `error` (the last failed run's), `key` (its orderKey), and the engine's own: `_v` (bumped whenever a job of it
 * becomes obsolete), `_place` (`queued` with a BullMQ job, `leased` to a worker, `waiting` behind an earlier event
 * of its key, "" once final), `_lease` and `_leaseEnd` (token and end, on the Redis clock).
 *
 * One at a time per order key, in arrival order, across every worker: `inbox:key:<key>` holds the key's pending
 * events by arrival (a sequence number), and only its first has a job; the settlement that ends it queues the next.
 * `inbox:due` holds every queued or leased event by when it is due (a leased one: its lease's end), for the repair
 * round; `inbox:expiring` the final ones by when their retention ends.
 */
const COMMON = `${JOBS_LUA}local function ekey(id) return P .. "inbox:event:" .. id end
local function kkey(key) return P .. "inbox:key:" .. key end
local function queue_event(id, e, dueAt)
  local version = bump(e)
  redis.call("HSET", e, "_place", "queued")
  redis.call("HDEL", e, "_lease", "_leaseEnd")
  redis.call("ZADD", P .. "inbox:due", dueAt, id)
  queue_job(id, version, dueAt - t)
end
`;

const script = (body: string): LuaScript => ({ source: COMMON + body });

/**
 * ARGV: id, event JSON, order key ("" none). Returns 1 when stored, 0 when the id is held. A stored event is
 * queued at version 1 (or waits behind its key's first): the caller sends the job `<id>-1` right behind this
 * script, on the same connection, without waiting for its reply.
 */
export const INBOX_ENQUEUE = script(`local id, key = ARGV[1], ARGV[3]
local e = ekey(id)
if redis.call("EXISTS", e) == 1 then return 0 end
redis.call("HSET", e, "event", ARGV[2], "status", "pending", "attempts", 0, "key", key, "_v", 1)
if key ~= "" then
  redis.call("ZADD", kkey(key), redis.call("INCR", P .. "inbox:sequence"), id)
  if redis.call("ZCARD", kkey(key)) > 1 then
    -- Its job, if any, is stale: the settlement that ends the one before it queues it at a new version.
    bump(e)
    redis.call("HSET", e, "_place", "waiting")
    return 1
  end
end
redis.call("HSET", e, "_place", "queued")
redis.call("ZADD", P .. "inbox:due", t, id)
return 1`);

/**
 * ARGV: id, job version, lease token, lease ms. Returns one of:
 * - {"claimed", lease end, event JSON, attempts}
 * - {"busy", ms until the lease ends}: another worker holds it (a job recovered while its lease runs)
 * - {"stale", jobs}: an obsolete job; the jobs re-add the current one if a crash lost it
 */
export const INBOX_CLAIM = script(`local id = ARGV[1]
local e = ekey(id)
local f = redis.call("HMGET", e, "status", "_v", "_place", "_leaseEnd")
if f[1] ~= "pending" then return {"stale", jobs} end
if f[2] ~= ARGV[2] then
  if f[3] == "queued" then queue_job(id, f[2], tonumber(redis.call("ZSCORE", P .. "inbox:due", id) or t) - t) end
  return {"stale", jobs}
end
if f[3] == "leased" and tonumber(f[4]) > t then return {"busy", tonumber(f[4]) - t} end
local leaseEnd = t + tonumber(ARGV[4])
redis.call("HSET", e, "_place", "leased", "_lease", ARGV[3], "_leaseEnd", leaseEnd)
redis.call("ZADD", P .. "inbox:due", leaseEnd, id)
local g = redis.call("HMGET", e, "event", "attempts")
return {"claimed", leaseEnd, g[1], g[2]}`);

/**
 * ARGV: id, lease token, next status, delay ms, error ("" none), retention ms. Only while the lease holds:
 * returns {"settled", jobs}, else {"lost", jobs}. Ending an event queues the next one of its key.
 */
export const INBOX_SETTLE = script(`local id = ARGV[1]
local e = ekey(id)
local f = redis.call("HMGET", e, "status", "_lease", "_leaseEnd", "key")
if f[1] ~= "pending" or f[2] ~= ARGV[2] or tonumber(f[3]) <= t then return {"lost", jobs} end
redis.call("HINCRBY", e, "attempts", 1)
if ARGV[5] ~= "" then redis.call("HSET", e, "error", ARGV[5]) end
if ARGV[3] == "pending" then
  queue_event(id, e, t + tonumber(ARGV[4]))
  return {"settled", jobs}
end
bump(e)
redis.call("HSET", e, "status", ARGV[3], "_place", "")
redis.call("HDEL", e, "_lease", "_leaseEnd")
redis.call("ZREM", P .. "inbox:due", id)
redis.call("ZADD", P .. "inbox:expiring", t + tonumber(ARGV[6]), id)
local key = f[4]
if key and key ~= "" then
  redis.call("ZREM", kkey(key), id)
  local next = redis.call("ZRANGE", kkey(key), 0, 0)[1]
  if next then queue_event(next, ekey(next), t) end
end
return {"settled", jobs}`);

/**
 * The repair round. ARGV: grace ms, batch size, queue name. Re-adds the job of a queued or leased event overdue
 * by more than the grace whose job is gone (a process that died between storing an event and adding its job),
 * and forgets the final events whose retention is over. Returns the jobs to add.
 */
export const INBOX_SWEEP = script(`local grace, batch = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, id in ipairs(redis.call("ZRANGE", P .. "inbox:due", "-inf", t - grace, "BYSCORE", "LIMIT", 0, batch)) do
  local f = redis.call("HMGET", ekey(id), "_v", "_place")
  if (f[2] == "queued" or f[2] == "leased") and not has_job(ARGV[3], id, f[1]) then queue_job(id, f[1], 0) end
end
for _, id in ipairs(redis.call("ZRANGE", P .. "inbox:expiring", "-inf", t, "BYSCORE", "LIMIT", 0, batch)) do
  redis.call("ZREM", P .. "inbox:expiring", id)
  redis.call("DEL", ekey(id))
end
return jobs`);
