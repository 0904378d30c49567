#!/usr/bin/env bash
# Starts one runnel-coord member in the background, like ZooKeeper's
# `zkServer.sh start`, and prints its connect string once it answers `ruok`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<EOF
usage: $(basename "$0") [--id N] [--dir DIR] [--port PORT] [--servers LIST] [--tick MS]
                        [--config FILE] [--wait serving|running] [--timeout SECS]

Starts runnel-coord in the background and waits until it serves clients.
Prints the connect string (127.0.0.1:PORT) on stdout; everything else on stderr.

  --id N          member id (default 1); names the default folder and, in an
                  ensemble, is written to DIR/data/myid
  --dir DIR       member folder: zoo.cfg, data/, coord.log, coord.pid
                  (default: <repo>/var/coord-N)
  --port PORT     client port written to zoo.cfg (default 2181)
  --servers LIST  ensemble members as K=HOST:PEERPORT[,K=HOST:PEERPORT...]
                  (e.g. 1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890);
                  written as server.K lines, and --id goes to the myid file.
                  Without it the member is standalone.
  --tick MS       tickTime written to zoo.cfg (default 2000)
  --config FILE   use this zoo.cfg instead of writing one (not with --port,
                  --servers or --tick)
  --wait W        serving: wait for 'ruok' and a serving 'srvr' (default);
                  running: wait for 'ruok' only -- an ensemble member serves
                  only once a majority runs, so start them all with this
                  and then wait for the ensemble (scripts/cluster.sh does)
  --timeout SECS  how long to wait (default 30)

Environment:
  RUNNEL_COORD_BIN  run this binary instead of building target/release/runnel-coord
EOF
}

die() {
    echo "coord-start: $*" >&2
    exit 1
}

# Milliseconds since the epoch, for deadlines (bash 5: EPOCHREALTIME).
now_ms() {
    local t="${EPOCHREALTIME//[.,]/}" # the decimal mark follows the locale
    echo $((t / 1000))
}

id=1
dir=""
port=""
config=""
servers=""
tick=""
wait_for=serving
timeout=30
while [[ $# -gt 0 ]]; do
    case "$1" in
        --id) id="${2:?--id needs a value}"; shift 2 ;;
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --port) port="${2:?--port needs a value}"; shift 2 ;;
        --config) config="${2:?--config needs a value}"; shift 2 ;;
        --servers) servers="${2:?--servers needs a value}"; shift 2 ;;
        --tick) tick="${2:?--tick needs a value}"; shift 2 ;;
        --wait) wait_for="${2:?--wait needs a value}"; shift 2 ;;
        --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$id" =~ ^[0-9]+$ ]] || die "--id must be a number, got '$id'"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got '$timeout'"
[[ -z "$port" || -z "$config" ]] || die "--port and --config exclude each other (the port comes from the config)"
[[ -z "$config" || -z "$servers$tick" ]] || die "--servers and --tick write a zoo.cfg; they do not go with --config"
[[ -z "$tick" || "$tick" =~ ^[0-9]+$ ]] || die "--tick must be milliseconds, got '$tick'"
[[ "$wait_for" == serving || "$wait_for" == running ]] || die "--wait takes serving or running, got '$wait_for'"
# K=HOST:PORT entries, checked now so a typo never reaches the zoo.cfg.
server_lines=""
if [[ -n "$servers" ]]; then
    IFS=',' read -r -a entries <<<"$servers"
    for entry in "${entries[@]}"; do
        [[ "$entry" =~ ^([0-9]+)=([^=:,]+:[0-9]+(:[0-9]+)?)$ ]] ||
            die "--servers entry '$entry' is not K=HOST:PEERPORT"
        server_lines+="server.${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"$'\n'
    done
    grep -q "^server\\.$id=" <<<"$server_lines" || die "--servers has no entry for --id $id"
fi
dir="${dir:-$ROOT/var/coord-$id}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
pidfile="$dir/coord.pid"
log="$dir/coord.log"

# True if PID is a live (not zombie) runnel-coord process.
is_coord() {
    local pid="$1" state
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    state="$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null || echo X)"
    [[ "$state" != "Z" && "$state" != "X" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'runnel-coord'
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

# Reads KEY from a zoo.cfg (last one wins, surrounding blanks dropped).
cfg_value() {
    sed -n -E "s/^[[:space:]]*$2[[:space:]]*[=:][[:space:]]*(.*[^[:space:]])[[:space:]]*\$/\1/p" "$1" | tail -n 1
}

if [[ -f "$pidfile" ]]; then
    old="$(cat "$pidfile")"
    if [[ "$old" =~ ^[0-9]+$ ]] && is_coord "$old"; then
        die "runnel-coord already running in $dir (pid $old); stop it with scripts/coord-stop.sh --dir $dir"
    fi
    echo "coord-start: removing stale pid file (pid $old is gone)" >&2
    rm -f "$pidfile"
fi

if [[ -n "$config" ]]; then
    [[ -f "$config" ]] || die "no such config file: $config"
    config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
    port="$(cfg_value "$config" clientPort)"
    host="$(cfg_value "$config" clientPortAddress)"
    port="${port:-2181}"
    # A server bound to all addresses answers on loopback too.
    [[ -z "$host" || "$host" == "0.0.0.0" ]] && host=127.0.0.1
else
    port="${port:-2181}"
    host=127.0.0.1
    config="$dir/zoo.cfg"
    mkdir -p "$dir/data"
    cat >"$config" <<EOF
# Written by scripts/coord-start.sh; pass --config to use your own.
tickTime=${tick:-2000}
dataDir=$dir/data
clientPort=$port
clientPortAddress=$host
4lw.commands.whitelist=*
EOF
    if [[ -n "$server_lines" ]]; then
        printf '%s' "$server_lines" >>"$config"
        echo "$id" >"$dir/data/myid"
    fi
fi
[[ "$port" =~ ^[0-9]+$ ]] || die "bad client port '$port'"

# Something else on the port would answer our 'ruok' and fool the wait below.
if [[ -n "$(four_letter "$host" "$port" ruok)" ]] || (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    die "$host:$port is already in use"
fi

if [[ -n "${RUNNEL_COORD_BIN:-}" ]]; then
    bin="$RUNNEL_COORD_BIN"
else
    (cd "$ROOT" && cargo build --release --quiet -p runnel-coord) || die "cargo build -p runnel-coord failed"
    bin="${CARGO_TARGET_DIR:-$ROOT/target}/release/runnel-coord"
fi
[[ -x "$bin" ]] || die "no runnel-coord binary at $bin"

# setsid: the member must not die with the terminal's Ctrl-C.
setsid "$bin" --config "$config" >>"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"

# True while our child runs: an exited child stays a zombie until this script
# ends, so `kill -0` alone would not notice a crash during start-up.
running() {
    local state
    state="$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null || echo X)"
    [[ "$state" != "Z" && "$state" != "X" ]]
}

deadline=$(($(now_ms) + timeout * 1000))
# Ready: 'ruok' says imok (ZooKeeper says so before it serves sessions,
# hence also no "not currently serving requests" from 'srvr', unless we
# were asked to wait for the process alone).
ready() {
    [[ "$(four_letter "$host" "$port" ruok)" == "imok" ]] || return 1
    [[ "$wait_for" == running ]] && return 0
    ! four_letter "$host" "$port" srvr | grep -q 'not currently serving'
}

while ! ready; do
    if ! running "$pid"; then
        rm -f "$pidfile"
        echo "coord-start: runnel-coord exited during start-up; last lines of $log:" >&2
        tail -n 20 "$log" >&2 || true
        exit 1
    fi
    if (($(now_ms) >= deadline)); then
        kill -TERM "$pid" 2>/dev/null || true
        rm -f "$pidfile"
        echo "coord-start: $host:$port not $wait_for within ${timeout}s (stopped pid $pid); see $log" >&2
        exit 1
    fi
    sleep 0.1
done

echo "coord-start: runnel-coord $id $wait_for (pid $pid, dir $dir)" >&2
echo "$host:$port"
