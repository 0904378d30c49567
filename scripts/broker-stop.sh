#!/usr/bin/env bash
# Stops a runnel-broker started by broker-start.sh and waits until it is gone.
# SIGTERM closes every log cleanly (checkpoints, clean-shutdown marker).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<EOF2
usage: $(basename "$0") [--id N] [--dir DIR] [--kill] [--timeout SECS]

Sends SIGTERM (SIGKILL with --kill) to the broker whose pid is in DIR/broker.pid
and waits for it to exit.

  --id N          broker id (default 1); names the default folder
  --dir DIR       broker folder (default: <repo>/var/broker-N)
  --kill          SIGKILL instead of SIGTERM (a crash, for failure tests)
  --timeout SECS  how long to wait for the exit (default 60)
EOF2
}

die() {
    echo "broker-stop: $*" >&2
    exit 1
}

now_ms() {
    local t="${EPOCHREALTIME//[.,]/}"
    echo $((t / 1000))
}

id=1
dir=""
signal=TERM
timeout=60
while [[ $# -gt 0 ]]; do
    case "$1" in
        --id) id="${2:?--id needs a value}"; shift 2 ;;
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --kill) signal=KILL; shift ;;
        --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got '$timeout'"
dir="${dir:-$ROOT/var/broker-$id}"
pidfile="$dir/broker.pid"

is_broker() {
    local pid="$1" state
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    state="$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null || echo X)"
    [[ "$state" != "Z" && "$state" != "X" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'runnel-broker'
}

if [[ ! -f "$pidfile" ]]; then
    echo "broker-stop: no runnel-broker running in $dir (no pid file)" >&2
    exit 0
fi
pid="$(cat "$pidfile")"
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! is_broker "$pid"; then
    echo "broker-stop: pid $pid is not a running runnel-broker; removing stale $pidfile" >&2
    rm -f "$pidfile"
    exit 0
fi

kill "-$signal" "$pid"
deadline=$(($(now_ms) + timeout * 1000))
while is_broker "$pid"; do
    if (($(now_ms) >= deadline)); then
        die "pid $pid still running ${timeout}s after SIG$signal (try --kill)"
    fi
    sleep 0.1
done
rm -f "$pidfile"
echo "broker-stop: stopped runnel-broker (pid $pid, SIG$signal)" >&2
