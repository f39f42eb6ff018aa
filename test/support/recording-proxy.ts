import { connect, createServer, type Socket } from 'node:net';

/** One HTTP request head as it crossed the proxy: request line target and headers (lower-case names). */
export interface RecordedHead {
  /** The request target (`/ws?…`), or for a response its status code as a string. */
  target: string;
  headers: Record<string, string>;
}

export interface RecordingProxy {
  port: number;
  /** Every request head the clients sent (keep-alive requests and WebSocket upgrades alike), in order. */
  requests(): RecordedHead[];
  /** Every `101 Switching Protocols` head the server answered. */
  upgrades(): RecordedHead[];
  close(): Promise<void>;
}

const REQUEST_HEAD = /(?:^|\r\n)(?:GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH) (\S+) HTTP\/1\.1\r\n([\s\S]*?)\r\n\r\n/g;
const UPGRADE_HEAD = /HTTP\/1\.1 (101) [^\r\n]*\r\n([\s\S]*?)\r\n\r\n/g;

function heads(stream: string, pattern: RegExp): RecordedHead[] {
  const out: RecordedHead[] = [];
  for (const m of stream.matchAll(pattern)) {
    const headers: Record<string, string> = {};
    for (const line of m[2].split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    out.push({ target: m[1], headers });
  }
  return out;
}

/**
 * A TCP proxy in front of `targetPort` that keeps every byte that crosses it, like a reverse
 * proxy or load balancer that logs requests: what it records is what such a log could hold.
 * WebSocket frames after an upgrade are recorded too (client frames are masked, so they never
 * look like a request head).
 */
export function recordingProxy(targetPort: number): Promise<RecordingProxy> {
  const connections: Array<{ up: string; down: string }> = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const record = { up: '', down: '' };
    connections.push(record);
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      record.up += chunk.toString('latin1');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      record.down += chunk.toString('latin1');
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as { port: number }).port,
        requests: () => connections.flatMap((c) => heads(c.up, REQUEST_HEAD)),
        upgrades: () => connections.flatMap((c) => heads(c.down, UPGRADE_HEAD)),
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
