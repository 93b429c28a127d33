# shellcheck shell=bash
# The pass-through proxy benchmark (issue 6), sourced by scripts/bench for
# BENCH_SUITE=proxy; it uses scripts/bench's helpers (log, fatal, free_port,
# start_postgres, stop_postgres, print_machine, TMP_ROOT).
#
#   BENCH_SUITE=proxy scripts/bench                          # 10 s per point, 1, 64 and 256 clients
#   BENCH_SUITE=proxy scripts/bench --smoke                  # 2 s per point, 1 and 64 clients
#   BENCH_SUITE=proxy scripts/bench --seconds 5 --clients "1 64"
#   BENCH_CUSTODIAN_BIN=/path/to/custodian BENCH_SUITE=proxy scripts/bench   # another build, to compare
#
# What runs, all on loopback, each started here and stopped on exit:
#   fake       examples/proxy_bench.rs `fake`: a minimal Mastodon answering
#              POST /api/v1/statuses (checks the bearer token)
#   nginx      Debian's nginx, a plain reverse proxy to the fake that adds a
#              static Authorization header (upstream keepalive, worker_processes auto)
#   custodian  the release binary, `custodian serve`, with [platforms.mastodon]
#              api_base = the fake: a staff user's API token, the directory gate,
#              policy, the intent and the outcome durably in the audit journal,
#              the sealed token opened, the request forwarded
# and wrk (Debian's) as the load generator, with a Lua script for the POST.
# wrk, nginx and the servers share the machine's cores.
#
# For each backend (BENCH_BACKENDS: sqlite, postgres = a fresh durable
# cluster, as the journal suite uses) and each number of clients, the three
# targets are measured one after the other: direct, nginx, custodian. After
# each custodian run the journal's action.intent and action.outcome events
# are counted against wrk's requests, and at the end `custodian audit verify`
# checks the whole journal; a mismatch or an error fails the run.

PROXY_SECONDS=10
PROXY_WARMUP=2
PROXY_CLIENTS="1 64 256"
PROXY_BIN=""
CUSTODIAN_BIN=""
FAKE_PID=""
FAKE_PORT=""
NGINX_PID=""
NGINX_PORT=""
CUSTODIAN_PID=""
CUSTODIAN_PORT=""
PLATFORM_TOKEN=""
PROXY_FAILURES=0
PROXY_RESULTS=""

proxy_usage() {
  cat >&2 <<'EOF'
BENCH_SUITE=proxy scripts/bench [--seconds N] [--warmup N] [--clients "1 64 256"] [--smoke]
EOF
  exit 2
}

proxy_parse_args() {
  while (($#)); do
    case "$1" in
      --seconds) PROXY_SECONDS="${2:?}"; shift 2 ;;
      --warmup) PROXY_WARMUP="${2:?}"; shift 2 ;;
      --clients) PROXY_CLIENTS="${2:?}"; shift 2 ;;
      --smoke) PROXY_SECONDS=2; PROXY_WARMUP=1; PROXY_CLIENTS="1 64"; shift ;;
      *) proxy_usage ;;
    esac
  done
  [[ "$PROXY_SECONDS" =~ ^[0-9]+$ && "$PROXY_WARMUP" =~ ^[0-9]+$ ]] || proxy_usage
  local c
  for c in $PROXY_CLIENTS; do [[ "$c" =~ ^[1-9][0-9]*$ ]] || proxy_usage; done
}

# Debian's wrk and nginx, by package name, if they are not there yet.
proxy_install_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
  ((${#missing[@]} == 0)) && return 0
  is_root || fatal "needs ${missing[*]} (apt-get install -y ${missing[*]}) and is not root"
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"${TMPDIR:-/tmp}/bench-proxy-apt.log" 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
      >"${TMPDIR:-/tmp}/bench-proxy-apt.log" 2>&1; } \
    || fatal "apt-get install ${missing[*]} failed (see ${TMPDIR:-/tmp}/bench-proxy-apt.log)"
}

proxy_build() {
  if ! command -v cargo >/dev/null && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  fi
  command -v cargo >/dev/null || fatal "cargo not found"
  log "cargo build --release --locked --bin custodian --example proxy_bench"
  (cd "$REPO_ROOT" && cargo build --release --locked --bin custodian --example proxy_bench) >&2
  local target="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
  [[ "$target" == /* ]] || target="$REPO_ROOT/$target"
  # BENCH_CUSTODIAN_BIN: another build's binary, to compare (the helpers stay this tree's).
  CUSTODIAN_BIN="${BENCH_CUSTODIAN_BIN:-$target/release/custodian}"
  PROXY_BIN="$target/release/examples/proxy_bench"
  [[ -x "$CUSTODIAN_BIN" && -x "$PROXY_BIN" ]] || fatal "built, but $CUSTODIAN_BIN or $PROXY_BIN is missing"
}

random_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# wait_for_line FILE PATTERN PID: until FILE has a line matching PATTERN (and PID lives).
wait_for_line() {
  local file="$1" pattern="$2" pid="$3" deadline=$((SECONDS + PEER_START_TIMEOUT))
  until grep -q "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

wait_for_port() {
  local port="$1" pid="$2" deadline=$((SECONDS + PEER_START_TIMEOUT))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

stop_pid() {
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  local _
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

start_fake() {
  PLATFORM_TOKEN="mastodon-$(random_hex)"
  local out="$TMP_ROOT/fake.out"
  "$PROXY_BIN" fake --token "$PLATFORM_TOKEN" >"$out" 2>"$TMP_ROOT/fake.log" &
  FAKE_PID=$!
  wait_for_line "$out" '^listening ' "$FAKE_PID" || { show_log fake "$TMP_ROOT/fake.log"; fatal "the fake platform did not start"; }
  FAKE_PORT="$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")"
  log "fake Mastodon on 127.0.0.1:$FAKE_PORT"
}

start_nginx() {
  local dir="$TMP_ROOT/nginx"
  mkdir -p "$dir"
  NGINX_PORT="$(free_port)"
  cat >"$dir/nginx.conf" <<EOF
# scripts/bench (proxy suite): a plain reverse proxy in front of the fake, adding a static header.
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  upstream fake {
    server 127.0.0.1:$FAKE_PORT;
    keepalive 256;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer $PLATFORM_TOKEN";
    }
  }
}
EOF
  nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" 2>"$dir/check.log" \
    || { show_log "nginx -t" "$dir/check.log"; fatal "the nginx configuration is invalid"; }
  nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" 2>"$dir/stderr.log" &
  NGINX_PID=$!
  wait_for_port "$NGINX_PORT" "$NGINX_PID" || { show_log nginx "$dir/error.log"; show_log "nginx stderr" "$dir/stderr.log"; fatal "nginx did not start"; }
  log "nginx $(nginx -v 2>&1 | sed 's/^nginx version: //') on 127.0.0.1:$NGINX_PORT ($(nproc) workers)"
}

# write_custodian_config DIR DATABASE_URL: a minimal, explicit configuration.
write_custodian_config() {
  local dir="$1" url="$2"
  mkdir -p "$dir/secrets"
  chmod 700 "$dir/secrets"
  (umask 077 \
    && "$CUSTODIAN_BIN" keys generate >"$dir/secrets/key-k1" \
    && "$CUSTODIAN_BIN" keys generate >"$dir/secrets/audit-signing-key" \
    && printf 'bench-oidc-secret\n' >"$dir/secrets/oidc-client-secret" \
    && printf 'bench-mastodon-secret\n' >"$dir/secrets/mastodon-client-secret" \
    && printf '%s\n' "$url" >"$dir/secrets/database-url") || fatal "cannot write the secrets"
  CUSTODIAN_PORT="$(free_port)"
  cat >"$dir/custodian.toml" <<TOML
# scripts/bench (proxy suite). Only API tokens are used: the OIDC provider is never called.
listen = "127.0.0.1:$CUSTODIAN_PORT"
data_dir = "$dir/data"

[database]
url_file = "$dir/secrets/database-url"

[http]
cookie_secure = false

[oidc]
issuer_url = "http://127.0.0.1:9"
client_id = "custodian"
client_secret_file = "$dir/secrets/oidc-client-secret"
redirect_url = "http://127.0.0.1:$CUSTODIAN_PORT/auth/callback"

[keys]
active = "k1"
[keys.ring_files]
k1 = "$dir/secrets/key-k1"

[audit]
signing_key_file = "$dir/secrets/audit-signing-key"

[directory]
source = "oidc-claims"
[directory.roles]
staff = ["social-media-staff"]
[directory.account_tags]
social-media-staff = ["official"]

[[training.courses]]
id = "hipaa-social-media"
renewal_months = 12

[platforms.mastodon]
api_base = "http://127.0.0.1:$FAKE_PORT"
client_id = "custodian-bench"
client_secret_file = "$dir/secrets/mastodon-client-secret"

[policy]
dir = "$REPO_ROOT/policies"
TOML
  "$CUSTODIAN_BIN" config check --config "$dir/custodian.toml" >/dev/null 2>"$dir/config-check.log" \
    || { show_log "config check" "$dir/config-check.log"; fatal "the generated configuration is invalid"; }
}

start_custodian() {
  local dir="$1"
  "$CUSTODIAN_BIN" serve --config "$dir/custodian.toml" >"$dir/custodian.log" 2>&1 &
  CUSTODIAN_PID=$!
  wait_for_port "$CUSTODIAN_PORT" "$CUSTODIAN_PID" || { show_log custodian "$dir/custodian.log"; fatal "custodian did not start"; }
}

stop_custodian() {
  stop_pid "$CUSTODIAN_PID"
  CUSTODIAN_PID=""
}

# CPU ticks (user + system) of a process, and of the whole machine (busy, total).
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }

# run_wrk NAME URL AUTH SECONDS CLIENTS: prints "requests duration_us errors p50_us p99_us".
run_wrk() {
  local url="$2" auth="$3" seconds="$4" clients="$5"
  local threads=$((clients < 2 ? clients : 2))
  BENCH_AUTH="$auth" wrk -t "$threads" -c "$clients" -d "${seconds}s" --timeout 10s \
    -s "$TMP_ROOT/post.lua" "$url" 2>&1 | sed -n 's/^RESULT //p'
}

write_wrk_script() {
  cat >"$TMP_ROOT/post.lua" <<'LUA'
-- A Mastodon status, as a client posts it; the Authorization header, if any, from BENCH_AUTH.
wrk.method = "POST"
wrk.body = '{"status":"Flu clinic open today, 9 to 5, no appointment needed","visibility":"public"}'
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %.0f %.0f\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(99)))
end
LUA
}

# measure BACKEND CLIENTS TARGET URL AUTH [CONFIG]: one point; appends a result row.
measure() {
  local backend="$1" clients="$2" target="$3" url="$4" auth="$5" config="${6:-}"
  if ((PROXY_WARMUP > 0)); then
    run_wrk "$target" "$url" "$auth" "$PROXY_WARMUP" "$clients" >/dev/null
    sleep 1 # the warm-up's last requests finish before the count starts
  fi
  local head=0
  if [[ -n "$config" ]]; then
    read -r head _ < <("$PROXY_BIN" count --config "$config" --after 0 2>/dev/null) || fatal "cannot count audit events"
  fi
  local machine0 proc0 machine1 proc1
  machine0="$(machine_ticks)"
  proc0="$(proc_ticks "${CUSTODIAN_PID:-0}")"
  local result
  result="$(run_wrk "$target" "$url" "$auth" "$PROXY_SECONDS" "$clients")"
  machine1="$(machine_ticks)"
  proc1="$(proc_ticks "${CUSTODIAN_PID:-0}")"
  [[ -n "$result" ]] || fatal "wrk printed no result for $target at $clients clients"
  local requests duration errors p50 p99
  read -r requests duration errors p50 p99 <<<"$result"
  local audited="-" status=ok
  if [[ -n "$config" ]]; then
    sleep 1 # requests still in flight when wrk stopped finish
    local intents outcomes refused denied
    read -r _ intents outcomes refused denied < <("$PROXY_BIN" count --config "$config" --after "$head") \
      || fatal "cannot count audit events"
    audited="$intents/$outcomes"
    # wrk counts the answers it read; up to one request per connection was still in flight at the stop.
    if ((intents != outcomes || intents < requests || intents > requests + clients || refused + denied > 0)); then
      status="FAILED: $requests answered, $intents intents, $outcomes outcomes, $refused refused, $denied denied"
    fi
  fi
  ((errors == 0)) || status="FAILED: $errors errors (socket, timeout or non-2xx)"
  [[ "$status" == ok ]] || { PROXY_FAILURES=$((PROXY_FAILURES + 1)); log "$backend $target $clients: $status"; }
  local cpu machine_busy m0b m0t m1b m1t
  read -r m0b m0t <<<"$machine0"
  read -r m1b m1t <<<"$machine1"
  machine_busy="$(awk -v b=$((m1b - m0b)) -v t=$((m1t - m0t)) 'BEGIN {printf "%.0f%%", t ? 100 * b / t : 0}')"
  cpu="-"
  if [[ -n "$config" ]]; then
    cpu="$(awk -v t=$((proc1 - proc0)) -v hz="$(getconf CLK_TCK)" -v us="$duration" 'BEGIN {printf "%.2f", t / hz / (us / 1e6)}')"
  fi
  local rps
  rps="$(awk -v n="$requests" -v us="$duration" 'BEGIN {printf "%.0f", n / (us / 1e6)}')"
  PROXY_RESULTS+="$backend $clients $target $rps $p50 $p99 $requests $errors $audited $cpu $machine_busy $status"$'\n'
  log "$backend, $clients clients, $target: $rps req/s, p50 $p50 us, p99 $p99 us, audited $audited, $status"
}

# The tables for one backend, from PROXY_RESULTS.
print_backend_tables() {
  local backend="$1" label="$2"
  printf '\n### %s\n\n' "$label"
  printf '| clients | target | requests/s | p50 ms | p99 ms | requests | errors | audited (intent/outcome) | custodian CPU (cores) | machine CPU | check |\n'
  printf '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
  awk -v b="$backend" '$1 == b {
      status = $12; for (i = 13; i <= NF; i++) status = status " " $i
      printf "| %s | %s | %s | %.3f | %.3f | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5 / 1000, $6 / 1000, $7, $8, $9, $10, $11, status
    }' <<<"$PROXY_RESULTS"
  printf '\n| clients | custodian adds, p50 ms | custodian adds, p99 ms | nginx adds, p50 ms | nginx adds, p99 ms | custodian req/s ÷ nginx req/s | added p99 ≤ 2 ms at 64 | ≥ 50%% of nginx |\n'
  printf '|---:|---:|---:|---:|---:|---:|---|---|\n'
  awk -v b="$backend" '$1 == b { rps[$2, $3] = $4; p50[$2, $3] = $5; p99[$2, $3] = $6; if (!seen[$2]++) order[++n] = $2 }
    END {
      for (i = 1; i <= n; i++) {
        c = order[i]
        a50 = (p50[c, "custodian"] - p50[c, "direct"]) / 1000; a99 = (p99[c, "custodian"] - p99[c, "direct"]) / 1000
        n50 = (p50[c, "nginx"] - p50[c, "direct"]) / 1000; n99 = (p99[c, "nginx"] - p99[c, "direct"]) / 1000
        ratio = rps[c, "nginx"] ? rps[c, "custodian"] / rps[c, "nginx"] : 0
        t1 = (c == 64) ? (a99 <= 2 ? "**met**" : "**missed**") : "-"
        t2 = ratio >= 0.5 ? "**met**" : "**missed**"
        printf "| %s | %.3f | %.3f | %.3f | %.3f | %.0f%% | %s | %s |\n", c, a50, a99, n50, n99, 100 * ratio, t1, t2
      }
    }' <<<"$PROXY_RESULTS"
}

run_proxy_backend() {
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
  log "$backend: custodian serve"
  write_custodian_config "$dir" "$url"
  local account token
  read -r account token < <("$PROXY_BIN" setup --config "$dir/custodian.toml" --platform-token "$PLATFORM_TOKEN" \
    --course hipaa-social-media 2>"$dir/setup.log") || { show_log setup "$dir/setup.log"; fatal "setup failed"; }
  [[ -n "$token" ]] || { show_log setup "$dir/setup.log"; fatal "setup printed no token"; }
  start_custodian "$dir"
  local clients
  for clients in $PROXY_CLIENTS; do
    measure "$backend" "$clients" direct "http://127.0.0.1:$FAKE_PORT/api/v1/statuses" "Bearer $PLATFORM_TOKEN"
    measure "$backend" "$clients" nginx "http://127.0.0.1:$NGINX_PORT/api/v1/statuses" ""
    measure "$backend" "$clients" custodian "http://127.0.0.1:$CUSTODIAN_PORT/proxy/$account/api/v1/statuses" \
      "Bearer $token" "$dir/custodian.toml"
  done
  stop_custodian
  log "$backend: custodian audit verify"
  local verified
  if verified="$("$CUSTODIAN_BIN" audit verify --config "$dir/custodian.toml" 2>&1)"; then
    PROXY_VERIFY+="- $backend: \`custodian audit verify\`: $(tail -n 1 <<<"$verified")"$'\n'
  else
    PROXY_FAILURES=$((PROXY_FAILURES + 1))
    PROXY_VERIFY+="- $backend: \`custodian audit verify\` FAILED: $(tail -n 3 <<<"$verified" | paste -sd' ')"$'\n'
  fi
  if [[ "$backend" == postgres ]]; then
    stop_postgres
    rm -rf "$TMP_ROOT/postgres"
  fi
}

proxy_cleanup() {
  stop_custodian
  stop_pid "$NGINX_PID"
  NGINX_PID=""
  stop_pid "$FAKE_PID"
  FAKE_PID=""
}

proxy_main() {
  proxy_parse_args "$@"
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
  chmod 755 "$TMP_ROOT" # PostgreSQL and nginx's workers must traverse into it
  print_machine --seconds "$PROXY_SECONDS" --warmup "$PROXY_WARMUP" --clients "\"$PROXY_CLIENTS\""
  [[ -z "${BENCH_CUSTODIAN_BIN:-}" ]] || printf -- '- custodian binary: %s (BENCH_CUSTODIAN_BIN)\n' "$CUSTODIAN_BIN"
  printf -- '- wrk: %s; nginx: %s\n' "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)" "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
  local started=$SECONDS
  write_wrk_script
  start_fake
  start_nginx
  PROXY_VERIFY=""
  for backend in $BENCH_BACKENDS; do run_proxy_backend "$backend"; done
  printf '\n## Pass-through proxy: POST /api/v1/statuses, %s s per point after a %s s warm-up\n' \
    "$PROXY_SECONDS" "$PROXY_WARMUP"
  for backend in $BENCH_BACKENDS; do
    case "$backend" in
      sqlite) print_backend_tables sqlite "SQLite (WAL, synchronous=FULL)" ;;
      postgres) print_backend_tables postgres "PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') (fsync on, synchronous_commit on)" ;;
    esac
  done
  printf '\n%s\n- whole run: %d s\n' "$PROXY_VERIFY" $((SECONDS - started))
  proxy_cleanup
  ((PROXY_FAILURES == 0)) || fatal "$PROXY_FAILURES check(s) failed (see above)"
}
