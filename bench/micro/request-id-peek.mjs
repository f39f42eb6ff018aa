#!/usr/bin/env node
// Cost of finding the `id` of a rate-limited frame (issue 12 §3): src/protocol/request-id-peek.ts
// against what it replaces, a full parse (`JSON.parse(data.toString())`, and the frame parser).
// Needs `npm run build`. Usage: node bench/micro/request-id-peek.mjs [--rounds=15]
// Prints one Markdown row per frame shape: median µs per call over the rounds.
import { parseClientFrame } from '../../dist/protocol/frame-parser.js';
import { peekRequestId } from '../../dist/protocol/request-id-peek.js';

const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.split('=')[1] ?? 15);

/** Frames of about 64 KiB (the default WS_MAX_PAYLOAD_BYTES), with the id last, as the SDK writes it. */
function frame(kind) {
  const data =
    kind === 'numbers'
      ? { points: Array.from({ length: 2450 }, (_, i) => [i / 7, i * 3 + 0.25]) }
      : kind === 'strings'
        ? { text: Array.from({ length: 1380 }, (_, i) => `word ${i} "quoted" \\ and some more text…`) }
        : { tree: Array.from({ length: 940 }, (_, i) => ({ id: i, kind: 'node', children: [{ x: i, y: [1, 2, { z: null }] }] })) };
  const text = JSON.stringify({ type: 'message', canvasId: 'c1', data, id: 'burst-42' });
  return Buffer.from(text);
}

function timeIt(fn, buf) {
  // Enough calls for ~50 ms per round.
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(buf);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > 50) return (ms * 1000) / n;
    n *= 2;
  }
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const candidates = {
  peek: (b) => peekRequestId(b),
  'JSON.parse(toString)': (b) => JSON.parse(b.toString('utf8')).id,
  parseClientFrame: (b) => parseClientFrame(b.toString('utf8')),
};

console.log('| frame (bytes) | peekRequestId µs | JSON.parse(data.toString()) µs | parseClientFrame µs | peek / JSON.parse |');
console.log('|---|---|---|---|---|');
for (const kind of ['numbers', 'strings', 'objects']) {
  const buf = frame(kind);
  if (peekRequestId(buf) !== 'burst-42') throw new Error('peek found the wrong id');
  const results = {};
  for (const name of Object.keys(candidates)) results[name] = [];
  for (let r = 0; r < rounds; r++) for (const [name, fn] of Object.entries(candidates)) results[name].push(timeIt(fn, buf));
  const [p, j, f] = Object.keys(candidates).map((n) => median(results[n]));
  console.log(`| ${kind} (${buf.length}) | ${p.toFixed(1)} | ${j.toFixed(1)} | ${f.toFixed(1)} | ${(p / j).toFixed(2)} |`);
}
