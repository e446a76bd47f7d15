--[[
  Appends orders to the orders stream of an existing simulation while the sender's rate budget
  allows (fixed window), at most once per Idempotency-Key, for a sender the API knows or whose
  scoped token this simulation issued.

  Input:
    KEYS[1] rate counter of the sender (sim:{S}:rate:<name>)
    KEYS[2] orders stream (sim:{S}:orders)
    KEYS[3] the sender's record of its Idempotency-Key (sim:{S}:idem:<name>:<key>); untouched
            when ARGV[4] is 0 (no key: the caller passes any key of the same slot)
    KEYS[4] the simulation's registry record (sim:{S}:meta): without it the simulation does
            not exist (deleted, or never created) and nothing is written, so a late order
            cannot bring a deleted simulation's keys back
    KEYS[5] the simulation's scoped tokens (sim:{S}:tokens): SHA-256 hex -> faction id
    ARGV[1] orders allowed per window
    ARGV[2] window length, ms
    ARGV[3] most entries the orders stream may hold
    ARGV[4] how long the key's record lives, ms (0: the request has no Idempotency-Key)
    ARGV[5] fingerprint of the request (what a repeat must match; no spaces)
    ARGV[6] 1: KEYS[4] must exist; 0: the default simulation, which exists by configuration
    ARGV[7] '' when the API knows the sender (API_TOKENS); else the SHA-256 hex of a token
            that must be one of KEYS[5], for the faction ARGV[8]
    ARGV[8] the faction the orders act for (with ARGV[7])
    ARGV[9] number of orders; then, per order, its field count and its fields
            (as shared/streams.ts lays them out)

  Output:
    {1, id, ...}      appended, with the stream ids in order
    {3, id, ...}      the key was used for this same request before: nothing appended, these
                      are the ids it queued (a replay counts against neither budget nor cap)
    {4}               the key was used for a different request: nothing appended
    {0, ms}           over the rate limit; ms left in the window
    {2}               the stream is full (nobody consumes it: memory stays bounded, I6)
    {5}               the simulation does not exist
    {6}               the token is not one of this simulation's
    {7, faction}      the token is this simulation's, but for another faction than ARGV[8]

  The record is "<fingerprint> <id> <id> ...", written with the append and only then, so a
  refused request leaves the key free for its retry. A replay writes it again unchanged, so
  that a WAIT after it covers the original append (see REDIS_DURABILITY).
]]
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[4]) == 0 then return {5} end
if ARGV[7] ~= '' then
  local faction = redis.call('HGET', KEYS[5], ARGV[7])
  if not faction then return {6} end
  if faction ~= ARGV[8] then return {7, faction} end
end
local keyed = ARGV[4] ~= '0'
if keyed then
  local record = redis.call('GET', KEYS[3])
  if record then
    local space = string.find(record, ' ', 1, true)
    if string.sub(record, 1, space - 1) ~= ARGV[5] then return {4} end
    -- Written again, unchanged (same value, same expiry): a write the caller's WAIT/WAITAOF
    -- then waits for, and with it for the original append, which came before it. Without it,
    -- a replay on a fresh connection (no write of its own yet) would WAIT for nothing.
    redis.call('SET', KEYS[3], record, 'KEEPTTL')
    local out = {3}
    for id in string.gmatch(string.sub(record, space + 1), '%S+') do out[#out + 1] = id end
    return out
  end
end
local cost = tonumber(ARGV[9])
if redis.call('XLEN', KEYS[2]) + cost > tonumber(ARGV[3]) then
  return {2}
end
-- The window's counter: created with its expiry by the window's first order (so no PTTL
-- check per call), counted up by the others.
local used = redis.call('GET', KEYS[1])
if used then
  if tonumber(used) + cost > tonumber(ARGV[1]) then
    return {0, tostring(redis.call('PTTL', KEYS[1]))}
  end
  redis.call('INCRBY', KEYS[1], cost)
elseif cost > tonumber(ARGV[1]) then
  return {0, ARGV[2]}
else
  redis.call('SET', KEYS[1], cost, 'PX', ARGV[2])
end
local out = {1}
local i = 10
for _ = 1, cost do
  local n = tonumber(ARGV[i])
  out[#out + 1] = redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
if keyed then
  redis.call('SET', KEYS[3], ARGV[5] .. ' ' .. table.concat(out, ' ', 2), 'PX', ARGV[4])
end
return out
