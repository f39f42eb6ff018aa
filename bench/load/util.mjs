// Helpers shared by the scenario files.
import { openClient } from './clients.mjs';
import { pool } from './pool.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Connect `tokens.length` clients and join each to roomOf(i). Used for set-up
 * (not measured), so it fails loudly: a scenario with missing members would
 * silently measure something else. `port` may be a list (several instances of
 * one cluster): client i then goes to port[i % length], so every instance gets
 * an equal share of senders and receivers.
 */
export async function connectAll(protocol, port, tokens, roomOf, { concurrency = 20, timeBoundMs = 120_000, clientOpts = {} } = {}) {
  const clients = new Array(tokens.length);
  const portOf = Array.isArray(port) ? (i) => port[i % port.length] : () => port;
  const res = await pool(tokens.length, concurrency, Date.now() + timeBoundMs, async (i) => {
    const c = await openClient(protocol, { ...clientOpts, port: portOf(i), token: tokens[i] });
    clients[i] = c;
    await c.join(roomOf(i));
  });
  if (res.ok !== tokens.length) {
    closeAll(clients);
    throw new Error(`set-up: only ${res.ok}/${tokens.length} clients joined: ${JSON.stringify(res.errors)}`);
  }
  return clients;
}

export function closeAll(clients) {
  for (const c of clients) if (c) c.close();
}

/** Wait until pred() is true, polling, bounded by timeoutMs. Returns pred(). */
export async function waitFor(pred, timeoutMs, stepMs = 20) {
  const end = Date.now() + timeoutMs;
  while (!pred() && Date.now() < end) await sleep(stepMs);
  return pred();
}
