#!/usr/bin/env bash
# Runs the same client workload (runnel-bench coord) against Apache ZooKeeper
# 3.8 and against runnel-coord, one after the other on this machine, and
# prints a comparison table. Figures only; nothing here is a pass/fail test.
# --members 3 compares a 3-member ensemble of each (the client's sessions are
# spread over all members by its connect string).
set -euo pipefail

PROG=coord-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
ZK_SERVER_SH=/usr/share/zookeeper/bin/zkServer.sh

usage() {
    cat <<EOF
usage: $(basename "$0") [--members N] [--sessions N] [--outstanding N] [--duration SECS] [--value-size BYTES]
                        [--fanout-rounds R] [--settle SECS] [--only zk|runnel]

Builds release binaries, then for each server: starts it on free 127.0.0.1
ports in a temp folder (default settings, fsync on) -- standalone, or an
ensemble of N members with server.K lines and myid files -- records its idle
RSS, runs 'runnel-bench coord' with every member in the connect string, and
stops it. Prints one table at the end.

  --members N         1 (default): standalone servers; 3 or 5: ensembles

  --sessions N        concurrent sessions (default 16)
  --outstanding N     write requests in flight per session (default 1)
  --duration SECS     seconds per phase (default 10)
  --value-size BYTES  data per node (default 128)
  --fanout-rounds R   watch fan-out rounds (default 50)
  --settle SECS       wait after start-up before reading idle RSS (default 2)
  --only zk|runnel    run against one server only

Environment:
  RUNNEL_COORD_BIN  use this runnel-coord binary instead of building it
EOF
}

members=1
sessions=16
outstanding=1
duration=10
value_size=128
fanout_rounds=50
settle=2
only=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --members) members="${2:?}"; shift 2 ;;
        --sessions) sessions="${2:?}"; shift 2 ;;
        --outstanding) outstanding="${2:?}"; shift 2 ;;
        --duration) duration="${2:?}"; shift 2 ;;
        --value-size) value_size="${2:?}"; shift 2 ;;
        --fanout-rounds) fanout_rounds="${2:?}"; shift 2 ;;
        --settle) settle="${2:?}"; shift 2 ;;
        --only) only="${2:?}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for n in "$members" "$sessions" "$outstanding" "$duration" "$value_size" "$fanout_rounds" "$settle"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
[[ -z "$only" || "$only" == zk || "$only" == runnel ]] || die "--only takes zk or runnel"
((members >= 1 && members <= 9)) || die "--members takes 1..9"

target="${CARGO_TARGET_DIR:-$ROOT/target}/release"
work="$(mktemp -d "${TMPDIR:-/tmp}/coord-bench.XXXXXX")"
declare -a PIDS=() CPORTS=() PPORTS=() EPORTS=()

cleanup() {
    local k
    for k in "${!PIDS[@]}"; do
        kill -KILL "${PIDS[$k]}" 2>/dev/null || true
    done
    rm -rf -- "$work"
}
trap cleanup EXIT

# Waits until every member answers 'imok' and serves while it lives (and,
# in an ensemble, one of them leads). Returns 1 if that does not happen.
wait_ready() {
    local name="$1" limit="$2" deadline=$(($(now_ms) + $2 * 1000)) k reply ok leaders
    while true; do
        ok=1
        leaders=0
        for k in "${!PIDS[@]}"; do
            alive "${PIDS[$k]}" || { echo "coord-bench: $name member $k exited during start-up" >&2; return 1; }
            # ZooKeeper answers imok before it serves sessions: check srvr as well.
            if [[ "$(four_letter 127.0.0.1 "${CPORTS[$k]}" ruok)" != "imok" ]]; then
                ok=0
                continue
            fi
            reply="$(four_letter 127.0.0.1 "${CPORTS[$k]}" srvr)"
            grep -q '^Mode: ' <<<"$reply" || ok=0
            grep -q '^Mode: leader' <<<"$reply" && leaders=$((leaders + 1))
        done
        if ((ok == 1)) && { ((members == 1)) || ((leaders == 1)); }; then
            return 0
        fi
        (($(now_ms) < deadline)) || { echo "coord-bench: $name not serving within ${limit}s" >&2; return 1; }
        sleep 0.1
    done
}

stop_servers() {
    stop_pids "${PIDS[@]}"
    PIDS=()
}

rss_kb() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || true
}

# Idle RSS summed over the members.
total_rss_kb() {
    local k kb total=0
    for k in "${!PIDS[@]}"; do
        kb="$(rss_kb "${PIDS[$k]}")"
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# Writes member K's zoo.cfg: the keys both servers understand, plus in an
# ensemble one server.J line per member and the myid file.
write_cfg() {
    local name="$1" k="$2" folder="$work/$1/m$2" j
    mkdir -p "$folder/data"
    cat >"$folder/zoo.cfg" <<EOF
tickTime=2000
dataDir=$folder/data
clientPort=${CPORTS[$k]}
clientPortAddress=127.0.0.1
maxClientCnxns=$((sessions + 10))
4lw.commands.whitelist=*
EOF
    if [[ "$name" == zk ]]; then
        # ZooKeeper's admin HTTP server would take port 8080; runnel has none.
        echo "admin.enableServer=false" >>"$folder/zoo.cfg"
        # A quorum needs these (in ticks); ZooKeeper's sample config values.
        ((members == 1)) || printf 'initLimit=10\nsyncLimit=5\n' >>"$folder/zoo.cfg"
    fi
    if ((members > 1)); then
        for ((j = 1; j <= members; j++)); do
            if [[ "$name" == zk ]]; then
                echo "server.$j=127.0.0.1:${PPORTS[$j]}:${EPORTS[$j]}"
            else
                echo "server.$j=127.0.0.1:${PPORTS[$j]}"
            fi
        done >>"$folder/zoo.cfg"
        echo "$k" >"$folder/data/myid"
    fi
}

# start_servers NAME: writes the configs and starts every member.
start_servers() {
    local name="$1" ports k folder
    read -r -a ports <<<"$(free_ports $((members * 3)))"
    for ((k = 1; k <= members; k++)); do
        CPORTS[k]="${ports[$(((k - 1) * 3))]}"
        PPORTS[k]="${ports[$(((k - 1) * 3 + 1))]}"
        EPORTS[k]="${ports[$(((k - 1) * 3 + 2))]}"
    done
    for ((k = 1; k <= members; k++)); do
        write_cfg "$name" "$k"
        folder="$work/$name/m$k"
        if [[ "$name" == zk ]]; then
            # start-foreground execs java, so $! is the JVM's pid.
            setsid "$ZK_SERVER_SH" start-foreground "$folder/zoo.cfg" >"$folder/server.log" 2>&1 </dev/null &
        else
            setsid "$coord_bin" --config "$folder/zoo.cfg" >"$folder/server.log" 2>&1 </dev/null &
        fi
        PIDS[k]=$!
    done
}

server_logs() {
    local k
    for ((k = 1; k <= members; k++)); do
        echo "--- $1 member $k: last lines of its log" >&2
        tail -n 20 "$work/$1/m$k/server.log" >&2 || true
    done
}

connect_string() {
    local k out=""
    for ((k = 1; k <= members; k++)); do
        out+="${out:+,}127.0.0.1:${CPORTS[$k]}"
    done
    echo "$out"
}

# run_bench NAME: runs the load against the running servers, saves its output.
run_bench() {
    local name="$1" connect
    connect="$(connect_string)"
    echo "== $name: runnel-bench coord on $connect" >&2
    "$target/runnel-bench" coord --server "$connect" --sessions "$sessions" --outstanding "$outstanding" \
        --duration "$duration" --value-size "$value_size" --fanout-rounds "$fanout_rounds" \
        | tee "$work/$name.out" >&2
}

say "building release binaries"
(cd "$ROOT" && cargo build --release --quiet -p runnel-bench) || die "cargo build -p runnel-bench failed"

zk_rss=""
runnel_rss=""
zk_note=""
runnel_note=""

# --- Apache ZooKeeper -------------------------------------------------------
if [[ "$only" != runnel ]]; then
    if [[ -x "$ZK_SERVER_SH" ]]; then
        start_servers zk
        if wait_ready zk 90; then
            sleep "$settle" # let start-up finish before measuring idle memory
            zk_rss="$(total_rss_kb)"
            run_bench zk || zk_note="bench failed"
        else
            zk_note="did not start (see its log above)"
            server_logs zk
        fi
        stop_servers
    else
        zk_note="not installed ($ZK_SERVER_SH); apt-get install zookeeper"
    fi
fi

# --- runnel-coord -----------------------------------------------------------
if [[ "$only" != zk ]]; then
    if ! coord_bin="$(runnel_bin RUNNEL_COORD_BIN runnel-coord)"; then
        runnel_note="does not build; skipped"
    elif [[ ! -x "$coord_bin" ]]; then
        runnel_note="no binary at $coord_bin; skipped"
    else
        start_servers runnel
        if wait_ready runnel 60; then
            sleep "$settle" # same settle time as ZooKeeper, for a fair idle figure
            runnel_rss="$(total_rss_kb)"
            run_bench runnel || runnel_note="bench failed"
        else
            runnel_note="did not start; skipped"
            server_logs runnel
        fi
        stop_servers
    fi
fi

# --- table ------------------------------------------------------------------
# Prints "ops p50 p99" of PHASE from a saved bench output, or "- - -".
figures() {
    local file="$work/$1.out"
    [[ -f "$file" ]] || { echo "- - -"; return; }
    awk -v phase="$2" '
        /^RESULT / {
            delete v
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            if (v["phase"] == phase) { print v["ops_per_s"], v["p50_us"], v["p99_us"]; found = 1 }
        }
        END { if (!found) print "- - -" }' "$file"
}

mb() {
    [[ -n "$1" ]] && awk -v kb="$1" 'BEGIN { printf "%.1f MB", kb / 1024 }' || echo "-"
}

echo
if ((members == 1)); then
    shape="standalone"
else
    shape="$members-member ensembles, client connected to all members"
fi
echo "coord-bench: $shape; sessions=$sessions outstanding=$outstanding duration=${duration}s value_size=$value_size fanout_rounds=$fanout_rounds ($(nproc) CPUs)"
printf '%-8s %12s %14s %7s %18s %20s\n' phase "ZK ops/s" "runnel ops/s" ratio "ZK p50/p99 us" "runnel p50/p99 us"
for phase in writes reads fanout; do
    read -r zk_ops zk_p50 zk_p99 <<<"$(figures zk "$phase")"
    read -r rn_ops rn_p50 rn_p99 <<<"$(figures runnel "$phase")"
    ratio="$(awk -v a="$rn_ops" -v b="$zk_ops" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }')"
    printf '%-8s %12s %14s %7s %18s %20s\n' "$phase" "$zk_ops" "$rn_ops" "$ratio" "$zk_p50/$zk_p99" "$rn_p50/$rn_p99"
done
if ((members == 1)); then
    printf '%-8s %12s %14s\n' "idle RSS" "$(mb "$zk_rss")" "$(mb "$runnel_rss")"
else
    printf '%-8s %12s %14s   (sum of %d members)\n' "idle RSS" "$(mb "$zk_rss")" "$(mb "$runnel_rss")" "$members"
fi
[[ -z "$zk_note" ]] || echo "ZooKeeper: $zk_note"
[[ -z "$runnel_note" ]] || echo "runnel-coord: $runnel_note"
echo "(fanout: ops/s = watch events delivered per second; p50/p99 = time until all $sessions sessions had the event)"
