// Preloaded into EVERY benchmarked server (product and baselines) via
//   node --expose-gc --import <abs path to this file> <entry>
// It gives the harness a way to read memory from *inside* the server process
// (RSS / JS heap after a forced GC), which cannot be read from outside.
// CPU is NOT read here: the harness reads /proc/<pid>/stat so that the probe
// itself never perturbs the CPU figure.
//
// Protocol (IPC, only active when the process was started with an IPC channel):
//   harness -> server : { cmd: 'mem' }
//   server  -> harness: { probe: 'mem', usage: process.memoryUsage() }
if (typeof process.send === 'function') {
  process.on('message', (msg) => {
    if (!msg || msg.cmd !== 'mem') return;
    // Two full GCs: the first may only finalize objects (weak refs, finalizers),
    // the second actually reclaims what the first released.
    if (typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
    }
    process.send({ probe: 'mem', usage: process.memoryUsage(), gc: typeof globalThis.gc === 'function' });
  });
  // If the harness dies, do not leave an orphaned server holding a port.
  process.on('disconnect', () => process.exit(0));
  // The IPC channel must not be what keeps the server alive; its listening
  // socket does that. (Messages are still delivered while unref'ed.)
  process.channel?.unref?.();
}
