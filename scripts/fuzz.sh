#!/usr/bin/env bash
# Runs the fuzz harnesses over every peer-facing decoder for longer than
# `cargo test` does: the broker's Kafka request path and SASL tokens
# (broker/src/api/fuzz_tests.rs) and coord's client protocol, SASL and peer
# messages (coord/src/proto/fuzz_tests.rs).
#
#   scripts/fuzz.sh                 # 200000 cases per property harness
#   scripts/fuzz.sh --cases 5000    # quicker
#   scripts/fuzz.sh --only peer     # harnesses whose name contains "peer"
#
# Each harness is named as it starts and timed; its output is shown only
# if it fails. The deterministic ones (every mutation of every valid
# message) do the same work whatever --cases says. Exits non-zero if any
# harness failed, after running them all.
#
# Builds in release with $CARGO_TARGET_DIR if set (else cargo's default).
set -euo pipefail

cases=200000
only=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --cases)
            cases="${2:?--cases needs a number}"
            shift 2
            ;;
        --cases=*)
            cases="${1#--cases=}"
            shift
            ;;
        --only)
            only="${2:?--only needs a pattern}"
            shift 2
            ;;
        -h | --help)
            sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "fuzz.sh: unknown argument $1 (try --help)" >&2
            exit 2
            ;;
    esac
done
if ! [[ "$cases" =~ ^[0-9]+$ ]] || [[ "$cases" -eq 0 ]]; then
    echo "fuzz.sh: --cases must be a positive number, not '$cases'" >&2
    exit 2
fi

cd "$(dirname "$0")/.."

# crate, module path of its harnesses
suites=(
    "runnel-broker api::fuzz_tests::"
    "runnel-coord proto::fuzz_tests::"
)

log=$(mktemp -t runnel-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT

failed=()
total=0
for suite in "${suites[@]}"; do
    read -r crate prefix <<<"$suite"
    echo "== building $crate's harnesses"
    if ! cargo test --release -p "$crate" --lib --no-run >"$log" 2>&1; then
        cat "$log"
        echo "fuzz.sh: $crate does not build" >&2
        exit 1
    fi
    mapfile -t names < <(cargo test --release -q -p "$crate" --lib -- --list "$prefix" 2>/dev/null |
        sed -n 's/: test$//p' | grep -F "$prefix" | grep -F -- "$only" || true)
    if [[ ${#names[@]} -eq 0 ]]; then
        echo "   (no harness matches)"
        continue
    fi
    for name in "${names[@]}"; do
        total=$((total + 1))
        printf '%-75s ' "$crate ${name#"$prefix"}"
        start=$(date +%s%N)
        if PROPTEST_CASES="$cases" cargo test --release -q -p "$crate" --lib -- --exact "$name" \
            >"$log" 2>&1; then
            status=ok
        else
            status=FAILED
            failed+=("$crate $name")
        fi
        ms=$((($(date +%s%N) - start) / 1000000))
        printf '%-6s %5d.%d s\n' "$status" $((ms / 1000)) $((ms % 1000 / 100))
        if [[ $status == FAILED ]]; then
            sed 's/^/    /' "$log"
        fi
    done
done

echo
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "${#failed[@]} of $total harnesses failed ($cases cases each):"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
echo "all $total harnesses passed ($cases cases each)"
