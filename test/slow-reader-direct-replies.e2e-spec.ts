import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { AppInstance } from './support/instance-harness.js';
import { TestApp } from './support/test-app.js';

/**
 * Issue 12 §2: every outbound byte is bounded. A client that stops reading while it keeps
 * sending pings used to make the server queue every pong (and error) without limit: direct
 * replies skipped the `WS_MAX_BUFFERED_BYTES` check that room broadcasts had (RSS +108 MiB in
 * the issue). Now every send to a connection checks the same bound and closes with 1013
 * (resumable, cause slow_consumer) past it.
 *
 * The server runs as a child process (`node dist/main.js`, memory mode) so that its RSS is its
 * own, not the test's. The client is a real ws client whose TCP socket is paused: it never
 * reads, so its kernel receive buffer stays small (Linux grows it only on reads) and the
 * server's pongs pile up in the server. 300 000 pings with ids of 64 characters, most of them
 * `€` (3 bytes in UTF-8): a pong is then 203 bytes, 61 MB of replies in all, many times what
 * the kernel buffers hold.
 *
 * The server gives a peer that does not answer its close 2 s before destroying it; the flood
 * outlasts that, so the child-process test reads the close code the server sent from its
 * `connection closed` log line, and the in-process test (which sees the server's decision the
 * moment it is taken) lets the client read again at once: it gets the 1013 close frame.
 */

const PINGS = 300_000;
const ID_PAD = '€'.repeat(58);
/**
 * RSS growth the server may show during the flood (peak, sampled every 50 ms). Measured on the
 * 2-core reference machine: before the fix +146 MiB (every pong queued: it grows with the
 * number of pings); after it +37–41 MiB, which is what parsing 300 000 frames at full speed
 * costs anyway (garbage between collections: a client that reads a flood of this kind showed
 * as much). The bound sits between the two with a wide margin either side.
 */
const RSS_BOUND_MIB = 96;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `count` ping frames as the bytes a client sends (FIN + text, masked with an all-zero key,
 * which RFC 6455 allows): written straight to the TCP socket, so the test process stays cheap
 * on a loaded machine and the server does all the work.
 */
function rawPings(from: number, count: number): Buffer {
  const parts: Buffer[] = [];
  for (let n = from; n < from + count; n++) {
    const payload = Buffer.from(JSON.stringify({ type: 'ping', id: `${ID_PAD}${String(n).padStart(6, '0')}` }));
    const header =
      payload.length < 126
        ? Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0])
        : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255, 0, 0, 0, 0]);
    parts.push(header, payload);
  }
  return Buffer.concat(parts);
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

async function slowConsumerCloses(server: AppInstance): Promise<number> {
  const { body } = await server.get('/metrics');
  const m = /^cm_slow_consumer_closes_total (\d+)/m.exec(String(body));
  return m ? Number(m[1]) : 0;
}

describe('outbound bound on direct replies', () => {
  let server: AppInstance | undefined;
  let t: TestApp | undefined;
  afterEach(async () => {
    await server?.destroy();
    server = undefined;
    await t?.close();
    t = undefined;
  });

  it('pongs to a client that stopped reading stay under maxBufferedBytes; past it the client is closed with 1013 (resumable)', async () => {
    const MAX = 64 * 1024;
    t = await TestApp.create({ options: { maxBufferedBytes: MAX, messageRateLimit: 10_000_000 } });
    const client = await t.connect({ sub: 'never-reads' });
    const serverSide = t.get(ConnectionService).get(client.ack.connectionId)!;
    const tcp = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();
    let maxBuffered = 0;
    let sent = 0;
    // Pings until the server takes its decision (the state this test waits for), sampling the bound.
    while (serverSide.closeCause === undefined) {
      for (let i = 0; i < 500; i++, sent++) client.send({ type: 'ping', id: `${ID_PAD}${String(sent).padStart(6, '0')}` });
      await sleep(5);
      if (serverSide.closeCause === undefined) maxBuffered = Math.max(maxBuffered, serverSide.socket.bufferedAmount);
      if (sent > 1_000_000) throw new Error('the never-reading client was never closed');
    }
    expect(serverSide.closeCause).toBe('slow_consumer');
    expect(serverSide.resumable).toBe(true);
    // Checked before each write: at most one frame over the bound was ever queued.
    expect(maxBuffered).toBeLessThanOrEqual(MAX + 256);
    tcp.resume();
    expect(await client.closed).toEqual({ code: 1013, reason: 'slow consumer' });
    await t.until(() => t!.eventsNamed('connection.closed').length > 0, 5000, 'connection.closed');
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({ code: 1013, cause: 'slow_consumer', resumable: true });
    console.log(`[slow-reader] in process: closed after ${sent} pings sent; server-side buffer peaked at ${maxBuffered} B of ${MAX}`);
  }, 60_000);

  it('a client that never reads and sends 300,000 pings is closed with 1013 and the server RSS stays bounded', async () => {
    // The message rate is lifted so that every ping is answered (the rate limit has its own tests).
    // LOG_LEVEL log: the `connection closed` line says which close code the server sent.
    server = await AppInstance.start('A', { WS_MESSAGE_RATE_LIMIT: '10000000', WS_MAX_BUFFERED_BYTES: '1048576', LOG_LEVEL: 'log' });
    const pid = server.pid!;
    const client = await server.connect({ sub: 'never-reads' });
    // Warm up the paths the flood uses (pong, JSON), then take the baseline.
    for (let i = 0; i < 200; i++) client.send({ type: 'ping', id: `warm${i}` });
    for (let i = 0; i < 200; i++) await client.next('pong', 10_000);
    await sleep(200);
    const before = rssMiB(pid);

    const tcp = (client.ws as unknown as { _socket: Socket })._socket;
    tcp.pause();
    let peak = before;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssMiB(pid));
      } catch {
        // the process is gone: the test fails below
      }
    }, 50);
    try {
      // In slices, so the test process does not hold 300 000 frames at once.
      for (let sent = 0; sent < PINGS; sent += 5000) {
        tcp.write(rawPings(sent, 5000));
        while (tcp.writableLength > 1 << 20) await sleep(5);
      }
      // Every ping has left the client: the server has read them all once its socket drained.
      while (tcp.writableLength > 0) await sleep(10);
      const deadline = Date.now() + 30_000;
      while ((await slowConsumerCloses(server)) === 0 && Date.now() < deadline) await sleep(100);
      await sleep(300);
      peak = Math.max(peak, rssMiB(pid));
    } finally {
      clearInterval(sampler);
    }
    const closes = await slowConsumerCloses(server);
    const growth = peak - before;
    console.log(
      `[slow-reader] server RSS ${before.toFixed(1)} → peak ${peak.toFixed(1)} MiB (+${growth.toFixed(1)} MiB) for ${PINGS} pings; slow-consumer closes ${closes}`,
    );

    // The client reads again: what the server queued before its decision, then the end (the
    // 1013 close frame, or nothing if the 2 s fallback destroyed the socket first).
    tcp.resume();
    const closed = await Promise.race([client.closed, sleep(20_000).then(() => ({ code: -1, reason: 'no close within 20 s' }))]);
    expect(closes, 'the server closed the never-reading client as a slow consumer').toBe(1);
    expect([1013, 1006]).toContain(closed.code);
    const line = server.output.split('\n').find((l) => l.includes('"connection closed"') && l.includes(client.ack.connectionId));
    expect(line, 'the server logged the close').toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ code: 1013, cause: 'slow_consumer', resumable: true });
    expect(growth, `RSS growth ${growth.toFixed(1)} MiB`).toBeLessThan(RSS_BOUND_MIB);
    // The server is fine: a new client is served.
    const other = await server.connect({ sub: 'other' });
    expect(await other.request({ type: 'ping', id: 'after' }, 10_000)).toEqual({ type: 'pong', id: 'after' });
  }, 120_000);
});
