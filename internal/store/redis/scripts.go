package redis

import goredis "github.com/redis/go-redis/v9"

// The scripts make every multi-key operation atomic. All keys of one call
// share one hash tag, so they also run on Redis Cluster. Numbers that may
// exceed 14 digits are formatted with %.0f: Lua hands redis.call its
// numbers as %.14g strings otherwise. Times are Unix milliseconds.

// Session hash fields: user, agent, state, ver, count, stext, supto, sver,
// facts ("" for none), created, updated, expires.

// KEYS meta turns ids; ARGV user agent state stext sver facts now ttl
var createScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'agent', ARGV[2], 'state', ARGV[3], 'ver', 1, 'count', 0,
  'stext', ARGV[4], 'supto', 0, 'sver', ARGV[5], 'facts', ARGV[6],
  'created', ARGV[7], 'updated', ARGV[7], 'expires', string.format('%.0f', ARGV[7] + ARGV[8]))
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return 1
`)

// KEYS meta turns; ARGV after max. Returns false, or {fields, first, turns}.
var loadScript = goredis.NewScript(`
local m = redis.call('HMGET', KEYS[1], 'user', 'agent', 'state', 'ver', 'count', 'stext', 'supto', 'sver',
  'facts', 'created', 'updated', 'expires')
if not m[4] then return false end
local count = tonumber(m[5])
local after = tonumber(ARGV[1])
if after < 0 then after = tonumber(m[7]) end
if after >= count then return {m, 0, {}} end
local first = after + 1
local max = tonumber(ARGV[2])
if max > 0 and count - first + 1 > max then first = count - max + 1 end
return {m, first, redis.call('LRANGE', KEYS[2], first - 1, count - 1)}
`)

// KEYS meta turns ids fence; ARGV turnID token blob agent now ttl.
// Returns {-1} not found, {-2} lease lost, or {0, seq, version}.
var appendScript = goredis.NewScript(`
local ver = redis.call('HGET', KEYS[1], 'ver')
if not ver then return {-1} end
local dup = redis.call('HGET', KEYS[3], ARGV[1])
if dup then return {0, tonumber(dup), tonumber(ver)} end
if redis.call('GET', KEYS[4]) ~= ARGV[2] then return {-2} end
local seq = redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], seq)
ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('HSET', KEYS[1], 'count', seq, 'updated', ARGV[5], 'expires', string.format('%.0f', ARGV[5] + ARGV[6]))
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'agent', ARGV[4]) end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return {0, seq, ver}
`)

// KEYS meta turns ids fence; ARGV expect text upto facts hasFacts now ttl.
// Returns {-1} not found, {-3} beyond the last turn, {-4} conflict, or
// {0, summaryVersion}.
var summaryScript = goredis.NewScript(`
local m = redis.call('HMGET', KEYS[1], 'ver', 'count', 'sver')
if not m[1] then return {-1} end
local upto = tonumber(ARGV[3])
if upto < 0 or upto > tonumber(m[2]) then return {-3} end
if tonumber(m[3]) ~= tonumber(ARGV[1]) then return {-4} end
local sv = tonumber(ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'stext', ARGV[2], 'supto', upto, 'sver', sv, 'updated', ARGV[6],
  'expires', string.format('%.0f', ARGV[6] + ARGV[7]))
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'facts', ARGV[4]) end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
return {0, sv}
`)

// KEYS meta turns ids fence; ARGV token agent state now ttl.
// Returns {-1} not found, {-2} lease lost, or {0, version}.
var stateScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return {-2} end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'agent', ARGV[2]) end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'updated', ARGV[4], 'expires', string.format('%.0f', ARGV[4] + ARGV[5]))
local ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
return {0, ver}
`)

// dropDeadHead removes waiters at the queue's head whose deadline passed
// (their process stopped polling) and leaves the live head in head.
// Needs now; KEYS[3] is the queue, KEYS[4] the deadlines.
const dropDeadHead = `
local head = redis.call('LINDEX', KEYS[3], 0)
while head do
  local d = redis.call('HGET', KEYS[4], head)
  if d and tonumber(d) >= now then break end
  redis.call('LPOP', KEYS[3])
  redis.call('HDEL', KEYS[4], head)
  head = redis.call('LINDEX', KEYS[3], 0)
end
`

const clock = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// KEYS meta turns ids fence lock queue deadlines; ARGV channel.
// Returns 0 when the session does not exist.
var deleteScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local head = redis.call('LINDEX', KEYS[6], 0)
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
if head then redis.call('PUBLISH', ARGV[1], head) end
return 1
`)

// KEYS lock fence queue deadlines; ARGV waiter ttl live fenceTTL.
// Returns {1, token} granted or {0, lock pttl} queued. A token is above the
// fence and at least the clock in microseconds (backend.NextToken), so no
// token is handed out twice even after the fence key was lost (a deleted
// session, a restart that lost the last writes).
var acquireScript = goredis.NewScript(clock + dropDeadHead + `
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -2 and (not head or head == ARGV[1]) then
  if head then
    redis.call('LPOP', KEYS[3])
    redis.call('HDEL', KEYS[4], head)
  end
  local tok = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
  tok = string.format('%.0f', tok)
  redis.call('SET', KEYS[2], tok, 'PX', ARGV[4])
  redis.call('SET', KEYS[1], tok, 'PX', ARGV[2])
  return {1, tok}
end
if not redis.call('HGET', KEYS[4], ARGV[1]) then redis.call('RPUSH', KEYS[3], ARGV[1]) end
redis.call('HSET', KEYS[4], ARGV[1], string.format('%.0f', now + ARGV[3]))
redis.call('PEXPIRE', KEYS[3], 2 * ARGV[3])
redis.call('PEXPIRE', KEYS[4], 2 * ARGV[3])
return {0, pttl}
`)

// KEYS lock fence queue deadlines; ARGV token channel. Raising the fence
// makes the released token stale. Returns the waiter woken, or "".
var releaseScript = goredis.NewScript(clock + `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return '' end
redis.call('INCR', KEYS[2])
redis.call('DEL', KEYS[1])
` + dropDeadHead + `
if head then
  redis.call('PUBLISH', ARGV[2], head)
  return head
end
return ''
`)

// KEYS lock fence queue deadlines; ARGV waiter channel. Returns the waiter
// woken, or "".
var leaveScript = goredis.NewScript(clock + `
redis.call('LREM', KEYS[3], 0, ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then return '' end
` + dropDeadHead + `
if head then
  redis.call('PUBLISH', ARGV[2], head)
  return head
end
return ''
`)

// KEYS lock fence; ARGV token ttl. Returns 1 renewed, 0 lost.
var renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// KEYS user; ARGV expect data now ttl. Returns the new version, or -1.
var putUserScript = goredis.NewScript(`
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
v = v + 1
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'version', v, 'updated', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return v
`)
