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
#   2. a Python client from the venv (confluent-kafka) in the background: a
#      producer with acks=all, retries, one request in flight, writing
#      "<run>-<seq>" to partition seq % 6 at --rate records/s, and a consumer
#      reading the topic from its end at start;
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
# Needs the venv with confluent-kafka (scripts/test.sh creates it).
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

PY="$(venv_python)"
[[ -x "$PY" ]] || die "no Python venv at $PY: run scripts/test.sh once (it creates .venv with confluent-kafka)"
"$PY" -c 'import confluent_kafka' 2>/dev/null || die "$PY has no confluent_kafka: run scripts/test.sh once"
CLUSTER="$ROOT/scripts/cluster.sh"

# ---- the client: producer + consumer, JSON status and a final report ----------
work="$(mktemp -d "${TMPDIR:-/tmp}/runnel-demo.XXXXXX")"
client_pid=""
cleanup() {
    if [[ -n "$client_pid" ]] && kill -0 "$client_pid" 2>/dev/null; then
        kill -TERM "$client_pid" 2>/dev/null || true
        wait "$client_pid" 2>/dev/null || true
    fi
    if $keep; then say "client files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

cat >"$work/client.py" <<'PYEOF'
import json, os, signal, sys, threading, time, uuid
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_END

bootstrap, topic, partitions, out, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
run = "run" + uuid.uuid4().hex[:6]
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
lock = threading.Lock()
sent, acked, failed, read = 0, {}, {}, {}
ack_times = []
consumer_ready = threading.Event()

def status(final=None):
    with lock:
        ts = sorted(ack_times)
        gap, at = 0.0, None
        for a, b in zip(ts, ts[1:]):
            if b - a > gap:
                gap, at = b - a, a
        s = {"run": run, "sent": sent, "acked": len(acked), "failed": len(failed), "read": len(read),
             "longest_pause": gap, "longest_pause_at": at, "last_ack": ts[-1] if ts else None}
    if final is not None:
        s.update(final)
    tmp = os.path.join(out, "status.json.tmp")
    with open(tmp, "w") as f:
        json.dump(s, f)
    os.replace(tmp, os.path.join(out, "status.json"))

def consume():
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "demo-" + run, "enable.auto.commit": False,
                  "topic.metadata.refresh.interval.ms": 1000, "fetch.wait.max.ms": 100})
    # From the end as it is before the first record is sent.
    start = {}
    for p in range(partitions):
        for _ in range(100):
            try:
                start[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
                break
            except Exception:
                time.sleep(0.2)
        else:
            start[p] = OFFSET_END
    c.assign([TopicPartition(topic, p, start[p]) for p in range(partitions)])
    consumer_ready.set()
    drain_deadline = None
    while True:
        if stop.is_set() and producer_done.is_set():
            if drain_deadline is None:
                drain_deadline = time.time() + 60
            with lock:
                done = all(v in read for v in acked)
            if done or time.time() > drain_deadline:
                break
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        v = m.value().decode()
        if v.startswith(run + "-"):
            with lock:
                read.setdefault(v, []).append((m.partition(), m.offset()))
    c.close()

producer_done = threading.Event()
def produce():
    global sent
    consumer_ready.wait(30)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False,
                  "max.in.flight.requests.per.connection": 1, "retries": 1000000,
                  "retry.backoff.ms": 100, "linger.ms": 5, "message.timeout.ms": 120000,
                  "request.timeout.ms": 10000, "topic.metadata.refresh.interval.ms": 1000,
                  # a request in flight to a paused broker is given up after this
                  # (librdkafka's default is 60 s), then retried on the new leader
                  "socket.timeout.ms": 10000})
    def done(err, msg):
        v = msg.value().decode()
        now = time.time()
        with lock:
            if err is None:
                acked[v] = (msg.partition(), msg.offset())
                ack_times.append(now)
            else:
                failed[v] = str(err)
    seq = 0
    start = time.time()
    while not stop.is_set():
        due = start + seq / rate
        if time.time() < due:
            p.poll(min(0.05, due - time.time()))
            continue
        try:
            p.produce(topic, value=("%s-%08d" % (run, seq)).encode(), partition=seq % partitions,
                      on_delivery=done)
        except BufferError:
            p.poll(0.1)
            continue
        with lock:
            sent += 1
        seq += 1
        p.poll(0)
    p.flush(150)
    producer_done.set()

threads = [threading.Thread(target=consume), threading.Thread(target=produce)]
for t in threads:
    t.start()
while threads[1].is_alive():
    status()
    time.sleep(0.25)
threads[0].join()
marks = []
try:
    with open(os.path.join(out, "marks")) as f:
        for line in f:
            t, label = line.rstrip("\n").split(" ", 1)
            marks.append((float(t), label))
except OSError:
    pass
with lock:
    ts = sorted(ack_times)
    steps = []
    for i, (t0, label) in enumerate(marks):
        t1 = marks[i + 1][0] if i + 1 < len(marks) else float("inf")
        inside = [x for x in ts if t0 <= x < t1]
        before = [x for x in ts if x < t0]
        seq = ([before[-1]] if before else []) + inside
        gap = max((b - a for a, b in zip(seq, seq[1:])), default=None)
        first = inside[0] - t0 if inside else None
        steps.append({"step": label, "longest_gap": gap, "first_ack_after": first, "acks": len(inside)})
    missing = sorted(v for v in acked if v not in read)
    dups = sum(1 for v, where in read.items() if len(where) > 1)
    misplaced = sorted(v for v, pos in acked.items() if v in read and tuple(pos) not in map(tuple, read[v]))
status({"final": True, "missing": missing[:50], "n_missing": len(missing), "duplicates": dups,
        "misplaced": misplaced[:50], "steps": steps, "failed_sample": list(failed.items())[:5]})
PYEOF

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

st() { # KEY of the client's status
    "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' \
        "$work/status.json" "$1" 2>/dev/null || true
}
progress() {
    printf '   producer: %s sent, %s acknowledged, %s failed; consumer: %s read; longest pause so far %.2f s\n' \
        "$(st sent)" "$(st acked)" "$(st failed)" "$(st read)" "$(lp="$(st longest_pause)"; echo "${lp:-0}")"
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
    a="$(st acked)"
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
sed 's/^/   /' <<<"$up_out"
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
"$PY" "$work/client.py" "$bs" "$topic" "$PARTITIONS" "$work" "$rate" 2>"$work/client.err" &
client_pid=$!
wait_until "the producer's first acknowledgements" acked_at_least 50 || die "no acknowledgement; see $work/client.err"
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
kill -TERM "$client_pid"
wait "$client_pid" || true
client_pid=""
[[ "$(st final)" == "True" ]] || die "the client did not finish; see $work/client.err"
"$PY" - "$work/status.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
print("   %-22s %14s %18s %6s" % ("step", "longest gap s", "first ack after s", "acks"))
for st in s["steps"]:
    if st["step"] == "end":
        continue
    f = lambda x: "-" if x is None else "%.2f" % x
    print("   %-22s %14s %18s %6d" % (st["step"], f(st["longest_gap"]), f(st["first_ack_after"]), st["acks"]))
print("   (longest gap: between two acknowledgements during the step, counting the one before it;"
      " producer at a steady rate)")
print()
print("   records sent %d, acknowledged %d, failed %d; read back %d of this run (%d read more than once)"
      % (s["sent"], s["acked"], s["failed"], s["read"], s["duplicates"]))
if s["n_missing"]:
    print("   LOST: %d acknowledged record(s) not read back, e.g. %s" % (s["n_missing"], s["missing"][:10]))
elif s["misplaced"]:
    print("   acknowledged records read at another offset than acknowledged: %s" % s["misplaced"][:10])
else:
    print("   every acknowledged record was read back: none lost")
if s["failed"]:
    print("   deliveries that failed (never acknowledged): %s" % s["failed_sample"])
PYEOF
n_missing="$(st n_missing)"
echo
echo "The cluster keeps running: scripts/cluster.sh status --dir $dir; scripts/cluster.sh down --dir $dir to stop it."
[[ "$n_missing" == 0 ]] || exit 1
