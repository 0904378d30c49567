#!/usr/bin/env bash
# Produce/consume benchmark: one runnel-broker on a fresh runnel-coord, load
# from `runnel perf` and from librdkafka's rdkafka_performance (an
# independent client), figures printed next to this machine's sequential
# write rate (dd, measured in the same run: 1 GiB buffered, which is what
# the page cache takes in a burst, and BENCH_DD_SYNC_MB with
# conv=fdatasync, which is what the disk sustains) and the broker's idle
# RSS. Prints figures; asserts nothing about speed.
#
#   bash scripts/bench/produce-consume.sh
#   bash scripts/bench/produce-consume.sh --rf3
#
# --rf3: replication. The single-broker cases run with acks=1 only (runnel
# perf, no rdkafka_performance, no end-to-end runs) as the baseline; then
# the single broker stops and three brokers start on the same coord (chroot
# /runnel-rf3, replica.lag.time.max.ms and the rest at their defaults), and
# the same partitions x record sizes run on topics with replication factor 3
# and min.insync.replicas=2, produced with acks=all (every record on all
# three brokers' logs before it is acknowledged), then consumed. A second
# table prints these next to the acks=1 baseline (the broker cluster issue's
# target: RF=3 acks=all >= 40 % of one broker's acks=1 throughput); its CPU
# column is the three brokers' CPU together.
#
# Cases: 1 and 6 partitions x 1 KiB and 100 B records x acks=1 and acks=all.
# Each case, in a topic of its own that is deleted afterwards:
#   1. `runnel perf produce` as fast as it can for BENCH_SECONDS
#      (--duration; the record count is only a cap), then
#      `runnel perf consume` of those records from the start (one fetch
#      loop, connection and fetch in flight per partition);
#   2. in another fresh topic, rdkafka_performance -P (it has a record
#      count, no duration: the count is sized to take about BENCH_SECONDS
#      at the rdkafka/runnel rate ratio seen in the previous case of that
#      record size, 1/2 at first), then -C of those records from the start.
# Then end to end (BENCH_E2E_CASES): a consumer tails a fresh topic while
# `runnel perf produce --throughput` sends at half the rate the matching
# case above reached, for BENCH_E2E_SECONDS; the consumer reports p50 / p99
# / p99.9 from each batch's send time to the arrival of the fetch response
# carrying it (consumer with its default loops, one per partition,
# started first). The producer writes its send time in microseconds into the
# first record of each batch, so these are sub-millisecond figures, not
# whole-millisecond record timestamps (see broker/src/cli/perf/consume.rs).
#
# CPU columns: the broker's CPU time over the phase (from /proc) and the
# client's (from /usr/bin/time), as % of one core; all share the
# machine's cores. Every case starts after a `sync`, so none pays for the
# previous one's dirty pages (a deleted topic's pages are dropped, not
# written). Note that at about 1 GB/s a 5 s case writes more than the
# kernel lets stay dirty (vm.dirty_ratio, 20 % of RAM by default), so its
# last seconds may run at the disk's sustained rate: the "MB/s each
# second" column shows it.
#
# rdkafka_performance is built once from the librdkafka source that the
# rdkafka-sys crate ships (version below) and cached under var/bench/ (not
# committed; about two minutes the first time). If it cannot be built, the
# script says so and runs the runnel cases alone. BENCH_RDKAFKA=0 skips it.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS       seconds of producing per max-rate case [5]
#   BENCH_MAX_1K        record cap per 1 KiB case [20000000]
#   BENCH_MAX_100       record cap per 100 B case [100000000]
#   BENCH_E2E_SECONDS   seconds of the end-to-end runs [6]
#   BENCH_E2E_CASES     partitions:size:acks of the end-to-end runs
#                       ["1:1024:1 6:1024:1 1:100:1"]
#   BENCH_BATCH_SIZE    runnel producer batch.size in bytes [262144]
#   BENCH_FETCH_SIZE    runnel consumer max.partition.fetch.bytes [4194304]
#   BENCH_DD_MB         MiB written by the buffered dd probe [1024]
#   BENCH_DD_SYNC_MB    MiB written by the conv=fdatasync dd probe [4096]
#   BENCH_RDKAFKA       1: also run rdkafka_performance [1]
#   BENCH_CLIENT_TIMEOUT  seconds any one client run may take [60]
#   BENCH_DIR           working folder [a new temp dir, removed at the end]
#   RUNNEL_BIN, RUNNEL_BROKER_BIN, RUNNEL_COORD_BIN: use these binaries
#                       instead of building target/release/*.
set -euo pipefail

PROG=produce-consume
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
RF3=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rf3) RF3=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "produce-consume: unknown argument: $1 (--rf3 or nothing)" >&2; exit 1 ;;
    esac
done
SECS="${BENCH_SECONDS:-5}"
MAX_1K="${BENCH_MAX_1K:-20000000}"
MAX_100="${BENCH_MAX_100:-100000000}"
E2E_SECS="${BENCH_E2E_SECONDS:-6}"
E2E_CASES="${BENCH_E2E_CASES:-1:1024:1 6:1024:1 1:100:1}"
BATCH="${BENCH_BATCH_SIZE:-262144}"
FETCH="${BENCH_FETCH_SIZE:-4194304}"
DD_MB="${BENCH_DD_MB:-1024}"
DD_SYNC_MB="${BENCH_DD_SYNC_MB:-4096}"
WITH_RDKAFKA="${BENCH_RDKAFKA:-1}"
ACKS_LIST="1 all"
if [[ "$RF3" == 1 ]]; then
    # The baseline: one broker, acks=1, runnel perf only.
    WITH_RDKAFKA=0
    E2E_CASES=""
    ACKS_LIST="1"
fi
CLIENT_TIMEOUT="${BENCH_CLIENT_TIMEOUT:-60}"
# librdkafka 2.12.1 as rdkafka-sys ships it.
RDKAFKA_SYS_VERSION="4.10.0"
BENCH_VAR="$ROOT/var/bench"

script_start=$SECONDS

export_runnel_bins

# ---- rdkafka_performance: built once from rdkafka-sys's librdkafka, cached
RDKAFKA_PERF=""
rdkafka_note=""
build_rdkafka() {
    local src_dir="$BENCH_VAR/librdkafka-src"
    local bin="$src_dir/examples/rdkafka_performance"
    local stamp="$src_dir/.built-from-rdkafka-sys-$RDKAFKA_SYS_VERSION"
    local log="$BENCH_VAR/librdkafka-build.log"
    if [[ -x "$bin" && -f "$stamp" ]]; then
        RDKAFKA_PERF="$bin"; return 0
    fi
    command -v cc >/dev/null && command -v make >/dev/null || { rdkafka_note="no C compiler or make"; return 1; }
    say "building rdkafka_performance from rdkafka-sys $RDKAFKA_SYS_VERSION (once; log in $log)"
    mkdir -p "$BENCH_VAR"
    : >"$log"
    # A throwaway cargo project whose only purpose is to make cargo fetch the
    # rdkafka-sys crate, which carries librdkafka's source.
    local proj; proj="$(mktemp -d "${TMPDIR:-/tmp}/rdkafka-fetch.XXXXXX")"
    mkdir -p "$proj/src"
    cat >"$proj/Cargo.toml" <<EOF
[package]
name = "rdkafka-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
rdkafka-sys = { version = "=$RDKAFKA_SYS_VERSION", default-features = false }

[workspace]
EOF
    echo 'fn main() {}' >"$proj/src/main.rs"
    if ! (cd "$proj" && cargo fetch) >>"$log" 2>&1; then
        rm -rf "$proj"; rdkafka_note="cargo fetch of rdkafka-sys failed (see $log)"; return 1
    fi
    rm -rf "$proj"
    local cargo_home="${CARGO_HOME:-$HOME/.cargo}" src=""
    for d in "$cargo_home"/registry/src/*/rdkafka-sys-"$RDKAFKA_SYS_VERSION"*/librdkafka; do
        [[ -f "$d/configure" ]] && { src="$d"; break; }
    done
    [[ -n "$src" ]] || { rdkafka_note="librdkafka source not found in $cargo_home/registry"; return 1; }
    rm -rf "$src_dir"
    cp -r "$src" "$src_dir"
    # Only the flags this version's configure knows (--disable-sasl and
    # --disable-lz4 became aliases over the versions).
    local help flags=()
    help="$(cd "$src_dir" && ./configure --help 2>&1 || true)"
    for f in --disable-ssl --disable-sasl --disable-gssapi --disable-curl --disable-zstd --disable-lz4-ext; do
        grep -q -- "$f\b" <<<"$help" && flags+=("$f")
    done
    echo "configure ${flags[*]}" >>"$log"
    if ! (cd "$src_dir" && ./configure "${flags[@]}" && make -j"$(nproc)" libs \
            && make -C examples rdkafka_performance) >>"$log" 2>&1; then
        rdkafka_note="build failed (see $log)"; return 1
    fi
    [[ -x "$bin" ]] || { rdkafka_note="build produced no rdkafka_performance (see $log)"; return 1; }
    touch "$stamp"
    RDKAFKA_PERF="$bin"
}
if [[ "$WITH_RDKAFKA" == 1 ]]; then
    if build_rdkafka; then
        say "rdkafka_performance: $RDKAFKA_PERF"
    else
        say "rdkafka_performance unavailable: $rdkafka_note; going on without it"
    fi
else
    rdkafka_note="skipped (BENCH_RDKAFKA=0$([[ "$RF3" == 1 ]] && echo " or --rf3"))"
fi

if [[ -n "${BENCH_DIR:-}" ]]; then
    work="$BENCH_DIR"; mkdir -p "$work"; keep=1
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/runnel-bench.XXXXXX")"; keep=0
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

rf3_dirs=()
cleanup() {
    "$ROOT/scripts/broker-stop.sh" --dir "$work/broker" >/dev/null 2>&1 || true
    for d in "${rf3_dirs[@]}"; do
        "$ROOT/scripts/broker-stop.sh" --dir "$d" >/dev/null 2>&1 || true
    done
    "$ROOT/scripts/coord-stop.sh" --dir "$work/coord" >/dev/null 2>&1 || true
    [[ "$keep" == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT

# ---- other load: the figures mean little while something else runs
busy_before="$(busy_before_run)"

# ---- disk: sequential write rate of the folder the broker writes to
mkdir -p "$work/broker"
dd_rate() { # MiB [dd flags]
    local out mib="$1"; shift
    sync
    out="$(dd if=/dev/zero of="$work/broker/dd.probe" bs=1M count="$mib" "$@" 2>&1 | tail -n 1)"
    rm -f "$work/broker/dd.probe"
    sed -E 's/.*, ([0-9.,]+ [kMG]?B\/s)$/\1/' <<<"$out"
}
dd_buffered="$(dd_rate "$DD_MB")"
dd_synced="$(dd_rate "$DD_SYNC_MB" conv=fdatasync)"
say "disk: $dd_buffered buffered, $dd_synced with fdatasync"

# ---- cluster
cport="$(free_port)"; bport="$(free_port)"
"$ROOT/scripts/coord-start.sh" --dir "$work/coord" --port "$cport" >/dev/null
bs="$("$ROOT/scripts/broker-start.sh" --dir "$work/broker" --port "$bport" \
        --zookeeper "127.0.0.1:$cport/runnel")"
bpid="$(cat "$work/broker/broker.pid")"
sleep 2
idle_rss_kb="$(awk '/^VmRSS/ {print $2}' "/proc/$bpid/status")"
clk_tck="$(getconf CLK_TCK)"

# ---- helpers
# CPU ticks of the brokers measured (bpids: the single broker, or the three).
bpids=("$bpid")
broker_ticks() {
    local p t=0
    for p in "${bpids[@]}"; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t"
}

# run_client OUT CMD...: runs a client under a time limit, its stdout in OUT;
# sets cpu_broker and cpu_client (% of one core over the run) and rc.
run_client() {
    local out="$1"; shift
    local b0 b1 t0 t1
    b0="$(broker_ticks)"; t0="$(date +%s.%N)"
    rc=0
    /usr/bin/time -f '%U %S %e' -o "$out.time" \
        timeout -s INT -k 10 "$CLIENT_TIMEOUT" "$@" >"$out" 2>"$out.err" || rc=$?
    b1="$(broker_ticks)"; t1="$(date +%s.%N)"
    cpu_broker="$(awk -v b="$((b1 - b0))" -v hz="$clk_tck" -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "%.0f", 100 * b / hz / (t1 - t0) }')"
    cpu_client="$(tail -n 1 "$out.time" | awk '$3 > 0 { printf "%.0f", 100 * ($1 + $2) / $3; ok=1 } END { if (!ok) printf "?" }')"
    if [[ "$rc" != 0 ]]; then
        say "$(basename "$out"): exit $rc; stderr:"; tail -n 5 "$out.err" >&2 || true
    fi
}

topics() { "$RUNNEL_BIN" topics --bootstrap-server "$bs" "$@" >/dev/null 2>&1; }
create_topic() { topics --create --topic "$1" --partitions "$2" --replication-factor 1; }
delete_topic() { topics --delete --topic "$1" || true; }

runnel_produce_row() { # FILE -> "rec/s|MB/s|p50 / p99 / p99.9|n"
    local f="$1" line
    line="$(grep ' records sent, .*99.9th' "$f" | tail -n 1)"
    [[ -n "$line" ]] || { echo "–|–|–|0"; return; }
    local n rs mbs p50 p99 p999
    n="$(sed -E 's/^([0-9]+) records sent.*/\1/' <<<"$line")"
    rs="$(sed -E 's/.* ([0-9.]+) records\/sec.*/\1/' <<<"$line")"
    mbs="$(sed -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/' <<<"$line")"
    p50="$(sed -E 's/.* ([0-9.]+) ms 50th.*/\1/' <<<"$line")"
    p99="$(sed -E 's/.* ([0-9.]+) ms 99th.*/\1/' <<<"$line")"
    p999="$(sed -E 's/.* ([0-9.]+) ms 99\.9th.*/\1/' <<<"$line")"
    printf '%.0f|%s|%s / %s / %s|%s\n' "$rs" "$mbs" "$p50" "$p99" "$p999" "$n"
}

runnel_rate_by_second() { # FILE -> "MB/s of each progress line, rounded"
    grep -E '^[0-9]+ records sent, .* max latency\.$' "$1" |
        sed -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/' | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }'
}

runnel_consume_row() { # FILE -> "rec/s|MB/s|fetch p50 / p99 / p99.9|secs"
    local f="$1" line
    line="$(grep ' records consumed, .*fetch latency' "$f" | tail -n 1)"
    [[ -n "$line" ]] || { echo "–|–|–|–"; return; }
    local rs mbs lat secs
    rs="$(sed -E 's/.* ([0-9.]+) records\/sec.*/\1/' <<<"$line")"
    mbs="$(sed -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/' <<<"$line")"
    secs="$(sed -E 's/.* MB in ([0-9.]+) s;.*/\1/' <<<"$line")"
    lat="$(sed -E 's/.*fetch latency [0-9.]+ ms avg, ([0-9.]+) ms 50th, ([0-9.]+) ms 99th, ([0-9.]+) ms 99\.9th.*/\1 \/ \2 \/ \3/' <<<"$line")"
    printf '%.0f|%s|%s|%s\n' "$rs" "$mbs" "$lat" "$secs"
}

# rdkafka_performance's summary lines; its MB are 10^6 bytes, ours 2^20.
rdkafka_produce_row() { # FILE -> "rec/s|MB/s|delivered|secs"
    local line
    line="$(grep -E '^% [0-9]+ messages produced' "$1" | tail -n 1)"
    [[ -n "$line" ]] || { echo "–|–|0|–"; return; }
    sed -E 's/^% [0-9]+ messages produced \(([0-9]+) bytes\), ([0-9]+) delivered .* in ([0-9]+)ms: ([0-9]+) msgs\/s and ([0-9.]+) MB\/s.*/\4 \5 \2 \3/' <<<"$line" |
        awk '{ printf "%d|%.2f|%d|%.2f\n", $1, $2 * 1e6 / 1048576, $3, $4 / 1000 }'
}
rdkafka_consume_row() { # FILE -> "rec/s|MB/s|msgs|secs"
    local line
    line="$(grep -E '^% [0-9]+ messages \([0-9]+ bytes\) consumed' "$1" | tail -n 1)"
    [[ -n "$line" ]] || { echo "–|–|0|–"; return; }
    sed -E 's/^% ([0-9]+) messages \(([0-9]+) bytes\) consumed in ([0-9]+)ms: ([0-9]+) msgs\/s \(([0-9.]+) MB\/s\).*/\4 \5 \1 \3/' <<<"$line" |
        awk '{ printf "%d|%.2f|%d|%.2f\n", $1, $2 * 1e6 / 1048576, $3, $4 / 1000 }'
}

# consume_back CASE TOPIC N: `runnel perf consume` of the N records of TOPIC
# from the start (output in $out/CASE.consume); sets c_rs, c_mb, c_lat,
# c_secs and ccpu, "–" each when N is 0.
consume_back() {
    local name="$1" topic="$2" n="$3"
    c_rs="–"; c_mb="–"; c_lat="–"; c_secs="–"; ccpu="–"
    [[ "$n" -gt 0 ]] || return 0
    say "== $name: runnel perf consume of $n records"
    run_client "$out/$name.consume" "$RUNNEL_BIN" perf consume --bootstrap-server "$bs" \
        --topic "$topic" --messages "$n" --fetch-size "$FETCH" --reporting-interval 5000
    ccpu="$cpu_broker / $cpu_client"
    IFS='|' read -r c_rs c_mb c_lat c_secs <<<"$(runnel_consume_row "$out/$name.consume")"
    tail -n 1 "$out/$name.consume" >&2
}

# ---- max-rate cases
rows=()
declare -A max_rate
declare -A rdk_ratio=([1024]=0.5 [100]=0.5)
out="$work/out"; mkdir -p "$out"
for parts in 1 6; do
    for size in 1024 100; do
        for acks in $ACKS_LIST; do
            cap=$([[ "$size" == 1024 ]] && echo "$MAX_1K" || echo "$MAX_100")
            case="p$parts-s$size-a$acks"
            topic="bench-$case"
            sync
            say "== $case: runnel perf produce for ${SECS}s"
            run_client "$out/$case.produce" "$RUNNEL_BIN" perf produce --bootstrap-server "$bs" \
                --topic "$topic" --num-records "$cap" --duration "$SECS" --record-size "$size" \
                --throughput -1 --acks "$acks" --partitions "$parts" --batch-size "$BATCH" \
                --reporting-interval 1000
            pcpu="$cpu_broker / $cpu_client"
            IFS='|' read -r p_rs p_mb p_lat n <<<"$(runnel_produce_row "$out/$case.produce")"
            by_sec="$(runnel_rate_by_second "$out/$case.produce")"
            tail -n 1 "$out/$case.produce" >&2
            max_rate[$case]="${p_rs//–/0}"
            consume_back "$case" "$topic" "$n"
            delete_topic "$topic"
            rows+=("| $parts | $size B | $acks | runnel perf | $n in ${SECS} s | $p_rs | $p_mb | $by_sec | $p_lat | $pcpu | $c_rs | $c_mb | $c_lat | $c_secs | $ccpu |")

            [[ -n "$RDKAFKA_PERF" && "$n" -gt 0 ]] || continue
            rtopic="rdk-$case"
            create_topic "$rtopic" "$parts" || { say "cannot create $rtopic"; continue; }
            sync
            rn="$(awk -v r="$p_rs" -v k="${rdk_ratio[$size]}" -v s="$SECS" 'BEGIN { printf "%d", r * k * s }')"
            say "== $case: rdkafka_performance -P, $rn records"
            run_client "$out/$case.rdk-produce" "$RDKAFKA_PERF" -P -t "$rtopic" -s "$size" -c "$rn" \
                -b "$bs" -X "acks=$acks" -i 5000
            rpcpu="$cpu_broker / $cpu_client"
            IFS='|' read -r rp_rs rp_mb rp_n rp_secs <<<"$(rdkafka_produce_row "$out/$case.rdk-produce")"
            if [[ "$rp_rs" =~ ^[0-9]+$ && "$rp_rs" -gt 0 ]]; then
                rdk_ratio[$size]="$(awk -v a="$rp_rs" -v b="$p_rs" 'BEGIN { printf "%.3f", a / b }')"
            fi
            grep -E '^% [0-9]+ messages produced' "$out/$case.rdk-produce" | tail -n 1 >&2 || true
            rc_rs="–"; rc_mb="–"; rc_secs="–"; rccpu="–"
            if [[ "$rp_n" -gt 0 ]]; then
                pflags=()
                for ((p = 0; p < parts; p++)); do pflags+=(-p "$p"); done
                say "== $case: rdkafka_performance -C, $rp_n records"
                run_client "$out/$case.rdk-consume" "$RDKAFKA_PERF" -C -t "$rtopic" "${pflags[@]}" \
                    -o beginning -c "$rp_n" -b "$bs" -i 5000
                rccpu="$cpu_broker / $cpu_client"
                IFS='|' read -r rc_rs rc_mb _ rc_secs <<<"$(rdkafka_consume_row "$out/$case.rdk-consume")"
                grep -E '^% [0-9]+ messages \(' "$out/$case.rdk-consume" | tail -n 1 >&2 || true
            fi
            delete_topic "$rtopic"
            rows+=("| $parts | $size B | $acks | rdkafka_performance | $rp_n in $rp_secs s | $rp_rs | $rp_mb | – | – | $rpcpu | $rc_rs | $rc_mb | – | $rc_secs | $rccpu |")
        done
    done
done

# ---- end to end at half the maximum rate
e2e_rows=()
for spec in $E2E_CASES; do
    IFS=: read -r parts size acks <<<"$spec"
    case="p$parts-s$size-a$acks"
    rate="${max_rate[$case]:-0}"
    if [[ "$rate" -le 0 ]]; then
        say "no max rate for $case; skipping its end-to-end run"; continue
    fi
    half=$((rate / 2)); n=$((half * E2E_SECS))
    topic="e2e-$case"
    create_topic "$topic" "$parts" || { say "cannot create $topic"; continue; }
    sync
    say "== $case end to end: $half records/s for ${E2E_SECS}s while consuming"
    /usr/bin/time -f '%U %S %e' -o "$out/$case.e2e-consume.time" \
        "$RUNNEL_BIN" perf consume --bootstrap-server "$bs" --topic "$topic" --messages "$n" \
        --fetch-size "$FETCH" --timeout 15000 --reporting-interval 5000 \
        >"$out/$case.e2e-consume" 2>"$out/$case.e2e-consume.err" &
    cons_pid=$!
    sleep 1 # the consumer is connected and long-polling
    run_client "$out/$case.e2e-produce" "$RUNNEL_BIN" perf produce --bootstrap-server "$bs" \
        --topic "$topic" --num-records "$n" --record-size "$size" --throughput "$half" \
        --acks "$acks" --batch-size "$BATCH" --reporting-interval 5000
    ecpu="$cpu_broker / $cpu_client"
    crc=0; wait "$cons_pid" || crc=$?
    ccpu="$(tail -n 1 "$out/$case.e2e-consume.time" | awk '$3 > 0 { printf "%.0f", 100 * ($1 + $2) / $3; ok=1 } END { if (!ok) printf "?" }')"
    ecpu="$ecpu / $ccpu"
    [[ "$crc" == 0 ]] || { say "e2e consumer exit $crc:"; tail -n 5 "$out/$case.e2e-consume.err" >&2 || true; }
    IFS='|' read -r ep_rs ep_mb ep_lat _ <<<"$(runnel_produce_row "$out/$case.e2e-produce")"
    line="$(grep ' records consumed, .*end-to-end' "$out/$case.e2e-consume" | tail -n 1 || true)"
    tail -n 1 "$out/$case.e2e-produce" >&2; echo "$line" >&2
    e2e="$(sed -E 's/.*end-to-end ([0-9.]+) ms 50th, ([0-9.]+) ms 99th, ([0-9.]+) ms 99\.9th, ([0-9.]+) ms max \(([^)]*)\).*/\1 \/ \2 \/ \3 | \4 | \5/' <<<"$line")"
    [[ -n "$line" ]] || e2e="– | – | –"
    delete_topic "$topic"
    e2e_rows+=("| $parts | $size B | $acks | $half | $ep_rs | $ep_mb | $ep_lat | $e2e | $ecpu |")
done
loaded_rss_kb="$(awk '/^VmRSS/ {print $2}' "/proc/$bpid/status")"

# ---- replication factor 3, acks=all, on three brokers (--rf3)
rf3_rows=()
if [[ "$RF3" == 1 ]]; then
    "$ROOT/scripts/broker-stop.sh" --dir "$work/broker" >/dev/null 2>&1 || true
    rf3_bs=""
    bpids=()
    for k in 1 2 3; do
        d="$work/rf3-broker-$k"
        rf3_dirs+=("$d")
        rf3_bs+="${rf3_bs:+,}$("$ROOT/scripts/broker-start.sh" --id "$k" --dir "$d" --port "$(free_port)" \
            --zookeeper "127.0.0.1:$cport/runnel-rf3")"
        bpids+=("$(cat "$d/broker.pid")")
    done
    bs="$rf3_bs"
    # Topic creation needs all three brokers registered.
    for _ in $(seq 1 100); do
        topics --create --topic rf3-probe --partitions 1 --replication-factor 3 && break
        sleep 0.2
    done
    delete_topic rf3-probe
    for parts in 1 6; do
        for size in 1024 100; do
            cap=$([[ "$size" == 1024 ]] && echo "$MAX_1K" || echo "$MAX_100")
            case="p$parts-s$size-rf3"
            topic="bench-$case"
            topics --create --topic "$topic" --partitions "$parts" --replication-factor 3 \
                --config min.insync.replicas=2 || { say "cannot create $topic"; continue; }
            # Load only once every follower is in the ISR (acks=all needs 2).
            for _ in $(seq 1 150); do
                full="$("$RUNNEL_BIN" topics --bootstrap-server "$bs" --describe --topic "$topic" 2>/dev/null |
                    awk -F'\t' '/\tPartition: / { if (split(substr($NF, 6), a, ",") == 3) n++ } END { print n + 0 }')"
                [[ "$full" == "$parts" ]] && break
                sleep 0.2
            done
            [[ "$full" == "$parts" ]] || say "warning: $topic has $full of $parts partitions with a full ISR"
            sync
            say "== $case: runnel perf produce, acks=all, RF 3, for ${SECS}s"
            run_client "$out/$case.produce" "$RUNNEL_BIN" perf produce --bootstrap-server "$bs" \
                --topic "$topic" --num-records "$cap" --duration "$SECS" --record-size "$size" \
                --throughput -1 --acks all --batch-size "$BATCH" --reporting-interval 1000
            pcpu="$cpu_broker / $cpu_client"
            IFS='|' read -r p_rs p_mb p_lat n <<<"$(runnel_produce_row "$out/$case.produce")"
            tail -n 1 "$out/$case.produce" >&2
            base="${max_rate[p$parts-s$size-a1]:-0}"
            ratio="$(awk -v a="${p_rs//–/0}" -v b="$base" 'BEGIN { if (b > 0) printf "%.0f %%", 100 * a / b; else printf "–" }')"
            consume_back "$case" "$topic" "$n"
            delete_topic "$topic"
            rf3_rows+=("| $parts | $size B | $n in ${SECS} s | $p_rs | $p_mb | $p_lat | $base | $ratio | $pcpu | $c_rs | $c_mb | $c_lat | $c_secs | $ccpu |")
        done
    done
fi

# ---- report
echo
echo "runnel produce/consume benchmark, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $((SECONDS - script_start)) s"
echo "disk sequential write (dd bs=1M): $dd_buffered buffered ($DD_MB MiB), $dd_synced with conv=fdatasync ($DD_SYNC_MB MiB)"
echo "machine: ${busy_before}% CPU busy (all cores) in the 2 s before the run; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "broker RSS: idle $((idle_rss_kb / 1024)) MiB, after the runs $((loaded_rss_kb / 1024)) MiB"
echo "runnel perf: producer batch.size $BATCH B, max in flight 5, ${SECS} s per case; consumer fetch size $FETCH B per partition, one fetch loop (connection, fetch in flight, fetch-ahead) per partition"
if [[ -n "$RDKAFKA_PERF" ]]; then
    echo "rdkafka_performance: librdkafka $("$RDKAFKA_PERF" -h 2>&1 | sed -nE 's/^librdkafka version ([^ ]+).*/\1/p' | head -n 1) (rdkafka-sys $RDKAFKA_SYS_VERSION), default settings but acks; no latency figures"
else
    echo "rdkafka_performance: not run ($rdkafka_note)"
fi
echo "MB = 2^20 bytes; CPU = broker / client, % of one core over the phase; latencies in ms"
echo
echo "| partitions | record | acks | client | produced | produce rec/s | produce MB/s | MB/s each second | produce p50 / p99 / p99.9 | produce CPU | consume rec/s | consume MB/s | fetch p50 / p99 / p99.9 | consume s | consume CPU |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
if [[ -n "$E2E_CASES" ]]; then
    echo "End to end at half the maximum rate (${E2E_SECS} s; producer throttled, consumer tailing; send time of each batch -> arrival of the fetch response):"
    echo
    echo "| partitions | record | acks | target rec/s | produce rec/s | produce MB/s | produce p50 / p99 / p99.9 | end-to-end p50 / p99 / p99.9 | e2e max | e2e source | CPU broker / producer / consumer |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${e2e_rows[@]}"
fi
if [[ "$RF3" == 1 ]]; then
    echo
    echo "Replication factor 3, min.insync.replicas=2, acks=all, three brokers on this machine (runnel perf, ${SECS} s per case;"
    echo "\"1 broker acks=1\" is the table above; CPU = the three brokers together / client):"
    echo
    echo "| partitions | record | produced | produce rec/s | produce MB/s | produce p50 / p99 / p99.9 | 1 broker acks=1 rec/s | RF3 acks=all vs 1 broker acks=1 | produce CPU | consume rec/s | consume MB/s | fetch p50 / p99 / p99.9 | consume s | consume CPU |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rf3_rows[@]}"
fi
