import WebSocket from 'ws';
import type { ServerFrame } from './test-client.js';

/** One resume of the chain: when it was asked for and what came of it. */
export interface ChainStep {
  requestedAt: number;
  /** The HTTP status of a refused upgrade; undefined when the resume was accepted. */
  status?: number;
  /** The refusal's `error.message`. */
  message?: string;
  /** `graceMs` of the `reauth_required` the resumed connection got. */
  graceMs?: number;
  /**
   * The close code the client received: 1000 echoed after its own close, or 4001 when the server
   * closed at the deadline (also when that crossed the client's own close on the wire).
   */
  closeCode?: number;
}

export interface ChainResult {
  steps: ChainStep[];
  /** Every frame any connection of the chain received, with its arrival time. */
  received: Array<{ at: number; frame: ServerFrame }>;
}

/**
 * The attack of issue 12 §1, as fast as a client can run it: resume with the reconnect token
 * alone, and as soon as `reauth_required` arrives close (1000, resumable) and resume again with
 * the reconnect token of that ack, on `urlFor(i)` (alternate instances to cross them). Stops at
 * the first refused resume, or at `giveUpAt` (epoch ms) if the chain is never refused.
 */
export async function chainResumes(opts: { urlFor: (i: number) => string; reconnectToken: string; giveUpAt: number }): Promise<ChainResult> {
  const steps: ChainStep[] = [];
  const received: ChainResult['received'] = [];
  let token = opts.reconnectToken;
  for (let i = 0; Date.now() < opts.giveUpAt; i++) {
    const step: ChainStep = { requestedAt: Date.now() };
    steps.push(step);
    const ws = new WebSocket(`${opts.urlFor(i)}?reconnectToken=${encodeURIComponent(token)}`);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    // Listening from the start: the ack and reauth_required can come in the same packet as the 101.
    const reauth = new Promise<'reauth'>((resolve) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as ServerFrame;
        received.push({ at: Date.now(), frame });
        if (frame.type === 'connection_ack') token = frame.reconnectToken as string;
        if (frame.type === 'reauth_required') {
          step.graceMs = frame.graceMs as number;
          resolve('reauth');
        }
      });
    });
    const outcome = await new Promise<{ status: number; message: string } | 'open'>((resolve, reject) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, message: (JSON.parse(body) as { error: { message: string } }).error.message }));
      });
      ws.once('error', reject);
    });
    if (outcome !== 'open') {
      Object.assign(step, outcome);
      return { steps, received };
    }
    // Read until reauth_required (then close and go on) or until the server closes (4001).
    const ended = await Promise.race([reauth, closed.then(() => 'closed' as const)]);
    if (ended === 'reauth') ws.close(1000);
    step.closeCode = await closed;
  }
  return { steps, received };
}
