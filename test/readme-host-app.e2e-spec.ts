import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The README's "Use it in your Nest app" is examples/nest-host, byte for byte (issue 14). That
 * app is built with strict TypeScript from the packed tarball and run by its e2e in CI
 * (scripts/nest-host-example.mjs), so the README's code always compiles and works; this test
 * keeps the two from drifting. A code block preceded by the marker
 * `<!-- examples/nest-host/src/<file> -->` must equal that file; every file of the example's
 * src/ must have its block; the install command and the Node 20 override shown in the README
 * must be the example's package.json.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'nest-host');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const MARKER = /<!-- (examples\/nest-host\/src\/[^\s]+) -->\n/g;

interface Block {
  file: string;
  code: string | undefined;
}

/** Each marker with the fenced block right after it (`undefined` when no block follows it). */
function markedBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(MARKER)].map((m) => {
    const after = markdown.slice(m.index + m[0].length);
    const block = /^```ts\n([\s\S]*?)^```$/m.exec(after);
    return { file: m[1], code: block?.index === 0 ? block[1] : undefined };
  });
}

function exampleSrcFiles(): string[] {
  return readdirSync(join(EXAMPLE, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `examples/nest-host/src/${f.split('\\').join('/')}`)
    .sort();
}

const examplePackage = JSON.parse(readFileSync(join(EXAMPLE, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  overrides?: Record<string, string>;
};

describe('README "Use it in your Nest app" = examples/nest-host', () => {
  const blocks = markedBlocks(README);

  it('each marked block is followed by a ts code block equal to its file, byte for byte', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const { file, code } of blocks) {
      expect(code, `${file}: the marker must be followed directly by a \`\`\`ts block`).toBeDefined();
      expect(code, `README block of ${file} differs from the file`).toBe(readFileSync(join(ROOT, file), 'utf8'));
    }
  });

  it('every source file of the example is in the README, once', () => {
    const inReadme = blocks.map((b) => b.file).sort();
    expect(inReadme).toEqual([...new Set(inReadme)]);
    expect(inReadme).toEqual(exampleSrcFiles());
  });

  it("the README's npm install names exactly the example's dependencies", () => {
    const command = /^npm install ((?:[^\n]*\\\n)*[^\n]*)$/m.exec(README.slice(README.indexOf('## Use it in your Nest app')));
    expect(command, 'an `npm install …` command in the section').not.toBeNull();
    const named = command![1].split(/[\s\\]+/).filter((w) => w.length > 0);
    expect(named.sort()).toEqual(Object.keys(examplePackage.dependencies).sort());
  });

  it("the override the README gives Node 20 hosts is the example's (and this repository's)", () => {
    const shown = /^"overrides": (\{[^\n]*\})$/m.exec(README);
    expect(shown, 'an "overrides" line in the README').not.toBeNull();
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { overrides?: Record<string, string> };
    expect(JSON.parse(shown![1])).toEqual(examplePackage.overrides);
    expect(root.overrides).toEqual(examplePackage.overrides);
  });
});
