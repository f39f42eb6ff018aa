#!/usr/bin/env node
// Micro-benchmark behind the baselines' JWT choice (bench/baselines/auth.mjs):
// µs per HS256 verify with a prebuilt KeyObject, node:crypto directly vs
// jsonwebtoken. Distinct tokens (as on a real connect path), each verified
// once per round; both verifiers first checked to agree on good and bad tokens.
//   node bench/micro/jwt-verify.mjs [--n=20000] [--rounds=5]
import { randomBytes, createSecretKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';
import { JWT_IMPLS } from '../baselines/auth.mjs';

const arg = (k, d) => Number(process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d);
const N = arg('n', 20000);
const ROUNDS = arg('rounds', 5);

const secret = randomBytes(32).toString('hex');
const key = createSecretKey(Buffer.from(secret));
const tokens = Array.from({ length: N }, (_, i) =>
  jwt.sign({ sub: `u${i}`, tenantId: 't', name: `User ${i}` }, key, { algorithm: 'HS256', expiresIn: '1h' }));
const bad = [
  tokens[0].slice(0, -2) + (tokens[0].endsWith('AA') ? 'BB' : 'AA'), // bad signature
  jwt.sign({ sub: 'u', tenantId: 't' }, key, { algorithm: 'HS256', expiresIn: -10 }), // expired
  jwt.sign({ sub: 'u', tenantId: 't' }, key, { algorithm: 'HS384', expiresIn: '1h' }), // wrong alg
  jwt.sign({ sub: 'u', tenantId: 't' }, key, { algorithm: 'HS256' }), // no exp
  jwt.sign({ tenantId: 't' }, key, { algorithm: 'HS256', expiresIn: '1h' }), // no sub
  jwt.sign({ sub: 'u', tenantId: 't' }, 'other-secret', { algorithm: 'HS256', expiresIn: '1h' }),
  'a.b', 'not-a-jwt', '',
];

const impls = Object.fromEntries(Object.entries(JWT_IMPLS).map(([k, f]) => [k, f(key)]));
for (const [name, verify] of Object.entries(impls)) {
  for (const t of tokens.slice(0, 100)) if (!verify(t)) throw new Error(`${name} refused a good token`);
  bad.forEach((t, i) => { if (verify(t)) throw new Error(`${name} accepted bad token #${i}`); });
}

const results = {};
for (let r = 0; r < ROUNDS; r++) {
  // Alternate the order each round so neither always runs on a warmer CPU.
  const order = r % 2 ? Object.keys(impls).reverse() : Object.keys(impls);
  for (const name of order) {
    const verify = impls[name];
    const t0 = performance.now();
    for (let i = 0; i < N; i++) verify(tokens[i]);
    (results[name] ??= []).push(((performance.now() - t0) * 1000) / N);
  }
}
for (const [name, v] of Object.entries(results)) {
  const s = [...v].sort((a, b) => a - b);
  console.log(`${name.padEnd(13)} median ${s[s.length >> 1].toFixed(2)} µs/verify  (rounds: ${v.map((x) => x.toFixed(2)).join(' ')})`);
}
