// A private copy of dist/ for one chaos run. The run restarts instances for minutes; a
// `npm run build` (or `npm test`, whose pretest builds) in the same checkout meanwhile would
// have the restarted instances run other code than the first ones, and the SDK other code than
// the server. The copy sits in a temp dir with a package.json ({"type":"module"}) and a symlink
// to the repository's node_modules, so `node <copy>/dist/main.js` resolves its packages as the
// original does. `--no-snapshot` runs dist/ itself.
import { cpSync, existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_DIR } from '../../bench/lib/targets.mjs';

/** The entry points of a dist tree. */
export function distPaths(root) {
  return { root, main: join(root, 'dist/main.js'), sdkEntry: join(root, 'dist/sdk/client/index.js') };
}

/** null when dist/ has what a run needs, else what is missing. */
export function distMissing(root = REPO_DIR) {
  const p = distPaths(root);
  return existsSync(p.main) && existsSync(p.sdkEntry) ? null : 'dist/main.js or dist/sdk/client/index.js (run `npm run build`)';
}

/** Copies dist/ now; returns its paths, when the original was built, and remove(). */
export function snapshotDist() {
  const dir = mkdtempSync(join(tmpdir(), 'cm-chaos-dist-'));
  cpSync(join(REPO_DIR, 'dist'), join(dir, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  symlinkSync(join(REPO_DIR, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return {
    ...distPaths(dir),
    builtAt: statSync(join(REPO_DIR, 'dist/main.js')).mtime.toISOString(),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** dist/ itself (no copy). */
export function liveDist() {
  return { ...distPaths(REPO_DIR), builtAt: statSync(join(REPO_DIR, 'dist/main.js')).mtime.toISOString(), remove: () => undefined };
}
