#!/usr/bin/env bash
# Runs the same client workload (runnel-bench coord) against Apache ZooKeeper
# 3.8 and against runnel-coord, one after the other on this machine, and
# prints a comparison table. Figures only; nothing here is a pass/fail test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ZK_SERVER_SH=/usr/share/zookeeper/bin/zkServer.sh

usage() {
    cat <<EOF
usage: $(basename "$0") [--sessions N] [--duration SECS] [--value-size BYTES]
                        [--fanout-rounds R] [--settle SECS] [--only zk|runnel]

Builds release binaries, then for each server: starts it standalone on a free
127.0.0.1 port in a temp folder (default settings, fsync on), records its idle
RSS, runs 'runnel-bench coord', and stops it. Prints one table at the end.

  --sessions N        concurrent sessions (default 16)
  --duration SECS     seconds per phase (default 10)
  --value-size BYTES  data per node (default 128)
  --fanout-rounds R   watch fan-out rounds (default 50)
  --settle SECS       wait after start-up before reading idle RSS (default 2)
  --only zk|runnel    run against one server only

Environment:
  RUNNEL_COORD_BIN  use this runnel-coord binary instead of building it
EOF
}

die() {
    echo "coord-bench: $*" >&2
    exit 1
}

# Milliseconds since the epoch, for deadlines (bash 5: EPOCHREALTIME).
now_ms() {
    local t="${EPOCHREALTIME//[.,]/}" # the decimal mark follows the locale
    echo $((t / 1000))
}

sessions=16
duration=10
value_size=128
fanout_rounds=50
settle=2
only=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --sessions) sessions="${2:?}"; shift 2 ;;
        --duration) duration="${2:?}"; shift 2 ;;
        --value-size) value_size="${2:?}"; shift 2 ;;
        --fanout-rounds) fanout_rounds="${2:?}"; shift 2 ;;
        --settle) settle="${2:?}"; shift 2 ;;
        --only) only="${2:?}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for n in "$sessions" "$duration" "$value_size" "$fanout_rounds" "$settle"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
[[ -z "$only" || "$only" == zk || "$only" == runnel ]] || die "--only takes zk or runnel"

target="${CARGO_TARGET_DIR:-$ROOT/target}/release"
work="$(mktemp -d "${TMPDIR:-/tmp}/coord-bench.XXXXXX")"
server_pid=""

cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    rm -rf -- "$work"
}
trap cleanup EXIT

# Sends a four-letter word and prints the reply (empty if nothing answers).
four_letter() {
    local port="$1" word="$2"
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 0
        printf '%s' "$word" >&3
        timeout 2 cat <&3 || true
    ) 2>/dev/null || true
}

# A port nobody listens on (bind-checked when python3 is there).
free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

# True while PID runs; our own exited child stays a zombie until `wait`.
alive() {
    local state
    state="$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null || echo X)"
    [[ "$state" != "Z" && "$state" != "X" ]]
}

# Waits until PORT answers 'imok' while PID lives. Returns 1 if it does not.
wait_ready() {
    local pid="$1" port="$2" limit="$3" deadline=$(($(now_ms) + $3 * 1000))
    # ZooKeeper answers imok before it serves sessions: check srvr as well.
    while [[ "$(four_letter "$port" ruok)" != "imok" ]] ||
        four_letter "$port" srvr | grep -q 'not currently serving'; do
        alive "$pid" || { echo "coord-bench: server exited during start-up" >&2; return 1; }
        (($(now_ms) < deadline)) || { echo "coord-bench: no 'imok' within ${limit}s" >&2; return 1; }
        sleep 0.1
    done
}

stop_server() {
    local pid="$1" deadline=$(($(now_ms) + 30 * 1000))
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid"; do
        if (($(now_ms) >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
    server_pid=""
}

rss_kb() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || true
}

# Writes the zoo.cfg shared by both servers (keys both understand).
write_cfg() {
    local folder="$1" port="$2"
    mkdir -p "$folder/data"
    cat >"$folder/zoo.cfg" <<EOF
tickTime=2000
dataDir=$folder/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=$((sessions + 10))
4lw.commands.whitelist=*
EOF
}

# run_bench NAME: runs the load against the server on $port, saves its output.
run_bench() {
    local name="$1" port="$2"
    echo "== $name: runnel-bench coord on 127.0.0.1:$port" >&2
    "$target/runnel-bench" coord --server "127.0.0.1:$port" --sessions "$sessions" \
        --duration "$duration" --value-size "$value_size" --fanout-rounds "$fanout_rounds" \
        | tee "$work/$name.out" >&2
}

echo "coord-bench: building release binaries" >&2
(cd "$ROOT" && cargo build --release --quiet -p runnel-bench) || die "cargo build -p runnel-bench failed"

zk_rss=""
runnel_rss=""
zk_note=""
runnel_note=""

# --- Apache ZooKeeper -------------------------------------------------------
if [[ "$only" != runnel ]]; then
    if [[ -x "$ZK_SERVER_SH" ]]; then
        port="$(free_port)"
        write_cfg "$work/zk" "$port"
        # ZooKeeper's admin HTTP server would take port 8080; runnel has none.
        echo "admin.enableServer=false" >>"$work/zk/zoo.cfg"
        # start-foreground execs java, so $! is the JVM's pid.
        setsid "$ZK_SERVER_SH" start-foreground "$work/zk/zoo.cfg" >"$work/zk/zk.log" 2>&1 </dev/null &
        server_pid=$!
        if wait_ready "$server_pid" "$port" 60; then
            sleep "$settle" # let start-up finish before measuring idle memory
            zk_rss="$(rss_kb "$server_pid")"
            run_bench zk "$port" || zk_note="bench failed"
        else
            zk_note="did not start (see its log above)"
            tail -n 20 "$work/zk/zk.log" >&2 || true
        fi
        stop_server "$server_pid"
    else
        zk_note="not installed ($ZK_SERVER_SH); apt-get install zookeeper"
    fi
fi

# --- runnel-coord -----------------------------------------------------------
if [[ "$only" != zk ]]; then
    coord_bin="${RUNNEL_COORD_BIN:-$target/runnel-coord}"
    if [[ -z "${RUNNEL_COORD_BIN:-}" ]] && ! (cd "$ROOT" && cargo build --release --quiet -p runnel-coord); then
        runnel_note="does not build; skipped"
    elif [[ ! -x "$coord_bin" ]]; then
        runnel_note="no binary at $coord_bin; skipped"
    else
        port="$(free_port)"
        write_cfg "$work/runnel" "$port"
        setsid "$coord_bin" --config "$work/runnel/zoo.cfg" >"$work/runnel/coord.log" 2>&1 </dev/null &
        server_pid=$!
        if wait_ready "$server_pid" "$port" 30; then
            sleep "$settle" # same settle time as ZooKeeper, for a fair idle figure
            runnel_rss="$(rss_kb "$server_pid")"
            run_bench runnel "$port" || runnel_note="bench failed"
        else
            runnel_note="did not start; skipped"
            tail -n 20 "$work/runnel/coord.log" >&2 || true
        fi
        stop_server "$server_pid"
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
echo "coord-bench: sessions=$sessions duration=${duration}s value_size=$value_size fanout_rounds=$fanout_rounds ($(nproc) CPUs)"
printf '%-8s %12s %14s %7s %18s %20s\n' phase "ZK ops/s" "runnel ops/s" ratio "ZK p50/p99 us" "runnel p50/p99 us"
for phase in writes reads fanout; do
    read -r zk_ops zk_p50 zk_p99 <<<"$(figures zk "$phase")"
    read -r rn_ops rn_p50 rn_p99 <<<"$(figures runnel "$phase")"
    ratio="$(awk -v a="$rn_ops" -v b="$zk_ops" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }')"
    printf '%-8s %12s %14s %7s %18s %20s\n' "$phase" "$zk_ops" "$rn_ops" "$ratio" "$zk_p50/$zk_p99" "$rn_p50/$rn_p99"
done
printf '%-8s %12s %14s\n' "idle RSS" "$(mb "$zk_rss")" "$(mb "$runnel_rss")"
[[ -z "$zk_note" ]] || echo "ZooKeeper: $zk_note"
[[ -z "$runnel_note" ]] || echo "runnel-coord: $runnel_note"
echo "(fanout: ops/s = watch events delivered per second; p50/p99 = time until all $sessions sessions had the event)"
