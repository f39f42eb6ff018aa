import { connect, createServer, type Socket } from 'node:net';

/** Which way a connection's bytes are swallowed: server → client (`down`), client → server (`up`). */
export type Direction = 'down' | 'up';

/** A TCP proxy in front of `127.0.0.1:targetPort` that a test can break the way networks break. */
export interface TcpProxy {
  /** Where to connect instead of the target. */
  port: number;
  /**
   * A partition: every connection through the proxy drops, and new ones are dropped at once until
   * {@link restore} (reconnect attempts fail, as they would across a broken link).
   */
  cut(): void;
  /** Lets connections through again after {@link cut}. */
  restore(): void;
  /** Ends the latest connection on both sides, as a dying network path would; new connections still pass. */
  cutLatest(): void;
  /**
   * From now on, the latest connection's bytes going `direction` are dropped: the sender thinks
   * it wrote them. Pausing a socket cannot show that loss (Node reads ahead into the stream, and
   * `ws` hands what it read to the app when the socket closes); here the bytes are gone.
   */
  swallow(direction: Direction): void;
  /**
   * Arms a hold: the first connection that then sends a chunk for which `trigger` is true gets no
   * bytes from the target from that moment (they are kept, in order) until {@link release}: a
   * peer that answers, but late. Resolves once the hold took effect.
   */
  holdDownAfter(trigger: (chunk: Buffer) => boolean): Promise<void>;
  /** Delivers what the hold kept, in order, and lets that connection's bytes through again. */
  release(): void;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket;
  swallowed: Set<Direction>;
  /** Bytes from the target kept by a hold (null: not held). */
  held: Buffer[] | null;
}

export function tcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let up = true;
  let latest: Link | undefined;
  let armed: { trigger: (chunk: Buffer) => boolean; took: () => void } | undefined;
  let holding: Link | undefined;
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
    const link: Link = { client, upstream, swallowed: new Set(), held: null };
    latest = link;
    client.on('data', (chunk: Buffer) => {
      if (armed?.trigger(chunk)) {
        link.held = [];
        holding = link;
        armed.took();
        armed = undefined;
      }
      if (!link.swallowed.has('up')) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (link.held !== null) link.held.push(chunk);
      else if (!link.swallowed.has('down')) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const current = (): Link => {
    if (!latest) throw new Error('tcpProxy: no connection yet');
    return latest;
  };
  const destroyAll = () => {
    for (const s of sockets) s.destroy();
  };
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as { port: number }).port,
        cut: () => {
          up = false;
          destroyAll();
        },
        restore: () => {
          up = true;
        },
        cutLatest: () => {
          const { client, upstream } = current();
          client.destroy();
          upstream.destroy();
        },
        swallow: (direction) => current().swallowed.add(direction),
        holdDownAfter: (trigger) => new Promise<void>((took) => (armed = { trigger, took })),
        release: () => {
          const link = holding;
          if (!link?.held) return;
          const kept = link.held;
          link.held = null;
          holding = undefined;
          for (const chunk of kept) link.client.write(chunk);
        },
        close: () =>
          new Promise<void>((done) => {
            destroyAll();
            server.close(() => done());
          }),
      });
    });
  });
}
