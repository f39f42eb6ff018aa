// compression: the fanout load with a realistic payload mix, through clients
// that offer permessage-deflate like browsers do (the `ws` client library:
// the lean client cannot inflate). Run against the product with and without
// WS_PER_MESSAGE_DEFLATE=true (lib/cluster.mjs LAYOUTS.compression); the
// server decides, and the result says what was negotiated.
// Mix, deterministic per (sender, sequence) so both layouts get the same bytes:
//   cursor moves, data {x,y} (~60 bytes with the bookkeeping fields)
//   strokes, `strokePct` % of messages: 20..200 points of a random walk
//   presence: every `presenceEveryMs` one more user joins the room, and
//     leaves half a period later (presence_join / presence_leave to everyone)
// Bytes on the wire: bytesRead of every receiving client's TCP socket over the
// measured window (WebSocket frames with their headers, after the server's
// compression; TCP/IP headers not included), per delivered room message.
import { makeTokens } from './tokens.mjs';
import { openClient } from './clients.mjs';
import { run as fanout } from './fanout.mjs';

const ROOM = 'fanout'; // fanout.mjs's room

/** mulberry32: a tiny seeded PRNG, so the mix is the same in every run. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mix(strokePct) {
  return (i, k) => {
    const r = rng(i * 1_000_003 + k);
    let x = Math.floor(r() * 1920); let y = Math.floor(r() * 1080);
    if (r() * 100 >= strokePct) return `"x":${x},"y":${y}`;
    const n = 20 + Math.floor(r() * 181);
    const pts = new Array(n);
    for (let p = 0; p < n; p++) {
      x = Math.max(0, Math.min(1919, x + Math.floor(r() * 9) - 4));
      y = Math.max(0, Math.min(1079, y + Math.floor(r() * 9) - 4));
      pts[p] = `[${x},${y}]`;
    }
    return `"stroke":[${pts.join(',')}],"color":"#1f6feb","width":2`;
  };
}

const sumBytes = (clients) => clients.reduce((a, c) => a + c.bytesRead, 0);

export async function run(job) {
  const { strokePct, presenceEveryMs } = job.params;
  const clientOpts = { deflate: true };
  let bytes0 = 0; let timer = null; let churns = 0; let churnDeliveries = 0; let churnBytes = 0;
  const inRoom = new Set(); // churn clients still connected
  const churnTokens = makeTokens(job.secret, 100, 'p'); // reused round-robin

  // One more user, in and out of the room: its deliveries and bytes count too.
  const churnOnce = async () => {
    const c = await openClient('ws-lib', { ...clientOpts, port: job.port, token: churnTokens[churns++ % churnTokens.length] });
    c.onMessage = () => { churnDeliveries++; };
    inRoom.add(c);
    await c.join(ROOM);
    setTimeout(() => { if (inRoom.delete(c)) { churnBytes += c.bytesRead; c.close(); } }, presenceEveryMs / 2);
  };

  const result = await fanout(job, {
    protocol: 'ws-lib',
    clientOpts,
    payload: mix(strokePct),
    onStart(clients) {
      bytes0 = sumBytes(clients);
      timer = setInterval(() => { churnOnce().catch(() => {}); }, presenceEveryMs);
      return {};
    },
    onEnd(clients) {
      clearInterval(timer);
      for (const c of inRoom) { churnBytes += c.bytesRead; c.close(); }
      inRoom.clear();
      const negotiated = clients.filter((c) => /permessage-deflate/.test(c.extensions)).length;
      return { wireBytes: sumBytes(clients) - bytes0 + churnBytes, churns, churnDeliveries, negotiated, extensions: clients[0].extensions };
    },
  });
  return result;
}
