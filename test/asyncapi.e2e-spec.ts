import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticSeverity } from '@asyncapi/parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClientFrame } from '../src/protocol/frame-parser.js';
import { CloseCode, ErrorCode, UpgradeRefusalCode } from '../src/protocol/protocol.types.js';
import {
  formatDiagnostic,
  jsonSchemaValidator,
  oneSided,
  readAsyncApiProtocol,
  readProtocolTypes,
  type AsyncApiProtocol,
  type FramesByType,
  type ProtocolTypes,
  type SchemaValidator,
  type SpecMessage,
} from './support/asyncapi-protocol.js';
import { expAfter } from './support/continuity.js';
import type { TestApp } from './support/test-app.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

/**
 * docs/asyncapi.yaml (AsyncAPI 3, issue 14) and src/protocol describe the same wire protocol v1:
 * every client and server frame type, each frame's fields, every error code, upgrade refusal
 * code and close code exists on both sides or the test fails, naming what is on one side only.
 * The frame types come from the TypeScript source itself (the `ClientFrame` / `ServerFrame`
 * unions resolved by the type checker), so a frame added to a union is checked with no change
 * here. Then the spec's examples, boundary frames judged by the real frame parser, and the
 * frames a real server sends are validated against the spec's payload schemas.
 */

const SPEC = fileURLToPath(new URL('../docs/asyncapi.yaml', import.meta.url));
const TYPES = fileURLToPath(new URL('../src/protocol/protocol.types.ts', import.meta.url));

/** What exists on one side only, labelled; `{}` when both sides agree. */
function drift<T>(what: string, inSpec: Iterable<T>, inCode: Iterable<T>): Record<string, T[]> {
  const [specOnly, codeOnly] = oneSided(inSpec, inCode);
  const out: Record<string, T[]> = {};
  if (specOnly.length > 0) out[`${what} in docs/asyncapi.yaml only`] = specOnly;
  if (codeOnly.length > 0) out[`${what} in src/protocol only`] = codeOnly;
  return out;
}

/** Frames whose fields differ between the spec and the TypeScript interface. */
function fieldDrift(side: string, spec: FramesByType, code: FramesByType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [type, codeFields] of code) {
    const specFields = spec.get(type);
    if (specFields === undefined) continue; // reported by the frame type check
    if (JSON.stringify(specFields) !== JSON.stringify(codeFields))
      out[`${side} frame "${type}"`] = { 'docs/asyncapi.yaml': specFields, 'src/protocol': codeFields };
  }
  return out;
}

function schemaOf(messages: SpecMessage[], frameType: string): object {
  const message = messages.find((m) => m.frameType === frameType);
  if (message === undefined) throw new Error(`no message for frame type "${frameType}" in docs/asyncapi.yaml`);
  return message.schema;
}

describe('docs/asyncapi.yaml describes protocol v1 as src/protocol defines it', () => {
  let spec: AsyncApiProtocol;
  let code: ProtocolTypes;
  let validator: SchemaValidator;
  beforeAll(async () => {
    spec = await readAsyncApiProtocol(SPEC);
    code = readProtocolTypes(TYPES);
    validator = jsonSchemaValidator();
  });

  it('parses with @asyncapi/parser as AsyncAPI 3.0.0 with no error diagnostics', () => {
    const errors = spec.diagnostics.filter((d) => Number(d.severity) === Number(DiagnosticSeverity.Error)).map(formatDiagnostic);
    expect(errors).toEqual([]);
    expect(spec.document.version()).toBe('3.0.0');
    const channel = spec.document.channels().get('ws');
    expect(channel?.address()).toBe('/ws');
    expect(channel?.bindings().has('ws')).toBe(true);
    expect(
      spec.document
        .servers()
        .all()
        .map((s) => s.protocol()),
    ).toContain('ws');
  });

  it('client frame types: the same set in the spec (receive operations) and in ClientFrame', () => {
    expect(code.clientFrames.size).toBeGreaterThan(0);
    expect(drift('client frame types', spec.clientFrames.keys(), code.clientFrames.keys())).toEqual({});
  });

  it('server frame types: the same set in the spec (send operations and replies) and in ServerFrame', () => {
    expect(code.serverFrames.size).toBeGreaterThan(0);
    expect(drift('server frame types', spec.serverFrames.keys(), code.serverFrames.keys())).toEqual({});
  });

  it('every frame has the same fields, required and optional, in its payload schema as in its TypeScript interface', () => {
    expect({ ...fieldDrift('client', spec.clientFrames, code.clientFrames), ...fieldDrift('server', spec.serverFrames, code.serverFrames) }).toEqual({});
  });

  it('error codes: ErrorCode in src/protocol = the ErrorCode enum of the spec, each described', () => {
    expect(drift('error codes', spec.errorCodes, Object.values(ErrorCode))).toEqual({});
    expect(drift('described error codes', spec.errorCodesDescribed, spec.errorCodes)).toEqual({});
  });

  it('upgrade refusal codes: UpgradeRefusalCode = the spec enum = the codes of x-upgrade-refusals', () => {
    expect(drift('upgrade refusal codes', spec.refusalCodes, Object.values(UpgradeRefusalCode))).toEqual({});
    expect(drift('upgrade refusal codes of x-upgrade-refusals', spec.refusalTableCodes, Object.values(UpgradeRefusalCode))).toEqual({});
  });

  it('close codes: CloseCode = x-close-codes (code and name), each saying whether it is resumable', () => {
    const inSpec = spec.closeCodes.map((c) => `${c.code} ${c.name}`);
    const inCode = Object.entries(CloseCode).map(([name, value]) => `${value} ${name}`);
    expect(drift('close codes', inSpec, inCode)).toEqual({});
    for (const c of spec.closeCodes) {
      expect(typeof c.resumable, `close code ${c.code}: resumable`).toBe('boolean');
      expect(c.meaning.length, `close code ${c.code}: meaning`).toBeGreaterThan(0);
    }
  });

  it('every message has examples, and each validates against its own payload schema', () => {
    const failures: Record<string, string[]> = {};
    for (const m of [...spec.clientMessages, ...spec.serverMessages]) {
      if (m.examples.length === 0) failures[m.key] = ['no example'];
      for (const e of m.examples) {
        const errors = validator.errors(m.schema, e.payload);
        if (errors.length > 0) failures[`${m.key} example ${e.name}`] = errors;
      }
    }
    const body = spec.document.components().schemas().get('UpgradeRefusalBody');
    for (const [i, example] of (body?.examples() ?? []).entries()) {
      const errors = validator.errors(body!.json(), example);
      if (errors.length > 0) failures[`UpgradeRefusalBody example #${i}`] = errors;
    }
    expect(failures).toEqual({});
  });

  it('client frame examples are accepted by the real frame parser', () => {
    for (const m of spec.clientMessages) {
      for (const e of m.examples) {
        const parsed = parseClientFrame(JSON.stringify(e.payload));
        expect(parsed, `${m.key} example ${e.name}`).toMatchObject({ ok: true, frame: { type: m.frameType } });
      }
    }
  });

  // Frames at the edges of the rules: the spec's schema and the real parser must agree on each.
  const edges: Array<[string, Record<string, unknown>]> = [
    ['canvasId of 128 characters', { type: 'join', canvasId: 'a'.repeat(128) }],
    ['canvasId of 129 characters', { type: 'join', canvasId: 'a'.repeat(129) }],
    ['empty canvasId', { type: 'leave', canvasId: '' }],
    ['canvasId with every allowed punctuation', { type: 'join', canvasId: 'A-z_0.9:x' }],
    ['canvasId with a space', { type: 'join', canvasId: 'c 1' }],
    ['canvasId with a slash', { type: 'message', canvasId: 'c/1', data: 1 }],
    ['canvasId not a string', { type: 'join', canvasId: 7 }],
    ['message with data null', { type: 'message', canvasId: 'c1', data: null }],
    ['message without data', { type: 'message', canvasId: 'c1' }],
    ['reauth with an empty token', { type: 'reauth', token: '' }],
    ['reauth without token', { type: 'reauth' }],
    ['id: string of 64 characters', { type: 'ping', id: 'i'.repeat(64) }],
    ['id: string of 65 characters', { type: 'ping', id: 'i'.repeat(65) }],
    ['id: empty string', { type: 'ping', id: '' }],
    ['id: integer', { type: 'ping', id: -42 }],
    ['id: fraction', { type: 'ping', id: 1.5 }],
    ['id: boolean', { type: 'ping', id: true }],
    ['id: object', { type: 'join', canvasId: 'c1', id: { a: 1 } }],
    ['id: null', { type: 'ping', id: null }],
    ['unknown fields', { type: 'ping', extra: { any: 'thing' } }],
  ];
  it.each(edges)('%s: the payload schema and parseClientFrame agree', (_what, frame) => {
    const accepted = parseClientFrame(JSON.stringify(frame)).ok;
    const errors = validator.errors(schemaOf(spec.clientMessages, String(frame.type)), frame);
    expect(
      errors.length === 0,
      `schema ${errors.length === 0 ? 'accepts' : `refuses (${errors.join('; ')})`}, parser ${accepted ? 'accepts' : 'refuses'}`,
    ).toBe(accepted);
  });

  describe('frames a real server sends validate against the spec', () => {
    let t: TestApp;
    afterAll(async () => {
      await t?.close();
    });

    /** Every text frame the client receives from now on (the ack is added by the caller). */
    function record(client: TestClient & { ack: ServerFrame }, into: ServerFrame[]): void {
      into.push(client.ack);
      client.ws.on('message', (data, isBinary) => {
        if (!isBinary) into.push(JSON.parse(data.toString()));
      });
    }

    it('ack, join, presence, messages, ping, errors, reauth_required, reauth_ok, leave, a resumed ack, and a refused upgrade', async () => {
      // Imported here so that the spec ↔ code checks above need no Nest app to run.
      const { TestApp } = await import('./support/test-app.js');
      t = await TestApp.create({ options: { reauthGraceMs: 10_000 } });
      const received: ServerFrame[] = [];
      const alice = await t.connect({ sub: 'alice', name: 'Ann', exp: expAfter(1500) });
      const bob = await t.connect({ sub: 'bob' });
      record(alice, received);
      record(bob, received);

      await alice.join('c1');
      await alice.next('presence_state');
      await bob.request({ type: 'join', canvasId: 'c1', id: 42 });
      await alice.next('presence_join');
      bob.send({ type: 'message', canvasId: 'c1', data: { kind: 'stroke', points: [[0, 0]] } });
      await alice.next('message');
      await alice.request({ type: 'ping', id: 7 });
      await alice.request({ type: 'leave', canvasId: 'elsewhere', id: 'l0' }); // NOT_IN_ROOM
      alice.send('not json');
      await alice.next('error');
      // Watched on the recording: `next(type)` drops other frames, and it may come at any point above.
      await t.until(() => received.some((f) => f.type === 'reauth_required'), 6000, 'reauth_required');
      await alice.request({ type: 'reauth', token: t.token({ sub: 'alice', name: 'Ann' }), id: 'a1' });
      await bob.request({ type: 'leave', canvasId: 'c1' });
      await alice.next('presence_leave');

      alice.ws.close();
      await alice.closed;
      const resumed = await t.resume(alice.ack.reconnectToken);
      record(resumed, received);
      await resumed.next('presence_state');

      const failures: Array<{ frame: ServerFrame; errors: string[] }> = [];
      for (const frame of received) {
        const errors = validator.errors(schemaOf(spec.serverMessages, frame.type), frame);
        if (errors.length > 0) failures.push({ frame, errors });
      }
      expect(failures).toEqual([]);
      const seen = new Set(received.map((f) => f.type));
      const provoked = [
        'connection_ack',
        'room_joined',
        'presence_state',
        'presence_join',
        'presence_leave',
        'message',
        'pong',
        'error',
        'reauth_required',
        'reauth_ok',
        'room_left',
      ];
      expect(provoked.filter((type) => !seen.has(type))).toEqual([]);
      expect(received.filter((f) => f.type === 'connection_ack').map((f) => f.resumed)).toEqual([false, false, true]);

      const refusal = await t.refusal('');
      expect(refusal.status).toBe(401);
      const body = spec.document.components().schemas().get('UpgradeRefusalBody')!.json();
      expect(validator.errors(body, refusal.body)).toEqual([]);
    });
  });
});

/**
 * The check itself: it must fail when something exists on one side only. Shown on copies in a
 * temporary directory (the real files are never touched): a frame added to a TypeScript union
 * is found by the type checker however it is declared, and a frame renamed in the spec shows up
 * on both sides of the drift.
 */
describe('the drift check finds what is on one side only', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'asyncapi-drift-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client frame added to ClientFrame (via an intersection and a type alias) is reported as src/protocol-only', async () => {
    const types = readFileSync(TYPES, 'utf8');
    const withNewFrame = types.replace(
      /export type ClientFrame =/,
      "type Base = { id?: RequestId };\nexport type CursorFrame = Base & { type: 'cursor'; canvasId: string; x: number };\nexport type ClientFrame = CursorFrame |",
    );
    expect(withNewFrame).not.toBe(types);
    const copy = join(dir, 'protocol.types.ts');
    writeFileSync(copy, withNewFrame);
    const mutated = readProtocolTypes(copy);
    expect(mutated.clientFrames.get('cursor')).toEqual({ required: ['canvasId', 'type', 'x'], optional: ['id'] });
    const spec = await readAsyncApiProtocol(SPEC);
    expect(drift('client frame types', spec.clientFrames.keys(), mutated.clientFrames.keys())['client frame types in src/protocol only']).toContain('cursor');
  });

  it('a server frame renamed in the spec is reported on both sides; a removed error code and close code too', async () => {
    const yaml = readFileSync(SPEC, 'utf8');
    const renamed = yaml
      .replace('const: pong\n', 'const: pong2\n')
      .replace(/\n {8}- NOT_IN_ROOM\n/, '\n')
      .replace(/\n {8}- code: 1013\n(?: {10}.*\n)+/, '\n');
    expect(renamed).not.toBe(yaml);
    const copy = join(dir, 'asyncapi.yaml');
    writeFileSync(copy, renamed);
    const spec = await readAsyncApiProtocol(copy);
    const code = readProtocolTypes(TYPES);
    // toContain, not toEqual: these lines check the drift check, whatever else is drifting today.
    const frameDrift = drift('server frame types', spec.serverFrames.keys(), code.serverFrames.keys());
    expect(frameDrift['server frame types in docs/asyncapi.yaml only']).toContain('pong2');
    expect(frameDrift['server frame types in src/protocol only']).toContain('pong');
    expect(drift('error codes', spec.errorCodes, Object.values(ErrorCode))['error codes in src/protocol only']).toContain('NOT_IN_ROOM');
    const closeDrift = drift(
      'close codes',
      spec.closeCodes.map((c) => `${c.code} ${c.name}`),
      Object.entries(CloseCode).map(([n, v]) => `${v} ${n}`),
    );
    expect(closeDrift['close codes in src/protocol only']).toContain('1013 TRY_AGAIN_LATER');
  });
});
