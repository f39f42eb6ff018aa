import { afterEach, describe, expect, it } from 'vitest';
import { metric, metricBecomes, opsForTests, scrape, value } from './support/ops.js';
import { TestApp } from './support/test-app.js';

/** A client that answers no pings is terminated by the heartbeat, and the counters say so. */
describe('metrics: heartbeat terminations', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('a silent client (autoPong: false) moves cm_heartbeat_terminations_total and closed{cause="heartbeat_timeout"}', async () => {
    t = await TestApp.create({ imports: [opsForTests()], options: { heartbeatIntervalMs: 100 } });
    expect(await metric(t, 'cm_heartbeat_terminations_total')).toBe(0);
    const silent = t.rawClient(`${t.url}?token=${encodeURIComponent(t.token({ sub: 'silent' }))}`, { autoPong: false });
    await silent.next('connection_ack');

    const closed = await silent.closed;
    expect(closed.code).toBe(1006);
    await metricBecomes(t, 'cm_heartbeat_terminations_total', {}, 1);
    const text = await scrape(t);
    expect(value(text, 'cm_connections_closed_total', { cause: 'heartbeat_timeout' })).toBe(1);
    expect(value(text, 'cm_connections_closed_total', { cause: 'client' })).toBe(0);
    expect(value(text, 'cm_connections')).toBe(0);
  });
});
