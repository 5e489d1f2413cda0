/**
 * auth's scripts (here, beside the other Lua, so the slot test runs them; every one takes one key).
 *
 * Failed-verification counters, one key per script (Redis Cluster: one slot per call).
 *
 * CHECK_AND_COUNT: KEYS[1] the counter, ARGV[1] its limit, ARGV[2] the window in ms. Refuses
 * (returns the ms until the window ends) when the counter already reached the limit; otherwise
 * counts this attempt and returns 0. Atomic: N concurrent attempts let exactly `limit` through.
 */
export const CHECK_AND_COUNT_LUA = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return ttl
end
redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** REFUND: KEYS[1] the counter. An attempt counted before its lookup that proved its secret. */
export const REFUND_LUA = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end
return 0
`;

/** A cached API key's marker for "no such key" (the negative cache). */
export const ABSENT_KEY = '-';

/** READ_KEY: KEYS[1] a cached key, ARGV[1] its TTL in seconds: reads it and renews a present one. */
export const READ_KEY_LUA = `
local value = redis.call('GET', KEYS[1])
if value and value ~= '${ABSENT_KEY}' then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return value
`;
