import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { TestApp } from './support/test-app.js';

/**
 * Issue 12 §7: tenant and user ids are arbitrary JWT claims, NUL bytes included. The lookup of
 * a user's connections must not join them into one string key: with `tenant\0user`, tenant
 * "a\0b" + user "c" and tenant "a" + user "b\0c" were the same key, so one user's lookup (what
 * a host uses to message or count a user's tabs) returned the other tenant's connection.
 */
describe('tenant/user lookup keys', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('claims with NUL bytes never make two (tenant, user) pairs share a key', async () => {
    t = await TestApp.create();
    const one = await t.connect({ tenantId: 'a\u0000b', sub: 'c' });
    const two = await t.connect({ tenantId: 'a', sub: 'b\u0000c' });
    const connections = t.get(ConnectionService);
    expect(connections.byUserId('a\u0000b', 'c').map((c) => c.id)).toEqual([one.ack.connectionId]);
    expect(connections.byUserId('a', 'b\u0000c').map((c) => c.id)).toEqual([two.ack.connectionId]);
    await one.close();
    await t.until(() => connections.count === 1, 3000, 'the first connection gone');
    expect(connections.byUserId('a\u0000b', 'c')).toEqual([]);
    expect(connections.byUserId('a', 'b\u0000c').map((c) => c.id)).toEqual([two.ack.connectionId]);
  });
});
