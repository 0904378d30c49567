#!/usr/bin/env bash
# What the log cleaner does under a steady keyed write load: the local 3+3
# cluster (scripts/cluster.sh up, log.cleaner.backoff.ms=1000), one
# compacted topic at RF 3 written with MiB of records over a fixed set of
# keys, then every replica's partition size followed until it stops
# shrinking (see compaction_bench.py). Figures only; nothing passes or fails.
set -euo pipefail

PROG=compaction
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

usage() {
    cat <<EOF2
usage: $(basename "$0") [--mb MIB] [--keys N] [--value-size BYTES] [--segment-mb MIB] [--compare] [--keep]

  --mb MIB          data to write (default 256)
  --keys N          distinct keys (default 10000)
  --value-size B    bytes per value (default 512)
  --segment-mb MIB  segment.bytes of the topic (default 16)
  --compare         run twice, on fresh clusters: with the log cleaner and with
                    log.cleaner.enable=false, to show what cleaning costs the producer
  --keep            keep the cluster's folder
EOF2
}

args=()
keep=false
compare=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --mb | --keys | --value-size | --segment-mb) args+=("$1" "${2:?}"); shift 2 ;;
        --keep) keep=true; shift ;;
        --compare) compare=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

export_runnel_bins
python="$(venv_python)"
[[ -x "$python" ]] || die "no venv at $python: run scripts/test.sh once (it installs confluent-kafka)"

work="$(mktemp -d "${TMPDIR:-/tmp}/compaction.XXXXXX")"
cleanup() {
    "$ROOT/scripts/cluster.sh" down --dir "$work/cluster" >/dev/null 2>&1 || true
    if $keep; then say "kept $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT

# One run on a fresh 3+3 cluster with broker settings ARGS...
run() {
    local base
    "$ROOT/scripts/cluster.sh" down --dir "$work/cluster" --wipe >/dev/null 2>&1 || true
    base="$(free_block 40)"
    say "3 coord + 3 brokers in $work/cluster ($*)"
    "$ROOT/scripts/cluster.sh" up --dir "$work/cluster" --base-port "$base" --peer-base-port $((base + 10)) \
        --broker-base-port $((base + 20)) --timeout 90 --broker-config "log.cleaner.backoff.ms=1000" "$@" \
        >"$work/up" 2>&1 || { cat "$work/up" >&2; die "the cluster did not start"; }
    bootstrap="$(sed -n 's/^brokers: //p' "$work/up")"
    "$python" "$ROOT/scripts/bench/compaction_bench.py" --bootstrap "$bootstrap" "${args[@]}"
}

echo "== the log cleaner on"
run
if $compare; then
    echo "== the log cleaner off (log.cleaner.enable=false): the producer alone"
    run --broker-config "log.cleaner.enable=false"
fi
