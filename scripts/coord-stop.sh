#!/usr/bin/env bash
# Stops a runnel-coord member started by coord-start.sh and waits until it is gone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<EOF
usage: $(basename "$0") [--id N] [--dir DIR] [--kill] [--timeout SECS]

Sends SIGTERM (SIGKILL with --kill) to the member whose pid is in DIR/coord.pid
and waits for it to exit.

  --id N          member id (default 1); names the default folder
  --dir DIR       member folder (default: <repo>/var/coord-N)
  --kill          SIGKILL instead of SIGTERM (a crash, for failure tests)
  --timeout SECS  how long to wait for the exit (default 30)
EOF
}

die() {
    echo "coord-stop: $*" >&2
    exit 1
}

# Milliseconds since the epoch, for deadlines (bash 5: EPOCHREALTIME).
now_ms() {
    local t="${EPOCHREALTIME//[.,]/}" # the decimal mark follows the locale
    echo $((t / 1000))
}

id=1
dir=""
signal=TERM
timeout=30
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
dir="${dir:-$ROOT/var/coord-$id}"
pidfile="$dir/coord.pid"

# True if PID is a live (not zombie) runnel-coord process.
is_coord() {
    local pid="$1" state
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    state="$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null || echo X)"
    [[ "$state" != "Z" && "$state" != "X" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'runnel-coord'
}

if [[ ! -f "$pidfile" ]]; then
    echo "coord-stop: no runnel-coord running in $dir (no pid file)" >&2
    exit 0
fi
pid="$(cat "$pidfile")"
# Never signal a pid that has been reused by another program.
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! is_coord "$pid"; then
    echo "coord-stop: pid $pid is not a running runnel-coord; removing stale $pidfile" >&2
    rm -f "$pidfile"
    exit 0
fi

kill "-$signal" "$pid"
# A SIGSTOPped member (cluster.sh pause) acts on SIGTERM only once resumed.
if [[ "$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null)" == "T" ]]; then
    kill -CONT "$pid" 2>/dev/null || true
fi
deadline=$(($(now_ms) + timeout * 1000))
while is_coord "$pid"; do
    if (($(now_ms) >= deadline)); then
        die "pid $pid still running ${timeout}s after SIG$signal (try --kill)"
    fi
    sleep 0.1
done
rm -f "$pidfile"
echo "coord-stop: stopped runnel-coord (pid $pid, SIG$signal)" >&2
