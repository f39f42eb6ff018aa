// idle: memory cost of an idle, joined connection, read inside the server
// after forced GCs (server-probe.mjs), at two sizes in one run: `conns`
// connections, then `conns2` in total (0: skip the second step). A few warm-up
// connections are opened and closed first so one-time lazy initialisation
// (JIT, lazily built structures) lands in the baseline rather than being
// smeared over N. Rooms of `roomSize`.
import { makeTokens } from './tokens.mjs';
import { sampleServer } from './link.mjs';
import { connectAll, closeAll, sleep } from './util.mjs';

export async function run({ protocol, port, secret, params }) {
  const { conns, conns2, concurrency, roomSize, warmupConns } = params;

  const warm = await connectAll(protocol, port, makeTokens(secret, warmupConns, 'w'), () => 'warm', { concurrency });
  closeAll(warm);
  await sleep(500); // let the server process the closes before the baseline

  await sampleServer('mem', 'baseline');
  const room = (i) => `i${Math.floor(i / roomSize)}`;
  const first = await connectAll(protocol, port, makeTokens(secret, conns), room, { concurrency, timeBoundMs: 300_000 });
  await sleep(500); // in-flight presence frames settle
  await sampleServer('mem', 'loaded');
  let second = [];
  if (conns2 > conns) {
    // Users conns..conns2-1, the rooms continuing where the first step stopped.
    const tokens = makeTokens(secret, conns2 - conns, 'u', conns);
    second = await connectAll(protocol, port, tokens, (i) => room(conns + i), { concurrency, timeBoundMs: 300_000 });
    await sleep(500);
    await sampleServer('mem', 'loaded2');
  }
  closeAll(first);
  closeAll(second);
  return { conns, ok: first.length, conns2: conns2 > conns ? conns2 : null, ok2: first.length + second.length };
}
