import { describe, expect, it } from 'vitest';
import { errorMessage } from './error-message.js';

describe('errorMessage', () => {
  it('reads the message of anything thrown, and never throws itself', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage({ message: 'like an error' })).toBe('like an error');
    expect(errorMessage(undefined)).toBe('undefined');
    expect(errorMessage(null)).toBe('null');
    expect(errorMessage('text')).toBe('text');
    const hostile = {
      get message(): string {
        throw new Error('getter');
      },
      toString(): string {
        throw new Error('toString');
      },
    };
    expect(errorMessage(hostile)).toBe('unprintable error');
    expect(errorMessage(Object.create(null))).toBe('unprintable error');
  });
});
