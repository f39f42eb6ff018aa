import { describe, expect, it } from 'vitest';
import { DEFAULT_FANOUT_BUCKETS, resolveOpsOptions } from './ops.options.js';

describe('resolveOpsOptions', () => {
  it('fills every default', () => {
    expect(resolveOpsOptions()).toEqual({
      metrics: { enabled: true, prefix: 'cm_', defaultMetrics: true, eventLoopResolutionMs: 100, tenantLabelLimit: 20, fanoutBuckets: DEFAULT_FANOUT_BUCKETS },
      health: { checkTimeoutMs: 1000 },
      logging: { level: 'info', requestLogging: true, requestContext: false },
      connectionLog: true,
    });
  });

  it('keeps partial sections partial and logging false as false', () => {
    const o = resolveOpsOptions({ metrics: { tenantLabelLimit: 0 }, logging: false });
    expect(o.metrics).toMatchObject({ enabled: true, tenantLabelLimit: 0, prefix: 'cm_' });
    expect(o.logging).toBe(false);
  });

  it('keeps the destination stream itself', () => {
    const destination = { write: () => undefined };
    const o = resolveOpsOptions({ logging: { destination } });
    expect(o.logging !== false && o.logging.destination).toBe(destination);
  });

  it('names the bad field', () => {
    expect(() => resolveOpsOptions({ metrics: { prefix: '1bad' } })).toThrow(/metrics\.prefix/);
    expect(() => resolveOpsOptions({ metrics: { fanoutBuckets: [0.1, 0.01] } })).toThrow(/metrics\.fanoutBuckets.*increasing/);
    expect(() => resolveOpsOptions({ health: { checkTimeoutMs: 0 } })).toThrow(/health\.checkTimeoutMs/);
    expect(() => resolveOpsOptions({ metrics: { eventLoopResolutionMs: 0 } })).toThrow(/metrics\.eventLoopResolutionMs/);
    expect(() => resolveOpsOptions({ metrics: { eventLoopResolutionMs: 1.5 } })).toThrow(/metrics\.eventLoopResolutionMs/);
    expect(() => resolveOpsOptions({ logging: { level: 'loud' as never } })).toThrow(/logging/);
    expect(() => resolveOpsOptions({ logging: { destination: {} as never } })).toThrow(/logging/);
  });
});
