import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';

describe('handshake order (protocol v1)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await TestApp.create();
  });
  afterEach(async () => {
    await t.close();
  });

  it('acks the connection, then answers a join with room_joined then presence_state', async () => {
    const client = await t.connect({ sub: 'u1', tenantId: 't1', name: 'Ann' });
    expect(client.ack).toMatchObject({
      type: 'connection_ack',
      userId: 'u1',
      tenantId: 't1',
      heartbeatIntervalMs: 30000,
      resumed: false,
      rooms: [],
    });
    expect(client.ack.connectionId).toEqual(expect.any(String));
    expect(client.ack.sessionId).toEqual(expect.any(String));
    expect(client.ack.reconnectToken.length).toBeGreaterThanOrEqual(22);
    expect(client.ack).not.toHaveProperty('missed');

    client.send({ type: 'join', canvasId: 'c1', id: 'r1' });
    expect(await client.next()).toEqual({ type: 'room_joined', id: 'r1', roomId: 'canvas:c1', canvasId: 'c1', pos: expect.any(String) });
    expect(await client.next()).toEqual({
      type: 'presence_state',
      roomId: 'canvas:c1',
      canvasId: 'c1',
      members: [{ userId: 'u1', name: 'Ann', connections: 1 }],
    });
  });

  it('answers ping with pong echoing an integer id', async () => {
    const client = await t.connect();
    client.send({ type: 'ping', id: 7 });
    expect(await client.next()).toEqual({ type: 'pong', id: 7 });
  });
});
