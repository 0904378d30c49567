#!/usr/bin/env bash
# Produce/consume benchmark: one runnel-broker on a fresh runnel-coord, load
# from `runnel perf`, figures printed next to this machine's sequential
# write rate (dd with conv=fdatasync, measured in the same run) and the
# broker's idle RSS. Prints figures; asserts nothing about speed.
#
#   bash scripts/bench/produce-consume.sh
#
# Cases: 1 and 6 partitions x 1 KiB and 100 B records x acks=1 and acks=all.
# Each case produces as fast as it can (--throughput -1), then consumes the
# same records from the start; the topic is deleted after the case.
#
# Environment (defaults in brackets):
#   BENCH_RECORDS_1K   records per 1 KiB case [500000]
#   BENCH_RECORDS_100  records per 100 B case [3000000]
#   BENCH_BATCH_SIZE   producer batch.size in bytes [262144]
#   BENCH_FETCH_SIZE   consumer max.partition.fetch.bytes [4194304]
#   BENCH_DD_MB        MiB written by the dd probe [1024]
#   BENCH_DIR          working folder [a new temp dir, removed at the end]
#   RUNNEL_BIN, RUNNEL_BROKER_BIN, RUNNEL_COORD_BIN: use these binaries
#                      instead of building target/release/*.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REC_1K="${BENCH_RECORDS_1K:-500000}"
REC_100="${BENCH_RECORDS_100:-3000000}"
BATCH="${BENCH_BATCH_SIZE:-262144}"
FETCH="${BENCH_FETCH_SIZE:-4194304}"
DD_MB="${BENCH_DD_MB:-1024}"

die() { echo "produce-consume: $*" >&2; exit 1; }

if [[ -z "${RUNNEL_BIN:-}" || -z "${RUNNEL_BROKER_BIN:-}" || -z "${RUNNEL_COORD_BIN:-}" ]]; then
    echo "produce-consume: cargo build --release (runnel, runnel-broker, runnel-coord)" >&2
    (cd "$ROOT" && cargo build --release --quiet -p runnel-broker -p runnel-coord) || die "build failed"
fi
REL="${CARGO_TARGET_DIR:-$ROOT/target}/release"
export RUNNEL_BIN="${RUNNEL_BIN:-$REL/runnel}"
export RUNNEL_BROKER_BIN="${RUNNEL_BROKER_BIN:-$REL/runnel-broker}"
export RUNNEL_COORD_BIN="${RUNNEL_COORD_BIN:-$REL/runnel-coord}"

if [[ -n "${BENCH_DIR:-}" ]]; then
    work="$BENCH_DIR"; mkdir -p "$work"; keep=1
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/runnel-bench.XXXXXX")"; keep=0
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cleanup() {
    "$ROOT/scripts/broker-stop.sh" --dir "$work/broker" >/dev/null 2>&1 || true
    "$ROOT/scripts/coord-stop.sh" --dir "$work/coord" >/dev/null 2>&1 || true
    [[ "$keep" == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT

# ---- disk: sequential write rate of the folder the broker writes to
mkdir -p "$work/broker"
dd_out="$(dd if=/dev/zero of="$work/broker/dd.probe" bs=1M count="$DD_MB" conv=fdatasync 2>&1 | tail -n 1)"
rm -f "$work/broker/dd.probe"
dd_rate="$(sed -E 's/.*, ([0-9.,]+ [kMG]?B\/s)$/\1/' <<<"$dd_out")"

# ---- cluster
cport="$(free_port)"; bport="$(free_port)"
"$ROOT/scripts/coord-start.sh" --dir "$work/coord" --port "$cport" >/dev/null
bs="$("$ROOT/scripts/broker-start.sh" --dir "$work/broker" --port "$bport" \
        --zookeeper "127.0.0.1:$cport/runnel")"
bpid="$(cat "$work/broker/broker.pid")"
sleep 2
idle_rss_kb="$(awk '/^VmRSS/ {print $2}' "/proc/$bpid/status")"

# ---- cases
rows=()
for parts in 1 6; do
    for size in 1024 100; do
        for acks in 1 all; do
            n=$([[ "$size" == 1024 ]] && echo "$REC_1K" || echo "$REC_100")
            topic="bench-p$parts-s$size-a$acks"
            echo "== $topic: $n records" >&2
            prod="$("$RUNNEL_BIN" perf produce --bootstrap-server "$bs" --topic "$topic" \
                --num-records "$n" --record-size "$size" --throughput -1 --acks "$acks" \
                --partitions "$parts" --batch-size "$BATCH" --reporting-interval 5000 | tee /dev/stderr | tail -n 1)"
            cons="$("$RUNNEL_BIN" perf consume --bootstrap-server "$bs" --topic "$topic" \
                --messages "$n" --fetch-size "$FETCH" --reporting-interval 5000 | tee /dev/stderr | tail -n 1)"
            "$RUNNEL_BIN" topics --bootstrap-server "$bs" --delete --topic "$topic" >&2 || true
            # "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency,
            #  P ms 50th, Q ms 95th, S ms 99th, T ms 99.9th."
            p_rs="$(sed -E 's/.* ([0-9.]+) records\/sec.*/\1/' <<<"$prod")"
            p_mb="$(sed -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/' <<<"$prod")"
            p_50="$(sed -E 's/.* ([0-9.]+) ms 50th.*/\1/' <<<"$prod")"
            p_99="$(sed -E 's/.* ([0-9.]+) ms 99th.*/\1/' <<<"$prod")"
            p_999="$(sed -E 's/.* ([0-9.]+) ms 99\.9th.*/\1/' <<<"$prod")"
            c_rs="$(sed -E 's/.* ([0-9.]+) records\/sec.*/\1/' <<<"$cons")"
            c_mb="$(sed -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/' <<<"$cons")"
            c_lat="$(sed -E 's/.*fetch latency [0-9.]+ ms avg, ([0-9.]+) ms 50th, ([0-9.]+) ms 99th, ([0-9.]+) ms 99\.9th.*/\1 \/ \2 \/ \3/' <<<"$cons")"
            rows+=("$(printf '| %d | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s |' \
                "$parts" "$size B" "$acks" "$n" "$p_rs" "$p_mb" "$p_50" "$p_99" "$p_999" "$c_rs" "$c_mb" "$c_lat")")
        done
    done
done
loaded_rss_kb="$(awk '/^VmRSS/ {print $2}' "/proc/$bpid/status")"

echo
echo "runnel produce/consume benchmark, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "disk sequential write (dd bs=1M count=$DD_MB conv=fdatasync): $dd_rate"
echo "broker RSS: idle $((idle_rss_kb / 1024)) MiB, after the runs $((loaded_rss_kb / 1024)) MiB"
echo "producer batch.size $BATCH B, max in flight 5; consumer fetch size $FETCH B; MB = 2^20 bytes"
echo
echo "| partitions | record | acks | records | produce rec/s | produce MB/s | produce p50 / p99 / p99.9 ms | consume rec/s | consume MB/s | fetch p50 / p99 / p99.9 ms |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
