import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stdSerializers, stdTimeFunctions, type LoggerOptions } from 'pino';
import { pinoHttp, type HttpLogger, type Options } from 'pino-http';
import type { ResolvedOpsLoggingOptions } from '../ops.options.js';
import { REDACTED, REDACT_PATHS, redactUrl, scrubText } from './log-redaction.js';

/** An incoming `X-Request-Id` is kept only when it looks like an id (no log injection). */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Probes and scrapes: frequent and uninteresting, never auto-logged. */
const QUIET_PATHS = /^\/(?:health(?:\/|$|\?)|metrics(?:$|\?|\/))/;

/**
 * Request id of an HTTP request: the caller's `X-Request-Id` when it is a plain id, else a new
 * UUID. It is echoed as the `X-Request-Id` response header and logged as `req.id` on the
 * request line and as `reqId` on every line written while handling the request.
 */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const header = req.headers['x-request-id'];
  const id = typeof header === 'string' && CLIENT_REQUEST_ID.test(header) ? header : randomUUID();
  if (!res.headersSent) res.setHeader('X-Request-Id', id);
  return id;
}

interface SerializedRequest {
  id?: unknown;
  method?: string;
  url?: string;
  remoteAddress?: string;
  headers?: Record<string, unknown>;
}

/**
 * Only what is needed to find a request again: no headers (Authorization, cookies), no parsed
 * query, and the URL with its credential parameters replaced by `[REDACTED]`.
 */
function serializeRequest(req: SerializedRequest): Record<string, unknown> {
  return {
    id: req.id,
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : req.url,
    remoteAddress: req.remoteAddress,
    userAgent: req.headers?.['user-agent'],
  };
}

function serializeResponse(res: { statusCode?: number }): Record<string, unknown> {
  return { statusCode: res.statusCode };
}

function serializeError(err: Error): Record<string, unknown> {
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  if (typeof out.message === 'string') out.message = scrubText(out.message);
  if (typeof out.stack === 'string') out.stack = scrubText(out.stack);
  return out;
}

/** Scrubs strings in the arguments of a log call (the message and `msg` of a merge object). */
function scrubArgs(args: unknown[]): unknown[] {
  return args.map((arg) => {
    if (typeof arg === 'string') return scrubText(arg);
    if (arg !== null && typeof arg === 'object' && !(arg instanceof Error) && typeof (arg as { msg?: unknown }).msg === 'string') {
      return { ...arg, msg: scrubText((arg as { msg: string }).msg) };
    }
    return arg;
  });
}

/**
 * pino options shared by every logger of the app. Each line is one JSON object:
 * `level` (label), `time` (ISO 8601), `pid`, `hostname`, `context` (Nest logger context),
 * `msg`, plus the fields of the call (e.g. `connectionId`), `reqId` inside an HTTP request,
 * `req`/`res`/`responseTime` on request lines, `err` on errors. Redaction: {@link REDACT_PATHS}
 * (censor `[REDACTED]`), credential query parameters in `req.url`, and free-text scrubbing of
 * messages and errors.
 */
export function pinoOptions(level: LoggerOptions['level']): LoggerOptions {
  return {
    level,
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    serializers: { err: serializeError },
    hooks: {
      logMethod(args, method) {
        method.apply(this, scrubArgs(args) as Parameters<typeof method>);
      },
    },
  };
}

/**
 * pino-http options for the Connection Manager's app: one line per HTTP request unless
 * `requestLogging` is false (probes and scrapes never), 5xx at error and 4xx at warn, request
 * ids as above. `false` (logging disabled) gives a silent logger and no request lines.
 */
export function pinoHttpOptions(logging: ResolvedOpsLoggingOptions | false): Options<IncomingMessage, ServerResponse> {
  const level = logging === false ? 'silent' : logging.level;
  return {
    ...pinoOptions(level),
    serializers: { req: serializeRequest, res: serializeResponse, err: serializeError },
    genReqId: requestId,
    quietReqLogger: true,
    autoLogging: logging !== false && logging.requestLogging ? { ignore: (req) => QUIET_PATHS.test(req.url ?? '') } : false,
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
  };
}

/**
 * The app's pino-http middleware and, as its `.logger`, the root pino logger every line goes
 * through (JSON to `destination`, default stdout written synchronously). One per OpsModule
 * instance, so two apps in one process (tests) each write to their own destination.
 */
export function createHttpLogger(logging: ResolvedOpsLoggingOptions | false): HttpLogger<IncomingMessage, ServerResponse> {
  const options = pinoHttpOptions(logging);
  const destination = logging === false ? undefined : logging.destination;
  return destination ? pinoHttp(options, destination) : pinoHttp(options);
}
