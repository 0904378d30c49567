#!/usr/bin/env bash
# The Schema Registry's request rates: the local 3+3 cluster
# (scripts/cluster.sh up, which starts runnel-registry with its _schemas
# topic at RF 3), then 'runnel-bench registry' at 1, 16 and 64 keep-alive
# connections: registrations (each a new schema under a subject of its own,
# a write acknowledged by all ISR replicas) and GET /schemas/ids/{id}.
# Figures only; nothing passes or fails. No anchor runs beside it: Confluent
# Schema Registry is not packaged for this machine (Java, from Confluent's
# own repositories).
set -euo pipefail

PROG=registry-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

usage() {
    cat <<EOF2
usage: $(basename "$0") [--connections "1 16 64"] [--registers N] [--reads N] [--keep]

  --connections LIST  connection counts to run, one phase pair each (default "1 16 64")
  --registers N       schemas registered per run (default 2000)
  --reads N           GET /schemas/ids/{id} per run (default 100000)
  --keep              keep the cluster's folder
EOF2
}

connections="1 16 64"
registers=2000
reads=100000
keep=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --connections) connections="${2:?}"; shift 2 ;;
        --registers) registers="${2:?}"; shift 2 ;;
        --reads) reads="${2:?}"; shift 2 ;;
        --keep) keep=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

export_runnel_bins
bench_bin="$(runnel_bin RUNNEL_BENCH_BIN runnel-bench)" || die "cargo build -p runnel-bench failed"

work="$(mktemp -d "${TMPDIR:-/tmp}/registry-bench.XXXXXX")"
cleanup() {
    "$ROOT/scripts/cluster.sh" down --dir "$work/cluster" >/dev/null 2>&1 || true
    if $keep; then say "kept $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT

base="$(free_block 40)"
say "3 coord + 3 brokers + the registry in $work/cluster"
"$ROOT/scripts/cluster.sh" up --dir "$work/cluster" --base-port "$base" --peer-base-port $((base + 10)) \
    --broker-base-port $((base + 1100)) --timeout 90 >"$work/up" 2>&1 ||
    { cat "$work/up" >&2; die "the cluster did not start"; }
url="$(sed -n 's/^schema registry: //p' "$work/up")"
say "registry at $url"
for c in $connections; do
    echo "== $c connection(s)"
    "$bench_bin" registry --url "$url" --connections "$c" --registers "$registers" --reads "$reads"
done
