#!/usr/bin/env bash
# The Node lines users run (issue 14). Node 20 (this machine's) runs the whole suite in .ci/run;
# this script adds:
#   - the host app (examples/nest-host, from the packed tarball) on Node 20, 22 and 24;
#   - the core e2e subset below on Node 22 and 24.
# Node 22 and 24 come from the npm registry: the `node` package's preinstall installs
# `node-<os>-<arch>` (no scripts of its own), whose tarball holds the binary. The latest release
# of each line is taken at each run, and every URL npm fetched for it must be on the configured
# registry, or the script fails.
#
# Run it after `npm ci` (the repo's vitest and dist). It rebuilds dist itself (`npm pack`
# runs prepack: clean + build), so nothing else may use dist meanwhile.
# NODE_LINES="22 24" (default) picks the extra lines.
set -euo pipefail
cd "$(dirname "$0")/.."

# What depends on the runtime: the HTTP server and upgrade path (handshake, refusals, the
# slow-upgrade bound), Node's crypto (JWT checks), sockets and timers (fan-out, presence,
# resume, reauth, drain of a real process), Redis (a cluster fan-out) and module resolution
# (the package's exports map).
CORE_SUBSET=(
  test/handshake.e2e-spec.ts
  test/upgrade-refusals.e2e-spec.ts
  test/upgrade-auth-tokens.e2e-spec.ts
  test/jwt-attacks.e2e-spec.ts
  test/upgrade-headers-timeout.e2e-spec.ts
  test/fanout.e2e-spec.ts
  test/presence.e2e-spec.ts
  test/resume.e2e-spec.ts
  test/reauth.e2e-spec.ts
  test/drain.e2e-spec.ts
  test/drain-process.e2e-spec.ts
  test/cluster-fanout.e2e-spec.ts
  test/package-contents.e2e-spec.ts
)

lines_dir=$(mktemp -d)
trap 'rm -rf "$lines_dir"' EXIT
registry=$(npm config get registry)
registry=${registry%/}/

# node_binary <line>: installs node@<line> into its own prefix and prints the binary's path.
node_binary() {
  local line=$1 dir="$lines_dir/node$1" log="$lines_dir/node$1.log"
  mkdir -p "$dir"
  # allowScripts: npm 11 warns about (and may one day skip) unreviewed install scripts; the
  # `node` package's preinstall is the step that fetches the binary package, so allow it by name.
  printf '{"private":true,"allowScripts":{"node":true}}\n' >"$dir/package.json"
  if ! npm install --no-save --no-package-lock --no-audit --no-fund --foreground-scripts --loglevel http \
    --prefix "$dir" "node@$line" >"$log" 2>&1; then
    cat "$log" >&2
    echo "ci-node-lines: installing node@$line from $registry failed" >&2
    return 1
  fi
  # The preinstall runs a nested `npm install`; its fetches are in the same log.
  local outside
  outside=$(grep -E '^npm http (fetch|cache)' "$log" | grep -oE 'https?://[^ ]+' | grep -vF "$registry" || true)
  if [ -n "$outside" ]; then
    echo "ci-node-lines: node@$line fetched from outside $registry:" >&2
    echo "$outside" >&2
    return 1
  fi
  local bin="$dir/node_modules/.bin/node" version
  version=$("$bin" --version) || { echo "ci-node-lines: $bin does not run (did the node package's preinstall run?)" >&2; return 1; }
  case "$version" in
    "v$line".*) ;;
    *) echo "ci-node-lines: node@$line installed $version" >&2; return 1 ;;
  esac
  # The binary package's tarball: the one fetched with the binary's version that is not `node` itself.
  local from
  from=$(grep -oE "https?://[^ ]+-${version#v}\.tgz" "$log" | grep -v '/node/-/' | head -n 1 || true)
  echo "ci-node-lines: node@$line is $version, from ${from:-the npm cache}" >&2
  echo "$bin"
}

started=$SECONDS
host_nodes=(--node "$(command -v node)")
line_nodes=()
for line in ${NODE_LINES:-22 24}; do
  bin=$(node_binary "$line")
  host_nodes+=(--node "$bin")
  line_nodes+=("$bin")
done
echo "ci-node-lines: Node binaries ready in $((SECONDS - started)) s"

# The host app on every line (packs the repository, installs and builds the example once).
node scripts/nest-host-example.mjs "${host_nodes[@]}"
echo "ci-node-lines: host app done at $((SECONDS - started)) s"

# The core subset on each extra line, with that Node running vitest (and the processes the
# tests spawn: they use process.execPath). dist was just rebuilt by npm pack's prepack.
for bin in "${line_nodes[@]}"; do
  echo "== core e2e subset on Node $("$bin" --version)"
  "$bin" node_modules/vitest/vitest.mjs run "${CORE_SUBSET[@]}"
  echo "ci-node-lines: core subset on $("$bin" --version) done at $((SECONDS - started)) s"
done
