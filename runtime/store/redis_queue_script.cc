// The Redis queue backend's one Lua script (docs/scale-out.md "Queues on Redis"). Redis runs
// a script whole with nothing in between, which is what makes a send, a lease or a settle
// atomic across hosts. It is not a transaction, though: a script that fails half way keeps
// what it wrote. So every operation that can be refused (a stale lease, a bound, a changed
// topic table) checks everything first and writes only once nothing can fail.
//
// Keys, all under the prefix P (ARGV[1]):
//   P seq, P lease               counters: delayed messages, lease tokens
//   P queues                     SET of the queues that hold messages
//   P bytes                      HASH queue -> bytes of bodies and headers held
//   P q:<queue>:stream           STREAM of its visible messages, with the consumer group
//                                `gust`: entry fields id body hdr enq vis [att src err dead]
//                                (att: attempts before this entry, for dead letters)
//   P q:<queue>:leased           ZSET entry by lease expiry, while it holds a token
//   P q:<queue>:waiting          ZSET entry by the time its retry is due
//   P q:<queue>:tok              HASH entry -> its lease token
//   P q:<queue>:err              HASH entry -> the error of its last retry
//   P q:<queue>:delayed          ZSET d:<n> by the time a delayed send becomes visible
//   P d:<n>                      HASH one delayed message: id body hdr enq vis
//   P q:<queue>:age              ZSET entry or d:<n> by send time (dead letters: dead-letter time)
//   P q:<queue>:ids              HASH id -> entry or d:<n>
//   P q:<queue>:dedupe           ZSET id by the end of its dedupe window
//   P dedupe-queues              SET of queues with remembered ids
//   P topics-version             grows at every change of the topic table
//   P owners                     HASH owner -> its bindings (encoded by the host)
//   P owner-subs                 HASH owner -> cmsgpack list of its "<topic> <subscriber>"
//   P sub-created                HASH "<topic> <subscriber>" -> creation time
//   P t:<topic>                  HASH published, last (time), last_seq
//   P t:<topic>:stream           STREAM of its retained events, entry id "<seq>-0": fields
//                                id hdr body at (logged at)
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
//   P app-env                    HASH app -> its variables (`gust env`, a JSON object)
//   P apps-revision              grows at every change of P apps or P app-env
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
local GROUP = 'gust'
local function isDead(q) return #q > #DEAD and string.sub(q, -#DEAD) == DEAD end
local function kq(q, what) return P .. 'q:' .. q .. ':' .. what end
local function kt(t, what) if what then return P .. 't:' .. t .. ':' .. what end return P .. 't:' .. t end
local function fields(list)
  local f = {}
  for i = 1, #list, 2 do f[list[i]] = list[i + 1] end
  return f
end

-- Leases live on the stream's pending list, where Redis keeps each entry's owner, its count
-- of deliveries (the attempts) and its delivery time. A pending entry's delivery time is set
-- (XCLAIM TIME) to when it is to become visible again by the host's clock (its lease expiry,
-- or its retry's due time) minus SHIFT, so that XAUTOCLAIM with the min-idle-time below
-- claims exactly the entries visible again by the host's clock, whatever Redis's own clock
-- says. SHIFT keeps the delivery time in the past, which Redis requires. See
-- docs/scale-out.md "Queues and topics on Redis".
local SHIFT = 1000000000000
local function park(stream, consumer, m, visibleAt)
  redis.call('XCLAIM', stream, GROUP, consumer, 0, m, 'TIME', visibleAt - SHIFT, 'JUSTID')
end
local function minIdle()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - now + SHIFT
end
-- The consumer holding a pending entry and how many times it was delivered.
local function pendingOf(q, m)
  local p = redis.call('XPENDING', kq(q, 'stream'), GROUP, m, m, 1)
  if #p == 0 then return nil, 0 end
  return p[1][2], tonumber(p[1][4])
end
-- The last entry the group handed out ('0-0' for none, or no stream).
local function lastDelivered(q)
  if redis.call('EXISTS', kq(q, 'stream')) == 0 then return '0-0' end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', kq(q, 'stream'))) do
    local f = fields(g)
    if f.name == GROUP then return f['last-delivered-id'] end
  end
  return '0-0'
end

local function isParked(m) return string.sub(m, 1, 2) == 'd:' end
-- A message's fields as stored, with the error of its last retry over the one stored.
local function withRetryError(q, m, f)
  f.err = redis.call('HGET', kq(q, 'err'), m) or f.err
  return f
end
-- One message's fields, in the stream or delayed.
local function fetch(q, m)
  if isParked(m) then return withRetryError(q, m, fields(redis.call('HGETALL', P .. m))) end
  local e = redis.call('XRANGE', kq(q, 'stream'), m, m)
  if #e == 0 then return nil end
  return withRetryError(q, m, fields(e[1][2]))
end
local function sizeOf(f) return #f.body + #f.hdr end
local function messagesIn(q)
  return redis.call('XLEN', kq(q, 'stream')) + redis.call('ZCARD', kq(q, 'delayed'))
end

local function link(q, m, id, n, age)
  redis.call('ZADD', kq(q, 'age'), age, m)
  redis.call('HSET', kq(q, 'ids'), id, m)
  redis.call('HINCRBY', P .. 'bytes', q, n)
  redis.call('SADD', P .. 'queues', q)
end
-- Appends a visible message to q's stream (making the stream and its group if need be).
-- `extra` are a dead letter's fields.
local function append(q, f, vis, age, extra)
  local stream = kq(q, 'stream')
  if redis.call('EXISTS', stream) == 0 then redis.call('XGROUP', 'CREATE', stream, GROUP, '$', 'MKSTREAM') end
  local m = redis.call('XADD', stream, '*', 'id', f.id, 'body', f.body, 'hdr', f.hdr, 'enq', f.enq, 'vis', vis,
                       unpack(extra or {}))
  link(q, m, f.id, sizeOf(f), age)
  return m
end
-- A delayed send waits beside the stream until it is due.
local function delay(q, f, vis)
  local m = string.format('d:%016d', redis.call('INCR', P .. 'seq'))
  redis.call('HSET', P .. m, 'id', f.id, 'body', f.body, 'hdr', f.hdr, 'enq', f.enq, 'vis', vis)
  redis.call('ZADD', kq(q, 'delayed'), vis, m)
  link(q, m, f.id, sizeOf(f), f.enq)
end
-- Takes message m (of `n` bytes) out of q, wherever it is. A queue left empty loses its
-- stream and group too (the next send makes them again): Redis keeps no key of an empty queue.
local function remove(q, m, id, n)
  if isParked(m) then
    redis.call('ZREM', kq(q, 'delayed'), m)
    redis.call('DEL', P .. m)
  else
    redis.call('XACK', kq(q, 'stream'), GROUP, m)
    redis.call('XDEL', kq(q, 'stream'), m)
    redis.call('ZREM', kq(q, 'leased'), m)
    redis.call('ZREM', kq(q, 'waiting'), m)
    redis.call('HDEL', kq(q, 'tok'), m)
    redis.call('HDEL', kq(q, 'err'), m)
  end
  redis.call('ZREM', kq(q, 'age'), m)
  redis.call('HDEL', kq(q, 'ids'), id)
  redis.call('HINCRBY', P .. 'bytes', q, -n)
  if messagesIn(q) == 0 then
    redis.call('DEL', kq(q, 'stream'))
    redis.call('SREM', P .. 'queues', q)
    redis.call('HDEL', P .. 'bytes', q)
  end
end
local function deleteMessage(q, m)
  local f = fetch(q, m)
  remove(q, m, f.id, sizeOf(f))
end
-- `attempts`: the leases it had.
local function moveToDead(q, m, f, attempts, err)
  local dead = q .. DEAD
  local older = redis.call('HGET', kq(dead, 'ids'), f.id)
  if older then deleteMessage(dead, older) end
  remove(q, m, f.id, sizeOf(f))
  append(dead, f, now, now, {'att', attempts, 'src', q, 'err', err, 'dead', now})
end
-- Delayed messages that are due join the stream in the order they became due, and before
-- any later send: so the stream's order is the order messages became visible.
local function moveDue(q)
  for _, d in ipairs(redis.call('ZRANGEBYSCORE', kq(q, 'delayed'), '-inf', now)) do
    local f = fetch(q, d)
    remove(q, d, f.id, sizeOf(f))
    append(q, f, f.vis, f.enq)
  end
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
  redis.call('XADD', kt(t, 'stream'), seq .. '-0', 'id', u.id, 'hdr', u.hdr, 'body', u.body, 'at', now)
  redis.call('HSET', kt(t, 'log-ids'), u.id, seq)
  redis.call('SADD', P .. 'logged-topics', t)
  -- The count bound holds at every commit; the age bound is the sweep's.
  local cut = seq - u.log
  if cut >= 1 then
    for _, e in ipairs(redis.call('XRANGE', kt(t, 'stream'), '-', cut .. '-0')) do
      redis.call('HDEL', kt(t, 'log-ids'), fields(e[2]).id)
    end
    redis.call('XTRIM', kt(t, 'stream'), 'MINID', (cut + 1) .. '-0')
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
        moveDue(t.q)
        swept[t.q] = true
      end
      if not t.dup then
        local f = {id = u.id, body = u.body, hdr = u.hdr, enq = now}
        if u.delay > 0 then delay(t.q, f, now + u.delay) else append(t.q, f, now, now) end
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

-- The earliest score in q's sorted sets `which` (math.huge for none).
local function earliest(q, which)
  local first = math.huge
  for _, what in ipairs(which) do
    local head = redis.call('ZRANGE', kq(q, what), 0, 0, 'WITHSCORES')
    if head[2] then first = math.min(first, tonumber(head[2])) end
  end
  return first
end
-- Ready counts what a lease would take now: never delivered, expired leases, due retries
-- and due delayed sends.
local function counts(q)
  local total = messagesIn(q)
  local leased = redis.call('ZCOUNT', kq(q, 'leased'), '(' .. now, '+inf')
  local later = redis.call('ZCOUNT', kq(q, 'waiting'), '(' .. now, '+inf') +
                redis.call('ZCOUNT', kq(q, 'delayed'), '(' .. now, '+inf')
  return {q, total, total - leased - later, leased, later}
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
  local q, consumer, max, visibility, maxAttempts, maxAge, maxDead = arg(), arg(), num(), num(), num(), num(), num()
  local stream = kq(q, 'stream')
  -- Dead letters of a dead-letter queue have nowhere to go: there, limits do not apply.
  local canDead = not isDead(q)
  local out, dead = {}, 0
  -- `prior`: the leases it had before this one.
  local function take(m, f, prior)
    local why = nil
    if canDead and maxAge > 0 and now - tonumber(f.enq) > maxAge then
      why = 'expired'
    elseif canDead and maxAttempts > 0 and prior >= maxAttempts then
      why = 'leased ' .. prior .. ' times without success (max_attempts ' .. maxAttempts .. ')'
      if f.err and f.err ~= '' then why = why .. '; last error: ' .. f.err end
    end
    if why then
      moveToDead(q, m, f, prior, why)
      dead = dead + 1
      return
    end
    local token = tostring(redis.call('INCR', P .. 'lease'))
    redis.call('HSET', kq(q, 'tok'), m, token)
    redis.call('ZADD', kq(q, 'leased'), now + visibility, m)
    redis.call('ZREM', kq(q, 'waiting'), m)
    park(stream, consumer, m, now + visibility)
    out[#out + 1] = {f.id, f.body, f.hdr, prior + 1, tonumber(f.enq), token}
  end
  local function more() return #out < max and dead < maxDead and redis.call('EXISTS', stream) == 1 end
  moveDue(q)
  -- First the pending entries visible again (expired leases, due retries), which XAUTOCLAIM
  -- hands over counting one more delivery...
  if earliest(q, {'leased', 'waiting'}) <= now and more() then
    local idle, cursor = minIdle(), '0-0'
    repeat
      local claimed = redis.call('XAUTOCLAIM', stream, GROUP, consumer, idle, cursor, 'COUNT', max - #out)
      cursor = claimed[1]
      for _, e in ipairs(claimed[2]) do
        local f = withRetryError(q, e[1], fields(e[2]))
        local _, deliveries = pendingOf(q, e[1])
        take(e[1], f, (tonumber(f.att) or 0) + deliveries - 1)
      end
    until cursor == '0-0' or not more()
  end
  -- ...then what the group never handed out, in stream order.
  while more() do
    local wanted = max - #out
    local read = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', wanted, 'STREAMS', stream, '>')
    if not read then break end
    local entries = read[1][2]
    for _, e in ipairs(entries) do
      local f = fields(e[2])
      take(e[1], f, tonumber(f.att) or 0)
    end
    if #entries < wanted then break end
  end
  return {out, dead}

elseif op == 'settle' then
  if not checkTopics(arg()) then return {'STALE'} end
  local window = num()
  local settlements, statuses, settled, stale = {}, {}, {}, false
  for i = 1, num() do
    local s = {q = arg(), id = arg(), token = arg(), action = arg(), delay = num(), err = arg()}
    local m = redis.call('HGET', kq(s.q, 'ids'), s.id)
    -- A lease that expired but was not taken again still holds its token: nobody else has
    -- the message, so its settlement is accepted.
    if m and not settled[s.q .. '\n' .. m] and redis.call('HGET', kq(s.q, 'tok'), m) == s.token then
      s.m = m
      s.f = fetch(s.q, m)
      settled[s.q .. '\n' .. m] = true
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
      freed[s.q] = (freed[s.q] or 0) + sizeOf(s.f)
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
      remove(s.q, s.m, s.id, sizeOf(s.f))
    elseif s.action == 'retry' then
      -- It stays on the pending list, due again at now + delay; the lease's token goes.
      redis.call('HDEL', kq(s.q, 'tok'), s.m)
      redis.call('ZREM', kq(s.q, 'leased'), s.m)
      redis.call('ZADD', kq(s.q, 'waiting'), now + s.delay, s.m)
      if s.err ~= '' then redis.call('HSET', kq(s.q, 'err'), s.m, s.err) end
      park(kq(s.q, 'stream'), pendingOf(s.q, s.m), s.m, now + s.delay)
    else
      local _, deliveries = pendingOf(s.q, s.m)
      moveToDead(s.q, s.m, s.f, (tonumber(s.f.att) or 0) + deliveries, s.err)
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

elseif op == 'env-set' then
  -- ARGV: app, its variables (a JSON object). Every host takes them at its next look.
  local app, env = arg(), arg()
  redis.call('HSET', P .. 'app-env', app, env)
  return redis.call('INCR', P .. 'apps-revision')

elseif op == 'apps-read' then
  -- What every host is to serve, and the apps' variables, as of one revision.
  return {redis.call('HGETALL', P .. 'apps'), redis.call('HGETALL', P .. 'app-env')}

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
  -- In lease order: pending entries by when they are visible again, never-delivered ones in
  -- stream order, delayed sends by when they are due; by visible time across the three.
  local q, max = arg(), num()
  local rows = {}
  local function add(m, f, vis, attempts, leased)
    rows[#rows + 1] = {#rows, vis, {f.id, f.body, f.hdr, attempts, tonumber(f.enq), vis, leased and 1 or 0,
                                     f.err or '', f.src or '', tonumber(f.dead or '-1')}}
  end
  for _, which in ipairs({'leased', 'waiting'}) do
    local scored = redis.call('ZRANGE', kq(q, which), 0, max - 1, 'WITHSCORES')
    for i = 1, #scored, 2 do
      local f = fetch(q, scored[i])
      local _, deliveries = pendingOf(q, scored[i])
      add(scored[i], f, tonumber(scored[i + 1]), (tonumber(f.att) or 0) + deliveries, which == 'leased')
    end
  end
  if redis.call('EXISTS', kq(q, 'stream')) == 1 then
    for _, e in ipairs(redis.call('XRANGE', kq(q, 'stream'), '(' .. lastDelivered(q), '+', 'COUNT', max)) do
      local f = fields(e[2])
      add(e[1], f, tonumber(f.vis), tonumber(f.att) or 0, false)
    end
  end
  local scored = redis.call('ZRANGE', kq(q, 'delayed'), 0, max - 1, 'WITHSCORES')
  for i = 1, #scored, 2 do add(scored[i], fetch(q, scored[i]), tonumber(scored[i + 1]), 0, false) end
  table.sort(rows, function(x, y) if x[2] ~= y[2] then return x[2] < y[2] end return x[1] < y[1] end)
  local out = {}
  for i = 1, math.min(max, #rows) do out[i] = rows[i][3] end
  return out

elseif op == 'redrive' then
  local dead = arg()
  local moved = 0
  if redis.call('EXISTS', kq(dead, 'stream')) == 0 then return 0 end
  for _, e in ipairs(redis.call('XRANGE', kq(dead, 'stream'), '-', '+')) do
    local f = fields(e[2])
    -- A message whose id is in the source queue again stays dead.
    if f.src and not queued(f.src, f.id) then
      remove(dead, e[1], f.id, sizeOf(f))
      f.enq = now
      append(f.src, f, now, now)
      moved = moved + 1
    end
  end
  return moved

elseif op == 'purge' then
  local q = arg()
  local n = messagesIn(q)
  for _, d in ipairs(redis.call('ZRANGE', kq(q, 'delayed'), 0, -1)) do redis.call('DEL', P .. d) end
  redis.call('DEL', kq(q, 'stream'), kq(q, 'leased'), kq(q, 'waiting'), kq(q, 'tok'), kq(q, 'err'),
             kq(q, 'delayed'), kq(q, 'age'), kq(q, 'ids'))
  redis.call('SREM', P .. 'queues', q)
  redis.call('HDEL', P .. 'bytes', q)
  return n

elseif op == 'next-visible' then
  local q = arg()
  local first = earliest(q, {'leased', 'waiting', 'delayed'})
  if redis.call('EXISTS', kq(q, 'stream')) == 1 then
    local e = redis.call('XRANGE', kq(q, 'stream'), '(' .. lastDelivered(q), '+', 'COUNT', 1)
    if #e > 0 then first = math.min(first, tonumber(fields(e[1][2]).vis)) end
  end
  if first == math.huge then return false end
  return first

elseif op == 'sweep' then
  -- ARGV: default retention, default dead-letter retention, then (queue retention dead)*.
  local keep = {['\0'] = {num(), num()}}
  while ARGV[at] do keep[arg()] = {num(), num()} end
  for _, q in ipairs(redis.call('SMEMBERS', P .. 'dedupe-queues')) do
    redis.call('ZREMRANGEBYSCORE', kq(q, 'dedupe'), '-inf', now)
    if redis.call('EXISTS', kq(q, 'dedupe')) == 0 then redis.call('SREM', P .. 'dedupe-queues', q) end
  end
  -- A host that left (no longer in hosts-seen: see host-beat) leaves its consumer in every
  -- group it read; hosts that restart under new names (pods) would add one per queue for
  -- good. Its consumer goes once it holds nothing: XAUTOCLAIM has moved its leases to
  -- others, and dropping a consumer with no pending entries loses nothing.
  local live = {}
  for _, h in ipairs(redis.call('ZRANGE', P .. 'hosts-seen', 0, -1)) do live[h] = true end
  local deleted = 0
  for _, q in ipairs(redis.call('SMEMBERS', P .. 'queues')) do
    local stream = kq(q, 'stream')
    if redis.call('EXISTS', stream) == 1 then
      for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', stream, GROUP)) do
        local info = fields(c)
        if info.pending == 0 and not live[info.name] then redis.call('XGROUP', 'DELCONSUMER', stream, GROUP, info.name) end
      end
    end
    local dead = isDead(q)
    local source = dead and string.sub(q, 1, #q - #DEAD) or q
    local k = keep[source] or keep['\0']
    -- A dead letter's clock starts when it died; a message's when it was sent.
    local cutoff = now - (dead and k[2] or k[1])
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', kq(q, 'age'), '-inf', '(' .. cutoff)) do
      deleteMessage(q, m)
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
      local first = redis.call('XRANGE', kt(t, 'stream'), '-', '+', 'COUNT', 100)
      if #first == 0 then
        redis.call('DEL', kt(t, 'stream'))
        redis.call('SREM', P .. 'logged-topics', t)
        break
      end
      local stop = false
      for _, e in ipairs(first) do
        local f = fields(e[2])
        if cutoff and tonumber(f.at) >= cutoff then stop = true break end
        redis.call('HDEL', kt(t, 'log-ids'), f.id)
        redis.call('XDEL', kt(t, 'stream'), e[1])
      end
      if stop then break end
    end
  end
  return 0

elseif op == 'events' then
  local t, after, limit = arg(), arg(), num()
  local out = {}
  for _, e in ipairs(redis.call('XRANGE', kt(t, 'stream'), '(' .. after .. '-0', '+', 'COUNT', limit)) do
    local f = fields(e[2])
    out[#out + 1] = {tonumber(string.match(e[1], '^%d+')), f.hdr, f.body}
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
