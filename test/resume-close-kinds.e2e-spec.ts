import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { DrainService } from '../src/domain/connections/drain.service.js';
import { LifecycleState } from '../src/domain/connections/lifecycle-state.js';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';
import { expectResumeRefused, silentClient, sleep } from './support/continuity.js';

/**
 * Which closes may be resumed (issue 3): all but an auth failure (4001, 4003: see
 * reauth.e2e-spec.ts), 1008, 1009 and `disconnectUser`. Heartbeat terminations and the 1012
 * drain are the main resumable cases.
 */

async function closedEvent(t: TestApp, connectionId: string): Promise<any> {
  await t.until(() => t.eventsNamed('connection.closed').some((e) => e.connectionId === connectionId), 5000, 'connection.closed');
  return t.eventsNamed('connection.closed').find((e) => e.connectionId === connectionId);
}

async function expectResumes(t: TestApp, gone: TestClient & { ack: any }): Promise<void> {
  const back = await t.resume(gone.ack.reconnectToken);
  expect(back.ack).toMatchObject({ type: 'connection_ack', resumed: true, sessionId: gone.ack.sessionId, rooms: ['c1'] });
  expect(await back.next()).toMatchObject({ type: 'presence_state', canvasId: 'c1' });
}

describe('resume: which closes can be resumed', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  describe('not resumable: the reconnect token is refused with 401', () => {
    it('1008 after more than 10 invalid frames', async () => {
      t = await TestApp.create();
      const alice = await t.connect({ sub: 'alice' });
      await alice.join('c1');
      for (let i = 0; i < 11; i++) alice.send('not json');
      expect((await alice.closed).code).toBe(1008);
      expect(await closedEvent(t, alice.ack.connectionId)).toMatchObject({ code: 1008, resumable: false });
      await expectResumeRefused(t, alice.ack.reconnectToken);
    });

    it('1009 for a frame over maxPayloadBytes', async () => {
      t = await TestApp.create({ options: { maxPayloadBytes: 1024 } });
      const alice = await t.connect({ sub: 'alice' });
      await alice.join('c1');
      alice.send({ type: 'message', canvasId: 'c1', data: 'x'.repeat(2000) });
      expect((await alice.closed).code).toBe(1009);
      expect(await closedEvent(t, alice.ack.connectionId)).toMatchObject({ resumable: false });
      await expectResumeRefused(t, alice.ack.reconnectToken);
    });

    it('ConnectionService.disconnectUser, even with close code 1000: every tab of the user, none resumable', async () => {
      t = await TestApp.create();
      const tab1 = await t.connect({ sub: 'alice' });
      const tab2 = await t.connect({ sub: 'alice' });
      const bob = await t.connect({ sub: 'bob' });
      await tab1.join('c1');
      expect(t.get(ConnectionService).disconnectUser('alice', 1000, 'logged out')).toBe(2);
      expect(await tab1.closed).toEqual({ code: 1000, reason: 'logged out' });
      expect(await tab2.closed).toEqual({ code: 1000, reason: 'logged out' });
      for (const tab of [tab1, tab2]) {
        expect(await closedEvent(t, tab.ack.connectionId)).toMatchObject({ cause: 'disconnected_by_server', resumable: false });
        await expectResumeRefused(t, tab.ack.reconnectToken);
      }
      expect(await bob.request({ type: 'ping', id: 1 })).toStrictEqual({ type: 'pong', id: 1 });
    });
  });

  describe('resumable', () => {
    it.each([1000, 1001, 4321])('a client close with code %i', async (code) => {
      t = await TestApp.create();
      const alice = await t.connect({ sub: 'alice' });
      await alice.join('c1');
      await alice.close(code);
      expect(await closedEvent(t, alice.ack.connectionId)).toMatchObject({ code, resumable: true });
      await expectResumes(t, alice);
    });

    it('a dropped socket (no close frame)', async () => {
      t = await TestApp.create();
      const alice = await t.connect({ sub: 'alice' });
      await alice.join('c1');
      alice.ws.terminate();
      expect(await closedEvent(t, alice.ack.connectionId)).toMatchObject({ code: 1006, resumable: true });
      await expectResumes(t, alice);
    });

    it('a heartbeat termination (client that does not answer pings)', async () => {
      t = await TestApp.create({ options: { heartbeatIntervalMs: 100 } });
      const alice = await silentClient(t, { sub: 'alice' });
      await alice.join('c1');
      const closed = await Promise.race([alice.closed, sleep(5000).then(() => null)]);
      expect(closed, 'the silent client was never terminated').not.toBeNull();
      expect(await closedEvent(t, alice.ack.connectionId)).toMatchObject({ cause: 'heartbeat_timeout', resumable: true });
      await expectResumes(t, alice);
    });

    it('the 1012 "service restart" drain', async () => {
      t = await TestApp.create();
      const alice = await t.connect({ sub: 'alice' });
      await alice.join('c1');
      await t.get(DrainService).drain();
      expect(await alice.closed).toEqual({ code: 1012, reason: 'service restart' });
      expect(await closedEvent(t, alice.ack.connectionId)).toMatchObject({ code: 1012, cause: 'server_shutdown', resumable: true });
      // The client resumes "elsewhere": with the embedded store that is this instance once it
      // takes upgrades again (a shared store serves the other instances the same way).
      t.get(LifecycleState).draining = false;
      await expectResumes(t, alice);
    });
  });
});
