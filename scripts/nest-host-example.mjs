#!/usr/bin/env node
// examples/nest-host as a user gets it (issue 14): this package packed by `npm pack`, installed
// into a separate Nest 12 app from that tarball, built with the app's own strict tsconfig, and
// its e2e (node:test, examples/nest-host/test) run against the built app as a child process.
// The same sources are also compiled and run as CommonJS (examples/nest-host/.cjs, generated,
// git-ignored): the README says a CommonJS host works (Node 20.19+/22.12+ `require()` this
// ES-module package), and this is what makes that true.
//
//   node scripts/nest-host-example.mjs [--node <binary>]...   pack, install, build, test on each
//                                                              binary (default: this Node)
//   node scripts/nest-host-example.mjs --lock                 pack, then rewrite the example's lock
//
// Lock policy. examples/nest-host/package-lock.json is committed: every registry package of the
// example (Nest, the package's own dependencies, TypeScript, ws) is pinned with its integrity, so
// `npm ci` installs the same tree each time, from the npm registry alone. The package itself is
// `file:.pack/canvas-connection-manager.tgz`, rebuilt from the sources at each run, so its lock
// entry carries no `integrity`: a recorded hash would be wrong after any source change (npm ci
// fails with EINTEGRITY on a clean machine, and, worse, on a machine whose npm cache holds the
// old hash it silently installs the OLD tarball from the cache). What the lock does record about
// the package (version, dependencies, peerDependencies) is checked against the fresh tarball
// after `npm ci`: when the package gains or changes a dependency, this script fails and says to
// run `npm run example:lock`, which re-resolves and strips the hash again.
//
// `npm pack` runs `prepack` (clean + build of dist): do not run this while other processes use
// dist (the repo's vitest files); .ci/run calls it after the test suite.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(root, 'examples', 'nest-host');
const tarball = join(example, '.pack', 'canvas-connection-manager.tgz');
const lockFile = join(example, 'package-lock.json');
const entryKey = 'node_modules/canvas-connection-manager';
const resolvedSpec = 'file:.pack/canvas-connection-manager.tgz';
const cjs = join(example, '.cjs');

const args = process.argv.slice(2);
const nodes = [];
let lockMode = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--lock') lockMode = true;
  else if (args[i] === '--node' && args[i + 1]) nodes.push(args[++i]);
  else fail(`unknown argument ${args[i]} (usage: [--node <binary>]... | --lock)`);
}
if (nodes.length === 0) nodes.push(process.execPath);

function fail(message) {
  console.error(`nest-host-example: ${message}`);
  process.exit(1);
}

/** Runs a command; with `capture`, also returns its stdout and stderr (shown unless `quiet`). */
function run(cmd, cmdArgs, { cwd = root, capture = false, quiet = false } = {}) {
  console.log(`\n$ (${cwd === root ? '.' : cwd.slice(root.length + 1)}) ${[cmd, ...cmdArgs].join(' ')}`);
  const result = spawnSync(cmd, cmdArgs, { cwd, stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (capture && (!quiet || result.status !== 0)) process.stdout.write(`${result.stdout}${result.stderr}`);
  if (result.status !== 0) fail(`\`${[cmd, ...cmdArgs].join(' ')}\` failed (${result.status ?? result.signal})`);
  return { stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** `npm pack` of the repository (prepack: clean + build), renamed to the path the example depends on. */
function pack() {
  const dest = mkdtempSync(join(tmpdir(), 'cm-pack-'));
  try {
    // --json: the report is the last thing on stdout (prepack's build output comes before it).
    const { stdout } = run('npm', ['pack', '--json', '--pack-destination', dest], { capture: true, quiet: true });
    const [report] = JSON.parse(stdout.slice(stdout.lastIndexOf('\n[\n') + 1));
    mkdirSync(dirname(tarball), { recursive: true });
    renameSync(join(dest, report.filename), tarball);
    console.log(`packed ${report.name}@${report.version}: ${report.entryCount} files, ${report.size} bytes → ${tarball.slice(root.length + 1)}`);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}

function readLock() {
  return JSON.parse(readFileSync(lockFile, 'utf8'));
}

/**
 * Drops the tarball's entry from the lock, so npm resolves it again from the fresh tarball (with
 * the entry in place, `--package-lock-only` keeps its old dependency list: "up to date").
 */
function forgetTarballEntry() {
  if (!existsSync(lockFile)) return;
  const lock = readLock();
  if (lock.packages?.[entryKey] === undefined) return;
  delete lock.packages[entryKey];
  writeFileSync(lockFile, `${JSON.stringify(lock, null, 2)}\n`);
}

/** The lock's entry for the tarball must not pin its hash (see the policy above). */
function stripTarballIntegrity() {
  const lock = readLock();
  const entry = lock.packages?.[entryKey];
  if (!entry) fail(`${entryKey} is missing from examples/nest-host/package-lock.json`);
  delete entry.integrity;
  writeFileSync(lockFile, `${JSON.stringify(lock, null, 2)}\n`);
}

function checkLockPolicy() {
  const entry = readLock().packages?.[entryKey];
  if (!entry) fail(`${entryKey} is missing from examples/nest-host/package-lock.json: run \`npm run example:lock\``);
  if (entry.resolved !== resolvedSpec) fail(`the lock resolves the package to ${entry.resolved}, not ${resolvedSpec}: run \`npm run example:lock\``);
  if (entry.integrity !== undefined) fail('the lock pins the tarball integrity (it changes with every source change): run `npm run example:lock`');
}

/** What the lock recorded about the package must be what the fresh tarball declares. */
function checkLockMatchesTarball() {
  const entry = readLock().packages[entryKey];
  const installed = JSON.parse(readFileSync(join(example, entryKey, 'package.json'), 'utf8'));
  const sorted = (o) => JSON.stringify(Object.entries(o ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  for (const field of ['version', 'dependencies', 'peerDependencies']) {
    const recorded = field === 'version' ? JSON.stringify(entry.version) : sorted(entry[field]);
    const packed = field === 'version' ? JSON.stringify(installed.version) : sorted(installed[field]);
    if (recorded !== packed) fail(`the example's lock records ${field} ${recorded} but the tarball has ${packed}: run \`npm run example:lock\` and commit examples/nest-host/package-lock.json`);
  }
}

/**
 * The example's src/ compiled as CommonJS with the example's own tsconfig: under `nodenext` a
 * file's format follows the nearest package.json `type`, so the copy sits under one that says
 * commonjs. It resolves packages from examples/nest-host/node_modules like the ESM build.
 */
function buildCommonJs() {
  rmSync(cjs, { recursive: true, force: true });
  cpSync(join(example, 'src'), join(cjs, 'src'), { recursive: true });
  writeFileSync(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
  const tsconfig = { extends: '../tsconfig.json', compilerOptions: { rootDir: 'src', outDir: 'dist' }, include: ['src/**/*.ts'] };
  writeFileSync(join(cjs, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  run(join(example, 'node_modules', '.bin', 'tsc'), ['-p', join(cjs, 'tsconfig.json')], { cwd: example });
}

pack();
if (lockMode) {
  forgetTarballEntry();
  run('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: example });
  stripTarballIntegrity();
  console.log('examples/nest-host/package-lock.json updated: commit it');
  process.exit(0);
}

checkLockPolicy();
const install = run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: example, capture: true });
// The same rule as the repository's own install (.ci/run): engines must hold on this Node.
if (/EBADENGINE/.test(install.stdout + install.stderr)) fail(`npm ci of the example printed EBADENGINE on ${process.version}`);
checkLockMatchesTarball();
run('npm', ['run', 'build'], { cwd: example });
buildCommonJs();
for (const node of nodes) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  for (const [format, main] of [
    ['ES module', join(example, 'dist', 'src', 'main.js')],
    ['CommonJS', join(cjs, 'dist', 'main.js')],
  ]) {
    console.log(`\n== host-app e2e, ${format} build, on Node ${version} (${node})`);
    process.env.HOST_APP_MAIN = main;
    run(node, ['--test', '--test-reporter=spec', 'dist/test/host-app.e2e-spec.js'], { cwd: example });
  }
}
