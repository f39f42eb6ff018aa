// Bounded-concurrency loop: run fn(i) for i in [0, count) with at most
// `concurrency` in flight, and give up (stop starting new work) at `deadline`.
// Bounded by count AND time, as every loop in this bench must be.
export async function pool(count, concurrency, deadline, fn) {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const errors = new Map(); // message -> count (keeps memory small on mass failure)
  async function worker() {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      try { await fn(i); ok++; } catch (err) {
        failed++;
        const k = String(err?.message ?? err).slice(0, 200);
        errors.set(k, (errors.get(k) ?? 0) + 1);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { ok, failed, notStarted: count - next, errors: Object.fromEntries(errors) };
}
