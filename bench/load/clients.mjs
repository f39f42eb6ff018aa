// One client interface over the wire protocols so every scenario is written once:
//   'ws'        product and raw-ws: the lean client of wire.mjs
//   'ws-lib'    the same protocol through the `ws` client library, used only
//               where the lean client cannot go: permessage-deflate (compression)
//   'socket.io' the socket.io baseline (websocket transport only)
//
// openClient() resolves when the connection is acknowledged (connection_ack /
// socket.io 'connect'); join() when the room's member list arrived
// (presence_state / the join ack). Room messages reach onMessage(buf, start,
// end) with the bytes of the server's `message` frame (for socket.io, its
// `data` re-serialised: the scenarios read their bookkeeping integers from the
// end of the bytes, see wire.mjs lastInts). send(canvasId, dataJson) takes the
// JSON text of `data`.
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { openWire } from './wire.mjs';

export function openClient(protocol, opts) {
  if (protocol === 'socket.io') return openSocketIo(opts);
  if (protocol === 'ws-lib') return openWsLib(opts);
  return openWire({ port: opts.port, query: `token=${opts.token}`, timeoutMs: opts.timeoutMs });
}

const withTimeout = (ms, what, reject) => setTimeout(() => reject(new Error(`${what} timeout after ${ms} ms`)), ms);

/** `ws` library client; `deflate: true` offers permessage-deflate (the server decides). */
function openWsLib({ port, token, deflate = false, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`, {
      perMessageDeflate: deflate, // ws's defaults when offered: context takeover, 1 KiB threshold
      skipUTF8Validation: true, // generator CPU, not server CPU
      handshakeTimeout: timeoutMs,
    });
    let ready = false;
    let joinWait = null;
    const client = {
      onMessage: null,
      // Negotiated, as the server answered (empty when it refused or was not asked).
      get extensions() { return ws.extensions; },
      get bytesRead() { return ws._socket ? ws._socket.bytesRead : 0; },
      join(canvasId, ms = timeoutMs) {
        return new Promise((res, rej) => {
          joinWait = { res, rej, timer: withTimeout(ms, 'join', rej) };
          ws.send(JSON.stringify({ type: 'join', canvasId, id: 'j' }));
        });
      },
      send(canvasId, dataJson) { ws.send(`{"type":"message","canvasId":"${canvasId}","data":${dataJson}}`); },
      close() { try { ws.terminate(); } catch { /* ignore */ } },
    };
    const timer = withTimeout(timeoutMs, 'connect', (e) => { ws.terminate(); reject(e); });
    ws.on('message', (buf) => {
      if (buf[9] === 0x6d && buf[10] === 0x65) { if (client.onMessage) client.onMessage(buf, 0, buf.length); return; } // {"type":"me…
      const msg = JSON.parse(buf);
      if (msg.type === 'connection_ack' && !ready) { ready = true; clearTimeout(timer); resolve(client); }
      else if ((msg.type === 'presence_state' || msg.type === 'error') && joinWait) {
        const w = joinWait; joinWait = null; clearTimeout(w.timer);
        if (msg.type === 'error') w.rej(new Error(`join error: ${JSON.stringify(msg).slice(0, 200)}`)); else w.res();
      }
    });
    ws.on('error', (err) => { if (!ready) { clearTimeout(timer); reject(err); } });
    ws.on('close', (code) => {
      if (!ready) { clearTimeout(timer); reject(new Error(`closed before ack (${code})`)); }
      if (joinWait) { clearTimeout(joinWait.timer); joinWait.rej(new Error(`closed during join (${code})`)); joinWait = null; }
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
      onMessage: null,
      get bytesRead() { return 0; },
      join(canvasId, ms = timeoutMs) {
        return new Promise((res, rej) => {
          socket.timeout(ms).emit('join', { canvasId, id: 'j' }, (err, ack) => {
            if (err) rej(new Error('join timeout'));
            else if (ack && ack.error) rej(new Error(`join error: ${ack.error}`));
            else res(ack);
          });
        });
      },
      // socket.io takes objects: parse here (generator CPU, socket.io column only).
      send(canvasId, dataJson) { socket.emit('message', { canvasId, data: JSON.parse(dataJson) }); },
      close() { socket.disconnect(); },
    };
    socket.on('message', (m) => {
      if (client.onMessage) { const b = Buffer.from(JSON.stringify(m.data)); client.onMessage(b, 0, b.length); }
    });
    socket.once('connect', () => resolve(client));
    socket.once('connect_error', (err) => { socket.disconnect(); reject(err); });
  });
}
