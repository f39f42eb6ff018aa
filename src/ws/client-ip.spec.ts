import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientIp } from './client-ip.js';

function req(remoteAddress: string | undefined, xff?: string | string[]): IncomingMessage {
  return { socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } } as unknown as IncomingMessage;
}

describe('clientIp', () => {
  it('without trusted hops: the socket address, X-Forwarded-For ignored (anyone can send it)', () => {
    expect(clientIp(req('127.0.0.1'), 0)).toBe('127.0.0.1');
    expect(clientIp(req('127.0.0.1', '10.0.0.1'), 0)).toBe('127.0.0.1');
    expect(clientIp(req('::1', '10.0.0.1, 10.0.0.2'), 0)).toBe('::1');
  });

  it('a negative hop count behaves like 0', () => {
    expect(clientIp(req('127.0.0.1', '10.0.0.1'), -1)).toBe('127.0.0.1');
  });

  it('1 hop: the rightmost entry (what our proxy appended), not what the client wrote', () => {
    expect(clientIp(req('192.168.0.10', '6.6.6.6, 203.0.113.7'), 1)).toBe('203.0.113.7');
    expect(clientIp(req('192.168.0.10', '203.0.113.7'), 1)).toBe('203.0.113.7');
  });

  it('n hops: the entry n places from the right', () => {
    expect(clientIp(req('192.168.0.10', 'a, b, c, d'), 2)).toBe('c');
    expect(clientIp(req('192.168.0.10', 'a, b, c, d'), 3)).toBe('b');
    expect(clientIp(req('192.168.0.10', 'a, b, c, d'), 4)).toBe('a');
  });

  it('fewer entries than hops: the leftmost entry', () => {
    expect(clientIp(req('192.168.0.10', '203.0.113.7'), 3)).toBe('203.0.113.7');
    expect(clientIp(req('192.168.0.10', 'a, b'), 5)).toBe('a');
  });

  it('trims whitespace and skips empty entries', () => {
    expect(clientIp(req('192.168.0.10', '  a ,b ,  c  '), 1)).toBe('c');
    expect(clientIp(req('192.168.0.10', 'a,, b,'), 1)).toBe('b');
  });

  it('repeated X-Forwarded-For headers are read as one list, in order', () => {
    expect(clientIp(req('192.168.0.10', ['a, b', 'c']), 1)).toBe('c');
    expect(clientIp(req('192.168.0.10', ['a, b', 'c']), 2)).toBe('b');
  });

  it('trusted hops but no usable header: the socket address', () => {
    expect(clientIp(req('192.168.0.10'), 1)).toBe('192.168.0.10');
    expect(clientIp(req('192.168.0.10', ''), 1)).toBe('192.168.0.10');
    expect(clientIp(req('192.168.0.10', ' , ,'), 2)).toBe('192.168.0.10');
  });

  it('property: changing entries left of the trusted ones never changes the answer', () => {
    const ip = fc.ipV4();
    fc.assert(
      fc.property(fc.array(ip, { maxLength: 5 }), fc.array(ip, { maxLength: 5 }), fc.array(ip, { minLength: 1, maxLength: 4 }), (spoofA, spoofB, trusted) => {
        const hops = trusted.length;
        const a = clientIp(req('10.9.9.9', [...spoofA, ...trusted].join(', ')), hops);
        const b = clientIp(req('10.9.9.9', [...spoofB, ...trusted].join(', ')), hops);
        expect(a).toBe(trusted[0]);
        expect(b).toBe(a);
      }),
    );
  });
});
