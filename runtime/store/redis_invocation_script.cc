// The Lua script of the Redis invocation store (runtime/store/redis_invocation_store.h,
// docs/scale-out.md "Async invocations and records"). As with the queue script, each
// operation checks before it writes, and Redis runs it whole with nothing in between: two
// hosts creating with one idempotency key give one record.
//
// Keys, all under the prefix P (ARGV[1]):
//   P inv:<id>               HASH one async invocation: app fn st att meth path q rh rb cb key
//                            caller fp [rs rhd rbd] err cberr created updated expires host
//                            (rh, rhd: encoded pairs; times in ms; host: who runs it)
//   P inv-key:<digest>       the id an (app, caller, idempotency key) names, until its window
//                            ends (the digest, made by the host, frames the three)
//   P inv-open:<host>        ZSET ids queued or running on that host, by creation time
//   P inv-hosts              SET of hosts with an inv-open set
//   P inv-expiry             ZSET every invocation id by when its retention ends
//   P hosts-seen             ZSET host name by its last report (written by the queue script's
//                            host-beat): a host silent for long has left
//   P rec-seq                counter: the insertion order of records
//   P rec:<seq>              one record (encoded by the host), expiring with its retention
//   P rec-of:<id>            HASH attempt -> seq, for each attempt of one invocation
//   P recs, P recs:a:<app>, P recs:f:<app>/<function>, and the same with recs-failed:
//                            ZSET seq (zero-padded) by start time: the lists, newest last
//   P rec-indexes            SET of the list keys, for pruning
#include <string_view>

namespace gust {

extern const std::string_view kRedisInvocationScript;

const std::string_view kRedisInvocationScript = R"lua(#!lua flags=no-cluster
local P = ARGV[1]
local op = ARGV[2]
local now = tonumber(ARGV[3])
local at = 4
local function arg() local v = ARGV[at]; at = at + 1; return v end
local function num() return tonumber(arg()) end

local function kinv(id) return P .. 'inv:' .. id end
local function kopen(host) return P .. 'inv-open:' .. host end
local FINAL = { succeeded = true, failed = true }

-- The invocation's fields, or nil when it is unknown or past its retention.
local function live(id)
  local k = kinv(id)
  local expires = redis.call('HGET', k, 'expires')
  if not expires or tonumber(expires) <= now then return nil end
  return redis.call('HGETALL', k)
end

local function release(id)
  local host = redis.call('HGET', kinv(id), 'host')
  if host then redis.call('ZREM', kopen(host), id) end
end

-- The earlier invocation an idempotency key names, while its window lasts.
local function kkey(digest) return P .. 'inv-key:' .. digest end
local function byKey(keyref, window)
  local id = redis.call('GET', keyref)
  if not id then return nil end
  local fields = live(id)
  if not fields then return nil end
  local created = tonumber(redis.call('HGET', kinv(id), 'created'))
  if created + window <= now then return nil end
  return fields
end

local function indexes(app, fn, failed)
  local list = { P .. 'recs', P .. 'recs:a:' .. app, P .. 'recs:f:' .. app .. '/' .. fn }
  if failed then
    list[4] = P .. 'recs-failed'
    list[5] = P .. 'recs-failed:a:' .. app
    list[6] = P .. 'recs-failed:f:' .. app .. '/' .. fn
  end
  return list
end

-- Drops what is past retention from one list, and all but its newest `max`; the main list
-- (P recs) also deletes the records it drops, so memory is bounded by it.
local function trim(idx, retention, max)
  local removed = 0
  local main = idx == P .. 'recs'
  local old = now - retention
  if main then
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', idx, '-inf', '(' .. old)) do
      redis.call('DEL', P .. 'rec:' .. m)
    end
  end
  removed = removed + redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. old)
  local surplus = redis.call('ZCARD', idx) - max
  if surplus > 0 then
    if main then
      for _, m in ipairs(redis.call('ZRANGE', idx, 0, surplus - 1)) do redis.call('DEL', P .. 'rec:' .. m) end
    end
    removed = removed + redis.call('ZREMRANGEBYRANK', idx, 0, surplus - 1)
  end
  if redis.call('EXISTS', idx) == 0 then redis.call('SREM', P .. 'rec-indexes', idx) end
  return removed
end

if op == 'inv-create' then
  local id, digest, window, retention, host = arg(), arg(), num(), num(), arg()
  local keyref = digest ~= '' and kkey(digest) or ''
  if keyref ~= '' then
    local earlier = byKey(keyref, window)
    if earlier then return { 1, earlier } end
  end
  if redis.call('EXISTS', kinv(id)) == 1 then return redis.error_reply('EXISTS ' .. id) end
  local fields = {}
  while at <= #ARGV do fields[#fields + 1] = arg() end
  local expires = now + retention
  redis.call('HSET', kinv(id), 'created', now, 'updated', now, 'expires', expires, 'host', host, unpack(fields))
  redis.call('ZADD', kopen(host), now, id)
  redis.call('SADD', P .. 'inv-hosts', host)
  redis.call('ZADD', P .. 'inv-expiry', expires, id)
  if keyref ~= '' then redis.call('SET', keyref, id, 'PX', window) end
  return { 0, redis.call('HGETALL', kinv(id)) }

elseif op == 'inv-get' then
  return live(arg()) or false

elseif op == 'inv-by-key' then
  local digest, window = arg(), num()
  return byKey(kkey(digest), window) or false

elseif op == 'inv-update' then
  local id, status = arg(), arg()
  if not live(id) then return false end
  local fields = {}
  while at <= #ARGV do fields[#fields + 1] = arg() end
  if #fields > 0 then redis.call('HSET', kinv(id), unpack(fields)) end
  redis.call('HSET', kinv(id), 'st', status, 'updated', now)
  if FINAL[status] then release(id) end
  return redis.call('HGETALL', kinv(id))

elseif op == 'inv-cb-error' then
  local id, err = arg(), arg()
  if live(id) then redis.call('HSET', kinv(id), 'cberr', err) end
  return 0

elseif op == 'inv-expire' then
  local limit = num()
  local gone = redis.call('ZRANGEBYSCORE', P .. 'inv-expiry', '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(gone) do
    release(id)
    redis.call('DEL', kinv(id))
    redis.call('ZREM', P .. 'inv-expiry', id)
  end
  return #gone

elseif op == 'inv-open' then
  local host, limit = arg(), num()
  local ids, stale = {}, {}
  for _, id in ipairs(redis.call('ZRANGE', kopen(host), 0, -1)) do
    if #ids >= limit then break end
    local st = redis.call('HGET', kinv(id), 'st')
    if st and not FINAL[st] and live(id) then ids[#ids + 1] = id else stale[#stale + 1] = id end
  end
  for _, id in ipairs(stale) do redis.call('ZREM', kopen(host), id) end
  return ids

elseif op == 'inv-count' then
  local host = arg()
  local counts, out = {}, {}
  for _, id in ipairs(redis.call('ZRANGE', kopen(host), 0, -1)) do
    local app = redis.call('HGET', kinv(id), 'app')
    if app then counts[app] = (counts[app] or 0) + 1 end
  end
  for app, n in pairs(counts) do out[#out + 1] = app; out[#out + 1] = n end
  return out

elseif op == 'inv-adopt' then
  -- The unfinished invocations of hosts silent for `silent` ms become `host`'s, at most
  -- `limit` per run. Answers id, app, id, app, ...
  local host, silent, limit = arg(), num(), num()
  local out = {}
  for _, other in ipairs(redis.call('SMEMBERS', P .. 'inv-hosts')) do
    if other ~= host then
      local seen = redis.call('ZSCORE', P .. 'hosts-seen', other)
      if not seen or tonumber(seen) < now - silent then
        local ids = redis.call('ZRANGE', kopen(other), 0, -1, 'WITHSCORES')
        for i = 1, #ids, 2 do
          if #out >= 2 * limit then break end
          local id = ids[i]
          local app = redis.call('HGET', kinv(id), 'app')
          if app then
            redis.call('HSET', kinv(id), 'host', host)
            redis.call('ZADD', kopen(host), ids[i + 1], id)
            redis.call('SADD', P .. 'inv-hosts', host)
            out[#out + 1] = id
            out[#out + 1] = app
          end
          redis.call('ZREM', kopen(other), id)
        end
        if redis.call('EXISTS', kopen(other)) == 0 then redis.call('SREM', P .. 'inv-hosts', other) end
      end
    end
  end
  return out

elseif op == 'rec-add' then
  -- retention, max, then per record: id attempt app function failed(0|1) started blob
  local retention, max = num(), num()
  local touched = {}
  while at <= #ARGV do
    local id, attempt, app, fn, failed, started, blob = arg(), arg(), arg(), arg(), arg() == '1', num(), arg()
    local of = P .. 'rec-of:' .. id
    if redis.call('HEXISTS', of, attempt) == 0 then
      local seq = string.format('%016d', redis.call('INCR', P .. 'rec-seq'))
      redis.call('SET', P .. 'rec:' .. seq, blob, 'PX', retention)
      redis.call('HSET', of, attempt, seq)
      redis.call('PEXPIRE', of, retention)
      for _, idx in ipairs(indexes(app, fn, failed)) do
        redis.call('ZADD', idx, started, seq)
        touched[idx] = true
      end
    end
  end
  for idx in pairs(touched) do
    redis.call('SADD', P .. 'rec-indexes', idx)
    trim(idx, retention, max)
  end
  return 0

elseif op == 'rec-prune' then
  local retention, max = num(), num()
  local removed = 0
  for _, idx in ipairs(redis.call('SMEMBERS', P .. 'rec-indexes')) do
    local n = trim(idx, retention, max)
    if idx == P .. 'recs' then removed = n end
  end
  return removed

elseif op == 'rec-list' then
  -- The newest `limit` records of one list whose bytes are still kept; a member whose record
  -- is gone (pruned through another list) is dropped from this one on the way.
  local idx, retention, limit = P .. arg(), num(), num()
  local out, stale = {}, {}
  local offset, scanned = 0, 0
  while #out < limit and scanned < 10 * limit + 1000 do
    local page = redis.call('ZREVRANGEBYSCORE', idx, '+inf', now - retention, 'LIMIT', offset, limit)
    if #page == 0 then break end
    for _, m in ipairs(page) do
      scanned = scanned + 1
      local blob = redis.call('GET', P .. 'rec:' .. m)
      if blob then
        if #out < limit then out[#out + 1] = blob end
      else
        stale[#stale + 1] = m
      end
    end
    offset = offset + #page
  end
  for _, m in ipairs(stale) do redis.call('ZREM', idx, m) end
  return out

elseif op == 'rec-get' then
  local of = redis.call('HGETALL', P .. 'rec-of:' .. arg())
  local best, seq = -1, nil
  for i = 1, #of, 2 do
    local attempt = tonumber(of[i])
    if attempt > best then best, seq = attempt, of[i + 1] end
  end
  if not seq then return false end
  return redis.call('GET', P .. 'rec:' .. seq) or false
end
return redis.error_reply('unknown operation ' .. op)
)lua";

}  // namespace gust
