import { afterEach, describe, expect, it } from 'vitest';
import { metricBecomes, opsForTests, scrape, value } from './support/ops.js';
import { TestApp } from './support/test-app.js';

/**
 * A recipient that stops reading is closed as a slow consumer once its unsent bytes pass
 * maxBufferedBytes, and cm_slow_consumer_closes_total counts it.
 */
describe('metrics: slow-consumer closes', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('a member that stops reading moves cm_slow_consumer_closes_total and closed{cause="slow_consumer"}', async () => {
    t = await TestApp.create({ imports: [opsForTests()], options: { maxBufferedBytes: 64 * 1024, messageRateLimit: 10_000 } });
    const sender = await t.connect({ sub: 'sender' });
    const stalled = await t.connect({ sub: 'stalled' });
    await sender.join('c1');
    await stalled.join('c1');
    await stalled.settle();
    // Stop reading: the kernel buffers fill, then the server's send buffer grows.
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();

    const chunk = 'x'.repeat(32 * 1024);
    let sent = 0;
    while (t.eventsNamed('connection.closed').length === 0 && sent < 2000) {
      sender.send({ type: 'message', canvasId: 'c1', data: chunk });
      sent++;
      if (sent % 20 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await metricBecomes(t, 'cm_slow_consumer_closes_total', {}, 1, 5000);
    const text = await scrape(t);
    expect(value(text, 'cm_connections_closed_total', { cause: 'slow_consumer' })).toBe(1);
    // (The close code is 1006: a peer that reads nothing never completes the 1013 close handshake.)
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({ userId: 'stalled', cause: 'slow_consumer' });
  });
});
