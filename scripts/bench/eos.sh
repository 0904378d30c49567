#!/usr/bin/env bash
# Exactly-once benchmark: what idempotence and transactions cost, each figure
# printed next to its anchor measured in the same run with the same client
# (confluent-kafka / librdkafka from the repo's venv: acks=all,
# max.in.flight.requests.per.connection=5, linger.ms=5, librdkafka's own
# batching, no compression). Prints figures; asserts nothing.
#
#   bash scripts/bench/eos.sh [--quick] [--rounds N] [--records-1k N] [--records-100 N] ...
#
# Two local clusters through scripts/cluster.sh, one after the other, in a
# temp folder of their own, on free 127.0.0.1 ports:
#   * RF 1: one coord member, one broker;
#   * RF 3: three coord members (as cluster.sh's default; transaction state
#     is stored in coord), three brokers; topics with replication factor 3
#     and min.insync.replicas=2.
# Every topic has --partitions partitions (3: one leader on each broker at
# RF 3) and is deleted after its case; every timed case starts after a
# `sync` and after a warm-up record or transaction (connections, metadata,
# InitProducerId) that is not timed.
#
# 1. Produce, RF 1 and RF 3, 1 KiB and 100 B records: enable.idempotence=true
#    vs false, both acks=all, --rounds runs of each in ABBA... order (the
#    machine's drift favours neither), a fresh topic per run; records/s, MB/s
#    (medians of the runs, every run listed) and idempotent / non-idempotent
#    (target >= 95 %), of the medians and of the best runs.
# 2. Transactions, RF 3: one transactional producer committing every 100 and
#    every 1000 records (round robin over the partitions, so every
#    transaction has all of them); records/s, commits/s, commit latency p50 /
#    p99 (commit_transaction() alone, after a flush(): the EndTxn exchange),
#    and flush + commit. Each case stops at its record count or after
#    --txn-seconds, whichever comes first.
# 3. Consume, RF 3: a topic filled by --fill-producers transactional
#    producers at once (--fill-per-txn records per transaction, 1 in
#    --abort-every aborted), read from the start to the end (partition EOF)
#    with isolation.level=read_uncommitted and read_committed, ABBA... order
#    (consumer defaults but fetch.queue.backoff.ms=10: librdkafka's 1000 ms
#    default leaves a consumer reading a backlog idle, at about half the rate);
#    records/s and MB/s delivered (first record to last; the partition EOFs
#    that end the read come after a fetch long-poll and are not counted), and
#    the log's records / that time; both ratios read_committed /
#    read_uncommitted are printed (target >= 90 %). Record values say whether
#    their transaction committed, so the table shows how many records of
#    aborted transactions each consumer was handed (read_committed: 0).
# At the end: the brokers' logs are searched for ERROR / WARN / panic lines,
# and the tables are printed (markdown).
#
# Default run: about 3-5 minutes on 2 cores, depending on what else runs. --quick: small counts, one
# round, to see that everything works (about a minute and a half).
#
# Options (defaults in brackets; any other option is passed to eos_bench.py):
#   --quick             smoke run
#   --rounds N          runs per produce case and per isolation level [3]
#   --records-1k N      records per 1 KiB produce run [1000000]
#   --records-100 N     records per 100 B produce run [3000000]
#   --partitions N      partitions of every topic [3]
#   --txn-size B        record size of the transactional cases and the fill [1024]
#   --txn-records-100 N / --txn-records-1000 N   record caps of the
#                       transactional cases [50000 / 300000]
#   --txn-seconds S     time cap of each transactional case [10]
#   --fill-records N    records of the consume topic [400000]
#   --fill-producers N  [2]   --fill-per-txn N [1000]   --abort-every N [10]
#   --fetch-queue-backoff-ms MS   the consumers' fetch.queue.backoff.ms [10]
#   --skip-rf1          only the RF 3 cluster
#   --keep              keep the temp folder (logs, JSON results)
#
# Environment: RUNNEL_BIN, RUNNEL_BROKER_BIN, RUNNEL_COORD_BIN: use these
# binaries instead of building target/release/*; RUNNEL_PYTHON: the Python
# with confluent-kafka (default <repo>/.venv/bin/python, from scripts/test.sh);
# TMPDIR: where the temp folder goes.
set -euo pipefail

PROG=eos-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

quick=false
keep=false
skip_rf1=false
py_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=true; shift ;;
        --keep) keep=true; shift ;;
        --skip-rf1) skip_rf1=true; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        --*) [[ $# -ge 2 ]] || die "$1 needs a value"; py_args+=("$1" "$2"); shift 2 ;;
        *) die "unknown argument: $1 (--help)" ;;
    esac
done
if $quick; then
    # Placed first: options given on the command line still win.
    py_args=(--rounds 1 --records-1k 100000 --records-100 300000 --txn-records-100 5000
        --txn-records-1000 20000 --txn-seconds 4 --fill-records 50000 --fill-per-txn 500
        "${py_args[@]}")
fi

PY="$(venv_python)"
if ! { [[ -x "$PY" ]] && "$PY" -c 'import confluent_kafka' 2>/dev/null; }; then
    die "no Python with confluent-kafka at $PY: run scripts/test.sh once (it creates .venv)"
fi
BENCH_PY="$ROOT/scripts/bench/eos_bench.py"
export_runnel_bins
CLUSTER="$ROOT/scripts/cluster.sh"

script_start=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/runnel-eos-bench.XXXXXX")"
py_pid=""
cleanup() {
    if [[ -n "$py_pid" ]] && kill -0 "$py_pid" 2>/dev/null; then
        kill -TERM "$py_pid" 2>/dev/null || true
    fi
    for d in "$work/rf1" "$work/rf3"; do
        [[ -d "$d" ]] && "$CLUSTER" down --dir "$d" >/dev/null 2>&1 || true
    done
    if $keep; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the machine's load: the figures mean little while something else runs
busy_before="$(busy_before_run)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# up NAME COORD BROKERS: a cluster in $work/NAME on free ports; prints its
# bootstrap list.
up() {
    local name="$1" coord="$2" brokers="$3" base _
    for _ in 1 2 3 4 5; do
        base=$((20000 + RANDOM % 20000))
        if "$CLUSTER" up --dir "$work/$name" --coord "$coord" --brokers "$brokers" --base-port "$base" \
            --peer-base-port $((base + 10)) --broker-base-port $((base + 20)) \
            >"$work/$name.up.out" 2>"$work/$name.up.err"; then
            sed -n 's/^brokers: //p' "$work/$name.up.out"
            return 0
        fi
        "$CLUSTER" down --dir "$work/$name" --wipe >/dev/null 2>&1 || true
    done
    cat "$work/$name.up.err" >&2
    die "cluster.sh up ($name) failed"
}

# bench NAME ARGS...: eos_bench.py in the background (so that a signal to this
# script reaches the trap at once), waited for.
bench() {
    "$PY" "$BENCH_PY" "$@" &
    py_pid=$!
    wait "$py_pid" || die "eos_bench.py $1 failed (exit $?)"
    py_pid=""
}

# Lines of the brokers' logs in DIR that look like trouble (count, then a few
# distinct ones).
log_trouble() {
    local name="$1" n
    local lines
    lines="$(cat "$work/$name"/broker-*/broker.log 2>/dev/null | sed -E 's/\x1b\[[0-9;]*m//g' |
        grep -E '\b(ERROR|WARN|panic|panicked)\b' || true)"
    n=0
    [[ -z "$lines" ]] || n="$(wc -l <<<"$lines")"
    echo "$name brokers' logs: $n ERROR / WARN / panic line(s)$( ((n == 0)) || echo "; the most frequent (digits as N):")"
    if ((n > 0)); then
        sed -E 's/^[0-9TZ:.+-]+ +//; s/[0-9]+/N/g' <<<"$lines" | cut -c1-200 | sort | uniq -c | sort -rn |
            head -n 8 | sed 's/^ */    /'
    fi
}

results=()
trouble=()
if ! $skip_rf1; then
    bs="$(up rf1 1 1)"
    say "RF 1 cluster up: $bs"
    bench produce --bootstrap "$bs" --rf 1 --cluster-dir "$work/rf1" --out "$work/rf1.json" "${py_args[@]}"
    "$CLUSTER" down --dir "$work/rf1" >/dev/null 2>&1 || true
    results+=("$work/rf1.json")
    trouble+=("$(log_trouble rf1)")
fi

bs="$(up rf3 3 3)"
say "RF 3 cluster up: $bs"
bench all --bootstrap "$bs" --rf 3 --min-isr 2 --cluster-dir "$work/rf3" --out "$work/rf3.json" "${py_args[@]}"
"$CLUSTER" down --dir "$work/rf3" >/dev/null 2>&1 || true
results+=("$work/rf3.json")
trouble+=("$(log_trouble rf3)")

headers=(
    "runnel exactly-once benchmark, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $((SECONDS - script_start)) s$($quick && echo " (--quick)")"
    "machine: ${busy_before}% CPU busy (all cores) in the 2 s before the run, load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) at the end; clients and brokers share the cores"
    "client: confluent-kafka $("$PY" -c 'import confluent_kafka as c; print(c.version()[0], "/ librdkafka", c.libversion()[0])')"
    "clusters: RF 1 = 1 coord member + 1 broker; RF 3 = 3 coord members + 3 brokers, min.insync.replicas=2"
    "options: ${py_args[*]:-(defaults)}"
)
for t in "${trouble[@]}"; do
    headers+=("$t")
done
hargs=()
for h in "${headers[@]}"; do
    hargs+=(--header "$h")
done
"$PY" "$BENCH_PY" report "${results[@]}" "${hargs[@]}"
