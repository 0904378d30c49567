#!/usr/bin/env bash
# Leader-loss recovery of a coordination ensemble: the time from `kill -9` of
# the leader to the first successful write of a client connected to the other
# members. runnel-coord, and Apache ZooKeeper 3.8 for comparison with
# --with-zookeeper. Figures only; nothing here is a pass/fail test.
#
# One round: wait until every member serves and one leads; start
# `runnel-bench coord-writer` (one session, setData in a closed loop, each
# request bounded by --request-timeout-ms) connected to the followers only;
# once it has written --warmup times, note the time T and SIGKILL the leader;
# the writer reports the end of its first successful write that started once
# the process was gone (the kernel takes a moment), minus T. The killed member is then restarted with its data and the next
# round waits for the ensemble again.
set -euo pipefail

PROG=coord-failover
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
ZK_SERVER_SH=/usr/share/zookeeper/bin/zkServer.sh

usage() {
    cat <<EOF
usage: $(basename "$0") [--runs N] [--members N] [--tick MS] [--with-zookeeper]
                        [--session-timeout-ms MS] [--request-timeout-ms MS]
                        [--warmup WRITES] [--timeout SECS]

Starts an ensemble on free 127.0.0.1 ports in a temp folder, kills its leader
with SIGKILL N times (restarting the killed member in between) and prints,
per run, the time from the kill to the first successful write, then the median.

  --runs N                kills per system (default 5)
  --members N             ensemble size (default 3)
  --tick MS               tickTime (default 2000, ZooKeeper's default)
  --with-zookeeper        also run against Apache ZooKeeper 3.8 (Debian package)
  --session-timeout-ms MS writer's session timeout (default 10000)
  --request-timeout-ms MS writer gives up on one write after this (default 1000)
  --warmup WRITES         successful writes before each kill (default 200)
  --timeout SECS          longest wait for an ensemble, a writer or a recovery
                          (default 120)
  --keep                  keep the temp folder (member logs, writer log)

Environment:
  RUNNEL_COORD_BIN  use this runnel-coord binary instead of building it
EOF
}

runs=5
members=3
tick=2000
with_zk=false
session_timeout_ms=10000
request_timeout_ms=1000
warmup=200
timeout=120
keep=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) runs="${2:?}"; shift 2 ;;
        --members) members="${2:?}"; shift 2 ;;
        --tick) tick="${2:?}"; shift 2 ;;
        --with-zookeeper) with_zk=true; shift ;;
        --keep) keep=true; shift ;;
        --session-timeout-ms) session_timeout_ms="${2:?}"; shift 2 ;;
        --request-timeout-ms) request_timeout_ms="${2:?}"; shift 2 ;;
        --warmup) warmup="${2:?}"; shift 2 ;;
        --timeout) timeout="${2:?}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for n in "$runs" "$members" "$tick" "$session_timeout_ms" "$request_timeout_ms" "$warmup" "$timeout"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
((members >= 3)) || die "--members must be at least 3 (a leader must be killable without losing quorum)"
((runs >= 1)) || die "--runs must be at least 1"

target="${CARGO_TARGET_DIR:-$ROOT/target}/release"
work="$(mktemp -d "${TMPDIR:-/tmp}/coord-failover.XXXXXX")"
declare -a PIDS=() CPORTS=() PPORTS=() EPORTS=()
kind=""
writer_pid=""

cleanup() {
    local k
    if [[ -n "$writer_pid" ]]; then
        kill -KILL "$writer_pid" 2>/dev/null || true
    fi
    for k in "${!PIDS[@]}"; do
        if [[ -n "${PIDS[$k]}" ]]; then kill -KILL "${PIDS[$k]}" 2>/dev/null || true; fi
    done
    if $keep; then
        echo "coord-failover: kept $work" >&2
    else
        rm -rf -- "$work"
    fi
}
trap cleanup EXIT
# A writer that died must not take us down through SIGPIPE on its FIFO.
trap '' PIPE

# Mode of member K: leader, follower, "not serving", or "" (no answer).
member_mode() {
    local reply
    reply="$(four_letter 127.0.0.1 "${CPORTS[$1]}" srvr)"
    if grep -q 'not currently serving' <<<"$reply"; then
        echo "not serving"
    else
        sed -n 's/^Mode: *//p' <<<"$reply"
    fi
}

# Writes member K's config folder for $kind.
write_member() {
    local k="$1" folder="$work/$kind/m$1" j
    mkdir -p "$folder/data"
    {
        echo "tickTime=$tick"
        echo "dataDir=$folder/data"
        echo "clientPort=${CPORTS[$k]}"
        echo "clientPortAddress=127.0.0.1"
        echo "4lw.commands.whitelist=*"
        if [[ "$kind" == zk ]]; then
            echo "initLimit=10"
            echo "syncLimit=5"
            echo "admin.enableServer=false"
            for ((j = 1; j <= members; j++)); do
                echo "server.$j=127.0.0.1:${PPORTS[$j]}:${EPORTS[$j]}"
            done
        else
            for ((j = 1; j <= members; j++)); do
                echo "server.$j=127.0.0.1:${PPORTS[$j]}"
            done
        fi
    } >"$folder/zoo.cfg"
    echo "$k" >"$folder/data/myid"
}

start_member() {
    local k="$1" folder="$work/$kind/m$1"
    if [[ "$kind" == zk ]]; then
        # start-foreground execs java, so $! is the JVM's pid.
        setsid "$ZK_SERVER_SH" start-foreground "$folder/zoo.cfg" >>"$folder/server.log" 2>&1 </dev/null &
    else
        setsid "$coord_bin" --config "$folder/zoo.cfg" >>"$folder/server.log" 2>&1 </dev/null &
    fi
    PIDS[k]=$!
    # Out of the job table: no "Killed" notice when we SIGKILL it (bash still
    # reaps it; alive() treats a zombie as gone).
    disown "$!"
}

start_ensemble() {
    local ports k
    kind="$1"
    read -r -a ports <<<"$(free_ports $((members * 3)))"
    for ((k = 1; k <= members; k++)); do
        CPORTS[k]="${ports[$(((k - 1) * 3))]}"
        PPORTS[k]="${ports[$(((k - 1) * 3 + 1))]}"
        EPORTS[k]="${ports[$(((k - 1) * 3 + 2))]}"
    done
    for ((k = 1; k <= members; k++)); do
        write_member "$k"
        start_member "$k"
    done
}

stop_ensemble() {
    stop_pids "${PIDS[@]}"
    PIDS=()
}

# Prints the leader's member number once every member serves and exactly one
# leads; returns 1 after --timeout.
wait_ensemble() {
    local deadline=$(($(now_ms) + timeout * 1000)) k mode leader leaders ok
    while true; do
        leaders=0
        ok=1
        leader=""
        for ((k = 1; k <= members; k++)); do
            alive "${PIDS[$k]}" || { echo "coord-failover: $kind member $k exited; log:" >&2; tail -n 20 "$work/$kind/m$k/server.log" >&2; return 1; }
            mode="$(member_mode "$k")"
            case "$mode" in
                leader) leaders=$((leaders + 1)); leader="$k" ;;
                follower) ;;
                *) ok=0 ;;
            esac
        done
        if ((ok == 1 && leaders == 1)); then
            echo "$leader"
            return 0
        fi
        if (($(now_ms) >= deadline)); then
            echo "coord-failover: $kind ensemble not ready within ${timeout}s" >&2
            return 1
        fi
        sleep 0.1
    done
}

# Starts the writer on CONNECT, talking to it through two FIFOs (a plain
# background job: its pid can be waited for, its pipes outlive it).
start_writer() {
    rm -f "$work/writer.in" "$work/writer.out"
    mkfifo "$work/writer.in" "$work/writer.out"
    "$target/runnel-bench" coord-writer --server "$1" \
        --session-timeout-ms "$session_timeout_ms" --request-timeout-ms "$request_timeout_ms" \
        --warmup "$warmup" --max-wait-s "$timeout" \
        <"$work/writer.in" >"$work/writer.out" 2>>"$work/writer.log" &
    writer_pid=$!
    exec {writer_in}>"$work/writer.in" {writer_out}<"$work/writer.out"
}

# Reads one line from the writer into $line within SECS (fractions allowed).
writer_line() {
    line=""
    read -r -t "$1" line <&"$writer_out"
}

# Waits up to the timeout for the writer to print a line starting with WORD.
writer_expect() {
    local word="$1" deadline=$(($(now_ms) + timeout * 1000))
    while (($(now_ms) < deadline)); do
        if writer_line 1; then
            [[ "$line" == "$word"* ]] && return 0
            echo "coord-failover: writer said: $line" >&2
        elif ! alive "$writer_pid"; then
            echo "coord-failover: writer exited; its log:" >&2
            tail -n 20 "$work/writer.log" >&2 || true
            return 1
        fi
    done
    echo "coord-failover: no '$word' from the writer within ${timeout}s" >&2
    return 1
}

stop_writer() {
    local deadline=$(($(now_ms) + 15 * 1000))
    [[ -n "$writer_pid" ]] || return 0
    { echo quit >&"$writer_in"; } 2>/dev/null || true
    writer_expect DONE >/dev/null 2>&1 || true
    while alive "$writer_pid"; do
        (($(now_ms) < deadline)) || kill -KILL "$writer_pid" 2>/dev/null || true
        sleep 0.05
    done
    wait "$writer_pid" 2>/dev/null || true
    exec {writer_in}>&- {writer_out}<&-
    writer_pid=""
}

# Field KEY=value of a RECOVERY line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

median() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

results="$work/results"
: >"$results"

# run_system KIND: all rounds against one kind of ensemble.
run_system() {
    local name="$1" r leader connect k t_kill new_leader election_ms mode recovery killed_pid
    start_ensemble "$name"
    echo "== $name: $members members on 127.0.0.1 ports ${CPORTS[*]:1} (peer ${PPORTS[*]:1}), tickTime=$tick" >&2
    for ((r = 1; r <= runs; r++)); do
        leader="$(wait_ensemble)" || return 1
        connect=""
        for ((k = 1; k <= members; k++)); do
            ((k == leader)) || connect+="${connect:+,}127.0.0.1:${CPORTS[$k]}"
        done
        start_writer "$connect"
        writer_expect READY || return 1

        killed_pid="${PIDS[$leader]}"
        t_kill="$(now_us)"
        kill -KILL "$killed_pid"
        # Count only writes sent once the process is really gone: on a busy
        # machine a SIGKILLed leader may still commit for a few ms.
        while alive "$killed_pid"; do :; done
        { echo "mark $t_kill $(now_us)" >&"$writer_in"; } 2>/dev/null || true
        # Until the writer reports, watch the others for the new leader.
        new_leader="-"
        election_ms="-"
        recovery=""
        local deadline=$(($(now_ms) + timeout * 1000))
        while [[ -z "$recovery" ]]; do
            if writer_line 0.02; then
                case "$line" in
                    RECOVERY* | NORECOVERY*) recovery="$line" ;;
                    *) echo "coord-failover: writer said: $line" >&2 ;;
                esac
                continue
            fi
            if [[ "$new_leader" == "-" ]]; then
                for ((k = 1; k <= members; k++)); do
                    ((k == leader)) && continue
                    mode="$(member_mode "$k")"
                    if [[ "$mode" == leader ]]; then
                        new_leader="$k"
                        election_ms="$((($(now_us) - t_kill) / 1000))"
                        break
                    fi
                done
            fi
            alive "$writer_pid" || { echo "coord-failover: writer exited" >&2; tail -n 20 "$work/writer.log" >&2; return 1; }
            (($(now_ms) < deadline)) || { echo "coord-failover: no recovery report within ${timeout}s" >&2; return 1; }
        done
        stop_writer
        { wait "$killed_pid"; } 2>/dev/null || true

        if [[ "$recovery" == RECOVERY* ]]; then
            printf '%s %d %s %s %s %s %s %s %s\n' "$name" "$r" "m$leader" "m$new_leader" \
                "$(field recovery_ms "$recovery")" "$election_ms" "$(field failed "$recovery")" \
                "$(field errors "$recovery")" "$(field sessions "$recovery")" >>"$results"
        else
            printf '%s %d %s %s %s %s %s %s %s\n' "$name" "$r" "m$leader" "m$new_leader" \
                "none" "$election_ms" "$(field failed "$recovery")" "$(field errors "$recovery")" \
                "$(field sessions "$recovery")" >>"$results"
        fi
        tail -n 1 "$results" | awk -v t="$(date -u -d "@${t_kill:0:-6}.${t_kill: -6}" +%H:%M:%S.%6N)" '{ printf "coord-failover: %s run %s: killed leader %s at %s UTC, new leader %s, first write after %s ms\n", $1, $2, $3, t, $4, $5 }' >&2

        # Bring the killed member back with its data for the next round.
        start_member "$leader"
    done
    wait_ensemble >/dev/null || return 1
    stop_ensemble
}

(cd "$ROOT" && cargo build --release --quiet -p runnel-bench) || die "cargo build -p runnel-bench failed"
coord_bin="$(runnel_bin RUNNEL_COORD_BIN runnel-coord)" || die "cargo build -p runnel-coord failed"

notes=""
run_system runnel || { notes+="runnel-coord: failed (see above)"$'\n'; stop_ensemble; stop_writer; }
if $with_zk; then
    if [[ -x "$ZK_SERVER_SH" ]]; then
        run_system zk || { notes+="ZooKeeper: failed (see above)"$'\n'; stop_ensemble; stop_writer; }
    else
        notes+="ZooKeeper: not installed ($ZK_SERVER_SH); apt-get install zookeeper"$'\n'
    fi
fi

echo
echo "coord-failover: members=$members tickTime=${tick}ms session_timeout=${session_timeout_ms}ms request_timeout=${request_timeout_ms}ms ($(nproc) CPUs)"
printf '%-7s %4s %7s %10s %12s %12s %7s %-28s %s\n' system run killed "new leader" "recovery ms" "election ms" failed errors "new sessions"
while read -r name r killed new rec el failed errors sessions; do
    printf '%-7s %4s %7s %10s %12s %12s %7s %-28s %s\n' "$name" "$r" "$killed" "$new" "$rec" "$el" "$failed" "$errors" "$sessions"
done <"$results"
for name in runnel zk; do
    grep -q "^$name " "$results" || continue
    echo "median recovery ($name): $(awk -v n="$name" '$1 == n && $5 != "none" { print $5 }' "$results" | median) ms"
done
echo "(recovery: kill -9 of the leader to the end of the first successful setData that started after it;"
echo " election: when 'srvr' on a survivor first said leader, polled every ~20 ms; errors: failed attempts by kind;"
echo " new sessions: sessions the writer had to open because its own was lost -- 0 means the session survived)"
printf '%s' "$notes"
