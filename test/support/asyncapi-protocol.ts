import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DiagnosticSeverity, Parser, type AsyncAPIDocumentInterface, type Diagnostic, type MessageInterface } from '@asyncapi/parser';
import ts from 'typescript';

/**
 * Both sides of the spec ↔ code check of test/asyncapi.e2e-spec.ts:
 * - {@link readAsyncApiProtocol}: docs/asyncapi.yaml parsed with @asyncapi/parser, reduced to
 *   frame types (by direction), their fields, error/refusal/close codes and examples;
 * - {@link readProtocolTypes}: src/protocol/protocol.types.ts read with the TypeScript compiler
 *   API: the `ClientFrame` and `ServerFrame` unions resolved by the type checker to their
 *   members' `type` literals and fields, so a frame added to a union is found wherever and
 *   however its interface is declared.
 */

/** The fields of one frame: required and optional property names. */
export interface FrameFields {
  required: string[];
  optional: string[];
}

/** frame `type` → fields, for one direction. */
export type FramesByType = Map<string, FrameFields>;

export interface SpecMessage {
  /** Key under `components.messages` / the channel's messages. */
  key: string;
  frameType: string;
  /** The resolved payload schema (no `$ref`s). */
  schema: Record<string, unknown>;
  examples: Array<{ name: string; payload: unknown }>;
}

export interface AsyncApiProtocol {
  document: AsyncAPIDocumentInterface;
  diagnostics: Diagnostic[];
  /** Frames the client sends: the messages of `receive` operations. */
  clientFrames: FramesByType;
  /** Frames the server sends: messages of `send` operations and of the replies of `receive` operations. */
  serverFrames: FramesByType;
  clientMessages: SpecMessage[];
  serverMessages: SpecMessage[];
  /** `components.schemas.ErrorCode.enum`. */
  errorCodes: string[];
  /** Keys of `ErrorCode`'s `x-enum-descriptions`. */
  errorCodesDescribed: string[];
  /** `components.schemas.UpgradeRefusalCode.enum`. */
  refusalCodes: string[];
  /** Codes of the `x-upgrade-refusals` entries of the `ws` channel that have one. */
  refusalTableCodes: string[];
  /** `x-close-codes` of the `ws` channel. */
  closeCodes: Array<{ code: number; name: string; resumable: boolean; meaning: string }>;
}

export class AsyncApiParseError extends Error {}

/** Parses an AsyncAPI document; throws when the parser produced no document (errors listed). */
export async function readAsyncApiProtocol(file: string): Promise<AsyncApiProtocol> {
  const { document, diagnostics } = await new Parser().parse(readFileSync(file, 'utf8'));
  if (document === undefined) {
    const errors = diagnostics.filter((d) => Number(d.severity) === Number(DiagnosticSeverity.Error)).map(formatDiagnostic);
    throw new AsyncApiParseError(`${file} did not parse:\n${errors.join('\n')}`);
  }

  const clientMessages: SpecMessage[] = [];
  const serverMessages: SpecMessage[] = [];
  const seen = new Set<string>();
  const add = (list: SpecMessage[], direction: string, message: MessageInterface): void => {
    const key = `${direction}:${message.id()}`;
    if (seen.has(key)) return;
    seen.add(key);
    const schema = schemaObject(message.payload()?.json());
    list.push({
      key: message.id(),
      frameType: frameTypeOf(message.id(), schema),
      schema,
      examples: message
        .examples()
        .all()
        .map((e, i) => ({ name: e.name() ?? `#${i}`, payload: e.payload() })),
    });
  };
  for (const op of document.operations().all()) {
    if (op.isReceive()) {
      for (const m of op.messages().all()) add(clientMessages, 'client', m);
      for (const m of op.reply()?.messages().all() ?? []) add(serverMessages, 'server', m);
    } else {
      for (const m of op.messages().all()) add(serverMessages, 'server', m);
    }
  }

  const schemas = document.components().schemas();
  const enumOf = (name: string): string[] => {
    const schema = schemas.get(name);
    if (schema === undefined) throw new AsyncApiParseError(`components.schemas.${name} is missing`);
    return (schema.enum() ?? []).map(String);
  };
  const errorCodeSchema = schemas.get('ErrorCode')?.json();

  const channel = document.channels().get('ws');
  if (channel === undefined) throw new AsyncApiParseError('channel "ws" is missing');
  const ext = <T>(name: string): T => {
    const value = channel.extensions().get(name)?.value<T>();
    if (value === undefined) throw new AsyncApiParseError(`channel ws has no ${name}`);
    return value;
  };
  const refusals = ext<{ refusals: Array<{ code?: string }> }>('x-upgrade-refusals').refusals;
  const close = ext<{ codes: AsyncApiProtocol['closeCodes'] }>('x-close-codes').codes;

  return {
    document,
    diagnostics,
    clientFrames: fieldsByType(clientMessages, 'client'),
    serverFrames: fieldsByType(serverMessages, 'server'),
    clientMessages,
    serverMessages,
    errorCodes: enumOf('ErrorCode'),
    errorCodesDescribed: Object.keys(((errorCodeSchema as Record<string, unknown> | undefined)?.['x-enum-descriptions'] as object | undefined) ?? {}),
    refusalCodes: enumOf('UpgradeRefusalCode'),
    refusalTableCodes: [...new Set(refusals.filter((r) => r.code !== undefined).map((r) => String(r.code)))],
    closeCodes: close,
  };
}

export function formatDiagnostic(d: Diagnostic): string {
  return `[${DiagnosticSeverity[d.severity]}] ${d.code}: ${d.message} at ${d.path.join('.')}`;
}

/** The frame type of a payload schema: `properties.type.const` (one string). */
function frameTypeOf(messageKey: string, schema: Record<string, unknown>): string {
  const properties = schema.properties as Record<string, { const?: unknown }> | undefined;
  const type = properties?.type?.const;
  if (typeof type !== 'string') throw new AsyncApiParseError(`message ${messageKey}: payload has no string properties.type.const`);
  return type;
}

function fieldsByType(messages: SpecMessage[], side: string): FramesByType {
  const frames: FramesByType = new Map();
  for (const m of messages) {
    if (frames.has(m.frameType)) throw new AsyncApiParseError(`${side} frame type "${m.frameType}" is described by two messages`);
    const properties = Object.keys((m.schema.properties as object | undefined) ?? {});
    const required = ((m.schema.required as string[] | undefined) ?? []).slice().sort();
    frames.set(m.frameType, { required, optional: properties.filter((p) => !required.includes(p)).sort() });
  }
  return frames;
}

export interface ProtocolTypes {
  clientFrames: FramesByType;
  serverFrames: FramesByType;
}

/**
 * Reads the frame unions of a protocol types file with the TypeScript type checker. Each member
 * of `ClientFrame` / `ServerFrame` must have a `type` property whose type is a string literal
 * (or a union of them); its properties (with their optionality) are the frame's fields.
 */
export function readProtocolTypes(file: string): ProtocolTypes {
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
  });
  const source = program.getSourceFile(file);
  if (source === undefined) throw new Error(`TypeScript could not read ${file}`);
  const syntaxErrors = program.getSyntacticDiagnostics(source);
  if (syntaxErrors.length > 0) throw new Error(`${file}: ${ts.flattenDiagnosticMessageText(syntaxErrors[0].messageText, '\n')}`);
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) throw new Error(`${file} is not a module`);
  const exports = checker.getExportsOfModule(moduleSymbol);

  const framesOf = (unionName: string): FramesByType => {
    let symbol = exports.find((s) => s.name === unionName);
    if (symbol === undefined) throw new Error(`${file} exports no ${unionName}`);
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    const union = checker.getDeclaredTypeOfSymbol(symbol);
    const members = union.isUnion() ? union.types : [union];
    const frames: FramesByType = new Map();
    for (const member of members) {
      const memberName = checker.typeToString(member);
      const typeProp = member.getProperty('type');
      if (typeProp === undefined) throw new Error(`${unionName} member ${memberName} has no "type" property`);
      const typeOfType = checker.getTypeOfSymbol(typeProp);
      const literals = typeOfType.isUnion() ? typeOfType.types : [typeOfType];
      const fields = fieldsOf(checker, member);
      for (const literal of literals) {
        if (!literal.isStringLiteral())
          throw new Error(`${unionName} member ${memberName}: "type" is ${checker.typeToString(typeOfType)}, not string literals`);
        if (frames.has(literal.value)) throw new Error(`${unionName}: two members with type "${literal.value}"`);
        frames.set(literal.value, fields);
      }
    }
    return frames;
  };
  return { clientFrames: framesOf('ClientFrame'), serverFrames: framesOf('ServerFrame') };
}

function fieldsOf(checker: ts.TypeChecker, type: ts.Type): FrameFields {
  const required: string[] = [];
  const optional: string[] = [];
  for (const p of checker.getPropertiesOfType(type)) (p.flags & ts.SymbolFlags.Optional ? optional : required).push(p.name);
  return { required: required.sort(), optional: optional.sort() };
}

/** What is on one side only: `[onlyInA, onlyInB]`, each sorted. */
export function oneSided<T>(a: Iterable<T>, b: Iterable<T>): [T[], T[]] {
  const setA = new Set(a);
  const setB = new Set(b);
  const sort = (xs: T[]) => xs.sort((x, y) => String(x).localeCompare(String(y)));
  return [sort([...setA].filter((x) => !setB.has(x))), sort([...setB].filter((x) => !setA.has(x)))];
}

/** A JSON Schema validator (ajv, draft-07), the one @asyncapi/parser itself depends on. */
export interface SchemaValidator {
  /** Validation errors of `value` against `schema`, as readable lines; empty when valid. */
  errors(schema: object | boolean, value: unknown): string[];
}

export function jsonSchemaValidator(): SchemaValidator {
  // Resolved from the parser's own location, so it is the ajv the parser installs with it.
  const fromParser = createRequire(createRequire(import.meta.url).resolve('@asyncapi/parser'));
  const AjvModule = fromParser('ajv') as { default: new (options: object) => AjvLike };
  // strict: false — AsyncAPI schemas carry `x-` keys (and the parser adds `x-parser-schema-id`).
  const ajv = new AjvModule.default({ strict: false, allErrors: true });
  const cache = new Map<object | boolean, AjvValidate>();
  return {
    errors(schema, value) {
      let validate = cache.get(schema);
      if (validate === undefined) {
        validate = ajv.compile(schema);
        cache.set(schema, validate);
      }
      if (validate(value)) return [];
      return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
    },
  };
}

interface AjvValidate {
  (value: unknown): boolean;
  errors?: Array<{ instancePath: string; message?: string; params: unknown }> | null;
}
interface AjvLike {
  compile(schema: object | boolean): AjvValidate;
}

/** A message payload as a JSON Schema object (the spec never uses the boolean form of a schema). */
function schemaObject(json: unknown): Record<string, unknown> {
  if (typeof json !== 'object' || json === null) return {};
  return json as Record<string, unknown>;
}
