// socket.io 4.x baseline, websocket transport only: JWT verified in io.use,
// socket.join for rooms, socket.to(room).emit for fan-out (socket.io encodes a
// broadcast packet once and writes it to every recipient). It keeps the same
// presence bookkeeping as raw-ws so "join" does comparable work: the join ack
// carries the member list (presence_state) and others get 'presence_join'.
// Env: PORT, HOST (default 127.0.0.1), JWT_SECRET, WS_HEARTBEAT_INTERVAL_MS.
import http from 'node:http';
import { Server } from 'socket.io';
import { makeVerifier } from './auth.mjs';
import { Presence } from './presence.mjs';

const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? '127.0.0.1';
const HEARTBEAT_MS = Number(process.env.WS_HEARTBEAT_INTERVAL_MS ?? 30000);
const verify = makeVerifier(process.env.JWT_SECRET);
const presence = new Presence();

const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  pingInterval: HEARTBEAT_MS, // same heartbeat period as the product
  pingTimeout: 20000,
});

io.use((socket, next) => {
  const user = verify(socket.handshake.auth?.token ?? socket.handshake.query?.token);
  if (!user) return next(new Error('unauthorized'));
  socket.data.user = user;
  socket.data.canvases = new Set();
  next();
});

const roomKey = (user, canvasId) => `${user.tenantId}\0${canvasId}`;

io.on('connection', (socket) => {
  const { user, canvases } = socket.data;

  socket.on('join', (p, ack) => {
    const canvasId = p?.canvasId;
    if (typeof canvasId !== 'string' || canvasId.length === 0 || canvasId.length > 128) {
      if (typeof ack === 'function') ack({ error: 'bad_request' });
      return;
    }
    const key = roomKey(user, canvasId);
    const roomId = `canvas:${canvasId}`;
    if (!canvases.has(canvasId)) {
      canvases.add(canvasId);
      socket.join(key);
      const member = presence.add(key, user);
      socket.to(key).emit('presence_join', { roomId, canvasId, member });
    }
    if (typeof ack === 'function') ack({ id: p.id, roomId, canvasId, members: presence.members(key) });
  });

  socket.on('message', (p) => {
    const canvasId = p?.canvasId;
    if (!canvases.has(canvasId)) return;
    socket.to(roomKey(user, canvasId)).emit('message', {
      roomId: `canvas:${canvasId}`, canvasId, from: { userId: user.userId, connectionId: socket.id }, data: p.data,
    });
  });

  socket.on('disconnect', () => {
    for (const canvasId of canvases) {
      const key = roomKey(user, canvasId);
      const r = presence.remove(key, user.userId);
      if (r) io.to(key).emit('presence_leave', { roomId: `canvas:${canvasId}`, canvasId, member: r.member, left: r.left });
    }
    canvases.clear();
  });
});

httpServer.listen(PORT, HOST, () => console.log(`socket.io listening on ${HOST}:${PORT}`));
process.on('SIGTERM', () => process.exit(0));
