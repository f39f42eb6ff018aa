// raw-ws baseline: the least work that does the product's job on `ws`, speaking
// exactly the product's wire protocol (see bench/README.md) so the generator
// code is shared. Env: PORT, HOST (default 127.0.0.1), JWT_SECRET,
// WS_HEARTBEAT_INTERVAL_MS (default 30000).
//
// Fan-out choice: the outgoing frame's JSON is built ONCE, converted to a
// Buffer ONCE, and that same Buffer is passed to ws.send() for every recipient.
// ws does not copy an unmasked server payload, so each recipient costs one
// small frame header plus a socket write. (We do not hand-roll
// WebSocket.Sender.frame + raw socket writes: that bypasses ws's send queue and
// a product would not do it either.)
import http from 'node:http';
import { randomUUID, randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { makeVerifier, tokenFromRequest } from './auth.mjs';
import { Presence } from './presence.mjs';

const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? '127.0.0.1';
const HEARTBEAT_MS = Number(process.env.WS_HEARTBEAT_INTERVAL_MS ?? 30000);
const verify = makeVerifier(process.env.JWT_SECRET);

const TEXT = { binary: false }; // shared options object: Buffer payload, text frame
const rooms = new Map(); // tenant\0canvasId -> { roomId, canvasId, conns: Set<conn> }
const presence = new Presence();
const conns = new Set();

const server = http.createServer((req, res) => { res.writeHead(404).end(); });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });

server.on('upgrade', (req, socket, head) => {
  const path = req.url.split('?', 1)[0];
  const user = path === '/ws' ? verify(tokenFromRequest(req)) : null;
  if (!user) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, user));
});

function sendJson(ws, obj) { ws.send(JSON.stringify(obj)); }

/** Build the frame once, send the same Buffer to every other member. */
function broadcast(room, except, obj) {
  const buf = Buffer.from(JSON.stringify(obj));
  for (const c of room.conns) if (c !== except) c.ws.send(buf, TEXT);
}

function onConnection(ws, user) {
  const conn = { ws, user, id: randomUUID(), rooms: new Set(), alive: true };
  conns.add(conn);
  sendJson(ws, {
    type: 'connection_ack', connectionId: conn.id, sessionId: randomUUID(), userId: user.userId,
    tenantId: user.tenantId, reconnectToken: randomBytes(24).toString('base64url'),
    heartbeatIntervalMs: HEARTBEAT_MS, resumed: false, rooms: [],
  });
  ws.on('pong', () => { conn.alive = true; });
  ws.on('message', (data) => onMessage(conn, data));
  ws.on('close', () => onClose(conn));
  ws.on('error', () => {}); // close follows
}

function onMessage(conn, data) {
  let msg;
  try { msg = JSON.parse(data); } catch { return sendJson(conn.ws, { type: 'error', code: 'bad_json' }); }
  if (msg === null || typeof msg !== 'object') return sendJson(conn.ws, { type: 'error', code: 'bad_request' });
  switch (msg.type) {
    case 'message': {
      const room = roomOf(conn, msg.canvasId);
      if (!room || !conn.rooms.has(room)) return sendJson(conn.ws, { type: 'error', code: 'not_in_room' });
      return broadcast(room, conn, {
        type: 'message', roomId: room.roomId, canvasId: room.canvasId,
        from: { userId: conn.user.userId, connectionId: conn.id }, data: msg.data,
      });
    }
    case 'join': return onJoin(conn, msg);
    case 'ping': return sendJson(conn.ws, { type: 'pong', id: msg.id });
    default: return sendJson(conn.ws, { type: 'error', code: 'unknown_type', id: msg.id });
  }
}

function roomKey(conn, canvasId) { return `${conn.user.tenantId}\0${canvasId}`; }
function roomOf(conn, canvasId) { return typeof canvasId === 'string' ? rooms.get(roomKey(conn, canvasId)) : undefined; }

function onJoin(conn, msg) {
  const { canvasId, id } = msg;
  if (typeof canvasId !== 'string' || canvasId.length === 0 || canvasId.length > 128) {
    return sendJson(conn.ws, { type: 'error', code: 'bad_request', id });
  }
  const key = roomKey(conn, canvasId);
  let room = rooms.get(key);
  if (!room) { room = { key, roomId: `canvas:${canvasId}`, canvasId, conns: new Set() }; rooms.set(key, room); }
  if (!conn.rooms.has(room)) {
    room.conns.add(conn);
    conn.rooms.add(room);
    const member = presence.add(key, conn.user);
    broadcast(room, conn, { type: 'presence_join', roomId: room.roomId, canvasId, member });
  }
  sendJson(conn.ws, { type: 'room_joined', id, roomId: room.roomId, canvasId });
  sendJson(conn.ws, { type: 'presence_state', roomId: room.roomId, canvasId, members: presence.members(key) });
}

function onClose(conn) {
  conns.delete(conn);
  for (const room of conn.rooms) {
    room.conns.delete(conn);
    const r = presence.remove(room.key, conn.user.userId);
    if (room.conns.size === 0) { rooms.delete(room.key); continue; }
    if (r) broadcast(room, null, { type: 'presence_leave', roomId: room.roomId, canvasId: room.canvasId, member: r.member, left: r.left });
  }
  conn.rooms.clear();
}

// Protocol-level heartbeat: ping every interval, drop peers that missed a pong.
setInterval(() => {
  for (const c of conns) {
    if (!c.alive) { c.ws.terminate(); continue; }
    c.alive = false;
    c.ws.ping();
  }
}, HEARTBEAT_MS).unref();

server.listen(PORT, HOST, () => console.log(`raw-ws listening on ${HOST}:${PORT}`));
process.on('SIGTERM', () => process.exit(0));
