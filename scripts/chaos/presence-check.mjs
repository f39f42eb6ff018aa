// Presence under the faults, worker side (load-worker.mjs runs these).
//
// A presence ghost is a user listed in a room who has no live connection: after a SIGKILL, the
// dead instance never says goodbye, and its users must disappear from presence once its lease
// is over (others get presence_leave). The load's clients all come back, so they cannot show a
// ghost; probes can: per room, one idle client (user p<room>-<instance>) connected straight to
// each instance's own port (not through nginx, so its instance is known). When an instance is
// SIGKILLed, its probes are closed at once and never come back. After the lease, no client may
// list them; and every client must list every real member (a missing one is a lost
// presence_join). `connections` in a member object is a snapshot (the protocol sends no frame
// when a user's second tab opens or closes), so per-client views are checked by user only; a
// fresh observer's presence_state (the server's truth at that moment) must show each load user
// with exactly one connection: a second one after the lease is a ghost connection.
import WebSocket from 'ws';
import { sign } from '../soak/lib.mjs';

/** Starts the probes; resolves once each has joined its room. */
export async function startProbes(connect, cfg) {
  const probes = cfg.probes.map((p) => {
    const token = sign(cfg.secret, { sub: p.userId, tenantId: cfg.tenant, name: p.userId });
    return { ...p, client: connect({ url: p.url, getToken: () => token, WebSocket, ...(cfg.sdkOptions ?? {}) }), closed: false };
  });
  await Promise.all(probes.map((p) => p.client.join(p.room)));
  return probes;
}

/** Closes the probes connected to `instance` for good (they model users who are gone with it). */
export function closeProbes(probes, instance) {
  const closed = [];
  for (const p of probes)
    if (p.instance === instance && !p.closed) {
      p.closed = true;
      p.client.close();
      closed.push(p.userId);
    }
  return closed;
}

/**
 * Every load client's view of its room against `expected` (room → user ids that must be listed,
 * and no others). Returns counts and which users were wrong, and how many clients saw each.
 */
export function presenceViews(clients, expected) {
  let ghosts = 0;
  let missing = 0;
  let bad = 0;
  const wrong = {};
  /** Which clients saw it so (a few per entry), for the report's detail. */
  const viewers = {};
  const note = (k, idx) => {
    wrong[k] = (wrong[k] ?? 0) + 1;
    if ((viewers[k] ??= []).length < 5) viewers[k].push(idx);
  };
  for (const rec of clients) {
    const want = new Set(expected[rec.room]);
    const listed = new Set(rec.client.presence(rec.room).map((m) => m.userId));
    const extra = [...listed].filter((u) => !want.has(u));
    const absent = [...want].filter((u) => !listed.has(u));
    ghosts += extra.length;
    missing += absent.length;
    if (extra.length + absent.length > 0) bad++;
    for (const u of extra) note(`${u} listed`, rec.idx);
    for (const u of absent) note(`${u} missing`, rec.idx);
  }
  return { presenceBad: bad, ghosts, missingMembers: missing, presenceWrong: wrong, presenceViewers: viewers };
}

/**
 * A fresh client (user `observer`) joins every room through `url` and reports each room's
 * members from the presence_state it gets, then leaves. Resolves with room → [{userId, connections}].
 */
export async function observe(connect, cfg, rooms) {
  const token = sign(cfg.secret, { sub: 'observer', tenantId: cfg.tenant, name: 'observer' });
  const client = connect({ url: cfg.url, getToken: () => token, WebSocket });
  try {
    const out = {};
    for (const room of rooms) {
      const got = new Promise((resolve) => {
        const off = client.on('presence', (e) => {
          if (e.canvasId === room && e.change.kind === 'state') {
            off();
            resolve(e.members);
          }
        });
      });
      await client.join(room);
      out[room] = (await got).map((m) => ({ userId: m.userId, connections: m.connections }));
    }
    return out;
  } finally {
    client.close();
  }
}
