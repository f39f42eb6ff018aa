import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { ReadinessCheck } from './readiness-check.interface.js';

/** The outcome of one check. `message` says why it is not ready. */
export interface ReadinessResult {
  name: string;
  ready: boolean;
  message?: string;
}

/** Names become JSON keys and label values: keep them short and plain. `draining` is taken. */
const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
export const RESERVED_CHECK_NAMES: ReadonlySet<string> = new Set(['draining']);

/**
 * Every readiness check of the app: the providers under the {@link ReadinessCheck} token in any
 * module (found once, when the modules initialise) plus the ones registered at run time.
 * A duplicate or malformed name is a programming error: it throws, at start-up for providers.
 */
@Injectable()
export class ReadinessRegistry implements OnModuleInit {
  private readonly checks = new Map<string, ReadinessCheck>();

  constructor(private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      if (wrapper.token !== ReadinessCheck || !wrapper.isDependencyTreeStatic()) continue;
      const value = wrapper.instance as ReadinessCheck | ReadinessCheck[] | undefined;
      for (const check of Array.isArray(value) ? value : value ? [value] : []) this.register(check);
    }
  }

  /** Adds a check; returns the function that removes it again. */
  register(check: ReadinessCheck): () => void {
    if (typeof check?.isReady !== 'function' || typeof check.name !== 'string') {
      throw new Error('a ReadinessCheck needs a name and an isReady() function');
    }
    if (!NAME.test(check.name) || RESERVED_CHECK_NAMES.has(check.name)) {
      throw new Error(`readiness check name "${check.name}" must be 1-64 chars of [A-Za-z0-9_.:-] and not "draining"`);
    }
    if (this.checks.has(check.name)) throw new Error(`readiness check "${check.name}" is registered twice`);
    this.checks.set(check.name, check);
    return () => {
      if (this.checks.get(check.name) === check) this.checks.delete(check.name);
    };
  }

  /** The registered checks, in registration order. */
  list(): ReadinessCheck[] {
    return [...this.checks.values()];
  }

  /** Runs every check concurrently, each bounded by `timeoutMs`. Never rejects. */
  evaluate(timeoutMs: number): Promise<ReadinessResult[]> {
    return Promise.all(this.list().map((check) => evaluateCheck(check, timeoutMs)));
  }
}

/**
 * Runs one check: ready only when `isReady()` returns or resolves to exactly `true` within
 * `timeoutMs`. A throw, a rejection, any other value or the timeout make it not ready.
 */
export async function evaluateCheck(check: ReadinessCheck, timeoutMs: number): Promise<ReadinessResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(() => check.isReady()), timeout]);
    if (outcome === 'timeout') return { name: check.name, ready: false, message: `no answer within ${timeoutMs} ms` };
    return outcome === true ? { name: check.name, ready: true } : { name: check.name, ready: false, message: 'not ready' };
  } catch (err) {
    return { name: check.name, ready: false, message: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
