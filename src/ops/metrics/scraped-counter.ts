import { Counter, type Registry } from 'prom-client';

/** What {@link scrapedCounter} needs: the counter's name and help, its registries, and the number it follows. */
export interface ScrapedCounterOptions {
  name: string;
  help: string;
  registers: Registry[];
  /** The running total a hot path keeps as a plain number (no metric call per event). */
  read: () => number;
}

/**
 * A Prometheus counter that follows a running total kept elsewhere as a plain number: each
 * scrape adds what the total grew since the previous scrape. The total only grows; should it
 * ever read lower (a reset of its owner), the counter adds nothing and counts on from the new
 * value, so a counter never goes down (Prometheus would read a decrease as a restart).
 */
export function scrapedCounter({ name, help, registers, read }: ScrapedCounterOptions): Counter {
  let last = 0;
  return new Counter({
    name,
    help,
    registers,
    collect() {
      const now = read();
      if (now > last) this.inc(now - last);
      last = now;
    },
  });
}
