import { describe, expect, it } from 'vitest';
import type { DiscoveryService } from '@nestjs/core';
import { ReadinessCheck } from './readiness-check.interface.js';
import { ReadinessRegistry, evaluateCheck } from './readiness.registry.js';

function wrapper(token: unknown, instance: unknown) {
  return { token, instance, isDependencyTreeStatic: () => true };
}
function registryWith(...wrappers: ReturnType<typeof wrapper>[]): ReadinessRegistry {
  const discovery = { getProviders: () => wrappers } as unknown as DiscoveryService;
  const registry = new ReadinessRegistry(discovery);
  registry.onModuleInit();
  return registry;
}

describe('evaluateCheck', () => {
  it('is ready only for exactly true, sync or async', async () => {
    expect(await evaluateCheck({ name: 'a', isReady: () => true }, 100)).toEqual({ name: 'a', ready: true });
    expect(await evaluateCheck({ name: 'a', isReady: async () => true }, 100)).toEqual({ name: 'a', ready: true });
    expect(await evaluateCheck({ name: 'a', isReady: () => false }, 100)).toMatchObject({ ready: false, message: 'not ready' });
    expect(await evaluateCheck({ name: 'a', isReady: () => 1 as unknown as boolean }, 100)).toMatchObject({ ready: false });
  });

  it('turns throws and rejections into not ready with the error message', async () => {
    expect(
      await evaluateCheck(
        {
          name: 'a',
          isReady: () => {
            throw new Error('boom');
          },
        },
        100,
      ),
    ).toEqual({ name: 'a', ready: false, message: 'boom' });
    expect(await evaluateCheck({ name: 'a', isReady: () => Promise.reject(new Error('down')) }, 100)).toEqual({ name: 'a', ready: false, message: 'down' });
  });

  it('gives up after the timeout', async () => {
    const started = Date.now();
    expect(await evaluateCheck({ name: 'a', isReady: () => new Promise<boolean>(() => undefined) }, 50)).toEqual({
      name: 'a',
      ready: false,
      message: 'no answer within 50 ms',
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('ReadinessRegistry', () => {
  it('discovers providers under the ReadinessCheck token (single or array), ignoring other tokens', () => {
    const registry = registryWith(
      wrapper(ReadinessCheck, { name: 'redis', isReady: () => true }),
      wrapper(ReadinessCheck, [
        { name: 'db', isReady: () => true },
        { name: 'queue', isReady: () => true },
      ]),
      wrapper('Other', { name: 'nope', isReady: () => true }),
    );
    expect(registry.list().map((c) => c.name)).toEqual(['redis', 'db', 'queue']);
  });

  it('refuses duplicate, reserved and malformed names', () => {
    const registry = registryWith();
    registry.register({ name: 'redis', isReady: () => true });
    expect(() => registry.register({ name: 'redis', isReady: () => true })).toThrow(/twice/);
    expect(() => registry.register({ name: 'draining', isReady: () => true })).toThrow(/draining/);
    expect(() => registry.register({ name: 'has space', isReady: () => true })).toThrow(/must be/);
    expect(() => registry.register({ name: 'x' } as unknown as ReadinessCheck)).toThrow(/isReady/);
  });

  it('register returns a remover; evaluate runs every check', async () => {
    const registry = registryWith();
    const remove = registry.register({ name: 'a', isReady: () => false });
    registry.register({ name: 'b', isReady: () => true });
    expect(await registry.evaluate(100)).toEqual([
      { name: 'a', ready: false, message: 'not ready' },
      { name: 'b', ready: true },
    ]);
    remove();
    expect(registry.list().map((c) => c.name)).toEqual(['b']);
  });
});
