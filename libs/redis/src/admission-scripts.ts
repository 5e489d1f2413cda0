/**
 * The Lua side of admission. Every script touches the keys of ONE organization (all carry the
 * `{orgId}` hash tag), so each runs atomically on one Redis Cluster slot.
 *
 * Numbers: Lua 5.1 has doubles only. Every quantity here is an integer below 2^53 (sandbox-ms,
 * milli-credits, microseconds since the epoch), where doubles are exact. Numbers are turned back
 * into strings with string.format('%d') before they reach Redis or the caller, because Lua's
 * default number-to-string conversion (%.14g) would round values such as 1.7e15 µs.
 */

/**
 * Shared by the scripts that drop a provisional hold: keeps the totals and the create set in step.
 * P: the org's provisional keys {hash, exp, creates, total, agent, agent_total} (sandbox-ms holds
 * of creates and extends in \`hash\`, milli-credit holds of agent runs in \`agent\`; one expiry set).
 * Returns the sandbox-ms and the milli-credits released (false when none).
 */
const DROP_HOLD = `
local function drop_hold(P, id)
  local amount = redis.call('HGET', P.hash, id)
  if amount then
    redis.call('HDEL', P.hash, id)
    redis.call('DECRBY', P.total, amount)
  end
  local credits = redis.call('HGET', P.agent, id)
  if credits then
    redis.call('HDEL', P.agent, id)
    redis.call('DECRBY', P.agent_total, credits)
  end
  redis.call('ZREM', P.exp, id)
  redis.call('SREM', P.creates, id)
  return amount, credits
end
`;

/**
 * Writes a balance snapshot if it is newer than what Redis holds: a higher version, or the same
 * version computed at the same instant or later (time alone changed it: a package became active
 * or expired, a hold ran out, and its validity moves on), then settles (drops) the provisional
 * holds that the snapshot's durable holds and debits now cover.
 * KEYS: balance, provisional, provisional:exp, provisional:creates, provisional:total,
 *       provisional:agent, provisional:agent:total
 * ARGV: version, sandbox_ms, agent_mc, held_ms, running, valid_until (epoch ms, 0: never),
 *       as_of (epoch ms), agent_debt_mc, overdraft_mc, settled admission ids...
 */
export const APPLY_SNAPSHOT_LUA = `${DROP_HOLD}
local P = {hash = KEYS[2], exp = KEYS[3], creates = KEYS[4], total = KEYS[5], agent = KEYS[6], agent_total = KEYS[7]}
local written = 0
local current = redis.call('HMGET', KEYS[1], 'version', 'as_of')
local version, as_of = tonumber(ARGV[1]), tonumber(ARGV[7])
local held = tonumber(current[1] or '-1')
if held < version or (held == version and tonumber(current[2] or '0') <= as_of) then
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'sandbox_ms', ARGV[2], 'agent_mc', ARGV[3],
    'held_ms', ARGV[4], 'running', ARGV[5], 'valid_until', ARGV[6], 'as_of', ARGV[7],
    'agent_debt_mc', ARGV[8], 'overdraft_mc', ARGV[9])
  written = 1
end
for i = 10, #ARGV do
  drop_hold(P, ARGV[i])
end
return written
`;

/**
 * One admission decision, atomically.
 * KEYS: 1 balance, 2 provisional, 3 provisional:exp, 4 provisional:creates, 5 provisional:total,
 *       6 admission record, 7 org rate (GCRA TAT), 8 key rate (GCRA TAT), 9 provisional:agent,
 *       10 provisional:agent:total, 11 the created sandbox's record (sandbox:<id>)
 * ARGV: 1 admission id, 2 kind (create | extend | agent | none), 3 request fingerprint,
 *       4 reserve (sandbox-ms), 5 hold TTL ms, 6 record TTL ms, 7 plan tier, 8 required tier,
 *       9 concurrent limit (-1: none), 10 agent reserve (milli-credits: agent.run's fixed cost),
 *       11 org emission interval µs (0: unlimited), 12 org burst tolerance µs,
 *       13 key emission interval µs (0: unlimited), 14 key burst tolerance µs,
 *       15 how many expired holds to purge at most, 16 the created sandbox's shape|price ('' when
 *       none): kept for the hold TTL, so an extend before metering's durable hold is priced by it
 * Only metered admissions (create, extend, agent) leave a record for replays. A metered admission
 * answers MISS when the balance is not cached or its snapshot is past its valid_until (a package
 * became active or expired, a hold ran out since): the caller reloads it from PostgreSQL.
 * Replies (first element is the outcome):
 *   ADMIT reserved expiresAtMs replay(0|1) | MISS | CONFLICT | RELEASED
 *   RATE_LIMITED waitMs scope | PLAN_TIER_TOO_LOW | CONCURRENT_SANDBOX_LIMIT running provisional limit
 *   INSUFFICIENT_SANDBOX_HOURS availableMs | INSUFFICIENT_AGENT_CREDITS availableMc
 * agent.run reserves its fixed cost like a sandbox hold (provisional:agent), so concurrent runs
 * cannot take the same last credit: available = agent_mc + what is left of the overdraft limit
 * (overdraft_mc - agent_debt_mc, the outstanding agent overage; never below 0) - provisional agent
 * holds. Overage is owed once: it uses up the overdraft, never the credits of a later package.
 * Time is Redis's own (TIME), so every quota instance shares one clock.
 */
export const ADMIT_LUA = `${DROP_HOLD}
local function int(n) return string.format('%d', n) end
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_ms = math.floor(now_us / 1000)
local id, kind = ARGV[1], ARGV[2]

-- Idempotency: the same admission id answers the same, without a second hold or rate token.
local record = redis.call('GET', KEYS[6])
if record then
  local fp, state, reserved, expires = string.match(record, '^([^:]*):(%a+):(%d+):(%d+)$')
  if state == 'released' then return {'RELEASED'} end
  if fp ~= ARGV[3] then return {'CONFLICT'} end
  return {'ADMIT', reserved, expires, '1'}
end

local metered = kind ~= 'none'
if metered then
  local snapshot = redis.call('HMGET', KEYS[1], 'version', 'valid_until')
  -- No valid_until at all (a snapshot from before it existed): nothing says it is still true.
  if not snapshot[1] or not snapshot[2] then return {'MISS'} end
  local valid_until = tonumber(snapshot[2])
  if valid_until > 0 and valid_until <= now_ms then return {'MISS'} end
end

-- Rate limits (GCRA): both the org's and the key's must allow before either is charged.
local function gcra(key, interval, tolerance)
  if interval <= 0 then return 0, nil end
  local tat = tonumber(redis.call('GET', key) or now_us)
  if tat < now_us then tat = now_us end
  local new_tat = tat + interval
  local allow_at = new_tat - interval - tolerance
  if allow_at > now_us then return allow_at - now_us, nil end
  return 0, new_tat
end
local org_wait, org_tat = gcra(KEYS[7], tonumber(ARGV[11]), tonumber(ARGV[12]))
if org_wait > 0 then return {'RATE_LIMITED', int(math.ceil(org_wait / 1000)), 'organization'} end
local key_wait, key_tat = gcra(KEYS[8], tonumber(ARGV[13]), tonumber(ARGV[14]))
if key_wait > 0 then return {'RATE_LIMITED', int(math.ceil(key_wait / 1000)), 'key'} end
if org_tat then redis.call('SET', KEYS[7], int(org_tat), 'PX', int(math.ceil((org_tat - now_us) / 1000) + 1)) end
if key_tat then redis.call('SET', KEYS[8], int(key_tat), 'PX', int(math.ceil((key_tat - now_us) / 1000) + 1)) end

local reserve = 0
local P = {hash = KEYS[2], exp = KEYS[3], creates = KEYS[4], total = KEYS[5], agent = KEYS[9], agent_total = KEYS[10]}
if kind == 'create' or kind == 'extend' then
  if tonumber(ARGV[7]) < tonumber(ARGV[8]) then return {'PLAN_TIER_TOO_LOW'} end
end
if metered then
  -- Expired provisional holds release themselves before anything is counted.
  local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[15]))
  for _, old in ipairs(expired) do drop_hold(P, old) end
end
if kind == 'create' or kind == 'extend' then
  local b = redis.call('HMGET', KEYS[1], 'sandbox_ms', 'held_ms', 'running')
  if kind == 'create' then
    local limit = tonumber(ARGV[9])
    local running = tonumber(b[3] or '0')
    local pending = redis.call('SCARD', KEYS[4])
    if limit >= 0 and running + pending >= limit then
      return {'CONCURRENT_SANDBOX_LIMIT', int(running), int(pending), int(limit)}
    end
  end
  reserve = tonumber(ARGV[4])
  local available = tonumber(b[1] or '0') - tonumber(b[2] or '0') - tonumber(redis.call('GET', KEYS[5]) or '0')
  if available < reserve then return {'INSUFFICIENT_SANDBOX_HOURS', int(available)} end
elseif kind == 'agent' then
  local b = redis.call('HMGET', KEYS[1], 'agent_mc', 'agent_debt_mc', 'overdraft_mc')
  reserve = tonumber(ARGV[10])
  local headroom = math.max(tonumber(b[3] or '0') - tonumber(b[2] or '0'), 0)
  local available = tonumber(b[1] or '0') + headroom - tonumber(redis.call('GET', KEYS[10]) or '0')
  if available < reserve then return {'INSUFFICIENT_AGENT_CREDITS', int(math.max(available, 0))} end
end

local expires = 0
-- Every create is held, even one that costs nothing (a free shape): it still counts against the
-- concurrency limit until it runs. An agent run holds its fixed cost until metering debits it.
if kind == 'create' or kind == 'extend' then
  expires = now_ms + tonumber(ARGV[5])
  redis.call('HSET', KEYS[2], id, int(reserve))
  redis.call('ZADD', KEYS[3], int(expires), id)
  redis.call('INCRBY', KEYS[5], int(reserve))
  if kind == 'create' then
    redis.call('SADD', KEYS[4], id)
    -- NX: the first create names the sandbox's price; a second create of it cannot re-price its extends.
    if ARGV[16] ~= '' then redis.call('SET', KEYS[11], ARGV[16], 'PX', ARGV[5], 'NX') end
  end
elseif kind == 'agent' then
  expires = now_ms + tonumber(ARGV[5])
  redis.call('HSET', KEYS[9], id, int(reserve))
  redis.call('ZADD', KEYS[3], int(expires), id)
  redis.call('INCRBY', KEYS[10], int(reserve))
end
-- Metered admissions are remembered for replays; a rate-only one has nothing to replay (no hold,
-- no balance read), and at gateway volume its record would be most of Redis's memory.
if metered then
  redis.call('SET', KEYS[6], ARGV[3] .. ':admitted:' .. int(reserve) .. ':' .. int(expires), 'PX', ARGV[6])
end
return {'ADMIT', int(reserve), int(expires), '0'}
`;

/**
 * Releases a provisional hold (the upstream could not start the sandbox or the agent run) and
 * tombstones the admission id, so a late retry of the same admission cannot take a new hold.
 * KEYS: provisional, provisional:exp, provisional:creates, provisional:total, admission record,
 *       provisional:agent, provisional:agent:total
 * ARGV: admission id, record TTL ms
 * Reply: released sandbox-ms ('0' when no provisional hold was left), whether the id was known
 * (1|0), released milli-credits ('0' when no agent hold was left).
 */
export const RELEASE_LUA = `${DROP_HOLD}
local P = {hash = KEYS[1], exp = KEYS[2], creates = KEYS[3], total = KEYS[4], agent = KEYS[6], agent_total = KEYS[7]}
local amount, credits = drop_hold(P, ARGV[1])
local record = redis.call('GET', KEYS[5])
local known = 0
if record then
  known = 1
  local fp, state, reserved, expires = string.match(record, '^([^:]*):(%a+):(%d+):(%d+)$')
  if state ~= 'released' then
    redis.call('SET', KEYS[5], (fp or '') .. ':released:' .. (reserved or '0') .. ':' .. (expires or '0'), 'KEEPTTL')
  end
else
  redis.call('SET', KEYS[5], ':released:0:0', 'PX', ARGV[2])
end
return {amount or '0', known, credits or '0'}
`;
