/**
 * A dependency the instance cannot serve without (Redis in cluster mode, for instance).
 * `GET /health/ready` answers 503 while any registered check is not ready, and
 * `cm_backend_up{backend="<name>"}` reports each check as 1 or 0 at scrape time.
 *
 * Contract:
 * - `name`: short, stable, unique among the checks (`redis`); it becomes a JSON key of the
 *   readiness body and a label value. `draining` is reserved.
 * - `isReady()`: cheap (it runs on every probe and every scrape). Prefer reading a connection
 *   state (`redis.status === 'ready'`) over a round-trip. Throwing, rejecting, returning false
 *   or taking longer than `health.checkTimeoutMs` (default 1000 ms) all count as not ready.
 */
export interface ReadinessCheck {
  readonly name: string;
  isReady(): boolean | Promise<boolean>;
}

/**
 * Injection token of the same name. Any module may provide one (or an array of them) under it;
 * OpsModule finds every such provider in the app at bootstrap, in whichever module it lives,
 * so several modules can each contribute checks without knowing about each other:
 *
 *     { provide: ReadinessCheck, inject: [SearchIndex],
 *       useFactory: (index: SearchIndex): ReadinessCheck => ({
 *         name: 'search',
 *         isReady: () => index.connected,
 *       }) }
 *
 * Checks known only at run time go through {@link ReadinessRegistry.register} instead.
 */
export const ReadinessCheck = Symbol('ReadinessCheck');
