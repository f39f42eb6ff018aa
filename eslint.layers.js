// The layering of docs/architecture.md, as eslint-plugin-boundaries elements and policies.
// Every import between two files of src/ or client/ must match an `allow` below; anything else
// is an error ("default: disallow"). A layer may always import its own files.
//
//   protocol                 imports nothing of src
//   client (SDK)             protocol
//   kernel                   protocol (events, options, tokens, the publisher)
//   domain (+ domain/ports)  kernel, protocol; no transport, no back-end, no Redis client, no ops,
//                            no composition root
//   backends                 domain/ports, protocol, and the domain's pure value code (identity, values/)
//   ws (transport)           domain, kernel, protocol
//   presence, message-router kernel (events), protocol, and the domain's exported services
//   ops                      kernel, protocol, and the domain's exported services
//   connection-manager       everything above but ops, presence and the router (it composes
//                            the core module); imported by nothing but the entry point and the demo
//   entry (src/index.ts)     the public API: re-exports
//   demo (src/demo, main.ts) a host app: anything public

/** Folders (and two files) of src/ and client/, each one layer. Order matters: first match wins. */
export const layerElements = [
  { type: 'protocol', pattern: 'src/protocol', partialMatch: false },
  { type: 'kernel', pattern: 'src/kernel', partialMatch: false },
  { type: 'ports', pattern: 'src/domain/ports', partialMatch: false },
  { type: 'domain', pattern: 'src/domain', partialMatch: false },
  { type: 'backends', pattern: 'src/backends', partialMatch: false },
  { type: 'transport', pattern: 'src/ws', partialMatch: false },
  { type: 'root', pattern: 'src/connection-manager', partialMatch: false },
  { type: 'presence', pattern: 'src/presence', partialMatch: false },
  { type: 'router', pattern: 'src/message-router', partialMatch: false },
  { type: 'ops', pattern: 'src/ops', partialMatch: false },
  { type: 'demo', pattern: 'src/demo', partialMatch: false },
  { type: 'client', pattern: 'client', partialMatch: false },
];

/**
 * The domain's exported services (what a host, Presence, Router and ops may use) and its pure
 * value code (what a back-end may use besides the ports). Everything else in src/domain is
 * internal to the domain.
 */
const exportedServices = [
  'src/domain/connections/connection.service.ts',
  'src/domain/connections/client-connection.ts',
  'src/domain/connections/identity.ts',
  'src/domain/connections/lifecycle-state.ts',
  'src/domain/rooms/room.service.ts',
  'src/domain/sessions/session.service.ts',
  'src/domain/cluster/cluster-coordinator.service.ts',
  'src/domain/connections/admission-stats.ts',
];
const pureValueCode = ['src/domain/connections/identity.ts', 'src/domain/values/*.ts'];

const to = (types) => ({ to: { element: { types } } });
const toFiles = (paths) => ({ to: { file: { path: paths } } });
/** External packages only the back-ends (Redis, rate limiting) or the transport (ws, Nest's websockets) may use. */
const backendPackages = ['ioredis', 'rate-limiter-flexible'];
const transportPackages = ['ws', '@nestjs/websockets', '@nestjs/platform-ws'];
const external = (sources) => ({ to: { module: { origin: 'external', source: sources } } });

export const layerPolicies = [
  // Every external package is allowed unless a rule below takes it away.
  { allow: { to: { module: { origin: ['external', 'core'] } } } },
  { from: { element: { type: 'protocol' } }, allow: to(['protocol']) },
  { from: { element: { type: 'client' } }, allow: to(['client', 'protocol']) },
  { from: { element: { type: 'kernel' } }, allow: to(['kernel', 'protocol']) },
  { from: { element: { types: ['ports', 'domain'] } }, allow: to(['ports', 'domain', 'kernel', 'protocol']) },
  { from: { element: { type: 'backends' } }, allow: [to(['backends', 'ports', 'protocol']), toFiles(pureValueCode)] },
  { from: { element: { type: 'transport' } }, allow: to(['transport', 'ports', 'domain', 'kernel', 'protocol']) },
  { from: { element: { types: ['presence', 'router'] } }, allow: [to(['kernel', 'protocol']), toFiles(exportedServices)] },
  { from: { element: { type: 'presence' } }, allow: to(['presence']) },
  { from: { element: { type: 'router' } }, allow: to(['router']) },
  { from: { element: { type: 'ops' } }, allow: [to(['ops', 'kernel', 'protocol']), toFiles(exportedServices)] },
  { from: { element: { type: 'root' } }, allow: to(['root', 'transport', 'backends', 'ports', 'domain', 'kernel', 'protocol']) },
  { from: { element: { type: 'demo' } }, allow: to(['demo', 'root', 'transport', 'ports', 'domain', 'kernel', 'protocol', 'presence', 'router', 'ops']) },
  // Packages that belong to one layer.
  {
    from: { element: { types: ['ports', 'domain', 'kernel', 'protocol', 'client', 'transport', 'presence', 'router', 'ops', 'demo'] } },
    disallow: external(backendPackages),
  },
  {
    from: { element: { types: ['ports', 'domain', 'kernel', 'protocol', 'client', 'backends', 'presence', 'router', 'ops'] } },
    disallow: external(transportPackages),
  },
  { from: { element: { types: ['protocol', 'client'] } }, disallow: { to: { module: { origin: ['external', 'core'] } } } },
];
