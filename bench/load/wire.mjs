// Lean WebSocket client for the generator (protocol 'ws': product and raw-ws),
// written on net.Socket so the generator costs far less per frame than the
// server it measures:
// - the upgrade request is one pre-formatted write; the 101 response is checked
//   by status line and Sec-WebSocket-Accept (key fixed per process, accept
//   computed once);
// - client frames are masked with the all-zero key (RFC 6455 requires the mask
//   bit, any key is valid; the server still runs its unmask loop), so building
//   a frame is a header plus one copy;
// - server frames are parsed in place; a `message` frame is recognised by its
//   first bytes and handed to onMessage(buf, start, end) without JSON.parse or
//   a string; only the rare control-plane frames (ack, presence_state, error)
//   are parsed as JSON.
// Server frames are never fragmented by ws (fin always set): a fragment counts
// as a protocol error. permessage-deflate is not offered (the compression
// scenario uses the `ws` client instead, see clients.mjs).
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

const KEY = randomBytes(16).toString('base64');
const ACCEPT = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
const HEAD_END = Buffer.from('\r\n\r\n');
const TYPE_PREFIX = Buffer.from('{"type":"');
const M = 0x6d; const E = 0x65; // 'm','e': "message" is the only server type starting with "me"

/** One client-to-server text frame, masked with the zero key. */
export function clientFrame(text, opcode = 0x1) {
  const len = Buffer.byteLength(text);
  const hdr = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const f = Buffer.allocUnsafe(hdr + len);
  f[0] = 0x80 | opcode;
  if (len < 126) f[1] = 0x80 | len;
  else if (len < 65536) { f[1] = 0x80 | 126; f.writeUInt16BE(len, 2); }
  else { f[1] = 0x80 | 127; f.writeUInt32BE(0, 2); f.writeUInt32BE(len, 6); }
  f.writeUInt32BE(0, hdr - 4); // masking key 0,0,0,0
  f.write(text, hdr, 'utf8');
  return f;
}

function controlFrame(opcode, payload) {
  const f = Buffer.alloc(6 + payload.length);
  f[0] = 0x80 | opcode;
  f[1] = 0x80 | payload.length;
  payload.copy(f, 6);
  return f;
}

/**
 * Open a connection and resolve at its connection_ack.
 * @param {{port:number, query:string, timeoutMs?:number}} opts query: e.g. `token=…` or `reconnectToken=…`
 * @returns {Promise<WireClient>}
 */
export function openWire({ port, query, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const c = new WireClient(sock);
    let settled = false;
    const fail = (err) => { if (!settled) { settled = true; clearTimeout(timer); sock.destroy(); reject(err); } };
    const timer = setTimeout(() => fail(new Error(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
    c.onAck = () => { if (!settled) { settled = true; clearTimeout(timer); resolve(c); } };
    c.onEarlyClose = (why) => fail(new Error(why));
    sock.once('connect', () => {
      sock.write(`GET /ws?${query} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.on('error', (err) => fail(err));
  });
}

export class WireClient {
  constructor(sock) {
    this.sock = sock;
    this.upgraded = false;
    this.pending = null; // unparsed tail of the stream
    this.ack = null; // the connection_ack, parsed
    this.closeCode = null; // from the server's close frame (1006 if none came)
    this.protocolErrors = 0;
    this.onMessage = null; // (buf, start, end) for every `message` frame
    this.onOther = null; // (type, text) for other frames, when set
    this.onClose = null; // (code) once, when the TCP connection is gone
    this.onAck = null;
    this.onEarlyClose = null;
    this.joinWait = null;
    sock.on('data', (chunk) => this.data(chunk));
    sock.on('close', () => {
      if (this.closeCode === null) this.closeCode = 1006;
      if (!this.ack && this.onEarlyClose) this.onEarlyClose(`closed before ack (${this.closeCode})`);
      if (this.joinWait) { const w = this.joinWait; this.joinWait = null; clearTimeout(w.timer); w.reject(new Error(`closed during join (${this.closeCode})`)); }
      if (this.onClose) { const f = this.onClose; this.onClose = null; f(this.closeCode); }
    });
  }

  /** join and resolve at presence_state (the room's member list). */
  join(canvasId, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.joinWait = null; reject(new Error(`join timeout after ${timeoutMs} ms`)); }, timeoutMs);
      this.joinWait = { resolve, reject, timer };
      this.sock.write(clientFrame(`{"type":"join","canvasId":${JSON.stringify(canvasId)},"id":"j"}`));
    });
  }

  /** Room message; `dataJson` is the JSON text of `data`. */
  send(canvasId, dataJson) {
    this.sock.write(clientFrame(`{"type":"message","canvasId":"${canvasId}","data":${dataJson}}`));
  }

  sendFrame(frame) { this.sock.write(frame); }

  close() { this.sock.destroy(); }

  get bytesRead() { return this.sock.bytesRead; }

  data(chunk) {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let i = 0;
    if (!this.upgraded) {
      const end = buf.indexOf(HEAD_END);
      if (end < 0) { this.pending = buf; return; }
      const head = buf.latin1Slice(0, end);
      if (!head.startsWith('HTTP/1.1 101') || !head.includes(ACCEPT)) {
        if (this.onEarlyClose) this.onEarlyClose(`upgrade refused: ${head.split('\r\n', 1)[0]}`);
        this.sock.destroy();
        return;
      }
      this.upgraded = true;
      i = end + 4;
    }
    const n = buf.length;
    while (n - i >= 2) {
      const b0 = buf[i]; const b1 = buf[i + 1];
      let len = b1 & 0x7f; let hdr = 2;
      if (len === 126) { if (n - i < 4) break; len = buf.readUInt16BE(i + 2); hdr = 4; }
      else if (len === 127) { if (n - i < 10) break; len = buf.readUInt32BE(i + 2) * 2 ** 32 + buf.readUInt32BE(i + 6); hdr = 10; }
      if (b1 & 0x80) this.protocolErrors++; // server frames must not be masked
      const s = i + hdr; const e = s + len;
      if (e > n) break;
      i = e;
      const opcode = b0 & 0x0f;
      if (opcode === 0x1 && (b0 & 0x80)) this.text(buf, s, e);
      else if (opcode === 0x8) this.closeFrame(buf, s, e);
      else if (opcode === 0x9) this.sock.write(controlFrame(0xa, buf.subarray(s, e)));
      else if (opcode !== 0xa) this.protocolErrors++; // fragment or binary: the protocol has neither
    }
    if (i < n) this.pending = buf.subarray(i);
  }

  text(buf, s, e) {
    // Fast path: `{"type":"me` is a room message; no parse, no string.
    if (e - s > 11 && buf[s + 9] === M && buf[s + 10] === E && buf.compare(TYPE_PREFIX, 0, 9, s, s + 9) === 0) {
      if (this.onMessage) this.onMessage(buf, s, e);
      return;
    }
    const text = buf.toString('utf8', s, e);
    let type;
    if (text.startsWith('{"type":"')) type = text.slice(9, text.indexOf('"', 9));
    else { try { type = JSON.parse(text).type; } catch { this.protocolErrors++; return; } }
    if (type === 'message') { if (this.onMessage) this.onMessage(buf, s, e); return; }
    if (type === 'connection_ack') {
      this.ack = JSON.parse(text);
      if (this.onAck) { const f = this.onAck; this.onAck = null; f(this.ack); }
    } else if (type === 'presence_state' || type === 'error') {
      const w = this.joinWait;
      if (w) {
        this.joinWait = null;
        clearTimeout(w.timer);
        if (type === 'error') w.reject(new Error(`join error: ${text.slice(0, 200)}`)); else w.resolve();
      }
    }
    if (this.onOther) this.onOther(type, text);
  }

  closeFrame(buf, s, e) {
    this.closeCode = e - s >= 2 ? buf.readUInt16BE(s) : 1005;
    // Echo the close (RFC 6455 5.5.1) so the server's close handshake completes at once.
    this.sock.end(controlFrame(0x8, buf.subarray(s, Math.min(e, s + 2))));
  }
}

/**
 * The last `out.length` unsigned integers of buf[start, end), in order. The
 * generator's payloads end with their bookkeeping fields (e.g. `"s":1,"k":2,"t":3}`)
 * and `data` is the last field of a message frame, so this reads them without
 * parsing the frame. false if there are fewer integers than asked for.
 */
export function lastInts(buf, start, end, out) {
  let i = end - 1;
  for (let j = out.length - 1; j >= 0; j--) {
    while (i >= start && (buf[i] < 48 || buf[i] > 57)) i--;
    if (i < start) return false;
    let v = 0; let m = 1;
    while (i >= start && buf[i] >= 48 && buf[i] <= 57) { v += (buf[i] - 48) * m; m *= 10; i--; }
    out[j] = v;
  }
  return true;
}
