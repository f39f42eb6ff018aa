import { APPEND_BODY_LUA } from './session.lua.js';

/**
 * Lua scripts of the Redis room logs (issue 16). Every key carries the room's hash tag
 * (`{roomKey}`), so each script runs in one slot on a Redis Cluster. Keys of a room:
 * `:logmeta` (hash: epoch, n = number of the last message, bytes kept), `:log` (list of
 * `<n>|<sender session>|<frame>`, oldest first, consecutive numbers), `:seq:<sessionId>` (the
 * highest `seq` the session had accepted in the room).
 *
 * A new epoch is the server's time in µs (16 digits): a log recreated after a Redis restart or
 * an expiry always gets another one, so positions of the lost log are answered `truncated`.
 */
const ENSURE_EPOCH = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  local t = redis.call('TIME')
  epoch = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'n', 0, 'bytes', 0)
end
`;

/**
 * A room message in one step: the `seq` check, the append to the log (bounded by messages and
 * bytes, oldest dropped), the SPUBLISH of the frame with its position to the instances with
 * members, and the append to the room's away sessions' buffers (session.lua.ts, for resumes
 * without positions).
 *
 * Publishing: `PUBSUB SHARDNUMSUB` counts the room channel's subscribers and the writer's marker
 * channel's (1 while the writer's own subscription is registered: RedisRoomBus subscribes both in
 * one command). The frame is published only when an instance other than the writer subscribes;
 * the reply says whether the writer's own bus brings it back. When it does not (no other instance
 * has members: one instance, or a room on one instance), the writer delivers it from this reply,
 * in log order (RoomDelivery's LogOrder). That spares the SPUBLISH, and the writer reading its
 * own message back, on every message of a room that lives on one instance.
 * KEYS: 1 logmeta, 2 log, 3 the sender's seq key (`:seq:` alone for none), 4 the away set, 5 the
 * away-bytes hash. ARGV: 1 listPrefix, 2 truncPrefix (away buffers), 3 seq ('' for none),
 * 4 frame tail, 5 maxMessages, 6 maxBytes, 7 away TTL ms, 8 sender session ('' for none),
 * 9 channel, 10 envelope head (`instanceId\nsender\n`), 11 seq TTL ms, 12 log TTL ms, 13 the
 * writer's marker channel.
 * → {0} a resend (not appended), or {1, n, epoch, onBus}: onBus 1 when the writer's bus brings
 * the message back, 0 when the writer delivers it.
 */
export const LOG_PUBLISH_LUA = `
if ARGV[3] ~= '' then
  local last = tonumber(redis.call('GET', KEYS[3]) or '0')
  if tonumber(ARGV[3]) <= last then
    redis.call('PEXPIRE', KEYS[3], ARGV[11])
    return {0}
  end
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[11])
end
${ENSURE_EPOCH}
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local pos = epoch .. '.' .. n
local msgFrame = '{"type":"message","pos":"' .. pos .. '",' .. ARGV[4]
local subs = redis.call('PUBSUB', 'SHARDNUMSUB', ARGV[9], ARGV[13])
local mine = subs[4]
local onBus = 0
if subs[2] > mine then
  redis.call('SPUBLISH', ARGV[9], ARGV[10] .. pos .. '\\n' .. msgFrame)
  onBus = mine
end
local len = redis.call('RPUSH', KEYS[2], n .. '|' .. ARGV[8] .. '|' .. msgFrame)
local bytes = redis.call('HINCRBY', KEYS[1], 'bytes', string.len(msgFrame))
while len > tonumber(ARGV[5]) or (bytes > tonumber(ARGV[6]) and len > 1) do
  local old = redis.call('LPOP', KEYS[2])
  len = len - 1
  local p1 = string.find(old, '|', 1, true)
  local p2 = string.find(old, '|', p1 + 1, true)
  bytes = redis.call('HINCRBY', KEYS[1], 'bytes', -(string.len(old) - p2))
end
redis.call('PEXPIRE', KEYS[1], ARGV[12])
redis.call('PEXPIRE', KEYS[2], ARGV[12])
local msgId = pos
local awaySet = KEYS[4]
local awayBytes = KEYS[5]
local function away()
${APPEND_BODY_LUA}
end
away()
return {1, n, epoch, onBus}
`;

/** The room's head, creating its epoch if it has none. KEYS: 1 logmeta. ARGV: 1 log TTL ms. → {epoch, n} */
export const LOG_HEAD_LUA = `
${ENSURE_EPOCH}
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {epoch, redis.call('HGET', KEYS[1], 'n')}
`;

/**
 * The entries after position `<epoch>.<n>`. KEYS: 1 logmeta, 2 log. ARGV: 1 epoch, 2 n.
 * → {truncated (0/1), entries}: truncated when the epoch is not the log's (lost, recreated) or
 * the position is older than the oldest kept entry (then every kept entry is returned).
 */
export const LOG_READ_LUA = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch or epoch ~= ARGV[1] then return {1, {}} end
local head = tonumber(redis.call('HGET', KEYS[1], 'n'))
local from = tonumber(ARGV[2])
if from > head then return {1, {}} end
local len = redis.call('LLEN', KEYS[2])
local oldest = head - len + 1
local first = from + 1 - oldest
local truncated = 0
if first < 0 then
  first = 0
  truncated = 1
end
if first >= len then return {truncated, {}} end
return {truncated, redis.call('LRANGE', KEYS[2], first, -1)}
`;
