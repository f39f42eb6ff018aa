import { afterAll, describe, expect, it } from 'vitest';
import { RedisClusterHarness, RedisServer, redisCli } from './support/redis-harness.js';

/**
 * The Redis test infrastructure itself (issue 4, "Tests and infrastructure"): the tests start
 * their own redis-server processes on ephemeral ports, a single server that can be stopped and
 * restarted on the same port, and a 3-master cluster made with `redis-cli --cluster create`.
 */
describe('redis harness', () => {
  const owned: Array<{ destroy(): Promise<void> }> = [];
  afterAll(async () => {
    await Promise.all(owned.map((o) => o.destroy()));
  });

  it('starts a single server, stops it, and restarts it on the same port', async () => {
    const server = await RedisServer.start();
    owned.push(server);
    expect(server.port).not.toBe(6379);
    await redisCli(server.port, ['SET', 'k', 'v']);
    expect((await redisCli(server.port, ['GET', 'k'])).trim()).toBe('v');
    await server.stop();
    expect(server.running).toBe(false);
    await expect(redisCli(server.port, ['PING'], '127.0.0.1', 1000)).rejects.toThrow();
    await server.restart();
    expect((await redisCli(server.port, ['PING'])).trim()).toBe('PONG');
    // No persistence: a restart is an empty Redis (what the outage test relies on).
    expect((await redisCli(server.port, ['EXISTS', 'k'])).trim()).toBe('0');
  });

  it('creates a 3-master cluster whose slots are all served', async () => {
    const cluster = await RedisClusterHarness.start(3);
    owned.push(cluster);
    const info = await redisCli(cluster.nodes[0].port, ['CLUSTER', 'INFO']);
    expect(info).toMatch(/cluster_state:ok/);
    expect(info).toMatch(/cluster_slots_assigned:16384/);
    expect(info).toMatch(/cluster_size:3/);
    expect(cluster.seeds.split(',')).toHaveLength(3);
  });
});
