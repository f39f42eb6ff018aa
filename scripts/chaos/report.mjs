// The Markdown report of a chaos run (run.mjs prints it on stdout; docs/reliability.md quotes it).
const n = (v) => (typeof v === 'number' ? v.toLocaleString('en-US') : String(v));
const s = (ms) => (ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);
const pct = (f) => (Number.isFinite(f) ? `${Math.round(f * 100)} %` : '—');
const kv = (obj) =>
  Object.entries(obj)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ') || 'none';

function one(r) {
  const f = r.figures;
  const p = r.params;
  const lines = [
    `### ${r.scenario} run on ${r.redis === 'single' ? 'one redis-server' : 'a 3-master Redis Cluster'}: ${r.failures.length === 0 ? 'CLEAN' : 'FAILED'}`,
    '',
    `${n(p.clients)} SDK clients in ${p.rooms} rooms of ${p.clients / p.rooms}, ${p.hz} Hz each, ${r.loadSec.toFixed(1)} s of load; 3 instances behind nginx; lease ${s(p.leaseMs)}` +
      (Object.keys(r.sdkOptions ?? {}).length > 0 ? `; SDK options ${JSON.stringify(r.sdkOptions)}` : ''),
    '',
    '| figure | value |',
    '|---|---|',
    `| strokes sent | ${n(f.strokesSent)} (acked ${n(f.strokesAcked)}, refused ${n(f.strokesRefused)}, reported unacknowledged ${n(f.strokesUnacknowledged)}${f.promiseSends ? '' : '; send() returned no promise: all count as sent'}) |`,
    `| wait for the ack (send() resolved): p50 / p99 / max | ${f.ackWaitMs?.p50 ?? '—'} ms / ${f.ackWaitMs?.p99 ?? '—'} ms / ${s(f.ackWaitMs?.max)} |`,
    `| deliveries expected / received | ${n(f.deliveriesExpected)} / ${n(f.deliveriesReceived)} |`,
    `| **lost** | **${n(f.lost)}** |`,
    `| **duplicated** | **${n(f.duplicated)}** |`,
    `| **reordered** | **${n(f.reordered)}** |`,
    `| **echoed** | **${n(f.echoed)}** |`,
    `| delivered despite refusal / never sent / pending at end | ${n(f.deliveredDespiteRefusal)} / ${n(f.unknownStrokes)} / ${n(f.pendingAtEnd)} |`,
    `| unacknowledged strokes that reached all / some / no members | ${n(f.unacknowledgedReached.all)} / ${n(f.unacknowledgedReached.some)} / ${n(f.unacknowledgedReached.none)} |`,
    `| resumes: replayed / none / truncated (justified by the log bound) | ${n(f.resumes.replayed)} / ${n(f.resumes.none)} / ${n(f.resumes.truncated)} (${n(f.resumes.truncatedJustified)}) |`,
    `| sessions lost (fresh login, missed \`lost\`) | ${n(f.sessionsLost)} |`,
    `| presence after the lease, in every client's view: ghosts / missing members | ${n(r.presence.ghosts)} / ${n(r.presence.missingMembers)}${r.presence.ok ? ` (right everywhere ${s(r.presence.waitedMs)} after lease + quiescence)` : ' (NOT right 20 s after)'}; probes gone with the SIGKILLed instance: ${r.presence.probesClosed.length} |`,
    `| presence after the lease, a fresh observer's presence_state: ghost users / ghost connections | ${r.presence.observerGhostUsers.length} / ${r.presence.observerGhostConnections.length} |`,
    `| quiescence after the load stopped | ${r.quiescence.ok ? s(r.quiescence.ms) : 'not reached in 90 s'} |`,
    `| SDK errors seen by clients | ${kv(f.errors)} |`,
    `| send() refusals | ${kv(f.refusedCodes)} |`,
    `| generator CPU (per worker: mean, worst 5 s) | ${r.generatorCpu.map((c) => `${pct(c.mean)}, ${pct(c.peak5s)}${c.saturated ? ' SATURATED' : ''}`).join('; ')} of a core; event-loop delay p99 ${r.loopDelayP99Ms.map((v) => v.toFixed(0)).join('/')} ms, max ${r.loopDelayMaxMs.map((v) => v.toFixed(0)).join('/')} ms |`,
    `| CPU during the load (cores) | instances ${r.cpu.instances.toFixed(2)}, nginx ${r.cpu.nginx.toFixed(2)}, Redis ${r.cpu.redis.toFixed(2)}; machine busy ${r.cpu.machine.toFixed(2)} of ${r.cpu.cores} |`,
    '',
    '| fault | at | clients affected | back (all / p50) | note |',
    '|---|---|---|---|---|',
    ...r.recovery.map((x) => {
      const ev = r.events.find((e) => e.at === x.at && e.kind === x.kind);
      const note =
        x.kind === 'redis-pause'
          ? `last one back ${s(x.fromEndMs)} after SIGCONT`
          : x.downMs !== undefined
            ? `exit ${s(x.downMs)} after the signal, ready ${s(x.restartMs)} after restart`
            : '';
      return `| ${x.label} | t=${ev ? ev.tSec.toFixed(1) : '?'} s | ${x.recovered}/${x.affected} | ${s(x.maxMs)} / ${s(x.p50Ms)} | ${note} |`;
    }),
  ];
  if (r.failures.length > 0) lines.push('', `**Failures**: ${r.failures.join('; ')}`);
  for (const line of r.attribution?.strokes ?? []) lines.push('', `- ${line}`);
  for (const d of r.presence.detail ?? [])
    lines.push('', `- presence: ${d.what}; ${d.subject ? `its states (s from the start): ${d.subject}; ` : ''}seen so by ${d.viewers.join(' | ')}`);
  for (const [kind, counts] of Object.entries(r.attribution ?? {}))
    if (kind !== 'strokes' && Object.keys(counts).length > 0)
      lines.push('', `${kind} by fault: ${kv(Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1])))}`);
  for (const sc of r.slowClients ?? [])
    lines.push(
      '',
      `Slowest after ${sc.fault}: ${sc.client}: ${sc.states.map((st) => `${(st.dtMs / 1000).toFixed(1)} s ${st.state}${st.missed ? ` (${st.missed})` : ''}${st.closeCode ? ` [${st.closeCode}]` : ''}`).join(' → ')}; errors: ${sc.errors.join(' | ') || 'none'}`,
    );
  const ex = Object.entries(f.examples).filter(([, v]) => v.length > 0);
  if (ex.length > 0) lines.push('', 'Examples:', ...ex.flatMap(([k, v]) => v.slice(0, 4).map((e) => `- ${k}: ${e}`)));
  return lines.join('\n');
}

export function markdownReport(out) {
  const build = `dist built ${out.build.distBuiltAt}${out.build.commit ? ` from ${out.build.commit}${out.build.dirty ? ' + uncommitted changes in src/ or client/' : ''}` : ''}`;
  return [
    `## Chaos run ${out.date} (Node ${out.node}, ${out.cores} × ${out.cpu}; ${build})`,
    `\`node scripts/chaos/run.mjs ${out.argv.join(' ')}\``,
    ...out.results.map(one),
  ].join('\n\n');
}
