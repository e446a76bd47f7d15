--[[
  Appends orders to the orders stream while the sender's rate budget allows (fixed window).

  Input:
    KEYS[1] rate counter of the sender (sim:{S}:rate:<name>)
    KEYS[2] orders stream (sim:{S}:orders)
    ARGV[1] orders allowed per window
    ARGV[2] window length, ms
    ARGV[3] most entries the orders stream may hold
    ARGV[4] number of orders; then, per order, its field count and its fields
            (as shared/streams.ts lays them out)

  Output:
    {1, id, ...}      appended, with the stream ids in order
    {0, ms}           over the rate limit; ms left in the window
    {2}               the stream is full (nobody consumes it: memory stays bounded, I6)
]]
local cost = tonumber(ARGV[4])
if redis.call('XLEN', KEYS[2]) + cost > tonumber(ARGV[3]) then
  return {2}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + cost > tonumber(ARGV[1]) then
  return {0, tostring(redis.call('PTTL', KEYS[1]))}
end
redis.call('INCRBY', KEYS[1], cost)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local out = {1}
local i = 5
for _ = 1, cost do
  local n = tonumber(ARGV[i])
  out[#out + 1] = redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return out
