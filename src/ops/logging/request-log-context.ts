import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';

/**
 * The pino logger of the HTTP request being handled (a child carrying `reqId`), kept across
 * every `await` of the request's handlers by AsyncLocalStorage when `logging.requestContext` is
 * on (never entered otherwise: on Node 20 its first `run` turns on promise hooks for the whole
 * process, see the option). Outside a request, or with the option off (start-up,
 * WebSocket frames, timers) there is none and {@link OpsLogger} writes through the root logger.
 * One store per process is enough: each request's entry holds its own app's logger.
 */
export const requestLogContext = new AsyncLocalStorage<Logger>();
