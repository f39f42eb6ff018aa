import { connect, createServer, type Socket } from 'node:net';

/** A TCP link to a port that the test can cut and restore: a network blip between two processes. */
export interface TcpLink {
  /** Where to connect instead of the target. */
  port: number;
  /** Destroys every connection through the link; new ones are dropped at once until {@link restore}. */
  cut(): void;
  /** Lets connections through again. */
  restore(): void;
  close(): Promise<void>;
}

/**
 * A plain TCP proxy in front of `127.0.0.1:targetPort`. Cutting it is what a network partition
 * between one client process and the server looks like to both: their connections drop, the
 * server and its other clients carry on, and reconnect attempts fail until the link is back.
 */
export function tcpLink(targetPort: number): Promise<TcpLink> {
  const sockets = new Set<Socket>();
  let up = true;
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server = createServer((client) => {
    track(client);
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as { port: number }).port,
        cut: () => {
          up = false;
          for (const s of sockets) s.destroy();
        },
        restore: () => {
          up = true;
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
