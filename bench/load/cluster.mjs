// cluster: the fanout load (same sizes, same loss/dup/reorder/echo checks)
// against a layout of K product instances (in memory, on one redis-server or
// on a Redis Cluster; bench/lib/cluster.mjs starts them); the harness passes
// one port per instance in job.ports and users are spread round-robin over
// them. Kept as its own entry so the scenario name maps to a file like every
// other scenario.
import { run as fanout } from './fanout.mjs';

export async function run(job) {
  if (!Array.isArray(job.ports) || job.ports.length === 0) throw new Error('cluster: job.ports (one per instance) is required');
  return fanout(job);
}
