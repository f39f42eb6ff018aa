import { connect, createServer, type Socket } from 'node:net';

/** Which way a connection's bytes are swallowed: server → client (`down`), client → server (`up`). */
export type Direction = 'down' | 'up';

export interface LossyProxy {
  port: number;
  /** From now on, the latest connection's bytes going `direction` are dropped: each side thinks it wrote them. */
  swallow(direction: Direction): void;
  /** Destroys the latest connection on both sides, as a dying network path would end. */
  cut(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of `targetPort` that can lose what a dying connection would lose: bytes
 * the sender wrote (and so counts as sent) that never reach the other side. Pausing a client's
 * socket cannot show that (Node reads ahead into the stream, and `ws` hands what it read to the
 * app when the socket closes); here the bytes are gone.
 */
export function lossyProxy(targetPort: number): Promise<LossyProxy> {
  const sockets = new Set<Socket>();
  let latest: { client: Socket; upstream: Socket; swallowed: Set<Direction> } | undefined;
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const conn = { client, upstream, swallowed: new Set<Direction>() };
    latest = conn;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      if (!conn.swallowed.has('up')) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!conn.swallowed.has('down')) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const current = (): NonNullable<typeof latest> => {
    if (!latest) throw new Error('lossyProxy: no connection yet');
    return latest;
  };
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as { port: number }).port,
        swallow: (direction) => current().swallowed.add(direction),
        cut: () => {
          const { client, upstream } = current();
          client.destroy();
          upstream.destroy();
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
