#!/usr/bin/env bash
# Failover you can watch: a producer (acks=all) and a consumer run against
# the local cluster while one broker is killed, restarted, paused, resumed,
# stopped and started; the script narrates what it sees (leaders before and
# after, the ISR shrinking and growing back, the longest pause of the
# producer, records acknowledged vs read back).
#
#   scripts/demo-failover.sh                 # uses (or starts) ./var/cluster
#   scripts/demo-failover.sh --dir /tmp/c --broker broker-3 --rate 500
#
# Steps, each on broker-2 unless --broker says otherwise:
#   1. scripts/cluster.sh up (members already running are left alone), then
#      topics.sh --create --topic orders --partitions 6 --replication-factor 3
#      --config min.insync.replicas=2 (kept if it exists) and --describe;
#   2. a client made of the runnel CLI (target/release/runnel), in the
#      background: a producer with acks=all writing "<run>-<seq>" to
#      partition seq % 6 at --rate records/s, one loop per partition that
#      pipes the records due to `runnel produce --partition P --sync` every
#      0.1 s (one request in flight) and retries a failed run (the CLI
#      itself does not retry), and a consumer, `runnel consume --partition P`
#      per partition, started again where it stopped when its leader goes;
#   3. kill (SIGKILL): leaders move once coord expires the broker's session
#      (zookeeper.session.timeout.ms, 6 s in cluster.sh's brokers), the ISR
#      shrinks; restart: the broker catches up and the ISR grows back;
#   4. pause (SIGSTOP) / resume (SIGCONT): the same through session expiry;
#   5. stop (SIGTERM, controlled shutdown) of the broker that leads the most
#      partitions at that point (after 3 and 4 the victim leads none: leaders
#      move back to preferred replicas only after
#      leader.imbalance.check.interval.seconds, 300 s by default), then start;
#   6. the client stops producing, the consumer reads up to the end, and the
#      report lists, per step, the longest gap between two acknowledgements
#      and the first acknowledgement after the action.
# Exits 1 if a record the producer saw acknowledged was not read back.
#
# Needs no Python and no venv: the runnel CLI (built as cluster.sh builds it),
# coreutils, procps (pkill) and awk.
# Environment: RUNNEL_BIN, RUNNEL_BROKER_BIN, RUNNEL_COORD_BIN as for cluster.sh.
set -euo pipefail

PROG=demo-failover
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    cat <<EOF
usage: $(basename "$0") [--dir DIR] [--topic NAME] [--broker broker-K] [--rate N]
                        [--timeout SECS] [--keep]

  --dir DIR        the cluster folder (default <repo>/var/cluster); started with
                   scripts/cluster.sh up if it does not run
  --topic NAME     topic (default orders; 6 partitions, RF 3, min.insync.replicas=2)
  --broker NAME    the broker to kill, restart, pause and resume (default broker-2)
  --rate N         records per second the producer aims at (default 200)
  --timeout SECS   how long one step may wait for leaders/ISR (default 60)
  --keep           keep the client's files (acks, report) and print where
EOF
}

dir="$ROOT/var/cluster"
topic=orders
victim=broker-2
rate=200
step_timeout=60
keep=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --topic) topic="${2:?--topic needs a value}"; shift 2 ;;
        --broker) victim="${2:?--broker needs a value}"; shift 2 ;;
        --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
        --timeout) step_timeout="${2:?--timeout needs a value}"; shift 2 ;;
        --keep) keep=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$victim" =~ ^broker-[0-9]+$ ]] || die "--broker takes a broker name such as broker-2"
[[ "$rate" =~ ^[0-9]+$ && "$rate" -gt 0 ]] || die "--rate takes a positive whole number"
[[ "$step_timeout" =~ ^[0-9]+$ ]] || die "--timeout takes whole seconds"
victim_id="${victim#broker-}"
PARTITIONS=6

export_runnel_bins
RUNNEL="$RUNNEL_BIN"
CLUSTER="$ROOT/scripts/cluster.sh"
# One produce request per partition at most every PERIOD_MS (each is a
# `runnel produce` run): the resolution of the gaps reported.
PERIOD_MS=100

# ---- the client: producer + consumer loops of the runnel CLI ---------------------
# Files in $work: prod.P.acks ("<time> <seq> <seq>..." per acknowledged
# request), prod.P.state ("<records handed over> <failed attempts>"),
# prod.P.err (the last failure), read.P (what the consumer printed:
# Partition:P<TAB>Offset:O<TAB>value), marks ("<time> <step>").
work="$(mktemp -d "${TMPDIR:-/tmp}/runnel-demo.XXXXXX")"
run="run$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
producer_pids=()
consumer_pids=()
# stop_loops PID...: each loop's children (timeout, runnel), then the loop.
stop_loops() {
    local pid
    for pid in "$@"; do
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
    touch "$work/stop" "$work/stop-consumers"
    stop_loops "${producer_pids[@]}" "${consumer_pids[@]}"
    if $keep; then say "client files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# produce_loop P START_US: the producer of partition P. Record number seq
# ("<run>-<seq>", 8 digits) is due at START + seq / rate and goes to
# partition seq % 6; every PERIOD_MS the records due and not yet
# acknowledged are piped to `runnel produce --partition P --sync` (acks=all,
# one request in flight). The CLI does not retry: a failed run (leader gone,
# not leader any more, timeout) is retried whole after 100 ms with the
# bootstrap list rotated, as a client with retries would, so a record can
# be written twice but an acknowledged one is never given up. Once
# $work/stop exists no new record is due; what is pending is retried for
# up to 60 s more.
produce_loop() {
    local p="$1" start_us="$2" k=0 sent=0 fails=0 now due s rest giveup="" servers="$bs" rc
    local pending=()
    while :; do
        now="${EPOCHREALTIME//[.,]/}"
        if [[ ! -e "$work/stop" ]]; then
            due=$(((now - start_us) * rate / 1000000))
            while ((k * PARTITIONS + p <= due)); do
                pending+=("$((k * PARTITIONS + p))")
                k=$((k + 1)) sent=$((sent + 1))
            done
        else
            ((${#pending[@]} > 0)) || break
            giveup="${giveup:-$((now + 60000000))}"
            ((now < giveup)) || break
        fi
        echo "$sent $fails" >"$work/prod.$p.state.tmp"
        mv -f "$work/prod.$p.state.tmp" "$work/prod.$p.state"
        if ((${#pending[@]} > 0)); then
            rc=0
            for s in "${pending[@]}"; do printf '%s-%08d\n' "$run" "$s"; done |
                timeout 15 "$RUNNEL" produce --bootstrap-server "$servers" --topic "$topic" \
                    --partition "$p" --request-required-acks all --sync --request-timeout-ms 10000 \
                    >/dev/null 2>"$work/prod.$p.lasterr" || rc=$?
            if ((rc == 0)); then
                echo "${EPOCHREALTIME/,/.} ${pending[*]}" >>"$work/prod.$p.acks"
                pending=()
            else
                fails=$((fails + 1))
                mv -f "$work/prod.$p.lasterr" "$work/prod.$p.err"
                echo "$sent $fails" >"$work/prod.$p.state.tmp"
                mv -f "$work/prod.$p.state.tmp" "$work/prod.$p.state"
                servers="${servers#*,},${servers%%,*}"
                sleep 0.1
            fi
        fi
        rest=$(((now + PERIOD_MS * 1000 - ${EPOCHREALTIME//[.,]/}) / 1000))
        if ((rest > 0)); then
            printf -v rest '0.%03d' "$rest"
            sleep "$rest"
        fi
    done
    printf '%s\n' "${pending[@]}" >"$work/prod.$p.unacked"
}

# consume_loop P: the consumer of partition P, from its earliest offset
# (records of other runs are told apart by their run prefix). `runnel
# consume` stops at a fetch error (its leader gone) or after 3 s without a
# record; it is started again from the offset after the last one printed.
consume_loop() {
    local p="$1" off=earliest last
    until [[ -e "$work/stop-consumers" ]]; do
        timeout 60 "$RUNNEL" consume --bootstrap-server "$bs" --topic "$topic" --partition "$p" \
            --offset "$off" --timeout-ms 3000 --property print.partition=true \
            --property print.offset=true >>"$work/read.$p" 2>"$work/cons.$p.err" || sleep 0.5
        last="$(tail -n 1 "$work/read.$p" | sed -nE 's/^Partition:[0-9]+\tOffset:([0-9]+)\t.*/\1/p')"
        [[ -z "$last" ]] || off=$((last + 1))
    done
}

start_client() {
    local p start_us
    for ((p = 0; p < PARTITIONS; p++)); do
        : >"$work/prod.$p.acks"
        echo "0 0" >"$work/prod.$p.state"
        : >"$work/read.$p"
    done
    for ((p = 0; p < PARTITIONS; p++)); do
        consume_loop "$p" &
        consumer_pids+=($!)
    done
    start_us="${EPOCHREALTIME//[.,]/}"
    for ((p = 0; p < PARTITIONS; p++)); do
        produce_loop "$p" "$start_us" &
        producer_pids+=($!)
    done
}

# Ack events sorted by time: "<time> <partition> <records>".
ack_events() {
    local p
    for ((p = 0; p < PARTITIONS; p++)); do
        [[ -f "$work/prod.$p.acks" ]] || continue
        awk -v p="$p" '{ print $1, p, NF - 1 }' "$work/prod.$p.acks"
    done | sort -g
}
# "<sent> <acked> <failed attempts> <read> <longest pause s> <missing> <duplicates> <misplaced>":
# read, missing (acknowledged, not read), duplicates (read at more than one
# offset) and misplaced (read in another partition than sent to) count this
# run's distinct records.
client_stats() {
    local gap
    gap="$(ack_events | awk 'NR > 1 && $1 - t > g { g = $1 - t } { t = $1 } END { printf "%.2f", g + 0 }')"
    awk -v run="$run" -v parts="$PARTITIONS" -v gap="$gap" '
        FILENAME ~ /\.state$/ { sent += $1; fails += $2; next }
        FILENAME ~ /\.acks$/ { for (i = 2; i <= NF; i++) acked[$i + 0] = 1; next }
        {
            n = split($0, f, "\t")
            if (n < 3 || index(f[3], run "-") != 1) next
            s = substr(f[3], length(run) + 2) + 0
            where = f[1] " " f[2]
            if ((s, where) in seen) next
            seen[s, where] = 1
            if (!(s in times)) nread++
            times[s]++
            if (f[1] != "Partition:" (s % parts)) misplaced++
        }
        END {
            for (s in acked) { nacked++; if (!(s in times)) missing++ }
            for (s in times) if (times[s] > 1) dups++
            printf "%d %d %d %d %s %d %d %d\n", sent, nacked, fails, nread, gap, missing, dups, misplaced
        }' /dev/null "$work"/prod.*.state "$work"/prod.*.acks "$work"/read.* 2>/dev/null
}
# The acknowledged records not read back, space-separated.
missing_records() {
    awk -v run="$run" '
        FILENAME ~ /\.acks$/ { for (i = 2; i <= NF; i++) acked[$i + 0] = 1; next }
        { split($0, f, "\t"); if (index(f[3], run "-") == 1) read[substr(f[3], length(run) + 2) + 0] = 1 }
        END { for (s in acked) if (!(s in read)) printf "%s-%08d\n", run, s }' \
        /dev/null "$work"/prod.*.acks "$work"/read.* 2>/dev/null | sort | tr '\n' ' '
}

# ---- helpers -------------------------------------------------------------------
topics() { "$ROOT/scripts/topics.sh" --bootstrap-server "$bs" "$@"; }
# The partition lines of --describe, tab-separated fields.
partition_lines() { topics --describe --topic "$topic" 2>/dev/null | grep -F "	Partition: " || true; }
# FIELD (Leader, Isr, Replicas) of each partition: "P VALUE" lines.
field() {
    partition_lines | awk -F'\t' -v want="$1" '{
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^Partition: /) p = substr($i, 12)
            if (index($i, want ": ") == 1) v = substr($i, length(want) + 3)
        }
        print p, v }'
}
leaders() { field Leader | awk '{ printf "%sp%s:%s", (NR > 1 ? " " : ""), $1, $2 } END { print "" }'; }
isrs() { field Isr | awk '{ printf "%sp%s:[%s]", (NR > 1 ? " " : ""), $1, $2 } END { print "" }'; }
led_by() { field Leader | awk -v id="$1" '$2 == id' | wc -l; }
leaderless() { field Leader | awk '$2 == "none" || $2 == "-1"' | wc -l; }
in_isr() { field Isr | awk -v id="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == id) c++ } END { print c + 0 }'; }
full_isr() { field Isr | awk '{ if (split($2, a, ",") == 3) c++ } END { print c + 0 }'; }
busiest_leader() { field Leader | awk '$2 ~ /^[0-9]+$/ { n[$2]++ } END { for (k in n) print n[k], k }' | sort -rn | head -n 1 | cut -d' ' -f2; }

progress() {
    local sent acked fails nread gap
    read -r sent acked fails nread gap _ <<<"$(client_stats)"
    printf '   producer: %s sent, %s acknowledged, %s failed attempt(s) retried; consumer: %s read; longest pause so far %s s\n' \
        "$sent" "$acked" "$fails" "$nread" "$gap"
}
mark() { echo "$EPOCHREALTIME $*" | tr ',' '.' >>"$work/marks"; }
t0=0
since() { awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# wait_until DESC CMD...: polls CMD every 0.2 s for up to --timeout seconds.
wait_until() {
    local desc="$1" deadline=$(($(now_ms) + step_timeout * 1000))
    shift
    until "$@"; do
        if (($(now_ms) >= deadline)); then
            echo "   !! not within ${step_timeout}s: $desc"
            return 1
        fi
        sleep 0.2
    done
}
none_led_by() { [[ "$(led_by "$1")" == 0 && "$(leaderless)" == 0 ]]; }
not_in_isr() { [[ "$(in_isr "$1")" == 0 ]]; }
isr_full() { [[ "$(full_isr)" == "$PARTITIONS" ]]; }
acked_at_least() {
    local a
    a="$(client_stats | cut -d' ' -f2)"
    ((${a:-0} >= $1))
}

show() {
    echo "   leaders: $(leaders)"
    echo "   ISR:     $(isrs)"
}

# act ACTION NAME: scripts/cluster.sh ACTION NAME, marked as a step of the
# report; since() counts from here.
act() {
    mark "$1 $2"
    t0=$(now_ms)
    member "$1" "$2" 2>&1 | sed 's/^/   /'
}

# rejoined NAME [WHY]: waits for NAME back in every ISR, says after how long
# (and WHY), then shows leaders and ISR.
rejoined() {
    wait_until "$1 back in every ISR" isr_full && echo "   ISR grew back after $(since) s${2:+ ($2)}:"
    show
}

# ---- 1. cluster and topic --------------------------------------------------------
echo "== scripts/cluster.sh up --dir $dir"
up_out="$("$CLUSTER" up --dir "$dir")" || die "cluster.sh up failed"
while IFS= read -r line; do echo "   $line"; done <<<"$up_out"
bs="$(sed -n 's/^brokers: //p' <<<"$up_out")"
[[ -n "$bs" ]] || die "the cluster in $dir has no brokers (cluster.sh up --brokers 3)"
nb="$(tr ',' '\n' <<<"$bs" | wc -l)"
((nb >= 3)) || die "the demo needs 3 brokers for replication factor 3; $dir has $nb"
[[ -f "$dir/$victim/server.properties" ]] || die "no $victim in $dir"
member() { "$CLUSTER" "$1" "$2" --dir "$dir" --timeout "$step_timeout"; }

echo
echo "== topics.sh --create --topic $topic --partitions $PARTITIONS --replication-factor 3 --config min.insync.replicas=2"
topics --create --topic "$topic" --partitions "$PARTITIONS" --replication-factor 3 \
    --config min.insync.replicas=2 --if-not-exists | sed 's/^/   /'
wait_until "every partition of $topic led, full ISR" isr_full || true
topics --describe --topic "$topic" | sed 's/^/   /'

# ---- 2. client ---------------------------------------------------------------------
echo
echo "== producer (acks=all, $rate records/s) and consumer start"
echo "   runnel produce --sync per partition every ${PERIOD_MS} ms (retried when it fails), runnel consume per partition"
start_client
if ! wait_until "the producer's first acknowledgements" acked_at_least 50; then
    head -q -n 3 "$work"/prod.*.err 2>/dev/null | sort -u >&2 || true
    die "no acknowledgement (the producer's last errors above)"
fi
mark "baseline"
sleep 3
progress

# ---- 3. kill / restart ---------------------------------------------------------------
echo
echo "== scripts/cluster.sh kill $victim   (SIGKILL: a crash)"
show
echo "   $victim leads $(led_by "$victim_id") partition(s)"
act kill "$victim"
if wait_until "leaders moved off $victim_id" none_led_by "$victim_id"; then
    echo "   leaders moved after $(since) s (coord expired $victim's session, the controller elected from the ISR):"
fi
wait_until "$victim out of the ISR" not_in_isr "$victim_id" && echo "   ISR shrank after $(since) s:"
show
sleep 2
progress

echo
echo "== scripts/cluster.sh restart $victim"
act restart "$victim"
rejoined "$victim" "$victim caught up"
progress

# ---- 4. pause / resume ---------------------------------------------------------------
echo
echo "== scripts/cluster.sh pause $victim   (SIGSTOP)"
act pause "$victim"
wait_until "$victim out of the ISR" not_in_isr "$victim_id" &&
    echo "   ISR shrank after $(since) s (session expired / replica.lag.time.max.ms passed):"
show
progress

echo
echo "== scripts/cluster.sh resume $victim   (SIGCONT)"
act resume "$victim"
rejoined "$victim"
progress

# ---- 5. stop / start (controlled shutdown) ------------------------------------------
target="broker-$(busiest_leader)"
[[ "$target" != "broker-" ]] || target="$victim"
echo
echo "== scripts/cluster.sh stop $target   (SIGTERM: controlled shutdown; it leads $(led_by "${target#broker-}") partition(s))"
show
act stop "$target"
echo "   exited after $(since) s; right after the exit:"
show
echo "   partitions still led by $target: $(led_by "${target#broker-}")"
sleep 2
progress

echo
echo "== scripts/cluster.sh start $target"
act start "$target"
rejoined "$target"
sleep 2

# ---- 6. report ---------------------------------------------------------------------------
echo
echo "== stopping the producer; the consumer reads up to the end"
mark "end"
touch "$work/stop"
for pid in "${producer_pids[@]}"; do wait "$pid" || true; done
producer_pids=()
drained() { [[ "$(client_stats | cut -d' ' -f6)" == 0 ]]; }
step_timeout=60 wait_until "the consumer reading every acknowledged record" drained || true
touch "$work/stop-consumers"
stop_loops "${consumer_pids[@]}"
consumer_pids=()
read -r sent acked fails nread _ n_missing dups misplaced <<<"$(client_stats)"
unacked="$(cat "$work"/prod.*.unacked 2>/dev/null | grep -c . || true)"
ack_events | awk -v marks="$work/marks" '
    BEGIN { while ((getline line < marks) > 0) { nm++; split(line, a, " "); mt[nm] = a[1]; ml[nm] = substr(line, length(a[1]) + 2) } }
    { ne++; et[ne] = $1; ep[ne] = $2; en[ne] = $3 }
    function f(x) { return x < 0 ? "-" : sprintf("%.2f", x) }
    END {
        printf "   %-22s %14s %16s %18s %6s\n", "step", "longest gap s", "partition gap s", "first ack after s", "acks"
        for (i = 1; i <= nm; i++) {
            if (ml[i] == "end") continue
            t0 = mt[i]; t1 = i < nm ? mt[i + 1] : 1e18
            gap = -1; pgap = -1; first = -1; acks = 0; prev = -1
            split("", last)
            for (j = 1; j <= ne; j++) {
                x = et[j]
                if (x >= t1) break
                if (x >= t0) {
                    if (first < 0) first = x - t0
                    if (prev >= 0 && x - prev > gap) gap = x - prev
                    if ((ep[j] in last) && x - last[ep[j]] > pgap) pgap = x - last[ep[j]]
                    acks += en[j]
                }
                prev = x; last[ep[j]] = x
            }
            printf "   %-22s %14s %16s %18s %6d\n", ml[i], f(gap), f(pgap), f(first), acks
        }
    }'
echo "   (longest gap: between two acknowledgements during the step, counting the one before it;"
echo "   partition gap: the same within one partition, the longest of the $PARTITIONS; producer at a steady rate,"
echo "   one request per partition at most every $PERIOD_MS ms)"
echo
echo "   records sent $sent, acknowledged $acked, never acknowledged $unacked ($fails produce attempt(s) failed and were"
echo "   retried); read back $nread of this run ($dups read more than once)"
if ((n_missing > 0)); then
    echo "   LOST: $n_missing acknowledged record(s) not read back, e.g. $(missing_records | cut -d' ' -f1-10)"
elif ((misplaced > 0)); then
    echo "   $misplaced acknowledged record(s) read in another partition than the one they were sent to"
else
    echo "   every acknowledged record was read back: none lost"
fi
if ((fails > 0)); then
    echo "   why attempts failed (the last failure of each partition that had one):"
    head -q -n 1 "$work"/prod.*.err 2>/dev/null | sort | uniq -c | sed -E 's/^ *([0-9]+) /     \1 x /' | head -n 8
fi
echo
echo "The cluster keeps running: scripts/cluster.sh status --dir $dir; scripts/cluster.sh down --dir $dir to stop it."
[[ "$n_missing" == 0 ]] || exit 1
