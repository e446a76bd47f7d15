--[[
  Appends the orders of several requests to one simulation's orders stream, deciding each
  request as appendOrdersWithinRate did alone, one after the other in the order given: each
  while its sender's rate budget allows (fixed window), at most once per Idempotency-Key, for a
  sender the API knows or whose scoped token this simulation issued. A refused request writes
  nothing; the ones after it are decided on what the ones before them wrote. One call for
  requests that arrived together costs Redis one command and one script run instead of one per
  request (api/rate-limited-append.ts).

  Input (numkeys: 3, and 2 more per request):
    KEYS[1] orders stream (sim:{S}:orders)
    KEYS[2] the simulation's registry record (sim:{S}:meta): without it the simulation does
            not exist (deleted, or never created) and nothing is written, so a late order
            cannot bring a deleted simulation's keys back
    KEYS[3] the simulation's scoped tokens (sim:{S}:tokens): SHA-256 hex -> faction id
    then per request r (1-based), at KEYS[2 + 2r] and KEYS[3 + 2r]:
      the sender's rate counter (sim:{S}:rate:<name>)
      the sender's record of its Idempotency-Key (sim:{S}:idem:<name>:<key>); untouched when
      the request has no key (the caller passes its rate counter again)
    ARGV[1] orders allowed per window
    ARGV[2] window length, ms
    ARGV[3] most entries the orders stream may hold
    ARGV[4] number of requests
    then per request:
      how long its key's record lives, ms (0: the request has no Idempotency-Key)
      fingerprint of the request (what a repeat must match; no spaces)
      1: KEYS[2] must exist; 0: the default simulation, which exists by configuration
      '' when the API knows the sender (API_TOKENS); else the SHA-256 hex of a token that must
        be one of KEYS[3], for the faction named next
      the sender: token name, or the faction the orders act for (with a scoped token)
      number of orders; then, per order, its field count and its fields
        (as shared/streams.ts lays them out)

  Output: one reply per request, in order:
    {1, id, ...}      appended, with the stream ids in order
    {3, id, ...}      the key was used for this same request before: nothing appended, these
                      are the ids it queued (a replay counts against neither budget nor cap)
    {4}               the key was used for a different request: nothing appended
    {0, ms}           over the rate limit; ms left in the window
    {2}               the stream is full (nobody consumes it: memory stays bounded, I6)
    {5}               the simulation does not exist
    {6}               the token is not one of this simulation's
    {7, faction}      the token is this simulation's, but for another faction than the sender

  A key's record is "<fingerprint> <id> <id> ...", written with the append and only then, so
  a refused request leaves the key free for its retry. A replay writes it again unchanged, so
  that a WAIT after it covers the original append (see REDIS_DURABILITY).
  The stream's length, the rate counters and the scoped tokens are read once per call and
  kept here as the requests use them (the script is atomic: nothing else writes meanwhile);
  the counters are written once, at the end, with what the accepted requests used.
]]
local n = tonumber(ARGV[4])
local limit = tonumber(ARGV[1])
local maxQueued = tonumber(ARGV[3])
local queued = redis.call('XLEN', KEYS[1])

-- Rate counters by key: `used` what the window holds now (false: no window open), `stored`
-- what the key held when first read here.
local used, stored = {}, {}
local function windowUsed(key)
  local u = used[key]
  if u == nil then
    local v = redis.call('GET', key)
    u = v and tonumber(v) or false
    used[key], stored[key] = u, u
  end
  return u
end

-- Whether the simulation exists, once asked.
local exists = nil
local function simExists()
  if exists == nil then exists = redis.call('EXISTS', KEYS[2]) == 1 end
  return exists
end

-- Scoped tokens by digest: the faction, or false for none of this simulation's.
local factions = {}
local function factionOf(digest)
  local f = factions[digest]
  if f == nil then
    f = redis.call('HGET', KEYS[3], digest) or false
    factions[digest] = f
  end
  return f
end

-- Decides request r, whose orders start at ARGV[first] (the first order's field count).
local function decide(rateKey, idemKey, ttl, fingerprint, requireSim, digest, by, cost, first)
  if requireSim == '1' and not simExists() then return {5} end
  if digest ~= '' then
    local faction = factionOf(digest)
    if not faction then return {6} end
    if faction ~= by then return {7, faction} end
  end
  local keyed = ttl ~= '0'
  if keyed then
    local record = redis.call('GET', idemKey)
    if record then
      local space = string.find(record, ' ', 1, true)
      if string.sub(record, 1, space - 1) ~= fingerprint then return {4} end
      -- Written again, unchanged (same value, same expiry): a write the caller's WAIT/WAITAOF
      -- then waits for, and with it for the original append, which came before it. Without it,
      -- a replay on a fresh connection (no write of its own yet) would WAIT for nothing.
      redis.call('SET', idemKey, record, 'KEEPTTL')
      local replay = {3}
      for id in string.gmatch(string.sub(record, space + 1), '%S+') do replay[#replay + 1] = id end
      return replay
    end
  end
  if queued + cost > maxQueued then return {2} end
  local u = windowUsed(rateKey)
  if u then
    if u + cost > limit then
      -- a window opened by this call is not written yet: all of it is left
      if stored[rateKey] == false then return {0, ARGV[2]} end
      return {0, tostring(redis.call('PTTL', rateKey))}
    end
    used[rateKey] = u + cost
  elseif cost > limit then
    return {0, ARGV[2]}
  else
    used[rateKey] = cost
  end
  queued = queued + cost
  local ids = {1}
  local i = first
  for _ = 1, cost do
    local fields = tonumber(ARGV[i])
    ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 1, i + fields))
    i = i + fields + 1
  end
  if keyed then
    redis.call('SET', idemKey, fingerprint .. ' ' .. table.concat(ids, ' ', 2), 'PX', ttl)
  end
  return ids
end

local out = {}
local a = 5
for r = 1, n do
  local cost = tonumber(ARGV[a + 5])
  local first = a + 6
  out[r] = decide(KEYS[2 + 2 * r], KEYS[3 + 2 * r], ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], cost, first)
  a = first
  for _ = 1, cost do a = a + tonumber(ARGV[a]) + 1 end
end

-- The windows' counters: a window opened here is created with its expiry (so no PTTL check
-- per call); one already open is counted up by what this call's requests used of it.
for key, u in pairs(used) do
  local before = stored[key]
  if before == false then
    if u then redis.call('SET', key, u, 'PX', ARGV[2]) end
  elseif u ~= before then
    redis.call('INCRBY', key, u - before)
  end
end
return out
