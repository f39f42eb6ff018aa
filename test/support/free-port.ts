import { createServer, type AddressInfo } from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago (for child processes that need a fixed PORT). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Runs `start` on a free port, and again on another one when the port was taken between
 * {@link freePort} and the child's listen (another test's server or client got it: the child
 * then fails with EADDRINUSE, which `start` must put in its error, as the servers' output does).
 * Any other failure, or EADDRINUSE `attempts` times, is thrown as is.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt >= attempts || !String((err as Error)?.message ?? err).includes('EADDRINUSE')) throw err;
    }
  }
}
