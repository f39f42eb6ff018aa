import { afterEach, describe, expect, it } from 'vitest';
import { metric, metricBecomes, opsForTests, scrape, value } from './support/ops.js';
import { TestApp } from './support/test-app.js';

/** Join outcomes, leaves and the rooms gauge move with room events. */
describe('metrics: rooms and joins', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('a join counts as joins{outcome="ok"} and raises cm_rooms; a leave counts its reason and empties the gauge', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    expect(await metric(t, 'cm_room_joins_total', { outcome: 'ok' })).toBe(0);
    expect(await metric(t, 'cm_rooms')).toBe(0);
    const client = await t.connect();
    expect(await client.join('c1')).toMatchObject({ type: 'room_joined' });
    await metricBecomes(t, 'cm_room_joins_total', { outcome: 'ok' }, 1);
    expect(await metric(t, 'cm_rooms')).toBe(1);
    await client.join('c2');
    await metricBecomes(t, 'cm_room_joins_total', { outcome: 'ok' }, 2);
    expect(await metric(t, 'cm_rooms')).toBe(2);

    expect(await client.request({ type: 'leave', canvasId: 'c1' })).toMatchObject({ type: 'room_left' });
    await metricBecomes(t, 'cm_room_leaves_total', { reason: 'leave' }, 1);
    expect(await metric(t, 'cm_rooms')).toBe(1);

    await client.close();
    await metricBecomes(t, 'cm_room_leaves_total', { reason: 'disconnect' }, 1);
    expect(await metric(t, 'cm_rooms')).toBe(0);
  });

  it('a full room counts as joins{outcome="ROOM_FULL"}', async () => {
    t = await TestApp.create({ imports: [opsForTests()], options: { roomCapacity: 1 } });
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    expect(await bob.join('c1')).toMatchObject({ type: 'error', code: 'ROOM_FULL' });
    await metricBecomes(t, 'cm_room_joins_total', { outcome: 'ROOM_FULL' }, 1);
    const text = await scrape(t);
    expect(value(text, 'cm_room_joins_total', { outcome: 'ok' })).toBe(1);
    expect(value(text, 'cm_room_joins_total', { outcome: 'FORBIDDEN' })).toBe(0);
  });

  it('a canvas the access policy refuses counts as joins{outcome="FORBIDDEN"}', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    const client = await t.connect({ canvases: ['c1'] });
    expect(await client.join('c2')).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    await metricBecomes(t, 'cm_room_joins_total', { outcome: 'FORBIDDEN' }, 1);
    expect(await metric(t, 'cm_room_joins_total', { outcome: 'ok' })).toBe(0);
    expect(await metric(t, 'cm_rooms')).toBe(0);
  });
});
