import { randomFillSync } from 'node:crypto';

/**
 * Random bytes drawn from a pool refilled 4 KiB at a time (the way Node's own `randomUUID`
 * batches its entropy): one `randomFillSync` per 4 KiB instead of one OpenSSL call per value.
 * A `randomBytes` call costs ~4.5 µs on the reference machine, whatever its size (issue 15's
 * connect profile: ~35 µs per connection before reconnect tokens were drawn from here). Same
 * CSPRNG, same strength; a pool byte is handed out once, then zeroed, and never reused, so the
 * pool never holds a value that is in use.
 */
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

/**
 * `bytes` fresh random bytes (1..256), handed to `read` while they are in the pool (read them
 * there, do not keep the buffer); returns what `read` returns.
 */
export function drawRandom<T>(bytes: number, read: (pool: Buffer, offset: number) => T): T {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError(`drawRandom: ${bytes} bytes (1..256)`);
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  try {
    return read(pool, at);
  } finally {
    pool.fill(0, at, at + bytes);
  }
}
