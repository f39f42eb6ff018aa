/**
 * Lua scripts of the Redis connection quota store. Each touches only the keys of one tenant
 * (one hash slot, tagged on the tenant), so it runs atomically on a single Redis and on a Redis
 * Cluster alike.
 * KEYS: 1 conns  (hash connectionId → "instanceId|userId"),
 *       2 users  (hash userId → open connections),
 *       3 insts  (hash instanceId → open connections it holds),
 *       4 leases (sorted set instanceId → lease expiry, epoch ms, of the instances in `insts`).
 * An instance is in `leases` exactly while it holds a slot of the tenant (scripts keep the two
 * together); it renews its lease every lease tick. A lease past its expiry means the instance
 * died without giving its slots back: the next acquire in the tenant drops them.
 */

/** Drops the slots of the instances in the set `dead` (called only when there is one: a crash). */
const PURGE = `
local function purge(dead)
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local v = all[i + 1]
    local sep = string.find(v, '|', 1, true)
    if sep and dead[string.sub(v, 1, sep - 1)] then
      redis.call('HDEL', KEYS[1], all[i])
      local user = string.sub(v, sep + 1)
      if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then redis.call('HDEL', KEYS[2], user) end
    end
  end
  for inst in pairs(dead) do
    redis.call('HDEL', KEYS[3], inst)
    redis.call('ZREM', KEYS[4], inst)
  end
end
`;

/**
 * ARGV: connectionId, instanceId, userId, userCap, tenantCap (0 = none), now, leaseUntil,
 * replaces ('' = none). → {1} taken (or already held) | {0, 'user' | 'tenant'}
 */
export const QUOTA_ACQUIRE_LUA = `${PURGE}
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[6])
if #expired > 0 then
  local dead, any = {}, false
  for _, inst in ipairs(expired) do
    if inst ~= ARGV[2] then dead[inst] = true; any = true end
  end
  if any then purge(dead) end
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {1} end
local userCount = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
local tenantCount = redis.call('HLEN', KEYS[1])
if ARGV[8] ~= '' then
  local v = redis.call('HGET', KEYS[1], ARGV[8])
  if v then
    tenantCount = tenantCount - 1
    local sep = string.find(v, '|', 1, true)
    if sep and string.sub(v, sep + 1) == ARGV[3] then userCount = userCount - 1 end
  end
end
local userCap, tenantCap = tonumber(ARGV[4]), tonumber(ARGV[5])
if userCap > 0 and userCount >= userCap then return {0, 'user'} end
if tenantCap > 0 and tenantCount >= tenantCap then return {0, 'tenant'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[2])
return {1}
`;

/** ARGV: connectionId. → 1 released | 0 held no slot */
export const QUOTA_RELEASE_LUA = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local sep = string.find(v, '|', 1, true)
if not sep then return 1 end
local inst, user = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)
if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then redis.call('HDEL', KEYS[2], user) end
if redis.call('HINCRBY', KEYS[3], inst, -1) <= 0 then
  redis.call('HDEL', KEYS[3], inst)
  redis.call('ZREM', KEYS[4], inst)
end
return 1
`;

/**
 * Makes `instanceId`'s slots of the tenant exactly the given live ones: drops the others (their
 * release was lost in an outage) and adds missing ones without a cap check (admitted before,
 * or by the per-instance fallback during an outage). ARGV: instanceId, leaseUntil, then pairs
 * connectionId, userId. → the number of slots the instance now holds.
 */
export const QUOTA_RESYNC_LUA = `
local inst = ARGV[1]
local live = {}
for i = 3, #ARGV, 2 do live[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local conn, v = all[i], all[i + 1]
  local sep = string.find(v, '|', 1, true)
  if sep and string.sub(v, 1, sep - 1) == inst and not live[conn] then
    redis.call('HDEL', KEYS[1], conn)
    local user = string.sub(v, sep + 1)
    if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then redis.call('HDEL', KEYS[2], user) end
  end
end
local held = 0
for i = 3, #ARGV, 2 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if not v then
    redis.call('HSET', KEYS[1], ARGV[i], inst .. '|' .. ARGV[i + 1])
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    held = held + 1
  elseif string.sub(v, 1, #inst + 1) == inst .. '|' then
    held = held + 1
  end
end
if held > 0 then
  redis.call('HSET', KEYS[3], inst, held)
  redis.call('ZADD', KEYS[4], ARGV[2], inst)
else
  redis.call('HDEL', KEYS[3], inst)
  redis.call('ZREM', KEYS[4], inst)
end
return held
`;
