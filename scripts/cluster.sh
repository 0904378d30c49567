#!/usr/bin/env bash
# A whole local Runnel cluster under one folder: the README's quick start.
#
# Today the cluster is one coordination member; brokers join when the broker
# lands (see the TODO in `up`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPTS="$ROOT/scripts"

usage() {
    cat <<EOF
usage: $(basename "$0") up     [--dir DIR] [--port PORT]
       $(basename "$0") down   [--dir DIR] [--wipe]
       $(basename "$0") status [--dir DIR]

  up       build and start the members, print where to connect
  down     stop every member (--wipe: also delete their data and logs)
  status   list members with pid, client port and role

  --dir DIR    cluster folder, one sub-folder per member (default: <repo>/var/cluster)
  --port PORT  client port of coord member 1 (default 2181)
EOF
}

die() {
    echo "cluster: $*" >&2
    exit 1
}

[[ $# -gt 0 ]] || { usage >&2; exit 1; }
action="$1"
shift
case "$action" in
    up | down | status) ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage >&2; die "unknown action: $action" ;;
esac

dir="$ROOT/var/cluster"
wipe=false
port=2181
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --wipe) wipe=true; shift ;;
        --port) port="${2:?--port needs a value}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

# True if PID is a live (not zombie) runnel-coord process.
is_coord() {
    local pid="$1" state
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
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

# Reads KEY from a zoo.cfg (last one wins).
cfg_value() {
    sed -n -E "s/^[[:space:]]*$2[[:space:]]*[=:][[:space:]]*(.*[^[:space:]])[[:space:]]*\$/\1/p" "$1" 2>/dev/null | tail -n 1
}

# Member folders, in id order.
coord_members() {
    local d
    for d in "$dir"/coord-*; do
        [[ -d "$d" ]] && echo "$d"
    done | sort -V
}

cmd_up() {
    local member="$dir/coord-1" pid
    mkdir -p "$dir"
    pid="$(cat "$member/coord.pid" 2>/dev/null || true)"
    if is_coord "$pid"; then
        echo "cluster: coord-1 already running (pid $pid)" >&2
        echo "coord: 127.0.0.1:$(cfg_value "$member/zoo.cfg" clientPort)"
    else
        echo "coord: $("$SCRIPTS/coord-start.sh" --id 1 --dir "$member" --port "$port")"
    fi
    # TODO(broker issue): start the brokers here (`runnel-broker` with
    # zookeeper.connect pointing at the coord above, one folder per broker
    # under $dir) and print "brokers: host:port,...". Until then the cluster
    # is the coordination service alone.
}

cmd_down() {
    local member
    while read -r member; do
        "$SCRIPTS/coord-stop.sh" --dir "$member"
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
    local member pid port role
    printf '%-10s %-8s %-6s %s\n' member pid port role
    while read -r member; do
        pid="$(cat "$member/coord.pid" 2>/dev/null || true)"
        port="$(cfg_value "$member/zoo.cfg" clientPort)"
        if is_coord "$pid"; then
            role="$(four_letter 127.0.0.1 "${port:-2181}" srvr | sed -n 's/^Mode: *//p')"
            role="${role:-not answering}"
        else
            pid="-"
            role="down"
        fi
        printf '%-10s %-8s %-6s %s\n' "$(basename "$member")" "$pid" "${port:--}" "$role"
    done < <(coord_members)
}

"cmd_$action"
