// The two scenarios. `long` is issue 16's proof (npm run chaos): 200 clients in 4 rooms of 50 at
// 2 Hz (400 strokes/s, 19,600 deliveries/s) for at least 90 s. `short` runs in the test command
// (test/chaos-short.e2e-spec.ts): 40 clients in 2 rooms of 20, the same fault kinds compressed
// into 30 s. Both: 3 instances behind nginx; every 5 s 5 % of the clients dropped.
export const SCENARIOS = {
  long: {
    clients: 200,
    rooms: 4,
    hz: 2,
    workers: 2,
    /** Seconds of load at least; more if the faults take longer (the tail always follows the last fault). */
    minLoadSec: 90,
    tailSec: 10,
    dropEverySec: 5,
    dropFraction: 0.05,
    steps: [
      { kind: 'rolling-restart', atSec: 10 },
      { kind: 'sigkill', atSec: 40, instance: 1, downSec: 2 },
      { kind: 'redis-pause', atSec: 60, pauseSec: 3 },
    ],
  },
  short: {
    clients: 40,
    rooms: 2,
    hz: 2,
    workers: 1,
    minLoadSec: 30,
    tailSec: 4,
    dropEverySec: 5,
    dropFraction: 0.05,
    steps: [
      // The pause before the SIGKILL: the killed instance's lease (10 s) then ends after the pause,
      // not during it, so each fault's effects stay apart.
      { kind: 'rolling-restart', atSec: 3 },
      { kind: 'redis-pause', atSec: 14, pauseSec: 3 },
      { kind: 'sigkill', atSec: 20, instance: 1, downSec: 1 },
    ],
  },
};

/** Instance lease (WS_INSTANCE_LEASE_MS) of every run: a SIGKILLed instance's presence is gone after it. */
export const LEASE_MS = 10_000;
