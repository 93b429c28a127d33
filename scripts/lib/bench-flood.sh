# shellcheck shell=bash
# The flood benchmark, sourced by scripts/bench for BENCH_SUITE=flood; it uses
# scripts/bench's helpers and the proxy suite's (scripts/lib/bench-proxy.sh:
# the fake Mastodon, `custodian serve`, wrk, proxy_bench setup and count).
#
#   BENCH_SUITE=flood scripts/bench                        # 10 s per phase, 16 clients, up to 50,000 + 50,000 bad requests
#   BENCH_SUITE=flood scripts/bench --seconds 5 --clients 16 --callbacks 20000 --tokens 20000
#   BENCH_SUITE=flood scripts/bench --hold 0s              # refusals never slowed: the throttle alone
#   BENCH_SUITE=flood scripts/bench --sources 2500         # the flood from 2,500 loopback addresses
#
# For each backend: real actions (wrk posting through the pass-through proxy
# with a valid API token, as the proxy suite does) for N seconds on a quiet
# gateway, then the same while `proxy_bench flood` sends the bad callbacks
# (no sign-in in progress, half with a forged sign-in cookie) and the
# random API tokens from loopback, interleaved, as fast as they are
# answered, for the same N seconds (or until all are answered). Reported:
# the real actions' rate and p50 / p99 in both phases, the flood's requests
# sent and answered, and how the journal grew: throttled events during the
# flood, summary events written when custodian stops (it flushes the
# throttle's counts), and the refusals those events stand for, which must
# lie between the flood's answers and its requests (a request abandoned at
# the deadline may or may not have been counted). Every real action must be
# audited (intents = outcomes, as in the proxy suite) and
# `custodian audit verify` must pass.

FLOOD_SECONDS=10
FLOOD_CLIENTS=16
FLOOD_CALLBACKS=50000
FLOOD_TOKENS=50000
FLOOD_CONCURRENCY=64
FLOOD_HOLD=""
FLOOD_SOURCES=1
FLOOD_FAILURES=0
FLOOD_ROWS=""

flood_usage() {
  cat >&2 <<'EOF'
BENCH_SUITE=flood scripts/bench [--seconds N] [--clients N] [--callbacks N] [--tokens N] [--concurrency N] [--hold DURATION] [--sources N]
EOF
  exit 2
}

flood_parse_args() {
  while (($#)); do
    case "$1" in
      --seconds) FLOOD_SECONDS="${2:?}"; shift 2 ;;
      --clients) FLOOD_CLIENTS="${2:?}"; shift 2 ;;
      --callbacks) FLOOD_CALLBACKS="${2:?}"; shift 2 ;;
      --tokens) FLOOD_TOKENS="${2:?}"; shift 2 ;;
      --concurrency) FLOOD_CONCURRENCY="${2:?}"; shift 2 ;;
      --hold) FLOOD_HOLD="${2:?}"; shift 2 ;;
      --sources) FLOOD_SOURCES="${2:?}"; shift 2 ;;
      *) flood_usage ;;
    esac
  done
  local v
  for v in "$FLOOD_SECONDS" "$FLOOD_CLIENTS" "$FLOOD_CALLBACKS" "$FLOOD_TOKENS" "$FLOOD_CONCURRENCY" "$FLOOD_SOURCES"; do
    [[ "$v" =~ ^[0-9]+$ ]] || flood_usage
  done
  [[ -z "$FLOOD_HOLD" || "$FLOOD_HOLD" =~ ^[0-9]+(ms|s)$ ]] || flood_usage
}

# flood_phase BACKEND PHASE URL TOKEN CONFIG ACCOUNT: one measured phase; appends a row.
flood_phase() {
  local backend="$1" phase="$2" url="$3" token="$4" config="$5" account="$6"
  local head
  read -r head _ < <("$PROXY_BIN" count --config "$config" --after 0) || fatal "cannot count audit events"
  local flood_pid="" flood_out="$TMP_ROOT/flood-$backend.out"
  if [[ "$phase" == flood ]]; then
    "$PROXY_BIN" flood --base "http://127.0.0.1:$CUSTODIAN_PORT" --account "$account" --callbacks "$FLOOD_CALLBACKS" \
      --tokens "$FLOOD_TOKENS" --concurrency "$FLOOD_CONCURRENCY" --seconds "$FLOOD_SECONDS" --sources "$FLOOD_SOURCES" \
      >"$flood_out" 2>"$TMP_ROOT/flood-$backend.log" &
    flood_pid=$!
  fi
  local result requests duration errors p50 p99
  result="$(run_wrk custodian "$url" "Bearer $token" "$FLOOD_SECONDS" "$FLOOD_CLIENTS")"
  [[ -n "$result" ]] || fatal "wrk printed no result ($backend, $phase)"
  read -r requests duration errors p50 p99 <<<"$result"
  local sent="-" answered="-" flood_seconds="-" unexpected=0
  if [[ -n "$flood_pid" ]]; then
    wait "$flood_pid" || { show_log flood "$TMP_ROOT/flood-$backend.log"; fatal "the flood failed"; }
    read -r sent answered flood_seconds unexpected <"$flood_out"
    FLOOD_SENT="$sent" FLOOD_ANSWERED="$answered"
  fi
  sleep 1 # requests still in flight when wrk stopped finish
  local intents outcomes refused denied events summaries
  read -r _ intents outcomes refused _ < <("$PROXY_BIN" count --config "$config" --after "$head") \
    || fatal "cannot count audit events"
  read -r events summaries _ < <("$PROXY_BIN" refusals --config "$config" --after "$head") \
    || fatal "cannot count refusals"
  local status=ok
  if ((errors > 0 || unexpected > 0 || intents != outcomes || intents < requests || intents > requests + FLOOD_CLIENTS || refused > 0)); then
    status="FAILED: $errors wrk errors, $unexpected unexpected flood answers, $intents intents, $outcomes outcomes, $refused refused"
    FLOOD_FAILURES=$((FLOOD_FAILURES + 1))
  fi
  local rps
  rps="$(awk -v n="$requests" -v us="$duration" 'BEGIN {printf "%.0f", n / (us / 1e6)}')"
  FLOOD_ROWS+="$backend $phase $rps $p50 $p99 $requests $intents/$outcomes $sent $answered $flood_seconds $events $status"$'\n'
  log "$backend $phase: $rps actions/s, p50 $p50 us, p99 $p99 us; flood $sent sent, $answered answered in $flood_seconds s; $events throttled events; $status"
  FLOOD_HEAD="$head"
}

run_flood_backend() {
  local backend="$1" dir="$TMP_ROOT/$1" url
  case "$backend" in
    sqlite) url="sqlite://$dir/data/custodian.db?mode=rwc" ;;
    postgres)
      start_postgres postgres
      as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$TMP_ROOT/postgres/pgsock" -p "$PG_PORT" -U postgres \
        -d postgres -c "CREATE DATABASE custodian OWNER custodian" >/dev/null || fatal "cannot create the database"
      url="postgres://custodian:custodian@127.0.0.1:$PG_PORT/custodian"
      ;;
  esac
  write_custodian_config "$dir" "$url"
  if [[ -n "$FLOOD_HOLD" ]]; then
    printf '\n[audit.refusals]\nhold = "%s"\n' "$FLOOD_HOLD" >>"$dir/custodian.toml"
  fi
  local account token
  read -r account token < <("$PROXY_BIN" setup --config "$dir/custodian.toml" --platform-token "$PLATFORM_TOKEN" \
    --course hipaa-social-media 2>"$dir/setup.log") || { show_log setup "$dir/setup.log"; fatal "setup failed"; }
  start_custodian "$dir"
  local target="http://127.0.0.1:$CUSTODIAN_PORT/proxy/$account/api/v1/statuses"
  run_wrk custodian "$target" "Bearer $token" 2 "$FLOOD_CLIENTS" >/dev/null # warm-up
  sleep 1
  flood_phase "$backend" quiet "$target" "$token" "$dir/custodian.toml" "$account"
  flood_phase "$backend" flood "$target" "$token" "$dir/custodian.toml" "$account"
  local flood_head="$FLOOD_HEAD"
  # Stopping flushes the throttle: the counts not yet written become summaries.
  stop_custodian
  local events summaries refusals
  read -r events summaries refusals < <("$PROXY_BIN" refusals --config "$dir/custodian.toml" --after "$flood_head") \
    || fatal "cannot count refusals"
  local check=ok
  if ((refusals < FLOOD_ANSWERED || refusals > FLOOD_SENT)); then
    check="FAILED: the events stand for $refusals refusals, the flood had $FLOOD_ANSWERED answered of $FLOOD_SENT sent"
    FLOOD_FAILURES=$((FLOOD_FAILURES + 1))
  fi
  FLOOD_JOURNAL+="| $backend | $FLOOD_SENT | $FLOOD_ANSWERED | $events | $summaries | $refusals | $check |"$'\n'
  local verified
  if verified="$("$CUSTODIAN_BIN" audit verify --config "$dir/custodian.toml" 2>&1)"; then
    FLOOD_VERIFY+="- $backend: \`custodian audit verify\`: $(tail -n 1 <<<"$verified")"$'\n'
  else
    FLOOD_FAILURES=$((FLOOD_FAILURES + 1))
    FLOOD_VERIFY+="- $backend: \`custodian audit verify\` FAILED: $(tail -n 3 <<<"$verified" | paste -sd' ')"$'\n'
  fi
  if [[ "$backend" == postgres ]]; then
    stop_postgres
    rm -rf "$TMP_ROOT/postgres"
  fi
}

flood_main() {
  flood_parse_args "$@"
  local backend
  for backend in $BENCH_BACKENDS; do
    case "$backend" in
      sqlite) ;;
      postgres)
        find_pg_bin || fatal "PostgreSQL server binaries not found under /usr/lib/postgresql (scripts/test installs them)"
        if is_root; then id postgres >/dev/null 2>&1 || fatal "system user 'postgres' is missing"; fi
        ;;
      *) fatal "unknown backend '$backend' in BENCH_BACKENDS (sqlite, postgres)" ;;
    esac
  done
  proxy_install_tools
  proxy_build
  TMP_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/custodian-bench.XXXXXX")"
  chmod 755 "$TMP_ROOT"
  print_machine --seconds "$FLOOD_SECONDS" --clients "$FLOOD_CLIENTS" --callbacks "$FLOOD_CALLBACKS" \
    --tokens "$FLOOD_TOKENS" --concurrency "$FLOOD_CONCURRENCY" --hold "${FLOOD_HOLD:-default (1s)}" --sources "$FLOOD_SOURCES"
  local started=$SECONDS
  write_wrk_script
  start_fake
  FLOOD_VERIFY=""
  FLOOD_JOURNAL=""
  for backend in $BENCH_BACKENDS; do run_flood_backend "$backend"; done
  printf '\n## Real actions under a flood of refused requests (%s clients, %s s per phase)\n\n' \
    "$FLOOD_CLIENTS" "$FLOOD_SECONDS"
  printf '| backend | phase | actions/s | p50 ms | p99 ms | actions | audited (intent/outcome) | flood requests sent | answered | flood seconds | throttled events during the phase | check |\n'
  printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
  awk 'NF { status = $12; for (i = 13; i <= NF; i++) status = status " " $i
         printf "| %s | %s | %s | %.3f | %.3f | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4 / 1000, $5 / 1000, $6, $7, $8, $9, $10, $11, status }' <<<"$FLOOD_ROWS"
  printf '\n| backend | p99 quiet ms | p99 under flood ms | ratio | within 2x |\n|---|---:|---:|---:|---|\n'
  awk 'NF { p99[$1, $2] = $5; if (!seen[$1]++) order[++n] = $1 }
    END { for (i = 1; i <= n; i++) { b = order[i]; q = p99[b, "quiet"]; f = p99[b, "flood"]; r = q ? f / q : 0
      printf "| %s | %.3f | %.3f | %.2f | %s |\n", b, q / 1000, f / 1000, r, (r <= 2 ? "**met**" : "**missed**") } }' <<<"$FLOOD_ROWS"
  printf '\nJournal growth from the flood (events written during it and the summaries written at stop):\n\n'
  printf '| backend | bad requests sent | answered | access.gate + auth.login events | of which summaries | refusals they stand for | check |\n|---|---:|---:|---:|---:|---:|---|\n'
  printf '%s' "$FLOOD_JOURNAL"
  printf '\n%s\n- whole run: %d s\n' "$FLOOD_VERIFY" $((SECONDS - started))
  proxy_cleanup
  ((FLOOD_FAILURES == 0)) || fatal "$FLOOD_FAILURES check(s) failed (see above)"
}
