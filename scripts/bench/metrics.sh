#!/usr/bin/env bash
# What the Prometheus metrics cost: prints figures, asserts nothing.
#
#   bash scripts/bench/metrics.sh            # ~3 min
#   bash scripts/bench/metrics.sh --quick    # ~1 min: shorter and fewer runs
#
# (a) Produce throughput with metrics off and on. One standalone coord; for
#     every run a fresh runnel-broker (own folder, own chroot), started
#     without metrics.listener ("off") or with it and a scraper that GETs
#     /metrics every second for the whole run ("on"). Load: `runnel perf
#     produce` as fast as it can for BENCH_SECONDS, 1 KiB records, acks=1,
#     6 partitions, batch.size 16384 (Kafka's default: many small requests,
#     so per-request and per-batch counting shows), up to 5 requests in
#     flight. One warm-up run (not counted), then BENCH_PAIRS pairs of runs
#     alternating off/on in the order off on, on off, off on, ... (so that a
#     drift of the machine over the runs favours neither); printed: every
#     run's figures and the broker's CPU, the median rate of each mode and
#     their ratio on/off (target >= 98 %), and the ratio within each pair.
# (b) Scrape cost. A broker with metrics hosting 10 topics x 100 partitions
#     (RF 1), one record produced to each partition (so the per-partition
#     log gauges are not all zero), then BENCH_SCRAPES GETs of /metrics
#     timed by curl (%{time_total}, %{size_download}): median and p95 time,
#     body size and sample lines. The same for the coord member (which by
#     then holds the znodes of those 1 000 partitions).
# (c) Console page load. `runnel console` on that broker and coord member,
#     plus one more topic of 1 000 partitions ("wide"); once the console
#     lists every topic, BENCH_SCRAPES GETs of each page timed by curl: the
#     overview (figures over all 2 000 partitions), the topic list, a topic
#     of 100 partitions and the 1 000-partition topic (one row per
#     partition with leader, replicas, ISR, log start and end). Server time
#     plus transfer, as a browser's first byte to last byte; the browser's
#     rendering is not counted.
#
# Ports: random free ones in 30000-60000. Everything runs in a temp folder
# removed at the end; every process started here is stopped on exit.
#
# Environment (defaults in brackets; --quick in parentheses):
#   BENCH_SECONDS   seconds of producing per run [10] (4)
#   BENCH_PAIRS     off/on pairs [4] (1)
#   BENCH_SCRAPES   timed scrapes per member in (b) [20] (20)
#   BENCH_DIR       working folder [a new temp dir, removed at the end]
#   RUNNEL_BIN, RUNNEL_BROKER_BIN, RUNNEL_COORD_BIN: use these binaries
#                   instead of building target/release/*.
set -euo pipefail

PROG=metrics-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

quick=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) die "unknown argument: $1 (--quick or nothing)" ;;
    esac
done
if [[ "$quick" == 1 ]]; then
    SECS="${BENCH_SECONDS:-4}"; PAIRS="${BENCH_PAIRS:-1}"
else
    SECS="${BENCH_SECONDS:-10}"; PAIRS="${BENCH_PAIRS:-4}"
fi
SCRAPES="${BENCH_SCRAPES:-20}"
[[ "$SECS" =~ ^[0-9]+$ && "$PAIRS" =~ ^[0-9]+$ && "$SCRAPES" =~ ^[0-9]+$ ]] ||
    die "BENCH_SECONDS, BENCH_PAIRS and BENCH_SCRAPES take whole numbers"
((PAIRS >= 1 && SCRAPES >= 1 && SECS >= 1)) || die "BENCH_SECONDS, BENCH_PAIRS and BENCH_SCRAPES must be >= 1"
PARTITIONS=6
RECORD=1024
BATCH=16384
TOPICS=10
PER_TOPIC=100

command -v curl >/dev/null || die "needs curl"
script_start=$SECONDS
export_runnel_bins

if [[ -n "${BENCH_DIR:-}" ]]; then
    work="$BENCH_DIR"; mkdir -p "$work"; keep=1
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/runnel-metrics-bench.XXXXXX")"; keep=0
fi

# ---- processes: everything started here is stopped on exit
broker_dirs=()
scraper_pid=""
console_pid=""
stop_scraper() {
    if [[ -n "$scraper_pid" ]]; then
        kill "$scraper_pid" 2>/dev/null || true
        wait "$scraper_pid" 2>/dev/null || true
        scraper_pid=""
    fi
}
cleanup() {
    stop_scraper
    if [[ -n "$console_pid" ]]; then
        kill "$console_pid" 2>/dev/null || true
        wait "$console_pid" 2>/dev/null || true
    fi
    local d
    for d in "${broker_dirs[@]}"; do
        "$ROOT/scripts/broker-stop.sh" --dir "$d" >/dev/null 2>&1 || true
    done
    "$ROOT/scripts/coord-stop.sh" --dir "$work/coord" >/dev/null 2>&1 || true
    [[ "$keep" == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- ports: random, free, distinct, in 30000-60000
used_ports=" "
port() {
    local p
    for _ in $(seq 1 200); do
        p=$((30000 + (RANDOM * 32768 + RANDOM) % 30001))
        [[ "$used_ports" == *" $p "* ]] && continue
        port_busy "$p" && continue
        used_ports+="$p "
        echo "$p"
        return 0
    done
    die "no free port found in 30000-60000"
}

# ---- figures
# median / nearest-rank p95 of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
p95() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else { i = int(NR * 0.95); if (i < NR * 0.95) i++; print v[i] } }'; }

# ---- coord: one standalone member with metrics, for the whole run
cport="$(port)"; cmport="$(port)"
say "starting coord on 127.0.0.1:$cport (metrics on $cmport)"
"$ROOT/scripts/coord-start.sh" --dir "$work/coord" --port "$cport" --metrics-port "$cmport" >/dev/null

# start_broker NAME METRICS_PORT|"": a fresh broker in $work/NAME on chroot
# /NAME; sets bs (bootstrap), bpid and bdir.
start_broker() {
    local name="$1" mport="$2" flags=()
    bdir="$work/$name"
    broker_dirs+=("$bdir")
    [[ -z "$mport" ]] || flags=(--metrics-port "$mport")
    bs="$("$ROOT/scripts/broker-start.sh" --dir "$bdir" --port "$(port)" \
        --zookeeper "127.0.0.1:$cport/$name" "${flags[@]}")"
    bpid="$(cat "$bdir/broker.pid")"
}
stop_broker() {
    "$ROOT/scripts/broker-stop.sh" --dir "$bdir" >/dev/null 2>&1 || true
}

clk_tck="$(getconf CLK_TCK)"
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# ---- (a) produce throughput, metrics off / on
# run_case NAME on|off: one broker, one perf produce run; appends a row to
# rows and the rate to rates_on / rates_off (unless NAME is warm-up).
rows=()
rates_on=()
rates_off=()
run_case() {
    local name="$1" mode="$2" mport="" url="" out t0 t1 c0 c1 line rs mbs p50 p99 cpu scrapes=0 bad=0
    [[ "$mode" == on ]] && mport="$(port)"
    start_broker "$name" "$mport"
    out="$work/$name.produce"
    "$RUNNEL_BIN" topics --bootstrap-server "$bs" --create --topic load --partitions "$PARTITIONS" \
        --replication-factor 1 >/dev/null
    if [[ "$mode" == on ]]; then
        url="http://127.0.0.1:$mport/metrics"
        curl -sf -o /dev/null "$url" || die "$url does not answer"
        : >"$work/$name.scrapes"
        (
            while :; do
                curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 "$url" >>"$work/$name.scrapes" || true
                sleep 1
            done
        ) &
        scraper_pid=$!
    fi
    sync
    say "== $name: metrics $mode, runnel perf produce for ${SECS}s"
    c0="$(ticks "$bpid")"; t0="$(now_ms)"
    "$RUNNEL_BIN" perf produce --bootstrap-server "$bs" --topic load --num-records 1000000000 \
        --duration "$SECS" --record-size "$RECORD" --throughput -1 --acks 1 \
        --batch-size "$BATCH" --reporting-interval 100000 >"$out" 2>"$out.err" ||
        say "$name: runnel perf produce failed: $(tail -n 3 "$out.err")"
    c1="$(ticks "$bpid")"; t1="$(now_ms)"
    stop_scraper
    if [[ "$mode" == on ]]; then
        scrapes="$(grep -c . "$work/$name.scrapes" || true)"
        bad="$(grep -vc '^200$' "$work/$name.scrapes" || true)"
    fi
    stop_broker
    rm -rf "$bdir/logs"
    line="$(grep ' records sent, .*99.9th' "$out" | tail -n 1 || true)"
    [[ -n "$line" ]] || { say "$name: no summary line"; return 0; }
    rs="$(sed -E 's/.* ([0-9.]+) records\/sec.*/\1/' <<<"$line")"
    mbs="$(sed -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/' <<<"$line")"
    p50="$(sed -E 's/.* ([0-9.]+) ms 50th.*/\1/' <<<"$line")"
    p99="$(sed -E 's/.* ([0-9.]+) ms 99th.*/\1/' <<<"$line")"
    cpu="$(awk -v c="$((c1 - c0))" -v hz="$clk_tck" -v ms="$((t1 - t0))" 'BEGIN { printf "%.0f", 100 * c / hz / (ms / 1000) }')"
    say "$name: $line"
    [[ "$name" == warm-up ]] && return 0
    if [[ "$mode" == on ]]; then rates_on+=("$rs"); else rates_off+=("$rs"); fi
    rows+=("$(printf '%-8s %-7s %12.0f %8s %16s %10s %s' "$name" "$mode" "$rs" "$mbs" "$p50 / $p99" "$cpu %" \
        "$([[ "$mode" == on ]] && echo "$scrapes ($bad failed)" || echo "-")")")
}

run_case warm-up off
n=0
pair_ratios=()
for ((i = 1; i <= PAIRS; i++)); do
    order="off on"
    ((i % 2)) || order="on off"
    for mode in $order; do
        n=$((n + 1))
        run_case "run-$n" "$mode"
    done
    if ((${#rates_on[@]} == i && ${#rates_off[@]} == i)); then
        pair_ratios+=("$(awk -v a="${rates_on[i - 1]}" -v b="${rates_off[i - 1]}" 'BEGIN { printf "%.1f", 100 * a / b }')")
    fi
done
med_off="$(printf '%s\n' "${rates_off[@]}" | median)"
med_on="$(printf '%s\n' "${rates_on[@]}" | median)"
ratio="$(awk -v a="$med_on" -v b="$med_off" 'BEGIN { if (b > 0) printf "%.1f %%", 100 * a / b; else print "-" }')"

# ---- (b) scrape time and size: a broker with 1 000 partitions, and coord
mport="$(port)"
start_broker scrape "$mport"
say "== creating $TOPICS topics x $PER_TOPIC partitions (RF 1)"
for ((t = 1; t <= TOPICS; t++)); do
    "$RUNNEL_BIN" topics --bootstrap-server "$bs" --create --topic "t$t" --partitions "$PER_TOPIC" \
        --replication-factor 1 >/dev/null
done
say "== one record to each partition"
for ((t = 1; t <= TOPICS; t++)); do
    # batch.size 1: one record per batch, batches round the partitions.
    "$RUNNEL_BIN" perf produce --bootstrap-server "$bs" --topic "t$t" --num-records "$PER_TOPIC" \
        --record-size 100 --throughput -1 --acks 1 --batch-size 1 --reporting-interval 100000 \
        >"$work/fill-t$t" 2>&1 || die "producing to t$t failed: $(tail -n 3 "$work/fill-t$t")"
done
burl="http://127.0.0.1:$mport/metrics"
curl -sf "$burl" -o "$work/broker.metrics" || die "$burl does not answer"
leo_nonzero="$(grep -E '^kafka_log_log_logendoffset\{' "$work/broker.metrics" | awk '$NF > 0' | wc -l)"
leo_all="$(grep -cE '^kafka_log_log_logendoffset\{' "$work/broker.metrics" || true)"
say "broker /metrics: $leo_all partitions with a log-end-offset sample, $leo_nonzero of them > 0"
curl -sf "http://127.0.0.1:$cmport/metrics" -o "$work/coord.metrics" || die "coord metrics do not answer"
znodes="$(awk '$1 == "znode_count" { printf "%d", $2 }' "$work/coord.metrics")"

# scrape_row NAME URL PARTITIONS: BENCH_SCRAPES timed GETs (after one untimed).
scrape_rows=()
scrape_row() {
    local name="$1" url="$2" parts="$3" f="$work/$1.scrape" body="$work/$1.metrics" tmed tp95 smed samples
    curl -s -o /dev/null "$url" || true
    : >"$f"
    for ((i = 0; i < SCRAPES; i++)); do
        curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "$url" >>"$f"
    done
    tmed="$(awk '{ print $1 * 1000 }' "$f" | median)"
    tp95="$(awk '{ print $1 * 1000 }' "$f" | p95)"
    smed="$(awk '{ print $2 }' "$f" | median)"
    samples="$(grep -vc '^#' "$body" || true)"
    scrape_rows+=("$(printf '%-15s %10s %8d %11.1f %11.1f %12.0f %9d' "$name" "$parts" "$SCRAPES" "$tmed" "$tp95" "$smed" "$samples")")
}
say "== $SCRAPES timed scrapes each"
scrape_row broker "$burl" "$leo_all"
scrape_row coord "http://127.0.0.1:$cmport/metrics" "-"

# ---- (c) console page load: 1 000 partitions in one topic, 2 000 in all
WIDE=1000
say "== creating topic wide with $WIDE partitions (RF 1)"
"$RUNNEL_BIN" topics --bootstrap-server "$bs" --create --topic wide --partitions "$WIDE" \
    --replication-factor 1 >/dev/null
cnport="$(port)"
"$RUNNEL_BIN" console --bootstrap-server "$bs" --zookeeper "127.0.0.1:$cport/scrape" \
    --listen "127.0.0.1:$cnport" --metrics-url "$burl" >"$work/console.log" 2>&1 &
console_pid=$!
curl_url="http://127.0.0.1:$cnport"
# The console reads the cluster in the background: wait until its page of
# the wide topic shows the last partition (up to 60 s).
console_ready=0
for _ in $(seq 1 600); do
    kill -0 "$console_pid" 2>/dev/null || die "runnel console exited: $(tail -n 3 "$work/console.log")"
    if curl -sf "$curl_url/topics/wide" 2>/dev/null | grep -q ">$((WIDE - 1))<"; then
        console_ready=1
        break
    fi
    sleep 0.1
done
[[ "$console_ready" == 1 ]] || die "the console did not show topic wide's $WIDE partitions within 60 s"
page_rows=()
page_row() {
    local name="$1" path="$2" f="$work/page-$1.times" tmed tp95 smed
    curl -s -o /dev/null "$curl_url$path" || true
    : >"$f"
    for ((i = 0; i < SCRAPES; i++)); do
        curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}\n' "$curl_url$path" >>"$f"
    done
    awk '$1 != 200 { bad = 1 } END { exit bad }' "$f" || die "console $path answered: $(sort -u "$f" | head -n 3)"
    tmed="$(awk '{ print $2 * 1000 }' "$f" | median)"
    tp95="$(awk '{ print $2 * 1000 }' "$f" | p95)"
    smed="$(awk '{ print $3 }' "$f" | median)"
    page_rows+=("$(printf '%-28s %8d %11.1f %11.1f %12.0f' "$name $path" "$SCRAPES" "$tmed" "$tp95" "$smed")")
}
say "== $SCRAPES timed GETs of each console page"
page_row overview /
page_row topics /topics
page_row "topic (100)" /topics/t1
page_row "topic ($WIDE)" /topics/wide

# ---- report
echo
echo "runnel metrics benchmark, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $((SECONDS - script_start)) s$([[ "$quick" == 1 ]] && echo ", --quick")"
echo
echo "(a) produce throughput, metrics.listener off vs on (on: /metrics scraped every 1 s during the run)"
echo "    runnel perf produce, ${SECS} s per run, ${RECORD} B records, acks=1, $PARTITIONS partitions, batch.size $BATCH, 5 requests in flight;"
echo "    a fresh broker per run, one warm-up run not counted; CPU = broker, % of one core; MB = 2^20 bytes"
echo
printf '%-8s %-7s %12s %8s %16s %10s %s\n' run metrics records/s MB/s "p50 / p99 ms" "broker CPU" "scrapes"
printf '%s\n' "${rows[@]}"
echo
printf 'median records/s: off %.0f, on %.0f; on/off %s (target >= 98 %%)\n' "$med_off" "$med_on" "$ratio"
echo "on/off within each pair: $(printf '%s %% ' "${pair_ratios[@]}")(median $(printf '%s\n' "${pair_ratios[@]}" | median) %)"
echo
echo "(b) scrape cost: $SCRAPES GETs of /metrics each (curl %{time_total}, %{size_download}; one untimed GET first)"
echo "    broker: $TOPICS topics x $PER_TOPIC partitions RF 1, one record in each ($leo_nonzero partitions with log end offset > 0);"
echo "    coord: the standalone member holding that metadata ($znodes znodes)"
echo
printf '%-15s %10s %8s %11s %11s %12s %9s\n' member partitions scrapes "median ms" "p95 ms" "body bytes" samples
printf '%s\n' "${scrape_rows[@]}"
echo
echo "(c) console page load: $SCRAPES GETs of each page (curl %{time_total}, %{size_download}; one untimed GET first)"
echo "    runnel console on the broker of (b) plus topic wide ($WIDE partitions): $((TOPICS * PER_TOPIC + WIDE)) partitions in all"
echo
printf '%-28s %8s %11s %11s %12s\n' page GETs "median ms" "p95 ms" "body bytes"
printf '%s\n' "${page_rows[@]}"
