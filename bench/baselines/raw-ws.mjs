// raw-ws / raw-ws-corked baseline: the floor. The least work that does the
// product's job on `ws`, speaking the product's wire protocol (docs/protocol.md)
// so one generator drives every target:
//   upgrade with a JWT (HS256, prebuilt KeyObject, see auth.mjs) -> connection_ack
//   join -> room_joined + presence_state, presence_join to the others
//   message -> the same `message` frame to every other member (no echo)
//   close -> presence_leave; protocol ping heartbeat; slow consumer -> 1013
// Env: PORT, HOST (127.0.0.1), JWT_SECRET, WS_HEARTBEAT_INTERVAL_MS (30000),
//   RAW_WS_CORK=1     raw-ws-corked: hold every socket written to in this
//                     event-loop turn corked until setImmediate (like the
//                     product's src/ws/ws-write-batch.ts), the handshake's
//                     101 included (it leaves with the connection_ack)
//   RAW_WS_FRAMES     'merged' (default): the frame is one Buffer per broadcast,
//                     one socket.write per recipient; 'pair': ws's own shape,
//                     header + payload written under cork/uncork (Sender#sendFrame).
//                     Both measured; see bench/README.md "Reconciliation".
//   WS_PER_MESSAGE_DEFLATE=true  offer permessage-deflate as the product will
//                     (off by default); a connection that negotiated it is
//                     written through ws.send, which compresses per socket.
//   REDIS_URL         the floor of one instance on Redis (bench cluster layout
//                     floor-redis-1): each room message is first appended to the
//                     room's log in Redis by one script (INCR for its position,
//                     RPUSH, LTRIM now and then), and fanned out with that
//                     position once the reply is back: the least a server does
//                     that keeps a room log in Redis, one round trip per message.
//                     Replies come back in order on one connection, so per room
//                     the fan-out keeps log order. No pub/sub (one instance).
//
// Fan-out: the frame is encoded ONCE per broadcast with ws's Sender.frame
// (server frames are unmasked, so the bytes are the same for every recipient)
// and written straight to each recipient's net.Socket, skipping ws.send's
// per-call option object, byteLength and framing. Per-socket order stays
// right because ws writes its own frames (pings, close) synchronously to the
// same stream in call order: without permessage-deflate its Sender is always
// in the DEFAULT state with an empty queue; if it ever were not, we fall back
// to ws.send so nothing overtakes a queued frame.
import http from 'node:http';
import { randomFillSync, randomUUID } from 'node:crypto';
import { WebSocketServer, Sender } from 'ws';
import { makeVerifier, tokenFromRequest } from './auth.mjs';

const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? '127.0.0.1';
const HEARTBEAT_MS = Number(process.env.WS_HEARTBEAT_INTERVAL_MS ?? 30000);
const CORK = process.env.RAW_WS_CORK === '1';
const MERGED = (process.env.RAW_WS_FRAMES ?? 'merged') === 'merged';
const DEFLATE = process.env.WS_PER_MESSAGE_DEFLATE === 'true';
const MAX_BUFFERED = 1 << 20; // the product's default WS_MAX_BUFFERED_BYTES
const FLUSH_AT = 64 * 1024; // the product's write-batch bound: a held socket with this much is written at once
const FRAME_OPTS = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };
const verify = makeVerifier(process.env.JWT_SECRET);
// floor-redis-1: the room log's append, one script per message (see REDIS_URL above). ioredis is
// loaded only then, so the floor in memory runs exactly the code it ran before it had this mode.
const redis = process.env.REDIS_URL
  ? new (await import('ioredis')).Redis(process.env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
  : null;
redis?.defineCommand('logAppend', {
  numberOfKeys: 2,
  lua: "local n = redis.call('INCR', KEYS[1]) redis.call('RPUSH', KEYS[2], ARGV[1]) if n % 64 == 0 then redis.call('LTRIM', KEYS[2], -500, -1) end return n",
});

// FLOOR_LOG_BEHIND_MS (bench layout floor-redis-behind, context only): what a write-behind room
// log would cost. The position comes from the room's own counter, the message is fanned out at
// once, and the room's entries go to Redis in one script every FLOOR_LOG_BEHIND_MS (RPUSH, then the
// list bounded: LTRIM to the last 500 once past 1,000). A design
// question, not a floor of the product's job: a message is then delivered before it is in the
// log, which the product does not allow (docs/performance.md, round 14).
const BEHIND_MS = Number(process.env.FLOOR_LOG_BEHIND_MS ?? 0);
const behind = new Map(); // room -> entries not yet written
if (redis !== null && BEHIND_MS > 0) {
  redis.defineCommand('logAppendBehind', {
    numberOfKeys: 1,
    lua: "local len = redis.call('RPUSH', KEYS[1], unpack(ARGV)) if len > 1000 then redis.call('LTRIM', KEYS[1], -500, -1) end return len",
  });
  setInterval(() => {
    for (const [room, entries] of behind) redis.logAppendBehind(`${room.key}:log`, ...entries).catch(() => undefined);
    behind.clear();
  }, BEHIND_MS).unref();
}

const rooms = new Map(); // tenant\0canvasId -> room
const conns = new Set();

// ---- writing ------------------------------------------------------------------
/** Text frame for `text`, in the shape the write path wants (one Buffer or [header, payload]). */
function frame(text) {
  const list = Sender.frame(Buffer.from(text), FRAME_OPTS);
  return MERGED ? Buffer.concat(list) : list;
}

// raw-ws-corked: sockets corked in this turn, uncorked together at setImmediate.
const held = [];
function flushHeld() {
  for (const c of held) { c.held = false; c.sock.uncork(); }
  held.length = 0;
}
function hold(c) {
  if (c.held) {
    // Bounded like the product's batch: a big burst is written out and held again.
    if (c.sock.writableLength >= FLUSH_AT) { c.sock.uncork(); c.sock.cork(); }
    return;
  }
  c.held = true;
  c.sock.cork();
  if (held.push(c) === 1) setImmediate(flushHeld);
}

/** Write a pre-built frame to one connection; false if it was not written. */
function write(c, f, text) {
  const { ws, sock } = c;
  if (ws.readyState !== 1) return false;
  if (sock.writableLength > MAX_BUFFERED) { ws.close(1013, 'slow consumer'); return false; }
  const s = ws._sender;
  // Deflate is per socket (its own compression context), so no shared frame;
  // and never overtake a frame ws still holds in its queue.
  if (c.deflate || s._state !== 0 || s._queue.length !== 0) { ws.send(text); return true; }
  if (CORK) hold(c);
  if (MERGED) sock.write(f);
  else s.sendFrame(f); // cork, write header, write payload, uncork: what ws does
  return true;
}

function sendText(c, text) { write(c, frame(text), text); }

/** One frame for the whole room, written to every member but `except`. */
function broadcast(room, except, text) {
  const f = frame(text);
  for (const c of room.conns) if (c !== except) write(c, f, text);
}

// Reconnect-token bytes from a 4 KiB pool, like the product (src/domain/values/entropy-pool.ts):
// one randomFillSync per 170 tokens instead of one OpenSSL call (~4.5 µs) per connection.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function newToken() {
  if (poolAt + 24 > pool.length) { randomFillSync(pool); poolAt = 0; }
  const token = pool.toString('base64url', poolAt, poolAt + 24);
  pool.fill(0, poolAt, poolAt + 24);
  poolAt += 24;
  return token;
}

// ---- connections --------------------------------------------------------------
// /health/ready answers 200 (the cluster layouts wait for it; with REDIS_URL, listening starts once Redis is ready).
const server = http.createServer((req, res) => { res.writeHead(req.url === '/health/ready' ? 200 : 404).end(); });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: DEFLATE, clientTracking: false });

server.on('upgrade', (req, socket, head) => {
  const q = req.url.indexOf('?');
  const user = (q < 0 ? req.url : req.url.slice(0, q)) === '/ws' ? verify(tokenFromRequest(req)) : null;
  if (!user) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  // raw-ws-corked: corked across the handshake, like the product (src/ws/connection-manager.adapter.ts):
  // ws writes the 101 inside handleUpgrade, the connection_ack holds the socket to the end of the
  // turn, so both leave in one write.
  if (CORK) socket.cork();
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, user));
  if (CORK) socket.uncork();
});

// Listeners are shared functions (this = the WebSocket, which carries its
// connection record), not closures per connection: the idle row measures
// bytes per connection, and four closures are a measurable part of them.
function onWsMessage(data, isBinary) { onMessage(this.conn, data, isBinary); }
function onWsPong() { this.conn.alive = true; }
function onWsClose() { onClose(this.conn); }
function onWsError() {} // close follows

function onConnection(ws, user) {
  const id = randomUUID();
  // rooms: an array (a connection is in one or a few rooms; a Set costs more memory).
  const c = { ws, sock: ws._socket, user, id, rooms: [], alive: true, held: false, deflate: DEFLATE && ws.extensions.includes('permessage-deflate') };
  ws.conn = c;
  conns.add(c);
  sendText(c, `{"type":"connection_ack","connectionId":"${id}","sessionId":"${randomUUID()}",`
    + `"userId":${JSON.stringify(user.userId)},"tenantId":${JSON.stringify(user.tenantId)},`
    + `"reconnectToken":"${newToken()}","heartbeatIntervalMs":${HEARTBEAT_MS},"resumed":false,"rooms":[]}`);
  ws.on('pong', onWsPong);
  ws.on('message', onWsMessage);
  ws.on('close', onWsClose);
  ws.on('error', onWsError);
}

const error = (c, code, id) => sendText(c, JSON.stringify({ type: 'error', code, message: code, id }));

function onMessage(c, data, isBinary) {
  c.alive = true; // any frame counts as alive, as in the product
  let msg;
  try { msg = isBinary ? null : JSON.parse(data); } catch { /* below */ }
  if (msg === null || typeof msg !== 'object') return error(c, 'BAD_REQUEST');
  switch (msg.type) {
    case 'message': {
      const room = typeof msg.canvasId === 'string' ? rooms.get(`${c.user.tenantId}\0${msg.canvasId}`) : undefined;
      if (!room || !c.rooms.includes(room)) return error(c, 'NOT_IN_ROOM', msg.id);
      if (msg.data === undefined) return error(c, 'BAD_REQUEST', msg.id);
      // Built per message, not cached per connection: once per broadcast is
      // nothing next to the recipients, and a cached string is memory per idle connection.
      const tail = `"from":{"userId":${JSON.stringify(c.user.userId)},"connectionId":"${c.id}"},"data":${JSON.stringify(msg.data)}}`;
      if (redis === null) return broadcast(room, c, `${room.prefix}${tail}`);
      if (BEHIND_MS > 0) {
        const n = (room.n = (room.n ?? 0) + 1);
        let entries = behind.get(room);
        if (!entries) behind.set(room, (entries = []));
        entries.push(`${n}|${tail}`);
        return broadcast(room, c, `${room.prefix}"pos":"${n}",${tail}`);
      }
      // The sender may leave meanwhile: the others still get it (as in the product).
      return redis.logAppend(`${room.key}:n`, `${room.key}:log`, tail).then((n) => broadcast(room, c, `${room.prefix}"pos":"${n}",${tail}`), () => undefined);
    }
    case 'join': return onJoin(c, msg);
    case 'ping': return sendText(c, `{"type":"pong","id":${JSON.stringify(msg.id ?? null)}}`);
    default: return error(c, 'BAD_REQUEST', msg.id);
  }
}

// ---- rooms and presence -----------------------------------------------------
// A room: its connections, and per user a member entry counting that user's
// connections in the room (what presence_state/presence_join report).
function onJoin(c, { canvasId, id }) {
  if (typeof canvasId !== 'string' || canvasId.length === 0 || canvasId.length > 128) return error(c, 'BAD_REQUEST', id);
  const key = `${c.user.tenantId}\0${canvasId}`;
  let room = rooms.get(key);
  if (!room) {
    const ids = `"roomId":${JSON.stringify(`canvas:${canvasId}`)},"canvasId":${JSON.stringify(canvasId)}`;
    room = { key, ids, prefix: `{"type":"message",${ids},`, conns: new Set(), members: new Map() };
    rooms.set(key, room);
  }
  if (!c.rooms.includes(room)) {
    room.conns.add(c);
    c.rooms.push(room);
    let m = room.members.get(c.user.userId);
    if (!m) {
      m = { userId: c.user.userId, name: c.user.name, connections: 0 };
      room.members.set(m.userId, m);
      m.connections++;
      broadcast(room, c, `{"type":"presence_join",${room.ids},"member":${JSON.stringify(m)}}`);
    } else m.connections++;
  }
  sendText(c, `{"type":"room_joined","id":${JSON.stringify(id ?? null)},${room.ids}}`);
  sendText(c, `{"type":"presence_state",${room.ids},"members":${JSON.stringify([...room.members.values()])}}`);
}

function onClose(c) {
  conns.delete(c);
  for (const room of c.rooms) {
    room.conns.delete(c);
    const m = room.members.get(c.user.userId);
    if (m && --m.connections === 0) {
      room.members.delete(m.userId);
      if (room.conns.size) broadcast(room, null, `{"type":"presence_leave",${room.ids},"userId":${JSON.stringify(m.userId)}}`);
    }
    if (room.conns.size === 0) rooms.delete(room.key);
  }
  c.rooms.length = 0;
}

// Protocol-level heartbeat: ping every interval, drop peers that stayed silent.
setInterval(() => {
  for (const c of conns) {
    if (!c.alive) { c.ws.terminate(); continue; }
    c.alive = false;
    c.ws.ping();
  }
}, HEARTBEAT_MS).unref();

const listen = () => server.listen(PORT, HOST, () => console.log(`raw-ws${CORK ? '-corked' : ''} (${MERGED ? 'merged' : 'pair'} frames${redis ? ', room log on Redis' : ''}) listening on ${HOST}:${PORT}`));
if (redis === null) listen();
else redis.once('ready', listen);
process.on('SIGTERM', () => process.exit(0));
