// idle: memory cost of an idle, joined connection, read inside the server
// after forced GCs (server-probe.mjs). A few warm-up connections are opened
// and closed first so one-time lazy initialisation (JIT, lazily built
// structures) lands in the baseline rather than being smeared over N.
import { makeTokens } from './tokens.mjs';
import { sampleServer } from './link.mjs';
import { connectAll, closeAll, sleep } from './util.mjs';

export async function run({ protocol, port, secret, params }) {
  const { conns, concurrency, roomSize, warmupConns } = params;

  const warm = await connectAll(protocol, port, makeTokens(secret, warmupConns, 'w'), () => 'warm', { concurrency });
  closeAll(warm);
  await sleep(500); // let the server process the closes before the baseline

  await sampleServer('mem', 'baseline');
  const clients = await connectAll(protocol, port, makeTokens(secret, conns), (i) => `i${Math.floor(i / roomSize)}`, {
    concurrency,
    timeBoundMs: 300_000,
  });
  await sleep(500); // in-flight presence frames settle
  await sampleServer('mem', 'loaded');
  closeAll(clients);
  return { conns, ok: clients.length };
}
