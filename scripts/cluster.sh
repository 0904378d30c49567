#!/usr/bin/env bash
# A whole local Runnel cluster under one folder: the README's quick start.
#
# Today the cluster is the coordination ensemble (coord-1..N); brokers join
# when the broker lands (see "BROKERS" below).
#
# Layout and ports (coord member K of N, base port B, peer base port Q):
#   <dir>/coord-K/zoo.cfg      tickTime, dataDir, clientPort=B+K-1,
#                              clientPortAddress=127.0.0.1, one server.J line
#                              per member: server.J=127.0.0.1:Q+J-1
#   <dir>/coord-K/data/myid    K (ensembles only; N=1 runs standalone)
#   <dir>/coord-K/coord.log, coord.pid
# Defaults: B=2181 (client ports 2181, 2182, 2183), Q=B+707 (peer ports 2888,
# 2889, 2890 for the default B, as ZooKeeper's habit of 2888).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPTS="$ROOT/scripts"

usage() {
    cat <<EOF
usage: $(basename "$0") up      [--coord N] [--brokers M] [--dir DIR] [--base-port PORT]
                               [--peer-base-port PORT] [--tick MS] [--timeout SECS]
       $(basename "$0") down    [--dir DIR] [--wipe]
       $(basename "$0") status  [--dir DIR]
       $(basename "$0") kill|pause|resume|stop|start|restart NAME [--dir DIR] [--timeout SECS]

  up        build and start the members, wait until every coord member serves
            and one is leader, print where to connect:
              coord: 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183
            Members already running are left alone; a folder that already holds
            a cluster is started as it was written (its zoo.cfg files win).
  down      stop every member with SIGTERM (--wipe: also delete data and logs)
  status    list members: name, pid, client port, peer port, role (leader,
            follower, standalone, not serving, paused, down) and zxid

  Watching failover, NAME being a member such as coord-2:
  kill NAME     SIGKILL (a crash)          pause NAME   SIGSTOP
  stop NAME     SIGTERM, wait for exit     resume NAME  SIGCONT
  start NAME    start a stopped member     restart NAME stop (if running) + start
  start/restart wait until the member serves again when a majority of the
  ensemble runs. Only processes whose command line names runnel-coord are
  ever signalled.

  --coord N            coord members (default 3; 1 = standalone, no server lines)
  --brokers M          brokers (default 0). Brokers are not built yet: any M > 0
                       is refused until the broker issue lands.
  --dir DIR            cluster folder, one sub-folder per member
                       (default: <repo>/var/cluster)
  --base-port PORT     client port of coord-1; coord-K gets PORT+K-1 (default 2181)
  --port PORT          same as --base-port (older spelling)
  --peer-base-port P   peer port of coord-1; coord-K gets P+K-1
                       (default: base port + 707, i.e. 2888 for 2181)
  --tick MS            tickTime of new members (default 2000)
  --timeout SECS       how long to wait for members/the ensemble (default 60)
  --wipe               with down: remove the member folders

Environment:
  RUNNEL_COORD_BIN  run this binary instead of building target/release/runnel-coord
EOF
}

die() {
    echo "cluster: $*" >&2
    exit 1
}

# Milliseconds since the epoch, for deadlines (bash 5: EPOCHREALTIME).
now_ms() {
    local t="${EPOCHREALTIME//[.,]/}" # the decimal mark follows the locale
    echo $((t / 1000))
}

[[ $# -gt 0 ]] || { usage >&2; exit 1; }
action="$1"
shift
case "$action" in
    up | down | status) ;;
    kill | pause | resume | stop | start | restart) ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage >&2; die "unknown action: $action" ;;
esac

name=""
case "$action" in
    kill | pause | resume | stop | start | restart)
        [[ $# -gt 0 && "$1" != -* ]] || die "$action needs a member name such as coord-2"
        name="$1"
        shift
        ;;
esac

dir="$ROOT/var/cluster"
wipe=false
coord_n=""
brokers=0
base_port=""
peer_base=""
tick=2000
timeout=60
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --wipe) wipe=true; shift ;;
        --coord) coord_n="${2:?--coord needs a value}"; shift 2 ;;
        --brokers) brokers="${2:?--brokers needs a value}"; shift 2 ;;
        --base-port | --port) base_port="${2:?$1 needs a value}"; shift 2 ;;
        --peer-base-port) peer_base="${2:?--peer-base-port needs a value}"; shift 2 ;;
        --tick) tick="${2:?--tick needs a value}"; shift 2 ;;
        --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for v in "$coord_n" "$brokers" "$base_port" "$peer_base" "$tick" "$timeout"; do
    [[ -z "$v" || "$v" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$v'"
done
[[ -z "$coord_n" ]] || ((coord_n >= 1 && coord_n <= 9)) || die "--coord takes 1..9 (1, 3 or 5 make sense)"
if [[ -n "$coord_n" ]] && ((coord_n > 1 && coord_n % 2 == 0)); then
    echo "cluster: warning: $coord_n members tolerate no more failures than $((coord_n - 1))" >&2
fi
[[ "$action" != up ]] || mkdir -p "$dir"
[[ ! -d "$dir" ]] || dir="$(cd "$dir" && pwd)"

# True if PID is a live (not zombie) runnel-coord process.
is_coord() {
    local pid="$1" state
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
    state="$(proc_state "$pid")"
    [[ "$state" != "Z" && "$state" != "X" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'runnel-coord'
}

# The one-letter state of PID (R, S, T = stopped, Z, ...; X if gone).
proc_state() {
    sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null || echo X
}

# Sends a four-letter word and prints the reply (empty if nothing answers).
four_letter() {
    local host="$1" port="$2" word="$3"
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 0
        printf '%s' "$word" >&3
        timeout 2 cat <&3 || true
    ) 2>/dev/null || true
}

# True if something accepts connections on 127.0.0.1:PORT.
port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Reads KEY from a zoo.cfg (last one wins).
cfg_value() {
    sed -n -E "s/^[[:space:]]*$2[[:space:]]*[=:][[:space:]]*(.*[^[:space:]])[[:space:]]*\$/\1/p" "$1" 2>/dev/null | tail -n 1
}

# Member folders, in id order.
coord_members() {
    local d
    for d in "$dir"/coord-*; do
        if [[ -d "$d" && -f "$d/zoo.cfg" ]]; then echo "$d"; fi
    done | sort -V
}

member_id() { basename "$1" | sed 's/^coord-//'; }
member_pid() { cat "$1/coord.pid" 2>/dev/null || true; }
member_port() { cfg_value "$1/zoo.cfg" clientPort; }
# Peer port from the member's own server.K line ("-" when standalone).
member_peer_port() {
    local line
    line="$(cfg_value "$1/zoo.cfg" "server\\.$(member_id "$1")")"
    [[ -n "$line" ]] && echo "$line" | cut -d: -f2 | cut -d';' -f1 || echo "-"
}
member_count() { coord_members | wc -l; }

# Role of a member as status shows it.
member_role() {
    local member="$1" pid reply mode
    pid="$(member_pid "$member")"
    is_coord "$pid" || { echo down; return; }
    [[ "$(proc_state "$pid")" == "T" ]] && { echo paused; return; }
    reply="$(four_letter 127.0.0.1 "$(member_port "$member")" srvr)"
    if [[ -z "$reply" ]]; then
        echo "not answering"
    elif grep -q 'not currently serving' <<<"$reply"; then
        echo "not serving"
    else
        mode="$(sed -n 's/^Mode: *//p' <<<"$reply")"
        echo "${mode:-unknown}"
    fi
}

member_zxid() {
    four_letter 127.0.0.1 "$(member_port "$1")" srvr | sed -n 's/^Zxid: *//p'
}

coord_bin() {
    if [[ -n "${RUNNEL_COORD_BIN:-}" ]]; then
        echo "$RUNNEL_COORD_BIN"
        return
    fi
    (cd "$ROOT" && cargo build --release --quiet -p runnel-coord) || die "cargo build -p runnel-coord failed"
    echo "${CARGO_TARGET_DIR:-$ROOT/target}/release/runnel-coord"
}

# Starts one member from its existing zoo.cfg, waiting for the process only.
start_member() {
    local member="$1"
    "$SCRIPTS/coord-start.sh" --id "$(member_id "$member")" --dir "$member" \
        --config "$member/zoo.cfg" --wait running --timeout "$timeout" >/dev/null
}

# Waits until every member serves and (ensemble) exactly one is leader.
wait_ensemble() {
    local deadline=$(($(now_ms) + timeout * 1000)) member roles leaders bad n
    n="$(member_count)"
    while true; do
        roles=""
        leaders=0
        bad=0
        while read -r member; do
            role="$(member_role "$member")"
            roles+="$(basename "$member")=$role "
            case "$role" in
                leader) leaders=$((leaders + 1)) ;;
                follower) ;;
                standalone) ((n == 1)) || bad=1 ;;
                *) bad=1 ;;
            esac
        done < <(coord_members)
        if ((bad == 0)) && { ((n == 1)) || ((leaders == 1)); }; then
            return 0
        fi
        if (($(now_ms) >= deadline)); then
            echo "cluster: ensemble not ready within ${timeout}s: $roles" >&2
            return 1
        fi
        sleep 0.1
    done
}

connect_string() {
    local member out=""
    while read -r member; do
        out+="${out:+,}127.0.0.1:$(member_port "$member")"
    done < <(coord_members)
    echo "$out"
}

cmd_up() {
    local n existing member k cport pport servers="" pid
    if ((brokers > 0)); then
        die "brokers are not available yet (the broker issue); run with --brokers 0 (the default) for the coord ensemble alone"
    fi
    # ---- coordination ensemble ----------------------------------------------
    existing="$(member_count)"
    if ((existing > 0)); then
        n="$existing"
        [[ -z "$coord_n" || "$coord_n" == "$n" ]] ||
            die "$dir already holds a $n-member ensemble; use 'down --wipe' first or another --dir"
        member="$(coord_members | head -n 1)"
        [[ -z "$base_port" || "$base_port" == "$(member_port "$member")" ]] ||
            die "$dir was written with base port $(member_port "$member"); use 'down --wipe' first or another --dir"
    else
        n="${coord_n:-3}"
        base_port="${base_port:-2181}"
        peer_base="${peer_base:-$((base_port + 707))}"
        ((base_port + n - 1 <= 65535 && peer_base + n - 1 <= 65535)) || die "ports out of range"
        if ((n > 1)); then
            for ((k = 1; k <= n; k++)); do
                servers+="${servers:+,}$k=127.0.0.1:$((peer_base + k - 1))"
            done
        fi
        # Every port must be free before anything starts: a foreign server on
        # a client port would answer our readiness checks.
        for ((k = 1; k <= n; k++)); do
            cport=$((base_port + k - 1))
            port_busy "$cport" && die "client port $cport is in use (--base-port to move)"
            if ((n > 1)); then
                pport=$((peer_base + k - 1))
                port_busy "$pport" && die "peer port $pport is in use (--peer-base-port to move)"
            fi
        done
    fi
    RUNNEL_COORD_BIN="$(coord_bin)"
    export RUNNEL_COORD_BIN
    if ((existing > 0)); then
        while read -r member; do
            pid="$(member_pid "$member")"
            if is_coord "$pid"; then
                echo "cluster: $(basename "$member") already running (pid $pid)" >&2
            else
                start_member "$member"
            fi
        done < <(coord_members)
    else
        for ((k = 1; k <= n; k++)); do
            "$SCRIPTS/coord-start.sh" --id "$k" --dir "$dir/coord-$k" --port $((base_port + k - 1)) \
                ${servers:+--servers "$servers"} --tick "$tick" --wait running \
                --timeout "$timeout" >/dev/null
        done
    fi
    wait_ensemble || die "see the logs in $dir/coord-*/coord.log; 'status' shows the members"

    # ---- BROKERS (broker issue) ----------------------------------------------
    # Brokers are not built yet. When runnel-broker lands, start broker-1..M
    # here: one folder per broker under $dir/broker-K, broker.id=K, listeners
    # on 9092+K-1, zookeeper.connect=$(connect_string); wait until each is
    # registered under /brokers/ids, then print "brokers: host:port,...".
    # down/status/kill/... then cover broker-K as well.
    echo "coord: $(connect_string)"
}

cmd_down() {
    local member
    while read -r member; do
        "$SCRIPTS/coord-stop.sh" --dir "$member" --timeout "$timeout"
    done < <(coord_members)
    if $wipe; then
        # Remove only what we created, never an arbitrary --dir wholesale.
        while read -r member; do
            rm -rf -- "$member"
            echo "cluster: wiped $member" >&2
        done < <(coord_members)
        rmdir -- "$dir" 2>/dev/null || true
    fi
}

cmd_status() {
    local member pid port peer role zxid
    [[ -n "$(coord_members)" ]] || die "no cluster in $dir ('up' starts one)"
    printf '%-10s %-8s %-7s %-6s %-12s %s\n' member pid client peer role zxid
    while read -r member; do
        pid="$(member_pid "$member")"
        port="$(member_port "$member")"
        peer="$(member_peer_port "$member")"
        role="$(member_role "$member")"
        zxid="-"
        case "$role" in
            leader | follower | standalone) zxid="$(member_zxid "$member")" ;;
            down) pid="-" ;;
        esac
        printf '%-10s %-8s %-7s %-6s %-12s %s\n' "$(basename "$member")" "$pid" "${port:--}" "$peer" "$role" "${zxid:--}"
    done < <(coord_members)
}

# ---- single-member actions ---------------------------------------------------

# Waits until PID's state satisfies TEST (a command taking the state letter).
wait_state() {
    local pid="$1" what="$2" deadline=$(($(now_ms) + timeout * 1000))
    shift 2
    until "$@" "$(proc_state "$pid")"; do
        (($(now_ms) < deadline)) || die "pid $pid not $what within ${timeout}s"
        sleep 0.05
    done
}
is_stopped() { [[ "$1" == T ]]; }
is_not_stopped() { [[ "$1" != T ]]; }
is_gone() { [[ "$1" == Z || "$1" == X ]]; }

# Runs after a member was (re)started: waits for it to serve when a majority
# runs, else says why it will not serve yet.
wait_member_serving() {
    local member="$1" running=0 n m deadline role
    n="$(member_count)"
    while read -r m; do
        is_coord "$(member_pid "$m")" && [[ "$(proc_state "$(member_pid "$m")")" != T ]] && running=$((running + 1))
    done < <(coord_members)
    if ((running * 2 <= n)); then
        echo "cluster: $(basename "$member") started; it serves once a majority ($((n / 2 + 1)) of $n) runs" >&2
        return 0
    fi
    deadline=$(($(now_ms) + timeout * 1000))
    while true; do
        role="$(member_role "$member")"
        case "$role" in
            leader | follower | standalone) break ;;
            down) die "$(basename "$member") exited; see $member/coord.log" ;;
        esac
        (($(now_ms) < deadline)) || die "$(basename "$member") not serving within ${timeout}s (role: $role); see $member/coord.log"
        sleep 0.1
    done
    echo "cluster: $(basename "$member") serving as $role (pid $(member_pid "$member"))" >&2
}

cmd_member() {
    local member pid role
    case "$name" in
        coord-[0-9]*) ;;
        broker-*) die "brokers are not available yet (broker issue); no $name" ;;
        *) die "no member named '$name' (members are coord-1..N)" ;;
    esac
    member="$dir/$name"
    [[ -f "$member/zoo.cfg" ]] || die "no member $name in $dir ('up' first?)"
    pid="$(member_pid "$member")"
    if [[ "$action" != start && "$action" != restart ]] && ! is_coord "$pid"; then
        die "$name is not running"
    fi
    case "$action" in
        kill)
            role="$(member_role "$member")"
            kill -KILL "$pid"
            wait_state "$pid" "gone after SIGKILL" is_gone
            rm -f "$member/coord.pid"
            echo "cluster: killed $name (pid $pid, SIGKILL; was $role)" >&2
            ;;
        pause)
            role="$(member_role "$member")"
            kill -STOP "$pid"
            wait_state "$pid" "stopped after SIGSTOP" is_stopped
            echo "cluster: paused $name (pid $pid, SIGSTOP; was $role)" >&2
            ;;
        resume)
            kill -CONT "$pid"
            wait_state "$pid" "running after SIGCONT" is_not_stopped
            echo "cluster: resumed $name (pid $pid, SIGCONT)" >&2
            ;;
        stop)
            role="$(member_role "$member")"
            "$SCRIPTS/coord-stop.sh" --dir "$member" --timeout "$timeout"
            echo "cluster: stopped $name (was $role)" >&2
            ;;
        start | restart)
            if is_coord "$pid"; then
                [[ "$action" == restart ]] || die "$name is already running (pid $pid)"
                "$SCRIPTS/coord-stop.sh" --dir "$member" --timeout "$timeout"
            fi
            RUNNEL_COORD_BIN="$(coord_bin)"
            export RUNNEL_COORD_BIN
            start_member "$member"
            wait_member_serving "$member"
            ;;
    esac
}

case "$action" in
    up | down | status) "cmd_$action" ;;
    *) cmd_member ;;
esac
