import { ESLint } from 'eslint';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM config module of the repo (no types), imported to test it as it is.
import { layerElements, layerPolicies } from '../eslint.layers.js';

/** The plugin is CommonJS: under nodenext its default import is typed as the module namespace. */
const boundariesPlugin: ESLint.Plugin = (boundaries as unknown as { default?: ESLint.Plugin }).default ?? (boundaries as unknown as ESLint.Plugin);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The import boundaries of eslint.config.js, run on fixture sources that each break (or keep)
 * one rule of the layering. The fixtures are linted as if they lived at `path` (ESLint's
 * lintText), so nothing is written into src/; imports resolve against the real files.
 */
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfigFile: true,
  overrideConfig: [
    {
      files: ['**/*.ts'],
      languageOptions: { parser: tseslint.parser },
      plugins: { boundaries: boundariesPlugin },
      settings: {
        'import/resolver': { typescript: { alwaysTryTypes: true, project: './tsconfig.json' } },
        'boundaries/elements': layerElements,
        'boundaries/include': ['src/*/**/*.ts', 'client/**/*.ts'],
      },
      rules: {
        'boundaries/dependencies': ['error', { default: 'disallow', checkAllOrigins: true, checkUnknownLocals: true, policies: layerPolicies }],
      },
    },
  ],
});

async function violations(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: `${ROOT}${path}` });
  return result.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

interface Fixture {
  rule: string;
  path: string;
  source: string;
}

const broken: Fixture[] = [
  {
    rule: 'protocol imports nothing of src',
    path: 'src/protocol/x.ts',
    source: "import { roomKey } from '../domain/rooms/room-key.js';\nexport const x = roomKey;",
  },
  { rule: 'protocol uses no package', path: 'src/protocol/x.ts', source: "import { z } from 'zod';\nexport const x = z;" },
  {
    rule: 'client imports only protocol',
    path: 'client/x.ts',
    source: "import { ConnectionManagerEvent } from '../src/kernel/connection-manager.events.js';\nexport const x = ConnectionManagerEvent;",
  },
  {
    rule: 'kernel imports no domain',
    path: 'src/kernel/x.ts',
    source: "import { RoomService } from '../domain/rooms/room.service.js';\nexport const x = RoomService;",
  },
  {
    rule: 'domain imports no transport folder',
    path: 'src/domain/rooms/x.ts',
    source: "import { ConnectionHandler } from '../../ws/connection.js';\nexport const x = ConnectionHandler;",
  },
  { rule: 'domain imports no ws package', path: 'src/domain/rooms/x.ts', source: "import { WebSocket } from 'ws';\nexport const x = WebSocket;" },
  {
    rule: 'domain imports no @nestjs/websockets',
    path: 'src/domain/x.ts',
    source: "import { WebSocketGateway } from '@nestjs/websockets';\nexport const x = WebSocketGateway;",
  },
  {
    rule: 'domain imports no @nestjs/platform-ws',
    path: 'src/domain/x.ts',
    source: "import { WsAdapter } from '@nestjs/platform-ws';\nexport const x = WsAdapter;",
  },
  {
    rule: 'domain imports no back-end implementation',
    path: 'src/domain/rooms/x.ts',
    source: "import { InMemoryMembershipStore } from '../../backends/memory/in-memory-membership-store.js';\nexport const x = InMemoryMembershipStore;",
  },
  { rule: 'domain imports no Redis client', path: 'src/domain/cluster/x.ts', source: "import { Redis } from 'ioredis';\nexport const x = Redis;" },
  {
    rule: 'domain imports no rate-limiter package',
    path: 'src/domain/connections/x.ts',
    source: "import { RateLimiterMemory } from 'rate-limiter-flexible';\nexport const x = RateLimiterMemory;",
  },
  {
    rule: 'domain imports no ops',
    path: 'src/domain/rooms/x.ts',
    source: "import { MetricsService } from '../../ops/metrics/metrics.service.js';\nexport const x = MetricsService;",
  },
  {
    rule: 'domain imports no composition root',
    path: 'src/domain/rooms/x.ts',
    source: "import { ConnectionManagerModule } from '../../connection-manager/connection-manager.module.js';\nexport const x = ConnectionManagerModule;",
  },
  {
    rule: 'ports import no back-end',
    path: 'src/domain/ports/x.ts',
    source: "import { RedisRoomBus } from '../../backends/redis/redis-room-bus.js';\nexport const x = RedisRoomBus;",
  },
  {
    rule: 'back-ends import no domain service',
    path: 'src/backends/redis/x.ts',
    source: "import { RoomService } from '../../domain/rooms/room.service.js';\nexport const x = RoomService;",
  },
  {
    rule: 'back-ends import no kernel',
    path: 'src/backends/memory/x.ts',
    source: "import { DomainEventPublisher } from '../../kernel/domain-events.publisher.js';\nexport const x = DomainEventPublisher;",
  },
  {
    rule: 'transport imports no back-end',
    path: 'src/ws/x.ts',
    source: "import { RedisMembershipStore } from '../backends/redis/redis-membership-store.js';\nexport const x = RedisMembershipStore;",
  },
  { rule: 'transport imports no Redis client', path: 'src/ws/x.ts', source: "import { Cluster } from 'ioredis';\nexport const x = Cluster;" },
  {
    rule: 'presence talks to no domain internal',
    path: 'src/presence/x.ts',
    source: "import { RoomDelivery } from '../domain/rooms/room-delivery.js';\nexport const x = RoomDelivery;",
  },
  {
    rule: 'router talks to no transport',
    path: 'src/message-router/x.ts',
    source: "import { ConnectionHandler } from '../ws/connection.js';\nexport const x = ConnectionHandler;",
  },
  {
    rule: 'router talks to no presence',
    path: 'src/message-router/x.ts',
    source: "import { CanvasPresenceService } from '../presence/canvas-presence.service.js';\nexport const x = CanvasPresenceService;",
  },
  {
    rule: 'ops reads no back-end',
    path: 'src/ops/x.ts',
    source: "import { RedisInstanceRegistry } from '../backends/redis/redis-instance-registry.js';\nexport const x = RedisInstanceRegistry;",
  },
  {
    rule: 'ops reads no domain internal',
    path: 'src/ops/metrics/x.ts',
    source: "import { RoomDelivery } from '../../domain/rooms/room-delivery.js';\nexport const x = RoomDelivery;",
  },
  {
    rule: 'only the entry point and the demo import the composition root',
    path: 'src/ops/x.ts',
    source: "import { ConnectionManagerModule } from '../connection-manager/connection-manager.module.js';\nexport const x = ConnectionManagerModule;",
  },
];

const allowed: Fixture[] = [
  {
    rule: 'domain uses its ports, the kernel and the protocol',
    path: 'src/domain/rooms/x.ts',
    source:
      "import { RoomBus } from '../ports/room-bus.port.js';\nimport { DomainEventPublisher } from '../../kernel/domain-events.publisher.js';\nimport { wireRoomId } from '../../protocol/protocol.types.js';\nexport const x = [RoomBus, DomainEventPublisher, wireRoomId];",
  },
  {
    rule: 'back-ends implement ports with their packages',
    path: 'src/backends/redis/x.ts',
    source:
      "import { Redis } from 'ioredis';\nimport { MembershipStore } from '../../domain/ports/membership-store.port.js';\nexport const x = [Redis, MembershipStore];",
  },
  {
    rule: 'transport calls the domain',
    path: 'src/ws/x.ts',
    source:
      "import { ConnectionService } from '../domain/connections/connection.service.js';\nimport { WebSocket } from 'ws';\nexport const x = [ConnectionService, WebSocket];",
  },
  {
    rule: 'presence uses events and exported services',
    path: 'src/presence/x.ts',
    source:
      "import { ConnectionManagerEvent } from '../kernel/connection-manager.events.js';\nimport { RoomService } from '../domain/rooms/room.service.js';\nexport const x = [ConnectionManagerEvent, RoomService];",
  },
  {
    rule: 'the composition root composes',
    path: 'src/connection-manager/x.ts',
    source:
      "import { RedisRoomBus } from '../backends/redis/redis-room-bus.js';\nimport { ConnectionHandler } from '../ws/connection.js';\nexport const x = [RedisRoomBus, ConnectionHandler];",
  },
  {
    rule: 'the client SDK uses the protocol',
    path: 'client/x.ts',
    source: "import { CloseCode } from '../src/protocol/protocol.types.js';\nexport const x = CloseCode;",
  },
];

describe('import boundaries (eslint-plugin-boundaries, eslint.layers.js)', () => {
  it.each(broken)('fails: $rule', async ({ path, source }) => {
    const found = await violations(path, source);
    expect(found.some((v) => v.startsWith('boundaries/dependencies'))).toBe(true);
  });

  it.each(allowed)('passes: $rule', async ({ path, source }) => {
    expect(await violations(path, source)).toEqual([]);
  });
});
