// Preloaded into the soak server next to bench/server-probe.mjs (which answers {cmd:'mem'}):
//   node --expose-gc --import bench/server-probe.mjs --import scripts/soak/handles-probe.mjs dist/main.js
// Answers {cmd:'handles'} over IPC with what keeps the process busy:
// - resources: process.getActiveResourcesInfo() counted by kind (ref'ed handles only);
// - liveTimers: every Timeout created since start and not yet cleared or fired, ref'ed or
//   unref'ed (the server unrefs its timers, so getActiveResourcesInfo alone would miss a leak);
//   null unless SOAK_TRACK_TIMERS=1.
import { createHook } from 'node:async_hooks';

// Only with SOAK_TRACK_TIMERS=1: an init hook turns on promise hooks too, which costs CPU.
const live = new Set();
const tracking = process.env.SOAK_TRACK_TIMERS === '1';
if (tracking) {
  createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
}

if (typeof process.send === 'function') {
  process.on('message', (msg) => {
    if (!msg || msg.cmd !== 'handles') return;
    const resources = {};
    for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
    process.send({ probe: 'handles', resources, liveTimers: tracking ? live.size : null });
  });
}
