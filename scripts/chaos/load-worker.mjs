// One load-generator process (forked by load-pool.mjs): a share of the SDK clients, each in one
// room, each sending a stroke every 1/hz s with the SDK's send(). It records what the checker
// needs and nothing else:
// - per sender, the fate of each stroke counter: sent, acknowledged (send()'s promise resolved),
//   refused (rejected with a server error code), or reported not delivered (`unacknowledged`);
// - per receiver, per sender of its room, the counters in the order they arrived;
// - every state change with its time, every SDK error code, resume positions around truncations.
// Each stroke's data is { s: sender index, n: per-sender counter, t: send time, points }.
//
// It also runs the presence probes and the observer (presence-check.mjs).
// IPC (coordinator -> worker): start {config}, send {on}, drop {indices}, status {expected},
// close-probes {instance}, observe {rooms}, report, exit; every reply carries the request's id.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { sign } from '../soak/lib.mjs';
import { STATUS } from './checker.mjs';
import { closeProbes, observe, presenceViews, startProbes } from './presence-check.mjs';

/** send() rejections that mean "not delivered": the server's refusals of a seq, and the SDK's full outbox. */
const REFUSAL_CODES = new Set(['NOT_IN_ROOM', 'BAD_REQUEST', 'RATE_LIMITED', 'UNAVAILABLE', 'OUTBOX_FULL']);

/** Walks an `unacknowledged` payload (whatever its shape) for stroke data { s, n }. */
function strokesIn(value, out = [], depth = 0) {
  if (typeof value === 'string') value = tryParse(value);
  if (value === null || typeof value !== 'object' || depth > 6) return out;
  if (Number.isInteger(value.s) && Number.isInteger(value.n)) out.push(value);
  else for (const v of Array.isArray(value) ? value : Object.values(value)) strokesIn(v, out, depth + 1);
  return out;
}
const tryParse = (s) => {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
};

let cfg;
let connect;
let sending = false;
const clients = [];
let probes = [];
const loopDelay = monitorEventLoopDelay({ resolution: 20 });

/** One SDK client and what it saw. */
function makeClient(spec) {
  const rec = {
    idx: spec.idx,
    room: spec.room,
    userId: `u${spec.idx}`,
    ws: undefined,
    next: 1,
    status: new Uint8Array(cfg.maxStrokes + 2),
    sentAt: new Float64Array(cfg.maxStrokes + 2),
    settledAt: new Float64Array(cfg.maxStrokes + 2),
    refusedCodes: {},
    /** sender index → counters in arrival order */
    got: new Map(),
    distinct: 0,
    seen: new Map(),
    echoes: 0,
    foreign: 0,
    states: [],
    errors: {},
    errorSamples: [],
    lastPos: null,
    truncations: [],
    pending: 0,
    sendThrows: {},
    joined: false,
    promiseSends: false,
  };
  // The WebSocket class of this client: remembers its current socket, to destroy its TCP connection.
  class Tracked extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      rec.ws = this;
    }
  }
  const token = sign(cfg.secret, { sub: rec.userId, tenantId: cfg.tenant, name: `User ${spec.idx}` });
  const client = connect({ url: cfg.url, getToken: () => token, WebSocket: Tracked, ...(cfg.sdkOptions ?? {}) });
  rec.client = client;
  client.on('state', (e) => {
    rec.states.push({ t: Date.now(), state: e.state, missed: e.missed, closeCode: e.closeCode });
    if (e.state === 'reconnecting') rec.posBeforeDrop = rec.lastPos;
    if (e.missed === 'truncated') rec.truncations.push({ t: Date.now(), before: rec.posBeforeDrop ?? null, after: null });
  });
  client.on('error', (e) => {
    rec.errors[e.code] = (rec.errors[e.code] ?? 0) + 1;
    if (rec.errorSamples.length < 3) rec.errorSamples.push(`${e.code}: ${String(e.message).slice(0, 160)}`);
  });
  client.on('unacknowledged', (payload) => {
    for (const d of strokesIn(payload)) if (d.s === rec.idx && rec.status[d.n] !== STATUS.ACKED) rec.status[d.n] = STATUS.UNACKNOWLEDGED;
  });
  client.on('message', (m) => {
    const d = m.data;
    if (!d || !Number.isInteger(d.s) || !Number.isInteger(d.n)) return void rec.foreign++;
    if (d.s === rec.idx) rec.echoes++;
    let list = rec.got.get(d.s);
    if (!list) rec.got.set(d.s, (list = []));
    list.push(d.n);
    let seen = rec.seen.get(d.s);
    if (!seen) rec.seen.set(d.s, (seen = new Set()));
    if (!seen.has(d.n)) {
      seen.add(d.n);
      rec.distinct++;
    }
    if (m.pos !== undefined) {
      rec.lastPos = m.pos;
      const open = rec.truncations.at(-1);
      if (open && open.after === null) open.after = m.pos;
    }
  });
  return rec;
}

function sendStroke(rec) {
  if (!sending || rec.next > cfg.maxStrokes) return;
  const n = rec.next++;
  rec.sentAt[n] = Date.now();
  const data = { s: rec.idx, n, t: rec.sentAt[n], points: [[(n % 97) / 97, (rec.idx % 89) / 89]] };
  let result;
  try {
    result = rec.client.send(rec.room, data);
  } catch (err) {
    // Thrown synchronously: nothing went out (e.g. a full outbox, QUEUE_FULL).
    rec.status[n] = STATUS.REFUSED;
    const code = err?.code ?? 'THROWN';
    rec.sendThrows[code] = (rec.sendThrows[code] ?? 0) + 1;
    return;
  }
  rec.status[n] = STATUS.SENT;
  if (result && typeof result.then === 'function') {
    rec.promiseSends = true;
    rec.pending++;
    result.then(
      () => {
        rec.pending--;
        rec.status[n] = STATUS.ACKED;
        rec.settledAt[n] = Date.now();
      },
      (err) => {
        rec.pending--;
        rec.settledAt[n] = Date.now();
        if (rec.status[n] === STATUS.ACKED) return;
        const code = err?.code ?? 'REJECTED';
        rec.refusedCodes[code] = (rec.refusedCodes[code] ?? 0) + 1;
        // Refused by the server (an error frame for this seq) or by the SDK before it went out
        // (OUTBOX_FULL): nothing delivered. Anything else (NOT_DELIVERED: the session was lost;
        // CLOSED): not known either way, as `unacknowledged`.
        rec.status[n] = REFUSAL_CODES.has(code) ? STATUS.REFUSED : STATUS.UNACKNOWLEDGED;
      },
    );
  }
}

/** Live figures for the coordinator's waits (quiescence, presence against `expected`). */
function status(expected) {
  let open = 0;
  let pending = 0;
  let distinct = 0;
  let expectedOut = 0;
  let promiseSends = false;
  for (const rec of clients) {
    if (rec.client.isOpen) open++;
    pending += rec.pending;
    distinct += rec.distinct;
    promiseSends ||= rec.promiseSends;
    for (let n = 1; n < rec.next; n++) if (rec.status[n] === STATUS.SENT || rec.status[n] === STATUS.ACKED) expectedOut++;
  }
  const probesOpen = probes.filter((p) => !p.closed && p.client.isOpen).length;
  const probesLive = probes.filter((p) => !p.closed).length;
  return {
    open,
    total: clients.length,
    pending,
    distinct,
    expectedOut,
    promiseSends,
    probesOpen,
    probesLive,
    ...presenceViews(clients, expected ?? cfg.roomMembers),
  };
}

function report() {
  return {
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    clients: clients.map((rec) => ({
      idx: rec.idx,
      room: rec.room,
      sent: rec.next - 1,
      status: rec.status.subarray(0, rec.next),
      sentAt: rec.sentAt.subarray(0, rec.next),
      settledAt: rec.settledAt.subarray(0, rec.next),
      refusedCodes: rec.refusedCodes,
      sendThrows: rec.sendThrows,
      got: rec.got,
      echoes: rec.echoes,
      foreign: rec.foreign,
      states: rec.states,
      errors: rec.errors,
      errorSamples: rec.errorSamples,
      truncations: rec.truncations,
      promiseSends: rec.promiseSends,
    })),
  };
}

process.on('disconnect', () => process.exit(0));
process.on('message', async (m) => {
  try {
    if (m.type === 'start') {
      cfg = m.config;
      ({ connect } = await import(pathToFileURL(cfg.sdkEntry).href));
      for (const spec of cfg.clients) clients.push(makeClient(spec));
      await Promise.all(clients.map((rec) => rec.client.whenOpen()));
      // Joins one at a time per worker keep the upgrade/join burst gentle on the 2-core machine.
      for (const rec of clients) await rec.client.join(rec.room);
      probes = await startProbes(connect, cfg);
      // Every client its own 1/hz timer, phases spread evenly over the period.
      const period = 1000 / cfg.hz;
      for (const rec of clients) setTimeout(() => (rec.timer = setInterval(() => sendStroke(rec), period)), Math.random() * period);
      loopDelay.enable();
      process.send({ type: 'started' });
    } else if (m.type === 'send') {
      sending = m.on;
    } else if (m.type === 'drop') {
      const dropped = [];
      for (const idx of m.indices) {
        const rec = clients.find((c) => c.idx === idx);
        // Only a live, acknowledged connection counts as dropped by the fault.
        if (rec?.ws?.readyState === WebSocket.OPEN && rec.client.isOpen) {
          rec.ws._socket?.destroy();
          dropped.push(idx);
        }
      }
      process.send({ type: 'dropped', id: m.id, indices: dropped, at: Date.now() });
    } else if (m.type === 'status') {
      process.send({ type: 'status', id: m.id, status: status(m.expected) });
    } else if (m.type === 'close-probes') {
      process.send({ type: 'probes-closed', id: m.id, userIds: closeProbes(probes, m.instance) });
    } else if (m.type === 'observe') {
      process.send({ type: 'observed', id: m.id, rooms: await observe(connect, cfg, m.rooms) });
    } else if (m.type === 'report') {
      process.send({ type: 'report', id: m.id, report: report() });
    } else if (m.type === 'exit') {
      for (const rec of clients) {
        clearInterval(rec.timer);
        rec.client.close();
      }
      for (const p of probes) p.client.close();
      process.send({ type: 'bye', id: m.id }, () => process.exit(0));
    }
  } catch (err) {
    process.send({ type: 'error', error: String(err?.stack ?? err) });
  }
});
process.send({ type: 'ready' });
