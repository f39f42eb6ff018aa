import { Inject, Injectable, type LoggerService } from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';
import type { HttpLogger } from 'pino-http';
import { OPS_HTTP_LOGGER } from '../ops.constants.js';
import { requestLogContext } from './request-log-context.js';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** A stack trace as Nest's exception handlers pass it: a string with `at …` frames. */
const STACK = /\n\s*at /;

/**
 * Nest's LoggerService, written as pino JSON lines: the app's own log lines, Nest's and the
 * Connection Manager's all go through it once the app calls
 *
 *     const app = await NestFactory.create(AppModule, { bufferLogs: true });
 *     app.useLogger(app.get(OpsLogger));
 *
 * Nest's `log`/`verbose` map to pino's `info`/`trace`. The logger's context (the last extra
 * argument, as Nest passes it) becomes the `context` field; an object message is merged into
 * the line (`msg` inside it is the message); an Error becomes `err`. Inside an HTTP request the
 * line also carries `reqId` (see {@link requestLogContext}). Redaction and scrubbing are pino's
 * options (see `pinoOptions`), so nothing written here can carry a token.
 */
@Injectable()
export class OpsLogger implements LoggerService {
  constructor(@Inject(OPS_HTTP_LOGGER) private readonly http: HttpLogger) {}

  /** The root pino logger of the app (outside requests); for code that wants pino's API directly. */
  get pino(): PinoLogger {
    return this.http.logger;
  }

  log(message: unknown, ...optionalParams: unknown[]): void {
    this.write('info', message, optionalParams);
  }

  error(message: unknown, ...optionalParams: unknown[]): void {
    this.write('error', message, optionalParams);
  }

  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.write('warn', message, optionalParams);
  }

  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.write('debug', message, optionalParams);
  }

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.write('trace', message, optionalParams);
  }

  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.write('fatal', message, optionalParams);
  }

  private write(level: Level, message: unknown, optionalParams: unknown[]): void {
    const logger = requestLogContext.getStore() ?? this.http.logger;
    if (!logger.isLevelEnabled(level)) return;
    // Nest passes the context last; anything before it is interpolation arguments.
    const fields: Record<string, unknown> = {};
    let params = optionalParams;
    if (params.length > 0) {
      fields.context = params[params.length - 1];
      params = params.slice(0, -1);
    }
    if (message instanceof Error) {
      fields.err = message;
      logger[level](fields, ...(params as []));
    } else if (typeof message === 'object' && message !== null) {
      logger[level]({ ...fields, ...message }, ...(params as []));
    } else if (level === 'error' && typeof message === 'string' && params.length === 1 && typeof params[0] === 'string' && STACK.test(params[0])) {
      // Nest's exception handlers call error(message, stack, context): keep it as an error
      // with that stack (scrubbed by the err serializer), not as a format argument.
      const err = new Error(message);
      err.stack = params[0];
      logger.error({ ...fields, err });
    } else {
      logger[level](fields, String(message), ...(params as []));
    }
  }
}
