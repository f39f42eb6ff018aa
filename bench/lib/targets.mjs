// The servers under test. Each target says how to start it and which client
// protocol the generator must speak to it ('ws' = the product's JSON protocol
// at /ws, which raw-ws mirrors exactly; 'socket.io' = socket.io events).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = path.dirname(BENCH_DIR);
export const PROBE = path.join(BENCH_DIR, 'server-probe.mjs');

export const TARGETS = {
  'raw-ws': {
    entry: path.join(BENCH_DIR, 'baselines', 'raw-ws.mjs'),
    protocol: 'ws',
    env: () => ({ RAW_WS_CORK: '0' }),
  },
  // The same server, holding each socket corked until the end of the turn like
  // the product's write batch: the fair floor when many frames meet in one turn.
  'raw-ws-corked': {
    entry: path.join(BENCH_DIR, 'baselines', 'raw-ws.mjs'),
    protocol: 'ws',
    env: () => ({ RAW_WS_CORK: '1' }),
  },
  'socket.io': {
    entry: path.join(BENCH_DIR, 'baselines', 'socketio.mjs'),
    protocol: 'socket.io',
    env: () => ({}),
  },
  product: {
    entry: path.join(REPO_DIR, 'dist', 'main.js'),
    protocol: 'ws',
    // Limits raised so the product's protective limits never shape the figures.
    env: () => ({
      HOST: '127.0.0.1',
      WS_MAX_CONNECTIONS: '20000',
      WS_RATE_LIMIT_POINTS: '1000000',
      WS_MESSAGE_RATE_LIMIT: '100000',
      WS_ROOM_CAPACITY: '1000',
      WS_HEARTBEAT_INTERVAL_MS: '30000',
      WS_MAX_CONNECTIONS_PER_IP: '0', // 0 = unlimited; every bench client comes from 127.0.0.1
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    }),
  },
};

/**
 * Make sure a target can be started. Only the product needs work: it is built
 * with `npm run build` when dist/main.js is missing (or --build is given).
 * Returns null when ready, or a human-readable reason to skip.
 */
export function prepareTarget(name, { forceBuild = false, log = console.error } = {}) {
  const t = TARGETS[name];
  if (name !== 'product') return existsSync(t.entry) ? null : `missing ${t.entry}`;
  if (forceBuild || !existsSync(t.entry)) {
    if (!existsSync(path.join(REPO_DIR, 'src', 'main.ts'))) {
      return 'src/main.ts does not exist yet (product not written); skipped';
    }
    log(`[bench] building product: npm run build ${forceBuild ? '(--build)' : '(dist/main.js missing)'}`);
    const r = spawnSync('npm', ['run', 'build'], { cwd: REPO_DIR, encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) {
      const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
      return `npm run build failed (exit ${r.status}); skipped.\n${tail}`;
    }
  }
  return existsSync(t.entry) ? null : 'dist/main.js not produced by the build; skipped';
}
