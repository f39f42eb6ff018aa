import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { boundSlowUpgrades } from './slow-upgrade-bound.js';

/** On real `http.Server` objects (Node's defaults: headersTimeout 60000, requestTimeout 300000). */
describe('boundSlowUpgrades', () => {
  it("lowers Node's default headersTimeout to the bound and leaves a larger requestTimeout alone", () => {
    const server = createServer();
    boundSlowUpgrades(server, 10_000);
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(300_000);
  });

  it('keeps a tighter bound the host set, and 0 leaves the server alone', () => {
    const tight = createServer();
    tight.headersTimeout = 5000;
    boundSlowUpgrades(tight, 10_000);
    expect(tight.headersTimeout).toBe(5000);
    const untouched = createServer();
    boundSlowUpgrades(untouched, 0);
    expect(untouched.headersTimeout).toBe(60_000);
  });

  it('raises a requestTimeout below the bound (Node checks it while headers arrive), never turns one on', () => {
    const short = createServer({ requestTimeout: 3000 });
    short.headersTimeout = 0;
    boundSlowUpgrades(short, 10_000);
    expect(short.headersTimeout).toBe(10_000);
    expect(short.requestTimeout).toBe(10_000);
    const off = createServer({ requestTimeout: 0 });
    boundSlowUpgrades(off, 10_000);
    expect(off.requestTimeout).toBe(0);
  });
});
