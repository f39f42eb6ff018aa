// cluster: RESERVED, not implemented yet (issue #5 defers it).
// Intended shape when the product supports multiple instances (e.g. a Redis
// adapter): start K product instances on free ports sharing one bus, put the
// members of one room on different instances, and measure cross-instance
// fan-out latency/loss and CPU per delivery like fanout.mjs does. The harness
// (bench/run.mjs) reports 'cluster' as skipped until this exists.
export async function run() {
  throw new Error('cluster scenario not implemented yet');
}
