// Load generator child process. Receives one job over IPC from the harness,
// runs one scenario against one server, replies with the result and exits.
// One fresh generator per (scenario, target, repeat) keeps runs independent.
import { run as connect } from './connect.mjs';
import { run as fanout } from './fanout.mjs';
import { run as fanoutMax } from './fanout-max.mjs';
import { run as fanoutBusy } from './fanout-busy.mjs';
import { run as idle } from './idle.mjs';
import { run as cluster } from './cluster.mjs';
import { run as storm } from './storm.mjs';
import { run as compression } from './compression.mjs';

const SCENARIOS = { connect, fanout, 'fanout-max': fanoutMax, 'fanout-busy': fanoutBusy, idle, cluster, storm, compression };

// Orphan protection: if the harness goes away, so do we (and our sockets).
process.on('disconnect', () => process.exit(0));

process.on('message', async (m) => {
  if (!m || m.type !== 'run') return;
  try {
    const fn = SCENARIOS[m.job.scenario];
    if (!fn) throw new Error(`unknown scenario ${m.job.scenario}`);
    const result = await fn(m.job);
    result.genRssBytes = process.memoryUsage().rss;
    process.send({ type: 'result', result }, () => process.exit(0));
  } catch (err) {
    process.send({ type: 'error', error: String(err?.stack ?? err) }, () => process.exit(1));
  }
});
process.send({ type: 'ready' });
