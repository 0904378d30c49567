#!/usr/bin/env bash
# OffsetCommit requests/s on one broker whose groups' offsets live in coord
# (one coord `multi` per OffsetCommit), loaded as clients load it: several
# connections, several requests in flight on each. Figures only; nothing here
# is a pass/fail test, but a run whose answers carry error codes, or whose
# offsets do not read back with OffsetFetch, is reported as failed, never as
# a figure.
set -euo pipefail

PROG=offset-commit
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

usage() {
    cat <<EOF
usage: $(basename "$0") [--coord "3 1"] [--settings "1x1 4x8 16x8"] [--duration SECS]
                        [--groups G] [--partitions P] [--keep]

Builds release binaries, then for each coord size: starts a cluster of that
many coord members and ONE broker on free 127.0.0.1 ports in a temp folder
(scripts/cluster.sh up --brokers 1), runs 'runnel-bench offset-commit' for
each CONNECTIONSxIN_FLIGHT setting, stops the cluster. Prints one table.

  --coord LIST        coord ensemble sizes, in order (default "3 1": the
                      3-member ensemble, then standalone for comparison)
  --settings LIST     connections x requests in flight per connection
                      (default "1x1 4x8 16x8")
  --duration SECS     seconds of load per setting (default 10)
  --groups G          consumer groups (default 64; raised to the number of
                      connections where that is more)
  --partitions P      partitions per commit (default 1)
  --keep              keep the temp folder (configs, logs, outputs)

Environment:
  RUNNEL_COORD_BIN, RUNNEL_BROKER_BIN, RUNNEL_BENCH_BIN
                      use these binaries instead of building them
EOF
}

coord_sizes="3 1"
settings="1x1 4x8 16x8"
duration=10
groups=64
partitions=1
keep=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --coord) coord_sizes="${2:?--coord needs a value}"; shift 2 ;;
        --settings) settings="${2:?--settings needs a value}"; shift 2 ;;
        --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
        --groups) groups="${2:?--groups needs a value}"; shift 2 ;;
        --partitions) partitions="${2:?--partitions needs a value}"; shift 2 ;;
        --keep) keep=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for n in "$duration" "$groups" "$partitions"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "expected a positive whole number, got '$n'"
done
for n in $coord_sizes; do
    [[ "$n" =~ ^[1-9]$ ]] || die "--coord takes sizes 1..9, got '$n'"
done
for s in $settings; do
    [[ "$s" =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "--settings takes CONNECTIONSxIN_FLIGHT, got '$s'"
done

# ---- binaries -----------------------------------------------------------------
rel="${CARGO_TARGET_DIR:-$ROOT/target}/release"
if [[ -z "${RUNNEL_COORD_BIN:-}" || -z "${RUNNEL_BROKER_BIN:-}" || -z "${RUNNEL_BENCH_BIN:-}" ]]; then
    say "cargo build --release -p runnel-bench -p runnel-broker -p runnel-coord"
    if ! (cd "$ROOT" && cargo build --release --quiet -p runnel-bench -p runnel-broker -p runnel-coord); then
        # Someone may be mid-edit in coord/: fall back on the last good coord binary.
        [[ -x "$rel/runnel-coord" ]] || die "build failed and there is no $rel/runnel-coord"
        say "build with runnel-coord failed; building without it and using the existing $rel/runnel-coord"
        (cd "$ROOT" && cargo build --release --quiet -p runnel-bench -p runnel-broker) || die "build failed"
    fi
fi
export RUNNEL_COORD_BIN="${RUNNEL_COORD_BIN:-$rel/runnel-coord}"
export RUNNEL_BROKER_BIN="${RUNNEL_BROKER_BIN:-$rel/runnel-broker}"
export RUNNEL_BIN="${RUNNEL_BIN:-$rel/runnel}"
bench_bin="${RUNNEL_BENCH_BIN:-$rel/runnel-bench}"

work="$(mktemp -d "${TMPDIR:-/tmp}/offset-commit.XXXXXX")"
running=""

cleanup() {
    if [[ -n "$running" ]]; then
        "$ROOT/scripts/cluster.sh" down --dir "$running" >/dev/null 2>&1 || true
    fi
    if $keep; then
        say "kept $work"
    else
        rm -rf -- "$work"
    fi
}
trap cleanup EXIT

# CPU seconds of the broker, and of all coord members together, in DIR.
cpu_snapshot() {
    local d="$1" f coord=0
    for f in "$d"/coord-*/coord.pid; do
        coord="$(awk -v a="$coord" -v b="$(cpu_secs "$f")" 'BEGIN { printf "%.2f", a + b }')"
    done
    echo "$(cpu_secs "$d/broker-1/broker.pid") $coord"
}

rows=()
failed=0
for n in $coord_sizes; do
    dir="$work/coord$n"
    base="$(free_block $((2 * n + 1)))"
    say "starting $n coord member(s) and one broker in $dir (ports $base..$((base + 2 * n)))"
    running="$dir"
    if ! "$ROOT/scripts/cluster.sh" up --dir "$dir" --coord "$n" --brokers 1 --base-port "$base" \
        --peer-base-port $((base + n)) --broker-base-port $((base + 2 * n)) --timeout 90 >"$dir.up" 2>&1; then
        cat "$dir.up" >&2
        die "cluster with $n coord member(s) did not start; see $dir (--keep keeps it)"
    fi
    bootstrap="$(sed -n 's/^brokers: //p' "$dir.up")"
    [[ -n "$bootstrap" ]] || die "no 'brokers:' line from cluster.sh up"
    for s in $settings; do
        conns="${s%x*}"
        window="${s#*x}"
        g=$((groups > conns ? groups : conns))
        out="$work/coord$n-$s.out"
        say "coord=$n: $conns connection(s) x $window in flight, $g groups, ${duration}s"
        read -r b0 c0 <<<"$(cpu_snapshot "$dir")"
        if "$bench_bin" offset-commit --bootstrap "$bootstrap" --groups "$g" --partitions "$partitions" \
            --connections "$conns" --in-flight "$window" --duration "$duration" \
            --group-prefix "oc-$n-$s" >"$out" 2>&1; then
            status=verified
        else
            status=FAILED
            failed=1
        fi
        read -r b1 c1 <<<"$(cpu_snapshot "$dir")"
        sed 's/^/  /' "$out" >&2
        line="$(grep '^RESULT ' "$out" | tail -n 1 || true)"
        figures="$(awk '
            {
                for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                print v["ops_per_s"], v["p50_us"], v["p99_us"], v["p999_us"], v["secs"], v["errors"]
            }' <<<"${line:-RESULT}")"
        read -r ops p50 p99 p999 secs errors <<<"$figures"
        cpu="$(awk -v b0="$b0" -v b1="$b1" -v c0="$c0" -v c1="$c1" -v s="${secs:-0}" \
            'BEGIN { if (s > 0) printf "%3.0f%% %3.0f%%", 100 * (b1 - b0) / s, 100 * (c1 - c0) / s; else print "- -" }')"
        rows+=("$(printf '%-6s %-9s %7s %10s %9s %9s %9s %7s %-8s %s' "$n" "$s" "$g" "${ops:--}" \
            "${p50:--}" "${p99:--}" "${p999:--}" "${errors:--}" "$status" "$cpu")")
    done
    "$ROOT/scripts/cluster.sh" down --dir "$dir" >/dev/null 2>&1 || say "stopping the cluster in $dir failed"
    running=""
done

echo
echo "offset-commit: one broker; $partitions partition(s) per commit; ${duration}s per setting; $(nproc) CPUs"
echo "(cpu: broker / all coord members, % of one core over the run; target >= 10000 ops/s with 3 members)"
printf '%-6s %-9s %7s %10s %9s %9s %9s %7s %-8s %s\n' coord "conn x k" groups "ops/s" "p50 us" "p99 us" "p99.9 us" errors check "cpu broker/coord"
for r in "${rows[@]}"; do
    echo "$r"
done
((failed == 0)) || die "some runs failed (errors in answers or offsets that did not read back); see above"
