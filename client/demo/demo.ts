/**
 * The live canvas demo page (served at /demo by the demo app when DEMO_MODE=true).
 * Everything real-time goes through the client SDK: presence, cursors and strokes are plain
 * room messages; reconnects and resumes are the SDK's business, the page only shows the state.
 *
 * URL parameters: `name` (signs in at once), `user` (user id; default: derived from the name),
 * `canvas` (default "lobby"), `retryMs` (first reconnect delay, no jitter: for demos and tests).
 */
import { connect, type CanvasClient, type ClientErrorEvent, type PresenceMember, type RoomMessage, type StateEvent } from '../index.js';

type Point = [number, number];

/** What the page sends as `message` data. Coordinates are 0–1 of the canvas, so window sizes may differ. */
export type DemoMessage =
  | { kind: 'cursor'; x: number; y: number }
  | { kind: 'cursor_out' }
  /** A chunk of a stroke: the first chunk starts it, the next ones continue from the previous chunk's last point. */
  | { kind: 'stroke'; strokeId: string; color: string; width: number; points: Point[] };

/** What the page did, for curious people (and the browser test) to read in the console: `window.demo`. */
interface DemoDebug {
  userId?: string;
  canvasId?: string;
  states: Array<Pick<StateEvent, 'state' | 'missed' | 'closeCode'>>;
  receivedStrokes: string[];
  sentStrokes: string[];
  errors: ClientErrorEvent[];
  client?: CanvasClient<DemoMessage>;
}

declare global {
  interface Window {
    demo: DemoDebug;
  }
}

const debug: DemoDebug = { states: [], receivedStrokes: [], sentStrokes: [], errors: [] };
window.demo = debug;

const TENANT = 'demo';
const STROKE_WIDTH = 4;
const CURSOR_EVERY_MS = 50;
const STROKE_FLUSH_MS = 50;

const params = new URLSearchParams(location.search);
const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const form = byId<HTMLFormElement>('signin');
const board = byId<HTMLElement>('board');
const badge = byId<HTMLElement>('status');
const where = byId<HTMLElement>('where');
const canvas = byId<HTMLCanvasElement>('canvas');
const stage = byId<HTMLElement>('stage');
const cursorsLayer = byId<HTMLElement>('cursors');
const presenceList = byId<HTMLUListElement>('presence');
const log = byId<HTMLOListElement>('log');
const ctx = canvas.getContext('2d')!;

/** A user id the token endpoint accepts ([A-Za-z0-9._-], 1–64), derived from a display name. */
function userIdFor(name: string): string {
  const id = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return id || `guest-${Math.random().toString(36).slice(2, 8)}`;
}

function colorOf(userId: string): string {
  let h = 0;
  for (const ch of userId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360} 70% 45%)`;
}

function addLog(text: string, kind = ''): void {
  const li = document.createElement('li');
  li.className = kind;
  li.textContent = `${new Date().toLocaleTimeString([], { hour12: false })} ${text}`;
  log.prepend(li);
  while (log.children.length > 40) log.lastElementChild!.remove();
}

function showState(state: string): void {
  badge.dataset.state = state;
  badge.textContent = state;
}

// ------------------------------------------------------------------ drawing

/** Where each stroke (local or remote) got to, so the next chunk continues from there. */
const strokeEnds = new Map<string, Point>();

function drawChunk(strokeId: string, color: string, width: number, points: Point[]): void {
  if (points.length === 0) return;
  const from = strokeEnds.get(strokeId) ?? points[0]!;
  const { width: w, height: h } = canvas;
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = width;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  if (points.length === 1 && !strokeEnds.has(strokeId)) {
    ctx.beginPath();
    ctx.arc(from[0] * w, from[1] * h, width / 2, 0, Math.PI * 2);
    ctx.fill();
  } else {
    ctx.beginPath();
    ctx.moveTo(from[0] * w, from[1] * h);
    for (const [x, y] of points) ctx.lineTo(x * w, y * h);
    ctx.stroke();
  }
  strokeEnds.set(strokeId, points[points.length - 1]!);
}

function toPoint(event: PointerEvent): Point {
  const r = canvas.getBoundingClientRect();
  const clamp = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 10_000) / 10_000;
  return [clamp((event.clientX - r.left) / r.width), clamp((event.clientY - r.top) / r.height)];
}

// ------------------------------------------------------------------ remote cursors and presence

const names = new Map<string, string>();
const cursors = new Map<string, HTMLElement>(); // by connectionId

function nameOf(userId: string): string {
  return names.get(userId) ?? userId;
}

function moveCursor(from: RoomMessage<DemoMessage>['from'], x: number, y: number): void {
  let el = cursors.get(from.connectionId);
  if (!el) {
    const color = colorOf(from.userId);
    el = document.createElement('div');
    el.className = 'cursor';
    el.dataset.userId = from.userId;
    el.innerHTML = `<svg width="18" height="22" viewBox="0 0 18 22"><path d="M1 1 L1 17 L5.5 13 L8.5 20.5 L11.5 19.2 L8.6 12 L14.5 12 Z" fill="${color}" stroke="#fff" stroke-width="1.5" stroke-linejoin="round"/></svg>`;
    const label = document.createElement('span');
    label.style.background = color;
    label.textContent = nameOf(from.userId);
    el.append(label);
    cursorsLayer.append(el);
    cursors.set(from.connectionId, el);
  }
  el.style.left = `${x * 100}%`;
  el.style.top = `${y * 100}%`;
}

function removeCursors(keep: (userId: string, connectionId: string) => boolean): void {
  for (const [connectionId, el] of cursors) {
    if (keep(el.dataset.userId!, connectionId)) continue;
    el.remove();
    cursors.delete(connectionId);
  }
}

function renderPresence(members: PresenceMember[], me: string): void {
  for (const m of members) if (m.name) names.set(m.userId, m.name);
  presenceList.replaceChildren(
    ...[...members]
      .sort((a, b) => nameOf(a.userId).localeCompare(nameOf(b.userId)))
      .map((m) => {
        const li = document.createElement('li');
        li.dataset.userId = m.userId;
        const dot = document.createElement('span');
        dot.className = 'dot';
        dot.style.background = colorOf(m.userId);
        const label = document.createElement('span');
        label.textContent = `${nameOf(m.userId)}${m.userId === me ? ' (you)' : ''}`;
        const meta = document.createElement('span');
        meta.className = 'meta';
        meta.textContent = m.connections > 1 ? `${m.connections} tabs` : '';
        li.append(dot, label, meta);
        return li;
      }),
  );
  const present = new Set(members.map((m) => m.userId));
  removeCursors((userId) => present.has(userId));
}

// ------------------------------------------------------------------ session

function start(name: string, userId: string, canvasId: string): void {
  debug.userId = userId;
  debug.canvasId = canvasId;
  const shown = new URLSearchParams(params);
  shown.set('name', name);
  shown.set('canvas', canvasId);
  history.replaceState(null, '', `${location.pathname}?${shown}`);
  form.hidden = true;
  board.hidden = false;
  where.textContent = `canvas “${canvasId}” · ${name}`;
  names.set(userId, name);
  const color = colorOf(userId);

  const retryMs = Number(params.get('retryMs'));
  const client = connect<DemoMessage>({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
    getToken: async () => {
      const res = await fetch(`/demo/token?${new URLSearchParams({ user: userId, name, tenant: TENANT })}`);
      if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
    ...(retryMs > 0 ? { backoff: { initialMs: retryMs, jitter: 0 } } : {}),
  });
  debug.client = client;

  client.on('state', (e) => {
    debug.states.push({ state: e.state, ...(e.missed ? { missed: e.missed } : {}), ...(e.closeCode !== undefined ? { closeCode: e.closeCode } : {}) });
    showState(e.state);
    const detail =
      e.state === 'reconnecting'
        ? ` (close ${e.closeCode})`
        : e.missed === 'replayed'
          ? ' (missed strokes replayed)'
          : e.missed === 'truncated' || e.missed === 'lost'
            ? ' (some strokes were lost)'
            : '';
    addLog(`${e.state}${detail}`, 'state');
    if (e.state === 'reconnecting') removeCursors(() => false);
  });
  client.on('error', (e) => {
    debug.errors.push(e);
    addLog(`error ${e.code}${e.canvasId ? ` (${e.canvasId})` : ''}`);
  });
  client.on('presence', (p) => {
    if (p.canvasId === canvasId) renderPresence(p.members, userId);
    if (p.change.kind === 'join') addLog(`${nameOf(p.change.member.userId)} joined`);
    if (p.change.kind === 'leave') addLog(`${nameOf(p.change.userId)} left`);
  });
  client.on('message', (m) => {
    if (m.canvasId !== canvasId) return;
    const data = m.data;
    if (data.kind === 'cursor') moveCursor(m.from, data.x, data.y);
    else if (data.kind === 'cursor_out') removeCursors((_u, connectionId) => connectionId !== m.from.connectionId);
    else if (data.kind === 'stroke') {
      if (!debug.receivedStrokes.includes(data.strokeId)) debug.receivedStrokes.push(data.strokeId);
      drawChunk(data.strokeId, data.color, data.width, data.points);
    }
  });
  client.join(canvasId).catch((err: Error & { code?: string }) => addLog(`could not join: ${err.code ?? err.message}`));

  // Local drawing: drawn at once, sent in small chunks (the server allows 60 frames/s per connection).
  let stroke: { id: string; pending: Point[] } | undefined;
  let strokeCount = 0;
  let lastCursorAt = 0;
  const flush = (): void => {
    if (!stroke || stroke.pending.length === 0) return;
    void client.send(canvasId, { kind: 'stroke', strokeId: stroke.id, color, width: STROKE_WIDTH, points: stroke.pending });
    stroke.pending = [];
  };
  const flushTimer = setInterval(flush, STROKE_FLUSH_MS);
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    const id = `${userId}-${Date.now().toString(36)}-${++strokeCount}`;
    const p = toPoint(e);
    stroke = { id, pending: [p] };
    debug.sentStrokes.push(id);
    drawChunk(id, color, STROKE_WIDTH, [p]);
  });
  canvas.addEventListener('pointermove', (e) => {
    const p = toPoint(e);
    if (stroke) {
      stroke.pending.push(p);
      drawChunk(stroke.id, color, STROKE_WIDTH, [p]);
    }
    // Cursors are live only: not queued while disconnected (a stale cursor is worse than none).
    if (client.isOpen && e.timeStamp - lastCursorAt >= CURSOR_EVERY_MS) {
      lastCursorAt = e.timeStamp;
      void client.send(canvasId, { kind: 'cursor', x: p[0], y: p[1] });
    }
  });
  const end = (): void => {
    flush();
    stroke = undefined;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  stage.addEventListener('pointerleave', () => {
    if (client.isOpen) void client.send(canvasId, { kind: 'cursor_out' });
  });

  byId<HTMLButtonElement>('drop').addEventListener('click', () => {
    void fetch(`/demo/drop?${new URLSearchParams({ user: userId, tenant: TENANT })}`, { method: 'POST' })
      .then((r) => r.json() as Promise<{ dropped: number }>)
      .then((r) => addLog(`server dropped ${r.dropped} socket(s)`))
      .catch((err: unknown) => addLog(`drop failed: ${String(err)}`));
  });
  byId<HTMLButtonElement>('clear').addEventListener('click', () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    strokeEnds.clear();
  });
  window.addEventListener('pagehide', () => {
    clearInterval(flushTimer);
    client.close();
  });
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = byId<HTMLInputElement>('name').value.trim();
  const canvasId = byId<HTMLInputElement>('canvas-id').value.trim() || 'lobby';
  if (name) start(name, params.get('user') || userIdFor(name), canvasId);
});

const initialName = params.get('name');
byId<HTMLInputElement>('canvas-id').value = params.get('canvas') || 'lobby';
if (initialName) start(initialName, params.get('user') || userIdFor(initialName), params.get('canvas') || 'lobby');
