// Turns for an interleaved run: the columns of one scenario (targets, or product layouts) are all
// up at once, each driven by its own generator, and only the generator holding the turn sends.
// Each generator asks for the turn before each slice of its measured phase (and before its
// warm-up) and passes it after; turns go round-robin in `order`. So every column's window is
// cut into slices spread over the same minutes, and a slow spell of the host (a KVM guest here:
// the same work took 2.6 to 12 µs of CPU within one session) falls on every column alike
// instead of on whichever ran then. A column that sends alone (a group of one) is never kept
// waiting.
//
// Set-up never overlaps a measured slice: the first turn is granted only once every column has
// asked for one (all clients connected and joined), and a column that is done (result or error)
// leaves the rotation, so the others never wait for it.
export class Turns {
  /** @param order column names, in the order their turns go round */
  constructor(order) {
    this.order = [...order];
    this.active = new Set(order);
    this.asked = new Set();
    this.waiting = new Map(); // column -> resolve of its pending take()
    this.holder = null;
    this.next = 0; // index into order of the column whose turn is next
  }

  /** Resolves when `column` holds the turn. */
  take(column) {
    if (!this.active.has(column)) throw new Error(`turns: ${column} is not in this run`);
    this.asked.add(column);
    return new Promise((resolve) => {
      this.waiting.set(column, resolve);
      this.grant();
    });
  }

  /** `column` is done with its turn: the next column in order may take it. */
  pass(column) {
    if (this.holder !== column) return;
    this.holder = null;
    this.grant();
  }

  /** `column` finished (or failed): it leaves the rotation and never blocks the others again. */
  leave(column) {
    this.active.delete(column);
    this.waiting.delete(column);
    if (this.holder === column) this.holder = null;
    this.grant();
  }

  grant() {
    if (this.holder !== null) return;
    // The barrier: no turn until every column still running has asked once.
    for (const c of this.active) if (!this.asked.has(c)) return;
    // The next column in order that is still running gets the turn, as soon as it asks: the
    // rotation stays strict (a column between two of its turns is waited for, not skipped).
    for (let step = 0; step < this.order.length; step++) {
      const c = this.order[this.next];
      if (!this.active.has(c)) { this.next = (this.next + 1) % this.order.length; continue; }
      const resolve = this.waiting.get(c);
      if (!resolve) return;
      this.waiting.delete(c);
      this.next = (this.next + 1) % this.order.length;
      this.holder = c;
      resolve();
      return;
    }
  }
}
