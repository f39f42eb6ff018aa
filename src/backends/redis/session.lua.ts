/**
 * Lua scripts of the Redis replay buffers. Every key they touch carries the room's hash tag
 * (`{roomKey}`), so each script runs in one slot on a Redis Cluster.
 * KEYS: 1 the room's away set (sessionIds), 2 the room's away-bytes hash (sessionId → bytes).
 */

/**
 * The body that appends a message to every away session of the room but the sender's, bounded
 * per session and room by messages and bytes (oldest dropped, a truncation flag set). It reads
 * the locals `awaySet` and `awayBytes` (the room's away set and away-bytes hash), `msgId` and `msgFrame`, so the room log's publish script can run it on the frame it
 * built. Entries are `<server time µs>|<message id>|<frame>`, so a resume can merge rooms in
 * send order. ARGV: 1 listPrefix, 2 truncPrefix, 5 maxMessages, 6 maxBytes, 7 ttlMs, 8 the
 * sender's sessionId ('' for none). → away sessions of the room
 */
export const APPEND_BODY_LUA = `
local members = redis.call('SMEMBERS', awaySet)
if #members == 0 then return 0 end
local t = redis.call('TIME')
local entry = t[1] .. string.format('%06d', tonumber(t[2])) .. '|' .. msgId .. '|' .. msgFrame
local size = string.len(msgFrame)
for _, s in ipairs(members) do
  if s ~= ARGV[8] then
    local list = ARGV[1] .. s
    local n = redis.call('RPUSH', list, entry)
    local bytes = redis.call('HINCRBY', awayBytes, s, size)
    local dropped = false
    while n > tonumber(ARGV[5]) or bytes > tonumber(ARGV[6]) do
      local old = redis.call('LPOP', list)
      if not old then break end
      n = n - 1
      local p1 = string.find(old, '|', 1, true)
      local p2 = string.find(old, '|', p1 + 1, true)
      bytes = redis.call('HINCRBY', awayBytes, s, -(string.len(old) - p2))
      dropped = true
    end
    if dropped then redis.call('SET', ARGV[2] .. s, '1', 'PX', ARGV[7]) end
    redis.call('PEXPIRE', list, ARGV[7])
  end
end
redis.call('PEXPIRE', awayBytes, ARGV[7])
return #members
`;

/**
 * Appends one frame to the room's away sessions (see {@link APPEND_BODY_LUA}).
 * KEYS: 1 the room's away set, 2 its away-bytes hash. ARGV as the body, plus 3 the message id, 4 the frame.
 */
export const APPEND_LUA = `local awaySet = KEYS[1]
local awayBytes = KEYS[2]
local msgId = ARGV[3]
local msgFrame = ARGV[4]
${APPEND_BODY_LUA}`;

/** Takes (and deletes) one session's buffer of the room. ARGV: listKey, truncKey, sessionId. → {entries, truncated} */
export const TAKE_LUA = `
redis.call('SREM', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[3])
local items = redis.call('LRANGE', ARGV[1], 0, -1)
redis.call('DEL', ARGV[1])
local tr = redis.call('GET', ARGV[2])
redis.call('DEL', ARGV[2])
if tr then return {items, 1} end
return {items, 0}
`;

/**
 * Writes a session record and its room set together (one slot: both keys carry the session's
 * hash tag `{sessionId}`). KEYS: 1 the record, 2 the room set.
 * ARGV: record JSON, TTL in ms ('0' = none: a connected session), '1' to replace the room set
 * with ARGV[4..] or '0' to keep its members (an orphaned session keeps what it had).
 */
export const WRITE_SESSION_LUA = `
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[2])
  for i = 4, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
end
if ARGV[2] == '0' then
  redis.call('PERSIST', KEYS[2])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
`;

/**
 * Adds one room to a session's room set, only if the session's record exists (a late write for
 * a session already gone must not leave a set behind). O(1). KEYS: 1 the record, 2 the room set.
 * ARGV: canvasId.
 */
export const ADD_ROOM_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('SADD', KEYS[2], ARGV[1])
`;

/**
 * Compare-and-set of one string key, keeping its TTL: writes ARGV[2] only if the key still holds
 * ARGV[1] (the value the caller read). A record rewritten meanwhile (a suspend, a resume on
 * another instance) is never overwritten with a stale copy. → 1 written, 0 changed meanwhile or gone
 */
export const SET_IF_UNCHANGED_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`;
