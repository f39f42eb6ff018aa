import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpLogger } from 'pino-http';
import { OPS_HTTP_LOGGER, OPS_OPTIONS } from '../ops.constants.js';
import type { ResolvedOpsOptions } from '../ops.options.js';
import { requestLogContext } from './request-log-context.js';

/**
 * pino-http for every HTTP route of the app: gives the request its id (`X-Request-Id`, see
 * `requestId`), writes the request line when the response finishes (probes and scrapes
 * excepted), and with `logging.requestContext` runs the rest of the request inside
 * {@link requestLogContext} so that every line {@link OpsLogger} writes meanwhile carries
 * `reqId` (off by default: see the option for its cost on Node 20). WebSocket upgrades never
 * reach Nest middleware: they are logged as connection lines instead.
 */
@Injectable()
export class RequestLoggingMiddleware implements NestMiddleware {
  private readonly requestContext: boolean;

  constructor(
    @Inject(OPS_HTTP_LOGGER) private readonly http: HttpLogger,
    @Inject(OPS_OPTIONS) options: ResolvedOpsOptions,
  ) {
    this.requestContext = options.logging !== false && options.logging.requestContext;
  }

  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    this.http(req, res);
    if (this.requestContext) requestLogContext.run(req.log, next);
    else next();
  }
}
