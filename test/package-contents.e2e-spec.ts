import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The published package (issue 14), checked on the BUILT output (`npm test` builds first):
 * the tarball holds only what a user runs, the `exports` map resolves both entry points with
 * their types, and the SDK (`./client`) reaches nothing of Nest or Node: its whole import graph
 * stays inside dist/sdk, so a browser (or a bundler) can load it as it is.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
};

/** Specifiers of the imports and re-exports of an ES module (block comments, which may quote an import, left out). */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  return [
    ...source.matchAll(/(?:^|[;\s])(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm),
  ].map((m) => m[1] ?? m[2] ?? m[3]);
}

describe('the published package', () => {
  it('npm pack holds only the library, the SDK, their types, README, LICENSE and CHANGELOG', async () => {
    // --ignore-scripts: prepack would clean and rebuild dist under the other test files' feet.
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const [report] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
    const files = report.files.map((f) => f.path).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/sdk/client/index.js',
        'dist/sdk/client/index.d.ts',
      ]),
    );
    const unexpected = files.filter(
      (f) => !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(f) && !(f.startsWith('dist/') && /\.(js|d\.ts)$/.test(f)),
    );
    expect(unexpected).toEqual([]);
    // Nothing of the demo app, the specs, or source maps pointing at sources that are not shipped.
    expect(files.filter((f) => /^dist\/(demo\/|main\.)|^dist\/sdk\/client\/demo\/|\.spec\.|\.map$/.test(f))).toEqual([]);
  });

  it('the exports map resolves `.` and `./client` (with their types) by the package name', async () => {
    for (const [key, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect(existsSync(join(ROOT, target.types)), `${key} types ${target.types}`).toBe(true);
      expect(existsSync(join(ROOT, target.default)), `${key} ${target.default}`).toBe(true);
    }
    // A package may import itself by name through its own exports map (Node's self-reference).
    const root = (await import(`${pkg.name}`)) as Record<string, unknown>;
    expect(typeof root.ConnectionManagerModule).toBe('function');
    expect(typeof root.ConnectionManagerWsAdapter).toBe('function');
    const client = (await import(`${pkg.name}/client`)) as Record<string, unknown>;
    expect(typeof client.connect).toBe('function');
    expect(client.ConnectionManagerModule).toBeUndefined();
  });

  it('the SDK imports only its own files: no Nest, no Node built-in, no package (browser- and Node-safe)', () => {
    const sdkRoot = join(ROOT, 'dist/sdk');
    const entry = join(ROOT, (pkg.exports['./client'] as { default: string }).default);
    const seen = new Set<string>();
    const outside: string[] = [];
    const queue = [entry];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('./') && !spec.startsWith('../')) {
          outside.push(`${relative(ROOT, file)} imports ${spec}`);
          continue;
        }
        const target = resolve(dirname(file), spec);
        if (relative(sdkRoot, target).startsWith('..')) outside.push(`${relative(ROOT, file)} imports ${spec} (outside dist/sdk)`);
        else queue.push(target);
      }
    }
    expect(outside).toEqual([]);
    // The walk did reach the SDK's modules and the shared protocol module.
    expect(seen.size).toBeGreaterThan(10);
    expect([...seen].some((f) => f.includes('dist/sdk/src/protocol/'))).toBe(true);
  });
});
