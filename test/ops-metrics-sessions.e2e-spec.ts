import { afterEach, describe, expect, it } from 'vitest';
import { metric, metricBecomes, opsForTests, scrape, value } from './support/ops.js';
import { TestApp } from './support/test-app.js';

/** Session continuity and in-band auth: resumes (and truncated replays), reauths, expiries. */
describe('metrics: sessions and reauthentication', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('a resume counts under session_resumes_total{missed}; an overflowing replay buffer also counts a truncation', async () => {
    t = await TestApp.create({ imports: [opsForTests()], options: { resumeBufferMessages: 2 } });
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await bob.join('c1');

    // Away and back with nothing missed.
    await alice.close(1001);
    await metricBecomes(t, 'cm_connections', {}, 1);
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, missed: 'none' });
    await metricBecomes(t, 'cm_session_resumes_total', { missed: 'none' }, 1);
    expect(await metric(t, 'cm_replay_truncations_total')).toBe(0);
    // The restored room counts as restored, not as a new join.
    expect(await metric(t, 'cm_room_joins_total', { outcome: 'restored' })).toBe(1);

    // Away while 3 messages go by, with room for 2: the replay is truncated.
    await back.close(1001);
    await metricBecomes(t, 'cm_connections', {}, 1);
    for (let i = 0; i < 3; i++) bob.send({ type: 'message', canvasId: 'c1', data: i });
    await metricBecomes(t, 'cm_messages_in_total', {}, 3);
    const again = await t.resume(back.ack.reconnectToken);
    expect(again.ack).toMatchObject({ resumed: true, missed: 'truncated' });
    await metricBecomes(t, 'cm_replay_truncations_total', {}, 1);
    const text = await scrape(t);
    expect(value(text, 'cm_session_resumes_total', { missed: 'truncated' })).toBe(1);
    expect(value(text, 'cm_session_resumes_total', { missed: 'none' })).toBe(1);
    // Each resume is an accepted upgrade too.
    expect(value(text, 'cm_upgrades_total', { outcome: 'accepted' })).toBe(4);
  });

  it('a reauth frame moves cm_reauths_total', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    const client = await t.connect();
    expect(await client.request({ type: 'reauth', token: t.token() })).toMatchObject({ type: 'reauth_ok' });
    await metricBecomes(t, 'cm_reauths_total', {}, 1);
  });

  it('a token that expires without a reauth moves cm_auth_expiries_total and closed{cause="token_expired"}', async () => {
    t = await TestApp.create({ imports: [opsForTests()], options: { reauthGraceMs: 100 } });
    // Expires 1 to 2 s from now (exp has whole seconds).
    const client = await t.connect({ exp: Math.floor(Date.now() / 1000) + 2 });
    expect(await client.next('reauth_required', 3000)).toMatchObject({ reason: 'token_expired' });
    expect((await client.closed).code).toBe(4001);
    await metricBecomes(t, 'cm_auth_expiries_total', {}, 1);
    expect(await metric(t, 'cm_connections_closed_total', { cause: 'token_expired' })).toBe(1);
  });
});
