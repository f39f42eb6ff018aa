/** Injection token of the resolved {@link ResolvedOpsOptions}. */
export const OPS_OPTIONS = Symbol('OPS_OPTIONS');
/** Injection token of the app's pino-http middleware; its `.logger` is the root pino logger. */
export const OPS_HTTP_LOGGER = Symbol('OPS_HTTP_LOGGER');
