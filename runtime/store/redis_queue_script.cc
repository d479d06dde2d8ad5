// The Redis queue backend's one Lua script (docs/scale-out.md "Queues on Redis"). Redis runs
// a script whole with nothing in between, which is what makes a send, a lease or a settle
// atomic across hosts. It is not a transaction, though: a script that fails half way keeps
// what it wrote. So every operation that can be refused (a stale lease, a bound, a changed
// topic table) checks everything first and writes only once nothing can fail.
//
// Keys, all under the prefix P (ARGV[1]):
//   P seq, P lease               counters: message numbers, lease tokens
//   P queues                     SET of the queues that hold messages
//   P bytes                      HASH queue -> bytes of bodies and headers held
//   P m:<n>                      HASH one message: q id body hdr att enq vis [tok err src dead]
//   P q:<queue>:vis              ZSET n by the time it becomes visible; equal times in n order
//                                (members are zero-padded, so they sort as numbers)
//   P q:<queue>:leased           ZSET n by lease expiry, while it holds a token
//   P q:<queue>:age              ZSET n by send time (dead letters: dead-letter time)
//   P q:<queue>:ids              HASH id -> n
//   P q:<queue>:dedupe           ZSET id by the end of its dedupe window
//   P dedupe-queues              SET of queues with remembered ids
//   P topics-version             grows at every change of the topic table
//   P owners                     HASH owner -> its bindings (encoded by the host)
//   P owner-subs                 HASH owner -> cmsgpack list of its "<topic> <subscriber>"
//   P sub-created                HASH "<topic> <subscriber>" -> creation time
//   P t:<topic>                  HASH published, last (time), last_seq
//   P t:<topic>:log              HASH seq -> cmsgpack(id, headers, body, logged_at)
//   P t:<topic>:seqs             ZSET seq by seq
//   P t:<topic>:log-ids          HASH id -> seq
//   P logged-topics              SET of topics with a log
//   P s:<app>                    HASH app state: key -> cmsgpack(value, version, expires_at (0:
//                                never), updated_at)
//   P s:<app>:keys               ZSET of its keys, all at score 0 (in byte order, for listing)
//   P s:<app>:ttl                ZSET of its keys that expire, by expiry
//   P s:<app>:usage              HASH keys, bytes (key and value bytes), expired rows included
//   P state-apps                 SET of apps with state
//   P timer:<app/function>       the last schedule point some host fired, in ms
//   P apps                       HASH app -> what every host serves of it (JSON, written by
//                                runtime/apps/cluster_apps.cc), or a removal
//   P apps-revision              grows at every change of P apps
//   P module:<sha256>            a module's bytes
//   P hosts                      HASH host name -> what it reported last (JSON)
//   P hosts-seen                 ZSET host name by when it reported last
//   P conn-hosts                 HASH WebSocket connection id -> the host that holds it
//   P conns:<host>               HASH connection id -> its app, for each connection of host
//   P host:<host>                (a pub/sub channel) calls on that host's connections
//   P events                     (a pub/sub channel) "<seq> <topic>" for each retained event
//   P ready                      (a pub/sub channel) the queues and topics a send or settle
//                                put messages in, one per line
#include <string_view>

namespace gust {

extern const std::string_view kRedisQueueScript;

const std::string_view kRedisQueueScript = R"lua(#!lua flags=no-cluster
local P = ARGV[1]
local op = ARGV[2]
local now = tonumber(ARGV[3])
local at = 4
local function arg() local v = ARGV[at]; at = at + 1; return v end
local function num() return tonumber(arg()) end

local DEAD = '.dead'
local function isDead(q) return #q > #DEAD and string.sub(q, -#DEAD) == DEAD end
local function kq(q, what) return P .. 'q:' .. q .. ':' .. what end
local function kmsg(m) return P .. 'm:' .. m end
local function kt(t, what) if what then return P .. 't:' .. t .. ':' .. what end return P .. 't:' .. t end

local function size(m)
  return redis.call('HSTRLEN', kmsg(m), 'body') + redis.call('HSTRLEN', kmsg(m), 'hdr')
end
local function link(q, m, id, n, vis, age)
  redis.call('ZADD', kq(q, 'vis'), vis, m)
  redis.call('ZADD', kq(q, 'age'), age, m)
  redis.call('HSET', kq(q, 'ids'), id, m)
  redis.call('HINCRBY', P .. 'bytes', q, n)
  redis.call('SADD', P .. 'queues', q)
end
local function unlink(q, m, id, n)
  redis.call('ZREM', kq(q, 'vis'), m)
  redis.call('ZREM', kq(q, 'leased'), m)
  redis.call('ZREM', kq(q, 'age'), m)
  redis.call('HDEL', kq(q, 'ids'), id)
  redis.call('HINCRBY', P .. 'bytes', q, -n)
  if redis.call('ZCARD', kq(q, 'vis')) == 0 then
    redis.call('SREM', P .. 'queues', q)
    redis.call('HDEL', P .. 'bytes', q)
  end
end
local function deleteMessage(q, m, id)
  unlink(q, m, id, size(m))
  redis.call('DEL', kmsg(m))
end
local function moveToDead(q, m, id, err)
  local dead = q .. DEAD
  local older = redis.call('HGET', kq(dead, 'ids'), id)
  if older then deleteMessage(dead, older, id) end
  local n = size(m)
  unlink(q, m, id, n)
  redis.call('HSET', kmsg(m), 'q', dead, 'src', q, 'err', err, 'dead', now, 'vis', now)
  redis.call('HDEL', kmsg(m), 'tok')
  link(dead, m, id, n, now, now)
end

-- Seen within its window, or still queued (a long delay can outlast the window).
local function remembered(q, id)
  local ends = redis.call('ZSCORE', kq(q, 'dedupe'), id)
  return ends ~= false and tonumber(ends) > now
end
local function queued(q, id) return redis.call('HEXISTS', kq(q, 'ids'), id) == 1 end

local function checkTopics(expected)
  return (redis.call('GET', P .. 'topics-version') or '0') == expected
end

-- Reads `count` units (one message sent to one name) and decides, writing nothing, which
-- of their copies are duplicates and whether every bound holds. `freed` and `gone` are what
-- the same call's settlements take out of their queues. A unit is
--   'q' name id body headers delay max_bytes
--   't' name id body headers delay log_max_events targets (queue max_bytes)*targets
local function readUnits(count, freed, gone)
  local units, held, planned = {}, {}, {}
  for i = 1, count do
    local u = {kind = arg(), name = arg(), id = arg(), body = arg(), hdr = arg(), delay = num(), targets = {}}
    if u.kind == 't' then
      u.log = num()
      for j = 1, num() do u.targets[j] = {q = arg(), max = num()} end
    else
      u.targets[1] = {q = u.name, max = num()}
    end
    for _, t in ipairs(u.targets) do
      local key = t.q .. '\n' .. u.id
      t.dup = planned[key] or remembered(t.q, u.id) or (not gone[key] and queued(t.q, u.id))
      if not t.dup then
        planned[key] = true
        if held[t.q] == nil then
          held[t.q] = tonumber(redis.call('HGET', P .. 'bytes', t.q) or '0') - (freed[t.q] or 0)
        end
        local adds = #u.body + #u.hdr
        if held[t.q] + adds > t.max then return nil, {'LIMIT', t.q, held[t.q], adds, u.id} end
        held[t.q] = held[t.q] + adds
      end
    end
    units[i] = u
  end
  return units
end

local function logEvent(u, logged, index)
  local t = u.name
  if redis.call('HEXISTS', kt(t, 'log-ids'), u.id) == 1 then return end
  local seq = redis.call('HINCRBY', kt(t), 'last_seq', 1)
  redis.call('HSET', kt(t, 'log'), seq, cmsgpack.pack(u.id, u.hdr, u.body, now))
  redis.call('ZADD', kt(t, 'seqs'), seq, seq)
  redis.call('HSET', kt(t, 'log-ids'), u.id, seq)
  redis.call('SADD', P .. 'logged-topics', t)
  -- The count bound holds at every commit; the age bound is the sweep's.
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', kt(t, 'seqs'), '-inf', seq - u.log)) do
    local id = cmsgpack.unpack(redis.call('HGET', kt(t, 'log'), old))
    redis.call('HDEL', kt(t, 'log-ids'), id)
    redis.call('HDEL', kt(t, 'log'), old)
    redis.call('ZREM', kt(t, 'seqs'), old)
  end
  logged[#logged + 1] = index
  logged[#logged + 1] = seq
  -- Every host's topic hub hears of it (runtime/store/cluster_notices.h).
  redis.call('PUBLISH', P .. 'events', seq .. ' ' .. t)
end

-- Writes what readUnits planned; answers one duplicate flag (0/1) per unit and the seqs of
-- the events it logged (unit index, seq, ...). Every host hears which queues and topics got
-- messages, to wake their idle consumers (runtime/store/cluster_notices.h).
local function applyUnits(units, window)
  local dups, logged, swept, ready, named = {}, {}, {}, {}, {}
  for i, u in ipairs(units) do
    if u.kind == 't' then
      redis.call('HINCRBY', kt(u.name), 'published', 1)
      redis.call('HSET', kt(u.name), 'last', now)
      if u.log > 0 then logEvent(u, logged, i) end
    end
    local any, all = false, true
    for _, t in ipairs(u.targets) do
      if not swept[t.q] then
        redis.call('ZREMRANGEBYSCORE', kq(t.q, 'dedupe'), '-inf', now)
        swept[t.q] = true
      end
      if not t.dup then
        local m = string.format('%016d', redis.call('INCR', P .. 'seq'))
        redis.call('HSET', kmsg(m), 'q', t.q, 'id', u.id, 'body', u.body, 'hdr', u.hdr, 'att', 0, 'enq', now,
                   'vis', now + u.delay)
        link(t.q, m, u.id, #u.body + #u.hdr, now + u.delay, now)
        redis.call('ZADD', kq(t.q, 'dedupe'), now + window, u.id)
        redis.call('SADD', P .. 'dedupe-queues', t.q)
      end
      any = true
      all = all and t.dup
    end
    dups[i] = (any and all) and 1 or 0
    if any and not all and not named[u.name] then
      named[u.name] = true
      ready[#ready + 1] = u.name
    end
  end
  if #ready > 0 then redis.call('PUBLISH', P .. 'ready', table.concat(ready, '\n')) end
  return dups, logged
end

local function counts(q)
  local total = redis.call('ZCARD', kq(q, 'vis'))
  local ready = redis.call('ZCOUNT', kq(q, 'vis'), '-inf', now)
  local leased = redis.call('ZCOUNT', kq(q, 'leased'), '(' .. now, '+inf')
  return {q, total, ready, leased, total - ready - leased}
end

-- App state (runtime/store/state_store.h). A commit's writes, as the host sends them:
--   app max_keys max_bytes count (op key value if_version ttl_ms)*count
-- op is 'put' or 'remove'; if_version '' means any.
local function ks(app, what) if what then return P .. 's:' .. app .. ':' .. what end return P .. 's:' .. app end
local function readState()
  local st = {app = arg(), maxKeys = num(), maxBytes = num(), writes = {}}
  for i = 1, num() do st.writes[i] = {op = arg(), key = arg(), value = arg(), ifv = arg(), ttl = num()} end
  return st
end
local function stateRow(app, key)
  local packed = redis.call('HGET', ks(app), key)
  if not packed then return false end
  local value, version, expires, updated = cmsgpack.unpack(packed)
  return {value = value, version = version, expires = expires, updated = updated, bytes = #key + #value}
end
local function live(row) return row and (row.expires == 0 or row.expires > now) end
-- Checks every write's version and the app's bounds, writing nothing: answers the rows to
-- write, or a refusal.
local function planState(st)
  if #st.writes == 0 then return {dirty = {}, rows = {}, sweep = {}} end
  local rows, dirty = {}, {}
  local function row(key)
    if rows[key] == nil then rows[key] = stateRow(st.app, key) end
    return rows[key]
  end
  local usage = redis.call('HMGET', ks(st.app, 'usage'), 'keys', 'bytes')
  local keys, bytes = tonumber(usage[1] or '0'), tonumber(usage[2] or '0')
  local grew = false
  for _, w in ipairs(st.writes) do
    local r = row(w.key)
    local current = live(r) and r.version or 0
    if w.ifv ~= '' and tonumber(w.ifv) ~= current then return nil, {'CONFLICT', w.key, current, w.ifv} end
    dirty[w.key] = true
    if w.op == 'remove' then
      if r then
        keys = keys - 1
        bytes = bytes - r.bytes
        rows[w.key] = false
      end
    else
      local b = #w.key + #w.value
      grew = grew or not r or b > r.bytes
      if r then bytes = bytes - r.bytes else keys = keys + 1 end
      bytes = bytes + b
      rows[w.key] = {value = w.value, version = current + 1, expires = w.ttl > 0 and now + w.ttl or 0,
                     updated = now, bytes = b}
    end
  end
  local sweep = {}
  if grew and (keys > st.maxKeys or bytes > st.maxBytes) then
    -- Expired rows count until they are swept: sweep the app's now, then look again.
    for _, key in ipairs(redis.call('ZRANGEBYSCORE', ks(st.app, 'ttl'), '-inf', now)) do
      local r = row(key)
      if r and not live(r) then
        keys = keys - 1
        bytes = bytes - r.bytes
        sweep[#sweep + 1] = key
      end
    end
    if keys > st.maxKeys then return nil, {'STATE-KEYS', keys, st.maxKeys} end
    if bytes > st.maxBytes then return nil, {'STATE-BYTES', bytes, st.maxBytes} end
  end
  return {dirty = dirty, rows = rows, sweep = sweep, keys = keys, bytes = bytes}
end
local function deleteStateKey(app, key)
  redis.call('HDEL', ks(app), key)
  redis.call('ZREM', ks(app, 'keys'), key)
  redis.call('ZREM', ks(app, 'ttl'), key)
end
local function applyState(st, plan)
  if #st.writes == 0 then return end
  for key in pairs(plan.dirty) do
    local r = plan.rows[key]
    if r then
      redis.call('HSET', ks(st.app), key, cmsgpack.pack(r.value, r.version, r.expires, r.updated))
      redis.call('ZADD', ks(st.app, 'keys'), 0, key)
      if r.expires > 0 then
        redis.call('ZADD', ks(st.app, 'ttl'), r.expires, key)
      else
        redis.call('ZREM', ks(st.app, 'ttl'), key)
      end
    else
      deleteStateKey(st.app, key)
    end
  end
  for _, key in ipairs(plan.sweep) do deleteStateKey(st.app, key) end
  redis.call('HSET', ks(st.app, 'usage'), 'keys', plan.keys, 'bytes', plan.bytes)
  redis.call('SADD', P .. 'state-apps', st.app)
end
-- Deletes the expired rows of `app`; answers how many.
local function sweepState(app)
  local gone = 0
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', ks(app, 'ttl'), '-inf', now)) do
    local r = stateRow(app, key)
    if r then
      redis.call('HINCRBY', ks(app, 'usage'), 'keys', -1)
      redis.call('HINCRBY', ks(app, 'usage'), 'bytes', -r.bytes)
    end
    deleteStateKey(app, key)
    gone = gone + 1
  end
  return gone
end
local function itemOf(key, r, withValue)
  return {key, withValue and r.value or '', r.version, #r.value, r.expires, r.updated}
end

if op == 'send' then
  if not checkTopics(arg()) then return {'STALE'} end
  local window = num()
  local units, refused = readUnits(num(), {}, {})
  if not units then return refused end
  local dups, logged = applyUnits(units, window)
  return {'OK', dups, logged}

elseif op == 'lease' then
  local q, max, visibility, maxAttempts, maxAge, maxDead = arg(), num(), num(), num(), num(), num()
  -- Dead letters of a dead-letter queue have nowhere to go: there, limits do not apply.
  local canDead = not isDead(q)
  local out, dead = {}, 0
  while #out < max and dead < maxDead do
    local wanted = max - #out
    local candidates = redis.call('ZRANGEBYSCORE', kq(q, 'vis'), '-inf', now, 'LIMIT', 0, wanted)
    for _, m in ipairs(candidates) do
      local f = redis.call('HMGET', kmsg(m), 'id', 'att', 'enq', 'err', 'body', 'hdr')
      local id, attempts, enq = f[1], tonumber(f[2]), tonumber(f[3])
      local why = nil
      if canDead and maxAge > 0 and now - enq > maxAge then
        why = 'expired'
      elseif canDead and maxAttempts > 0 and attempts >= maxAttempts then
        why = 'leased ' .. attempts .. ' times without success (max_attempts ' .. maxAttempts .. ')'
        if f[4] and f[4] ~= '' then why = why .. '; last error: ' .. f[4] end
      end
      if why then
        moveToDead(q, m, id, why)
        dead = dead + 1
      else
        local token = tostring(redis.call('INCR', P .. 'lease'))
        redis.call('HSET', kmsg(m), 'att', attempts + 1, 'vis', now + visibility, 'tok', token)
        redis.call('ZADD', kq(q, 'vis'), now + visibility, m)
        redis.call('ZADD', kq(q, 'leased'), now + visibility, m)
        out[#out + 1] = {id, f[5], f[6], attempts + 1, enq, token}
      end
    end
    if #candidates < wanted then break end
  end
  return {out, dead}

elseif op == 'settle' then
  if not checkTopics(arg()) then return {'STALE'} end
  local window = num()
  local settlements, statuses, held, stale = {}, {}, {}, false
  for i = 1, num() do
    local s = {q = arg(), id = arg(), token = arg(), action = arg(), delay = num(), err = arg()}
    local m = redis.call('HGET', kq(s.q, 'ids'), s.id)
    -- A lease that expired but was not taken again still holds its token: nobody else has
    -- the message, so its settlement is accepted.
    if m and not held[m] and redis.call('HGET', kmsg(m), 'tok') == s.token then
      s.m = m
      held[m] = true
      statuses[i] = 0
    else
      statuses[i] = 1
      stale = true
    end
    settlements[i] = s
  end
  if stale then return {'STALE-LEASE', statuses} end
  local freed, gone = {}, {}
  for _, s in ipairs(settlements) do
    if s.action ~= 'retry' then
      freed[s.q] = (freed[s.q] or 0) + size(s.m)
      gone[s.q .. '\n' .. s.id] = true
    end
  end
  local units, refused = readUnits(num(), freed, gone)
  if not units then return refused end
  local st = readState()
  local plan, conflict = planState(st)
  if not plan then return conflict end
  for _, s in ipairs(settlements) do
    if s.action == 'ack' then
      deleteMessage(s.q, s.m, s.id)
    elseif s.action == 'retry' then
      redis.call('HSET', kmsg(s.m), 'vis', now + s.delay)
      redis.call('HDEL', kmsg(s.m), 'tok')
      if s.err ~= '' then redis.call('HSET', kmsg(s.m), 'err', s.err) end
      redis.call('ZADD', kq(s.q, 'vis'), now + s.delay, s.m)
      redis.call('ZREM', kq(s.q, 'leased'), s.m)
    else
      moveToDead(s.q, s.m, s.id, s.err)
    end
  end
  local dups, logged = applyUnits(units, window)
  applyState(st, plan)
  return {'OK', dups, logged}

elseif op == 'state-commit' then
  local st = readState()
  local plan, refused = planState(st)
  if not plan then return refused end
  applyState(st, plan)
  return {'OK'}

elseif op == 'state-get' then
  local app, key = arg(), arg()
  local r = stateRow(app, key)
  if not live(r) then return false end
  return itemOf(key, r, true)

elseif op == 'state-list' then
  local app, prefix, limit = arg(), arg(), num()
  local out, from = {}, '[' .. prefix
  while #out < limit do
    local keys = redis.call('ZRANGEBYLEX', ks(app, 'keys'), from, '+', 'LIMIT', 0, 100)
    if #keys == 0 then break end
    for _, key in ipairs(keys) do
      if string.sub(key, 1, #prefix) ~= prefix then return out end  -- past the prefix's range
      local r = stateRow(app, key)
      if live(r) then out[#out + 1] = itemOf(key, r, false) end
      if #out == limit then return out end
      from = '(' .. key
    end
  end
  return out

elseif op == 'state-usage' then
  local usage = redis.call('HMGET', ks(arg(), 'usage'), 'keys', 'bytes')
  return {tonumber(usage[1] or '0'), tonumber(usage[2] or '0')}

elseif op == 'state-remove-app' then
  local app = arg()
  local n = redis.call('HLEN', ks(app))
  redis.call('DEL', ks(app), ks(app, 'keys'), ks(app, 'ttl'), ks(app, 'usage'))
  redis.call('SREM', P .. 'state-apps', app)
  return n

elseif op == 'state-sweep' then
  local gone = 0
  for _, app in ipairs(redis.call('SMEMBERS', P .. 'state-apps')) do gone = gone + sweepState(app) end
  return gone

elseif op == 'timer-claim' then
  -- One host fires each point: the first to claim it, and no point older than the last
  -- one fired (a host that was down fires no point another host already did).
  local key, point = P .. 'timer:' .. arg(), num()
  local last = tonumber(redis.call('GET', key) or '-1')
  if point <= last then return 0 end
  redis.call('SET', key, point)
  return 1

elseif op == 'app-set' then
  -- ARGV: app, what every host is to serve of it. One revision per change, in one step.
  local app, desired = arg(), arg()
  redis.call('HSET', P .. 'apps', app, desired)
  return redis.call('INCR', P .. 'apps-revision')

elseif op == 'host-beat' then
  -- ARGV: name, report, how long a silent host is kept. Forgets hosts silent that long.
  local name, report, keep = arg(), arg(), num()
  local function forget(host)
    redis.call('HDEL', P .. 'hosts', host)
    redis.call('ZREM', P .. 'hosts-seen', host)
  end
  for _, gone in ipairs(redis.call('ZRANGEBYSCORE', P .. 'hosts-seen', '-inf', '(' .. (now - keep))) do forget(gone) end
  if report == '' then
    forget(name)
  else
    redis.call('HSET', P .. 'hosts', name, report)
    redis.call('ZADD', P .. 'hosts-seen', now, name)
  end
  return 1

elseif op == 'hosts' then
  local out = {}
  for _, name in ipairs(redis.call('ZRANGE', P .. 'hosts-seen', 0, -1, 'WITHSCORES')) do out[#out + 1] = name end
  for i = 1, #out, 2 do
    local report = redis.call('HGET', P .. 'hosts', out[i])
    out[i + 1] = {out[i + 1], report or ''}
  end
  return out

elseif op == 'conn-open' then
  -- ARGV: host, connection id, app.
  local host, id, app = arg(), arg(), arg()
  redis.call('HSET', P .. 'conn-hosts', id, host)
  redis.call('HSET', P .. 'conns:' .. host, id, app)
  return 1

elseif op == 'conn-end' then
  -- ARGV: host, connection id. Only the host's own entry: an id is never reused.
  local host, id = arg(), arg()
  if redis.call('HGET', P .. 'conn-hosts', id) == host then redis.call('HDEL', P .. 'conn-hosts', id) end
  redis.call('HDEL', P .. 'conns:' .. host, id)
  return 1

elseif op == 'conn-reset' then
  -- ARGV: host. A host that starts holds no connection: whatever its last run left goes.
  local host = arg()
  local ids = redis.call('HKEYS', P .. 'conns:' .. host)
  for i = 1, #ids, 1000 do redis.call('HDEL', P .. 'conn-hosts', unpack(ids, i, math.min(i + 999, #ids))) end
  redis.call('DEL', P .. 'conns:' .. host)
  return #ids

elseif op == 'conn-call' then
  -- ARGV: the caller's app, connection id, the call as the holding host decodes it.
  -- 1: handed to the host that holds the connection; 0: no such connection of that app
  -- (or its host is gone: then its entry goes too).
  local app, id, call = arg(), arg(), arg()
  local host = redis.call('HGET', P .. 'conn-hosts', id)
  if not host then return 0 end
  if redis.call('HGET', P .. 'conns:' .. host, id) ~= app then return 0 end
  if redis.call('PUBLISH', P .. 'host:' .. host, call) > 0 then return 1 end
  redis.call('HDEL', P .. 'conn-hosts', id)
  redis.call('HDEL', P .. 'conns:' .. host, id)
  return 0

elseif op == 'stats' then
  local out = {}
  for _, q in ipairs(redis.call('SMEMBERS', P .. 'queues')) do out[#out + 1] = counts(q) end
  return out

elseif op == 'counts' then
  -- ARGV: queues; answers the counts of each and of its dead letters.
  local out = {}
  while ARGV[at] do
    local q = arg()
    out[#out + 1] = counts(q)
    out[#out + 1] = counts(q .. DEAD)
  end
  return out

elseif op == 'peek' then
  local q, max = arg(), num()
  local out = {}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', kq(q, 'vis'), '-inf', '+inf', 'LIMIT', 0, max)) do
    local f = redis.call('HMGET', kmsg(m), 'id', 'body', 'hdr', 'att', 'enq', 'vis', 'tok', 'err', 'src', 'dead')
    out[#out + 1] = {f[1], f[2], f[3], tonumber(f[4]), tonumber(f[5]), tonumber(f[6]), f[7] and 1 or 0,
                     f[8] or '', f[9] or '', f[10] and tonumber(f[10]) or -1}
  end
  return out

elseif op == 'redrive' then
  local dead = arg()
  local moved = 0
  for _, m in ipairs(redis.call('ZRANGE', kq(dead, 'vis'), 0, -1)) do
    local f = redis.call('HMGET', kmsg(m), 'id', 'src')
    local id, src = f[1], f[2]
    -- A message whose id is in the source queue again stays dead.
    if src and not queued(src, id) then
      local n = size(m)
      unlink(dead, m, id, n)
      redis.call('HSET', kmsg(m), 'q', src, 'att', 0, 'enq', now, 'vis', now)
      redis.call('HDEL', kmsg(m), 'tok', 'err', 'src', 'dead')
      link(src, m, id, n, now, now)
      moved = moved + 1
    end
  end
  return moved

elseif op == 'purge' then
  local q = arg()
  local members = redis.call('ZRANGE', kq(q, 'vis'), 0, -1)
  for _, m in ipairs(members) do redis.call('DEL', kmsg(m)) end
  redis.call('DEL', kq(q, 'vis'), kq(q, 'leased'), kq(q, 'age'), kq(q, 'ids'))
  redis.call('SREM', P .. 'queues', q)
  redis.call('HDEL', P .. 'bytes', q)
  return #members

elseif op == 'next-visible' then
  local first = redis.call('ZRANGE', kq(arg(), 'vis'), 0, 0, 'WITHSCORES')
  if #first == 0 then return false end
  return tonumber(first[2])

elseif op == 'sweep' then
  -- ARGV: default retention, default dead-letter retention, then (queue retention dead)*.
  local keep = {['\0'] = {num(), num()}}
  while ARGV[at] do keep[arg()] = {num(), num()} end
  for _, q in ipairs(redis.call('SMEMBERS', P .. 'dedupe-queues')) do
    redis.call('ZREMRANGEBYSCORE', kq(q, 'dedupe'), '-inf', now)
    if redis.call('EXISTS', kq(q, 'dedupe')) == 0 then redis.call('SREM', P .. 'dedupe-queues', q) end
  end
  local deleted = 0
  for _, q in ipairs(redis.call('SMEMBERS', P .. 'queues')) do
    local dead = isDead(q)
    local source = dead and string.sub(q, 1, #q - #DEAD) or q
    local k = keep[source] or keep['\0']
    -- A dead letter's clock starts when it died; a message's when it was sent.
    local cutoff = now - (dead and k[2] or k[1])
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', kq(q, 'age'), '-inf', '(' .. cutoff)) do
      deleteMessage(q, m, redis.call('HGET', kmsg(m), 'id'))
      deleted = deleted + 1
    end
  end
  -- Retained events past the longest retention asked for their topic (sent by the host,
  -- which knows the table; a topic it did not send keeps none).
  return deleted

elseif op == 'trim-log' then
  -- ARGV: (topic retention_ms)*; topics with a log not named are emptied.
  local keep = {}
  while ARGV[at] do keep[arg()] = num() end
  for _, t in ipairs(redis.call('SMEMBERS', P .. 'logged-topics')) do
    local cutoff = keep[t] and now - keep[t] or nil
    while true do
      local first = redis.call('ZRANGE', kt(t, 'seqs'), 0, 99)
      if #first == 0 then redis.call('SREM', P .. 'logged-topics', t) break end
      local stop = false
      for _, seq in ipairs(first) do
        local id, _, _, loggedAt = cmsgpack.unpack(redis.call('HGET', kt(t, 'log'), seq))
        if cutoff and loggedAt >= cutoff then stop = true break end
        redis.call('HDEL', kt(t, 'log-ids'), id)
        redis.call('HDEL', kt(t, 'log'), seq)
        redis.call('ZREM', kt(t, 'seqs'), seq)
      end
      if stop then break end
    end
  end
  return 0

elseif op == 'events' then
  local t, after, limit = arg(), arg(), num()
  local out = {}
  for _, seq in ipairs(redis.call('ZRANGEBYSCORE', kt(t, 'seqs'), '(' .. after, '+inf', 'LIMIT', 0, limit)) do
    local _, hdr, body = cmsgpack.unpack(redis.call('HGET', kt(t, 'log'), seq))
    out[#out + 1] = {tonumber(seq), hdr, body}
  end
  return out

elseif op == 'bind' then
  -- ARGV: owner, bindings (encoded by the host), then the "<topic> <subscriber>" it subscribes.
  local owner, bindings = arg(), arg()
  local previous = redis.call('HGET', P .. 'owner-subs', owner)
  local keep = {}
  while ARGV[at] do
    local sub = arg()
    keep[#keep + 1] = sub
    redis.call('HSETNX', P .. 'sub-created', sub, now)
  end
  -- Subscriptions the owner no longer has stop here; the rest keep their creation time.
  if previous then
    local kept = {}
    for _, sub in ipairs(keep) do kept[sub] = true end
    for _, sub in ipairs(cmsgpack.unpack(previous)) do
      if not kept[sub] then redis.call('HDEL', P .. 'sub-created', sub) end
    end
  end
  if bindings == '' then
    redis.call('HDEL', P .. 'owners', owner)
    redis.call('HDEL', P .. 'owner-subs', owner)
  else
    redis.call('HSET', P .. 'owners', owner, bindings)
    redis.call('HSET', P .. 'owner-subs', owner, cmsgpack.pack(keep))
  end
  return redis.call('INCR', P .. 'topics-version')

elseif op == 'table' then
  -- The topic table: its version, every owner's bindings, and the topics' counters.
  local out = {redis.call('GET', P .. 'topics-version') or '0', {}, {}}
  out[2] = redis.call('HGETALL', P .. 'owners')
  local created = redis.call('HGETALL', P .. 'sub-created')
  for i = 1, #created do out[3][i] = created[i] end
  return out

elseif op == 'topic-counters' then
  local out = {}
  while ARGV[at] do
    local t = arg()
    local f = redis.call('HMGET', kt(t), 'published', 'last')
    out[#out + 1] = {t, tonumber(f[1] or '0'), tonumber(f[2] or '-1')}
  end
  return out
end
return redis.error_reply('gust: unknown queue operation ' .. tostring(op))
)lua";

}  // namespace gust
