# Shared by scripts/test and scripts/dev: installs the development OpenID
# provider's npm dependencies (by name, from the lockfile). The caller defines
# log, fatal and OIDC_DIR.

install_oidc_provider() {
  command -v node >/dev/null || fatal "node not found (Node.js >= 20 is needed for scripts/oidc-provider)"
  command -v npm >/dev/null || fatal "npm not found (needed for scripts/oidc-provider)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  ((major >= 20)) || fatal "Node.js $(node --version) is too old for oidc-provider 9 (need >= 20)"

  # Reinstall when node_modules is missing or was installed from another lockfile.
  local stamp="$OIDC_DIR/node_modules/.scripts-test-lock.sha256" want
  want="$(sha256sum "$OIDC_DIR/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -d "$OIDC_DIR/node_modules/oidc-provider" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "npm ci in scripts/oidc-provider"
    (cd "$OIDC_DIR" && npm ci --no-audit --no-fund </dev/null >&2) \
      || fatal "npm ci in scripts/oidc-provider failed"
    printf '%s\n' "$want" >"$stamp"
  fi
}

