// One client interface over two wire protocols so every scenario is written
// once:
//   'ws'        - the product's JSON protocol at /ws (product and raw-ws)
//   'socket.io' - the socket.io baseline (websocket transport only)
//
// openClient() resolves when the connection is authenticated and acknowledged
// (connection_ack / socket.io 'connect'); client.join() resolves when the
// member list for the room arrived (presence_state / the join ack).
import WebSocket from 'ws';
import { io } from 'socket.io-client';

export function openClient(protocol, opts) {
  return protocol === 'socket.io' ? openSocketIo(opts) : openWs(opts);
}

function withTimeout(ms, what, reject) {
  return setTimeout(() => reject(new Error(`${what} timeout after ${ms} ms`)), ms);
}

function openWs({ port, token, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`, {
      // Compression off on the client: all targets are compared on plain
      // frames. UTF-8 validation off: it is generator CPU, not server CPU.
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: timeoutMs,
    });
    let ready = false;
    let joinWait = null; // { canvasId, resolve, reject, timer }
    const client = {
      onData: null, // (data) => void  for every {type:'message'} frame
      onRaw: null, // (buf) => boolean  fast path; return true if consumed
      join(canvasId, ms = timeoutMs) {
        return new Promise((res, rej) => {
          const timer = withTimeout(ms, 'join', rej);
          joinWait = { canvasId, resolve: res, reject: rej, timer };
          ws.send(JSON.stringify({ type: 'join', canvasId, id: `j-${canvasId}` }));
        });
      },
      send(canvasId, data) {
        ws.send(JSON.stringify({ type: 'message', canvasId, data }));
      },
      close() { try { ws.terminate(); } catch { /* ignore */ } },
      get bufferedAmount() { return ws.bufferedAmount; },
    };
    const timer = withTimeout(timeoutMs, 'connect', (e) => { ws.terminate(); reject(e); });
    ws.on('message', (buf) => {
      if (client.onRaw && client.onRaw(buf)) return;
      let msg;
      try { msg = JSON.parse(buf); } catch { return; }
      switch (msg.type) {
        case 'message': if (client.onData) client.onData(msg.data); break;
        case 'connection_ack':
          if (!ready) { ready = true; clearTimeout(timer); resolve(client); }
          break;
        case 'presence_state':
          if (joinWait && msg.canvasId === joinWait.canvasId) {
            const w = joinWait; joinWait = null; clearTimeout(w.timer); w.resolve(msg);
          }
          break;
        case 'error':
          if (joinWait) { const w = joinWait; joinWait = null; clearTimeout(w.timer); w.reject(new Error(`join error: ${JSON.stringify(msg).slice(0, 200)}`)); }
          break;
        default: break; // room_joined, presence_join/leave, pong: not needed here
      }
    });
    ws.on('error', (err) => { if (!ready) { clearTimeout(timer); reject(err); } });
    ws.on('close', (code) => {
      if (!ready) { clearTimeout(timer); reject(new Error(`closed before ack (${code})`)); }
      if (joinWait) { clearTimeout(joinWait.timer); joinWait.reject(new Error(`closed during join (${code})`)); joinWait = null; }
    });
  });
}

function openSocketIo({ port, token, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const socket = io(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      auth: { token },
      reconnection: false,
      forceNew: true, // one engine per user, like one browser tab each
      timeout: timeoutMs,
      perMessageDeflate: false,
    });
    const client = {
      onData: null,
      onRaw: null, // not available: socket.io-client always decodes
      join(canvasId, ms = timeoutMs) {
        return new Promise((res, rej) => {
          socket.timeout(ms).emit('join', { canvasId, id: `j-${canvasId}` }, (err, ack) => {
            if (err) rej(new Error('join timeout'));
            else if (ack && ack.error) rej(new Error(`join error: ${ack.error}`));
            else res(ack);
          });
        });
      },
      send(canvasId, data) { socket.emit('message', { canvasId, data }); },
      close() { socket.disconnect(); },
      get bufferedAmount() { return 0; },
    };
    socket.on('message', (m) => { if (client.onData) client.onData(m.data); });
    socket.once('connect', () => resolve(client));
    socket.once('connect_error', (err) => { socket.disconnect(); reject(err); });
  });
}
