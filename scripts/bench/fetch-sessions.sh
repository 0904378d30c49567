#!/usr/bin/env bash
# What fetch sessions (KIP-227) save on an idle cluster with many partitions:
# the local 3+3 cluster (scripts/cluster.sh up) with TOPICS x PARTITIONS
# partitions at RF 3, once with the brokers' default session cache and once
# with max.incremental.fetch.session.cache.slots=0 (every follower fetch
# names and answers every partition, as before sessions). For each: seconds
# from the CreateTopics calls to every partition having a full ISR, then,
# with no traffic at all, each broker's CPU (% of one core) and the Fetch
# requests/s one broker serves. Figures only; nothing here passes or fails.
set -euo pipefail

PROG=fetch-sessions
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

usage() {
    cat <<EOF2
usage: $(basename "$0") [--topics T] [--partitions P] [--idle SECS] [--modes LIST] [--keep]

  --topics T       topics to create (default 20)
  --partitions P   partitions per topic, RF 3 (default 100)
  --idle SECS      seconds of idle measurement (default 20)
  --modes LIST     which runs, in order (default "sessions no-sessions")
  A run whose ISRs are not all full within 600 s says how many were, and
  is measured idle all the same.
  --keep           keep the clusters' folders
EOF2
}

topics=20
partitions=100
idle=20
modes="sessions no-sessions"
keep=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --topics) topics="${2:?}"; shift 2 ;;
        --partitions) partitions="${2:?}"; shift 2 ;;
        --idle) idle="${2:?}"; shift 2 ;;
        --modes) modes="${2:?}"; shift 2 ;;
        --keep) keep=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for v in "$topics" "$partitions" "$idle"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "expected a positive whole number, got '$v'"
done

rel="${CARGO_TARGET_DIR:-$ROOT/target}/release"
if [[ -z "${RUNNEL_COORD_BIN:-}" || -z "${RUNNEL_BROKER_BIN:-}" ]]; then
    say "cargo build --release -p runnel-broker -p runnel-coord"
    (cd "$ROOT" && cargo build --release --quiet -p runnel-broker -p runnel-coord) || die "build failed"
fi
export RUNNEL_COORD_BIN="${RUNNEL_COORD_BIN:-$rel/runnel-coord}"
export RUNNEL_BROKER_BIN="${RUNNEL_BROKER_BIN:-$rel/runnel-broker}"
export RUNNEL_BIN="${RUNNEL_BIN:-$rel/runnel}"

work="$(mktemp -d "${TMPDIR:-/tmp}/fetch-sessions.XXXXXX")"
running=""
cleanup() {
    [[ -z "$running" ]] || "$ROOT/scripts/cluster.sh" down --dir "$running" >/dev/null 2>&1 || true
    if $keep; then say "kept $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT

# Partitions of the bench's topics whose ISR has all 3 replicas.
full_isr() {
    "$RUNNEL_BIN" topics --bootstrap-server "$1" --describe 2>/dev/null |
        awk -F'\t' '/\tTopic: fs-/ { for (i = 1; i <= NF; i++) if ($i ~ /^Isr: /) { sub(/^Isr: /, "", $i); if (split($i, a, ",") == 3) n++ } } END { print n + 0 }'
}

# Fetch requests served so far by the broker whose metrics are at URL.
fetches() {
    curl -s "$1" | awk '/^kafka_network_requestmetrics_requests_total\{.*request="Fetch"/ { s += $NF } END { printf "%.0f", s }'
}

total=$((topics * partitions))
printf '%-12s %10s %16s   %-21s %10s\n' mode partitions "full ISR after s" "idle CPU broker 1/2/3" "fetch/s b1"
for mode in $modes; do
    [[ "$mode" == sessions || "$mode" == no-sessions ]] || die "--modes takes sessions and no-sessions, got '$mode'"
    slots=1000
    [[ "$mode" == sessions ]] || slots=0
    dir="$work/$mode"
    base="$(free_block 40)"
    say "$mode: 3 coord + 3 brokers in $dir, max.incremental.fetch.session.cache.slots=$slots"
    running="$dir"
    "$ROOT/scripts/cluster.sh" up --dir "$dir" --base-port "$base" --peer-base-port $((base + 10)) \
        --broker-base-port $((base + 20)) --timeout 90 \
        --broker-config "max.incremental.fetch.session.cache.slots=$slots" >"$dir.up" 2>&1 ||
        { cat "$dir.up" >&2; die "the cluster did not start"; }
    bootstrap="$(sed -n 's/^brokers: //p' "$dir.up")"
    metrics="$(sed -n 's/^metrics: broker-1 //p' "$dir.up")"
    t0="$(now_ms)"
    for ((t = 1; t <= topics; t++)); do
        "$RUNNEL_BIN" topics --bootstrap-server "$bootstrap" --create --topic "fs-$t" \
            --partitions "$partitions" --replication-factor 3 >/dev/null
    done
    while full="$(full_isr "$bootstrap")" && ((full < total)); do
        (($(now_ms) - t0 < 600000)) || break
        sleep 1
    done
    if ((full < total)); then
        ready_s="never ($full)"
    else
        ready_s="$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')"
    fi
    sleep 5
    declare -a c0=() c1=()
    for k in 1 2 3; do c0[k]="$(cpu_secs "$dir/broker-$k/broker.pid")"; done
    f0="$(fetches "$metrics")"
    sleep "$idle"
    for k in 1 2 3; do c1[k]="$(cpu_secs "$dir/broker-$k/broker.pid")"; done
    f1="$(fetches "$metrics")"
    cpu=""
    for k in 1 2 3; do
        cpu+="$(awk -v a="${c0[k]}" -v b="${c1[k]}" -v s="$idle" 'BEGIN { printf "%5.1f%%", 100 * (b - a) / s }') "
    done
    rate="$(awk -v a="$f0" -v b="$f1" -v s="$idle" 'BEGIN { printf "%.0f", (b - a) / s }')"
    printf '%-12s %10s %16s   %s %10s\n' "$mode" "$total" "$ready_s" "$cpu" "$rate"
    "$ROOT/scripts/cluster.sh" down --dir "$dir" --wipe >/dev/null 2>&1 || say "stopping $dir failed"
    running=""
done

