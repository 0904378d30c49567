#!/usr/bin/env bash
# Runs the same client workload (runnel-bench coord) against Apache ZooKeeper
# 3.8 and against runnel-coord, one after the other on this machine, and
# prints them side by side. Figures only; nothing here is a pass/fail test.
#
# Three modes:
# * one run (default): one shape (--members, --sessions), phases create,
#   setdata, reads and fanout, plus idle RSS.
# * --matrix: members 1 and 3 × sessions 1, 16 and 64, phases create, setdata
#   and reads, plus the latency case (setData, 1 session, 1 request
#   outstanding); each server is started once per member count and every
#   session count runs against it. One table at the end.
# * --memory: idle RSS, RSS once --count znodes were written, and RSS once
#   they were deleted again (a member should go back near idle).
# With several members the client's sessions are spread over all of them by
# its connect string.
set -euo pipefail

PROG=coord-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
ZK_SERVER_SH=/usr/share/zookeeper/bin/zkServer.sh
# The root the memory mode fills and drains (runnel-bench only deletes
# roots named runnel-bench*).
MEMORY_ROOT=/runnel-bench-memory

usage() {
    cat <<EOF
usage: $(basename "$0") [--matrix | --memory] [--members N[,N...]] [--sessions N[,N...]]
                        [--outstanding N] [--duration SECS] [--value-size BYTES] [--count N]
                        [--fanout-rounds R] [--settle SECS] [--warmup SECS] [--only zk|runnel]
                        [--coord-cfg KEY=VALUE]...

Builds release binaries, then for each server: starts it on free 127.0.0.1
ports in a temp folder (default settings, fsync on) -- standalone, or an
ensemble of N members with server.K lines and myid files -- records its idle
RSS, runs 'runnel-bench coord' with every member in the connect string, and
stops it. Before the figures, each started server gets a warm-up run whose
figures are dropped (ZooKeeper's JIT compiler would otherwise count against
it). Prints one table at the end.

  --matrix            members 1 and 3 x sessions 1, 16 and 64 (or the lists
                      given), create / setdata / reads, plus the latency case
                      (setData, 1 session, 1 outstanding)
  --memory            RSS of each member idle, after --count znodes were
                      written (1000 per parent), and after they were deleted

  --members N         1 (default): standalone servers; 3 or 5: ensembles
                      (--matrix: a comma-separated list, default 1,3)
  --sessions N        concurrent sessions (default 16; --matrix: a list,
                      default 1,16,64)
  --outstanding N     requests in flight per session (default 8)
  --duration SECS     seconds per phase (default 10; --matrix: 5)
  --value-size BYTES  data per node (default 128; --memory: 100)
  --count N           znodes --memory writes and deletes (default 1000000)
  --fanout-rounds R   watch fan-out rounds (default 50)
  --settle SECS       wait after start-up before reading idle RSS (default 2)
  --warmup SECS       seconds per phase of the warm-up run (default 1; 0: none)
  --only zk|runnel    run against one server only
  --coord-cfg K=V     add K=V to every runnel-coord member's zoo.cfg
                      (repeatable), e.g. sslQuorum=true with its
                      ssl.quorum.* keys to measure TLS between members

Environment:
  RUNNEL_COORD_BIN  use this runnel-coord binary instead of building it
EOF
}

mode=one
members=""
sessions=""
outstanding=8
duration=""
value_size=""
count=1000000
fanout_rounds=50
settle=2
warmup=1
only=""
declare -a coord_cfg=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --matrix) mode=matrix; shift ;;
        --memory) mode=memory; shift ;;
        --members) members="${2:?}"; shift 2 ;;
        --sessions) sessions="${2:?}"; shift 2 ;;
        --outstanding) outstanding="${2:?}"; shift 2 ;;
        --duration) duration="${2:?}"; shift 2 ;;
        --value-size) value_size="${2:?}"; shift 2 ;;
        --count) count="${2:?}"; shift 2 ;;
        --fanout-rounds) fanout_rounds="${2:?}"; shift 2 ;;
        --settle) settle="${2:?}"; shift 2 ;;
        --warmup) warmup="${2:?}"; shift 2 ;;
        --only) only="${2:?}"; shift 2 ;;
        --coord-cfg)
            [[ "${2:?}" == ?*=* ]] || die "--coord-cfg takes KEY=VALUE, got '$2'"
            coord_cfg+=("$2")
            shift 2
            ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
if [[ "$mode" == matrix ]]; then
    members="${members:-1,3}"
    sessions="${sessions:-1,16,64}"
    duration="${duration:-5}"
else
    members="${members:-1}"
    sessions="${sessions:-16}"
    duration="${duration:-10}"
fi
if [[ "$mode" == memory ]]; then
    value_size="${value_size:-100}"
else
    value_size="${value_size:-128}"
fi
for n in "$outstanding" "$duration" "$value_size" "$count" "$fanout_rounds" "$settle" "$warmup"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
[[ -z "$only" || "$only" == zk || "$only" == runnel ]] || die "--only takes zk or runnel"
read -r -a member_counts <<<"${members//,/ }"
read -r -a session_counts <<<"${sessions//,/ }"
for n in "${member_counts[@]}" "${session_counts[@]}"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
for n in "${member_counts[@]}"; do
    ((n >= 1 && n <= 9)) || die "--members takes 1..9"
done
if [[ "$mode" != matrix ]] && ((${#member_counts[@]} != 1 || ${#session_counts[@]} != 1)); then
    die "lists of --members or --sessions need --matrix"
fi
# The most sessions one member may see (16: the warm-up's).
max_sessions=16
for n in "${session_counts[@]}"; do
    ((n <= max_sessions)) || max_sessions=$n
done

target="${CARGO_TARGET_DIR:-$ROOT/target}/release"
work="$(mktemp -d "${TMPDIR:-/tmp}/coord-bench.XXXXXX")"
members="${member_counts[0]}" # the member count of the servers being run
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
            alive "${PIDS[$k]}" || { say "$name member $k exited during start-up"; return 1; }
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
        (($(now_ms) < deadline)) || { say "$name not serving within ${limit}s"; return 1; }
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

# RSS summed over the members.
total_rss_kb() {
    local k kb total=0
    for k in "${!PIDS[@]}"; do
        kb="$(rss_kb "${PIDS[$k]}")"
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# Member K's "Node count" (srvr), empty if it does not answer.
node_count() {
    four_letter 127.0.0.1 "${CPORTS[$1]}" srvr | sed -n 's/^Node count: *\([0-9]*\).*/\1/p'
}

# Waits until every member holds NODES znodes (followers apply committed
# writes after the client's reply). Returns 1 after LIMIT seconds.
wait_nodes() {
    local nodes="$1" limit="$2" deadline=$(($(now_ms) + $2 * 1000)) k all
    while true; do
        all=1
        for k in "${!PIDS[@]}"; do
            [[ "$(node_count "$k")" == "$nodes" ]] || all=0
        done
        ((all == 0)) || return 0
        (($(now_ms) < deadline)) || { say "not every member holds $nodes znodes after ${limit}s"; return 1; }
        sleep 0.2
    done
}

# Prints member K's RSS once it stopped falling: sampled every 0.5 s until
# no new low for 3 s, or 30 s in all (freed memory goes back to the system
# a little later than the deletes' replies).
settled_rss_kb() {
    local pid="${PIDS[$1]}" deadline=$(($(now_ms) + 30000)) low low_at kb
    low="$(rss_kb "$pid")"
    low_at=$(now_ms)
    while (($(now_ms) < deadline && $(now_ms) - low_at < 3000)); do
        sleep 0.5
        kb="$(rss_kb "$pid")"
        if ((${kb:-0} < ${low:-0})); then
            low=$kb
            low_at=$(now_ms)
        fi
    done
    echo "$low"
}

# The folder of member K of NAME's servers for the current member count.
member_dir() {
    echo "$work/$1.$members/m$2"
}

# Writes member K's zoo.cfg: the keys both servers understand, plus in an
# ensemble one server.J line per member and the myid file.
write_cfg() {
    local name="$1" k="$2" folder j
    folder="$(member_dir "$1" "$2")"
    mkdir -p "$folder/data"
    cat >"$folder/zoo.cfg" <<EOF
tickTime=2000
dataDir=$folder/data
clientPort=${CPORTS[$k]}
clientPortAddress=127.0.0.1
maxClientCnxns=$((max_sessions + 10))
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
    if [[ "$name" == runnel ]] && ((${#coord_cfg[@]} > 0)); then
        printf '%s\n' "${coord_cfg[@]}" >>"$folder/zoo.cfg"
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
        folder="$(member_dir "$name" "$k")"
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
        tail -n 20 "$(member_dir "$1" "$k")/server.log" >&2 || true
    done
}

# serve NAME: starts NAME's members and waits until they serve, then lets
# them settle; on failure shows their logs, stops them and returns 1.
serve() {
    local limit=60
    [[ "$1" != zk ]] || limit=90
    start_servers "$1"
    if ! wait_ready "$1" "$limit"; then
        server_logs "$1"
        stop_servers
        return 1
    fi
    sleep "$settle" # let start-up finish before measuring idle memory
}

# unserve NAME: stops NAME's members and drops their data (a matrix or a
# memory run writes a lot).
unserve() {
    stop_servers
    rm -rf -- "$work/$1.$members"/m*/data
}

connect_string() {
    local k out=""
    for ((k = 1; k <= members; k++)); do
        out+="${out:+,}127.0.0.1:${CPORTS[$k]}"
    done
    echo "$out"
}

# The address of a follower (the first one), or of every member if none
# says so (standalone): a single session's figures then do not depend on
# which member it happened to pick.
follower_connect() {
    local k
    for ((k = 1; k <= members; k++)); do
        if four_letter 127.0.0.1 "${CPORTS[$k]}" srvr | grep -q '^Mode: follower'; then
            echo "127.0.0.1:${CPORTS[$k]}"
            return
        fi
    done
    connect_string
}

# bench NAME OUT ARGS...: runs 'runnel-bench coord ARGS' against NAME's
# running servers (all members, or $CONNECT); its output goes to stderr and
# to OUT.
bench() {
    local name="$1" out="$2" connect
    shift 2
    connect="${CONNECT:-$(connect_string)}"
    echo "== $name ($members member(s)): runnel-bench coord --server $connect $*" >&2
    "$target/runnel-bench" coord --server "$connect" --value-size "$value_size" "$@" | tee "$out" >&2
}

# warm_up NAME: create, setdata and reads for --warmup seconds each, 16
# sessions; the figures are dropped.
warm_up() {
    ((warmup > 0)) || return 0
    bench "$1" "$work/$1.warmup.out" --phases create,setdata,reads --sessions 16 \
        --outstanding "$outstanding" --duration "$warmup" ||
        note[$1]+="${note[$1]:+; }warm-up failed at $members member(s)"
}

# ---- figures ----------------------------------------------------------------

# Prints "ops p50 p99 p999" of PHASE from a saved bench output, or "- - - -".
figures() {
    local file="$1"
    [[ -f "$file" ]] || { echo "- - - -"; return; }
    awk -v phase="$2" '
        /^RESULT / {
            delete v
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            if (v["phase"] == phase) {
                print v["ops_per_s"], v["p50_us"], v["p99_us"], (v["p999_us"] == "" ? "-" : v["p999_us"])
                found = 1
            }
        }
        END { if (!found) print "- - - -" }' "$file"
}

# "p50/p99/p99.9" in milliseconds from microseconds, or "-".
ms3() {
    awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN {
        if (a == "-") { print "-"; exit }
        printf "%.2f/%.2f/%s", a / 1000, b / 1000, (c == "-" ? "-" : sprintf("%.2f", c / 1000))
    }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'
}

mb() {
    [[ -n "$1" ]] && awk -v kb="$1" 'BEGIN { printf "%.1f MB", kb / 1024 }' || echo "-"
}

TABLE_FORMAT='%-7s %-8s %-8s %10s %12s %7s %22s %22s\n'

# table_row MEMBERS SESSIONS LABEL PHASE ZK_FILE RUNNEL_FILE
table_row() {
    local zk_ops zk_p50 zk_p99 zk_p999 rn_ops rn_p50 rn_p99 rn_p999
    read -r zk_ops zk_p50 zk_p99 zk_p999 <<<"$(figures "$5" "$4")"
    read -r rn_ops rn_p50 rn_p99 rn_p999 <<<"$(figures "$6" "$4")"
    # shellcheck disable=SC2059 # the format is ours
    printf "$TABLE_FORMAT" "$1" "$2" "$3" "$zk_ops" "$rn_ops" "$(ratio "$rn_ops" "$zk_ops")" \
        "$(ms3 "$zk_p50" "$zk_p99" "$zk_p999")" "$(ms3 "$rn_p50" "$rn_p99" "$rn_p999")"
}

table_header() {
    # shellcheck disable=SC2059 # the format is ours
    printf "$TABLE_FORMAT" members sessions phase "ZK ops/s" "runnel ops/s" ratio \
        "ZK p50/p99/p99.9 ms" "runnel p50/p99/p99.9 ms"
}

notes() {
    [[ -z "${note[zk]:-}" ]] || echo "ZooKeeper: ${note[zk]}"
    [[ -z "${note[runnel]:-}" ]] || echo "runnel-coord: ${note[runnel]}"
}

# ---- runs ---------------------------------------------------------------------

say "building release binaries"
(cd "$ROOT" && cargo build --release --quiet -p runnel-bench) || die "cargo build -p runnel-bench failed"

# The servers to run (names), and why the others do not (note).
declare -A note=() rss=()
names=()
if [[ "$only" != runnel ]]; then
    if [[ -x "$ZK_SERVER_SH" ]]; then
        names+=(zk)
    else
        note[zk]="not installed ($ZK_SERVER_SH); apt-get install zookeeper"
    fi
fi
if [[ "$only" != zk ]]; then
    if ! coord_bin="$(runnel_bin RUNNEL_COORD_BIN runnel-coord)"; then
        note[runnel]="does not build; skipped"
    elif [[ ! -x "$coord_bin" ]]; then
        note[runnel]="no binary at $coord_bin; skipped"
    else
        names+=(runnel)
    fi
fi

# One shape, every phase (the default mode).
run_one() {
    local name
    for name in "${names[@]}"; do
        if serve "$name"; then
            rss[$name]="$(total_rss_kb)"
            warm_up "$name"
            bench "$name" "$work/$name.out" --phases create,setdata,reads,fanout \
                --sessions "${session_counts[0]}" --outstanding "$outstanding" \
                --duration "$duration" --fanout-rounds "$fanout_rounds" || note[$name]="bench failed"
            unserve "$name"
        else
            note[$name]="did not start (see its log above)"
        fi
    done

    local shape="standalone" phase
    ((members == 1)) || shape="$members-member ensembles, client connected to all members"
    echo
    echo "coord-bench: $shape; sessions=${session_counts[0]} outstanding=$outstanding duration=${duration}s warmup=${warmup}s value_size=$value_size fanout_rounds=$fanout_rounds ($(nproc) CPUs)"
    table_header
    for phase in create setdata reads fanout; do
        table_row "$members" "${session_counts[0]}" "$phase" "$phase" "$work/zk.out" "$work/runnel.out"
    done
    local sum=""
    ((members == 1)) || sum="   (sum of $members members)"
    printf '%-7s %-8s %-8s %10s %12s%s\n' "$members" "" "idle RSS" "$(mb "${rss[zk]:-}")" "$(mb "${rss[runnel]:-}")" "$sum"
    notes
    echo "(fanout: ops/s = watch events delivered per second; p50/p99/p99.9 = time until all ${session_counts[0]} sessions had the event)"
}

# Every member count x session count, and the latency case.
run_matrix() {
    local name s started
    started=$(now_ms)
    for members in "${member_counts[@]}"; do
        for name in "${names[@]}"; do
            if ! serve "$name"; then
                note[$name]+="${note[$name]:+; }$members member(s) did not start (see its log above)"
                continue
            fi
            rss[$name.$members]="$(total_rss_kb)"
            warm_up "$name"
            for s in "${session_counts[@]}"; do
                bench "$name" "$work/$name.$members.$s.out" --phases create,setdata,reads \
                    --sessions "$s" --outstanding "$outstanding" --duration "$duration" ||
                    note[$name]+="${note[$name]:+; }bench failed at $members member(s), $s sessions"
            done
            CONNECT="$(follower_connect)" bench "$name" "$work/$name.$members.latency.out" --phases setdata \
                --sessions 1 --outstanding 1 --duration "$duration" ||
                note[$name]+="${note[$name]:+; }latency bench failed at $members member(s)"
            unserve "$name"
        done
    done

    local phase sum
    echo
    echo "coord-bench matrix: ZooKeeper 3.8 vs runnel-coord, sessions connected to all members; outstanding=$outstanding duration=${duration}s per phase warmup=${warmup}s value_size=$value_size ($(nproc) CPUs, $((($(now_ms) - started) / 1000))s in all)"
    table_header
    for members in "${member_counts[@]}"; do
        for s in "${session_counts[@]}"; do
            for phase in create setdata reads; do
                table_row "$members" "$s" "$phase" "$phase" "$work/zk.$members.$s.out" "$work/runnel.$members.$s.out"
            done
        done
        table_row "$members" 1 "latency" setdata "$work/zk.$members.latency.out" "$work/runnel.$members.latency.out"
        sum=""
        ((members == 1)) || sum="   (sum of $members members)"
        printf '%-7s %-8s %-8s %10s %12s%s\n' "$members" "" "idle RSS" \
            "$(mb "${rss[zk.$members]:-}")" "$(mb "${rss[runnel.$members]:-}")" "$sum"
    done
    notes
    echo "(latency: setData, 1 session, 1 request outstanding, through a follower in an ensemble; reads: getData and exists in turn)"
}

# Idle RSS, RSS with --count more znodes, RSS once they are deleted.
run_memory() {
    local name k idle_nodes full_nodes s="${session_counts[0]}"
    full_nodes=""
    for name in "${names[@]}"; do
        if ! serve "$name"; then
            note[$name]="did not start (see its log above)"
            continue
        fi
        idle_nodes="$(node_count 1)"
        # The root, the parents (1000 children each), the children.
        full_nodes=$((idle_nodes + 1 + (count + 999) / 1000 + count))
        for k in "${!PIDS[@]}"; do
            rss[$name.$k.idle]="$(rss_kb "${PIDS[$k]}")"
        done
        if bench "$name" "$work/$name.fill.out" --phases fill --count "$count" --root "$MEMORY_ROOT" \
            --keep --sessions "$s" --outstanding "$outstanding" &&
            wait_nodes "$full_nodes" 120; then
            for k in "${!PIDS[@]}"; do
                rss[$name.$k.full]="$(rss_kb "${PIDS[$k]}")"
            done
            if bench "$name" "$work/$name.drain.out" --phases drain --root "$MEMORY_ROOT" \
                --sessions "$s" --outstanding "$outstanding" &&
                wait_nodes "$idle_nodes" 120; then
                for k in "${!PIDS[@]}"; do
                    rss[$name.$k.drained]="$(settled_rss_kb "$k")"
                done
            else
                note[$name]="drain failed"
            fi
        else
            note[$name]="fill failed"
        fi
        unserve "$name"
    done

    local label rate
    echo
    echo "coord-bench memory: $count znodes of $value_size bytes (1000 per parent) written, then deleted; $s sessions x $outstanding outstanding; $members member(s) ($(nproc) CPUs)"
    printf '%-13s %-6s %10s %11s %12s %9s\n' server member "idle RSS" "after fill" "after drain" "drain/idle"
    for name in zk runnel; do
        [[ "$name" == zk ]] && label=ZooKeeper || label=runnel-coord
        for ((k = 1; k <= members; k++)); do
            [[ -n "${rss[$name.$k.idle]:-}" ]] || continue
            printf '%-13s %-6s %10s %11s %12s %9s\n' "$label" "$k" "$(mb "${rss[$name.$k.idle]}")" \
                "$(mb "${rss[$name.$k.full]:-}")" "$(mb "${rss[$name.$k.drained]:-}")" \
                "$(ratio "${rss[$name.$k.drained]:-}" "${rss[$name.$k.idle]}")"
        done
        rate="$(figures "$work/$name.fill.out" fill | cut -d' ' -f1) / $(figures "$work/$name.drain.out" drain | cut -d' ' -f1)"
        [[ "$rate" == "- / -" ]] || echo "$label: fill / drain $rate znodes/s"
    done
    notes
    echo "(RSS read from /proc/PID/status once every member holds the expected znodes and the RSS stopped falling)"
}

case "$mode" in
    one) run_one ;;
    matrix) run_matrix ;;
    memory) run_memory ;;
esac
