/**
 * Lua scripts of the Redis membership store. Each touches only the keys of one room (one hash
 * slot), so it runs atomically on a single Redis and on a Redis Cluster alike.
 * KEYS: 1 conns (connectionId → "instanceId|userId"), 2 users (userId → connection count),
 *       3 names (userId → display name).
 */

/** ARGV: connectionId, instanceId, userId, name ('' = none), capacity. → {0} full | {1, already, first, users, names} */
export const JOIN_LUA = `
local already = redis.call('HEXISTS', KEYS[1], ARGV[1])
local first = 0
if already == 0 then
  local count = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
  if count == 0 then
    if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then return {0} end
    first = 1
  end
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[3], ARGV[4]) end
return {1, already, first, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}
`;

/** ARGV: connectionId, userId. → {removed, lastConnectionOfUser} */
export const LEAVE_LUA = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return {0, 0} end
local c = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
if c <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  return {1, 1}
end
return {1, 0}
`;

/**
 * Makes the room hold exactly the given live connections of one instance: removes that
 * instance's other connections (a crashed instance: none are live) and adds missing ones
 * without a capacity check (they were admitted before; used after a Redis outage).
 * ARGV: instanceId, then triples connectionId, userId, name. → userIds that left the room.
 */
export const RESYNC_LUA = `
local inst = ARGV[1]
local live = {}
for i = 2, #ARGV, 3 do live[ARGV[i]] = true end
local gone = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local conn, v = all[i], all[i + 1]
  local sep = string.find(v, '|', 1, true)
  if sep and string.sub(v, 1, sep - 1) == inst and not live[conn] then
    local user = string.sub(v, sep + 1)
    redis.call('HDEL', KEYS[1], conn)
    if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
      redis.call('HDEL', KEYS[2], user)
      redis.call('HDEL', KEYS[3], user)
      table.insert(gone, user)
    end
  end
end
for i = 2, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], inst .. '|' .. ARGV[i + 1]) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    if ARGV[i + 2] ~= '' then redis.call('HSET', KEYS[3], ARGV[i + 1], ARGV[i + 2]) end
  end
end
return gone
`;
