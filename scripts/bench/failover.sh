#!/usr/bin/env bash
# Broker failover benchmark: on a fresh local cluster (3 coord members, 3
# brokers, through scripts/cluster.sh) and a topic with one partition,
# replication factor 3 and min.insync.replicas=2, a confluent-kafka producer
# (acks=all, one request in flight, retries, a record every 2 ms) runs while
# the partition's leader gets
#   * SIGKILL (a crash: the controller acts once coord expires the broker's
#     session, zookeeper.session.timeout.ms), or
#   * SIGTERM (controlled shutdown: the broker has the controller move its
#     leaderships, then exits);
# the figure is the time from the signal to the first acknowledged acks=all
# produce appended by the new leader (the record's leader epoch, read back at
# the end, is newer than the epoch of the last record acknowledged before the
# signal), i.e. what a producer sees as the outage. After each run the broker
# is started again and the ISR waited for. Prints the median (and min, max)
# of --runs runs per signal; asserts nothing.
#
#   bash scripts/bench/failover.sh [--runs 5] [--session-ms 6000] [--keep]
#
# Targets from the broker cluster issue: SIGKILL <= session timeout + 1 s,
# SIGTERM <= 0.5 s.
#
# Environment: RUNNEL_BIN, RUNNEL_BROKER_BIN, RUNNEL_COORD_BIN: use these
# binaries instead of building target/release/*; RUNNEL_PYTHON: the Python
# with confluent-kafka (default <repo>/.venv/bin/python, from scripts/test.sh).
set -euo pipefail

PROG=failover-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

usage() {
    cat <<EOF
usage: $(basename "$0") [--runs N] [--session-ms MS] [--keep]

  --runs N          runs per signal (default 5); median, min and max are printed
  --session-ms MS   the brokers' zookeeper.session.timeout.ms (default 6000, as
                    scripts/cluster.sh writes it)
  --keep            keep the cluster folder and the probe's files
EOF
}

runs=5
session_ms=6000
keep=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) runs="${2:?--runs needs a value}"; shift 2 ;;
        --session-ms) session_ms="${2:?--session-ms needs a value}"; shift 2 ;;
        --keep) keep=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$runs" =~ ^[0-9]+$ && "$runs" -gt 0 ]] || die "--runs takes a positive whole number"
[[ "$session_ms" =~ ^[0-9]+$ ]] || die "--session-ms takes milliseconds"

PY="$(venv_python)"
if ! { [[ -x "$PY" ]] && "$PY" -c 'import confluent_kafka' 2>/dev/null; }; then
    die "no Python with confluent-kafka at $PY: run scripts/test.sh once (it creates .venv)"
fi
export_runnel_bins

work="$(mktemp -d "${TMPDIR:-/tmp}/runnel-failover.XXXXXX")"
dir="$work/cluster"
CLUSTER="$ROOT/scripts/cluster.sh"
probe_pid=""
cleanup() {
    if [[ -n "$probe_pid" ]] && kill -0 "$probe_pid" 2>/dev/null; then
        kill -KILL "$probe_pid" 2>/dev/null || true
    fi
    "$CLUSTER" down --dir "$dir" >/dev/null 2>&1 || true
    if $keep; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ---- cluster on free ports ---------------------------------------------------------
started=false
for _ in 1 2 3 4 5; do
    base=$((20000 + RANDOM % 20000))
    if "$CLUSTER" up --dir "$dir" --base-port "$base" --peer-base-port $((base + 10)) \
        --broker-base-port $((base + 20)) >"$work/up.out" 2>"$work/up.err"; then
        started=true
        break
    fi
    "$CLUSTER" down --dir "$dir" --wipe >/dev/null 2>&1 || true
done
$started || { cat "$work/up.err" >&2; die "cluster.sh up failed"; }
bs="$(sed -n 's/^brokers: //p' "$work/up.out")"
if [[ "$session_ms" != 6000 ]]; then
    for k in 1 2 3; do
        sed -i -E "s/^zookeeper\.session\.timeout\.ms=.*/zookeeper.session.timeout.ms=$session_ms/" \
            "$dir/broker-$k/server.properties"
        "$CLUSTER" restart "broker-$k" --dir "$dir" >/dev/null 2>&1
    done
fi
say "cluster up: $bs (zookeeper.session.timeout.ms=$session_ms)"

topic=failover-bench
"$RUNNEL_BIN" topics --bootstrap-server "$bs" --create --topic "$topic" --partitions 1 \
    --replication-factor 3 --config min.insync.replicas=2 >/dev/null

# Leader and ISR of partition 0 from --describe: "LEADER ISR".
leader_isr() {
    "$RUNNEL_BIN" topics --bootstrap-server "$bs" --describe --topic "$topic" 2>/dev/null |
        awk -F'\t' '/\tPartition: 0\t/ { for (i = 1; i <= NF; i++) {
            if ($i ~ /^Leader: /) l = substr($i, 9); if ($i ~ /^Isr: /) s = substr($i, 6) }
            print l, s }'
}
full_isr() { [[ "$(leader_isr | awk '{ print split($2, a, ",") }')" == 3 ]]; }
leader_now() { leader_isr | awk '{ print $1 }'; }
# The broker id /runnel/controller names.
controller_of() {
    timeout 5 "$RUNNEL_COORD_BIN" shell --server "$(sed -n 's/^coord: //p' "$work/up.out")" -- \
        get /runnel/controller 2>/dev/null | sed -n -E 's/.*"brokerid"[[:space:]]*:[[:space:]]*(-?[0-9]+).*/\1/p' | head -n 1
}
wait_until() { # SECS DESC CMD...
    local deadline=$(($(now_ms) + $1 * 1000)) desc="$2"
    shift 2
    until "$@"; do
        (($(now_ms) < deadline)) || die "not within the time allowed: $desc"
        sleep 0.1
    done
}

# ---- the probe: producer now, epochs of the acknowledged records at the end --------
cat >"$work/probe.py" <<'PYEOF'
import json, signal, sys, threading, time
from confluent_kafka import Consumer, Producer, TopicPartition
bootstrap, topic, out = sys.argv[1:4]
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
acks = []  # (wall time, offset)
p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False,
              "max.in.flight.requests.per.connection": 1, "retries": 1000000, "linger.ms": 0,
              "retry.backoff.ms": 20, "retry.backoff.max.ms": 100, "reconnect.backoff.ms": 10,
              "reconnect.backoff.max.ms": 100, "message.timeout.ms": 120000,
              "request.timeout.ms": 5000, "socket.timeout.ms": 5000,
              "topic.metadata.refresh.interval.ms": 1000})
ackf = open(out + "/acks", "a", buffering=1)
def done(err, msg):
    if err is None:
        t = time.time()
        acks.append((t, msg.offset()))
        ackf.write("%.6f %d\n" % (t, msg.offset()))
seq = 0
while not stop.is_set():
    try:
        p.produce(topic, value=b"%012d" % seq, partition=0, on_delivery=done)
        seq += 1
    except BufferError:
        pass
    p.poll(0.002)
p.flush(150)
# Leader epoch of every acknowledged offset.
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "failover-bench", "enable.auto.commit": False,
              "enable.partition.eof": True})
c.assign([TopicPartition(topic, 0, 0)])
epoch = {}
last = max(o for _, o in acks) if acks else -1
deadline = time.time() + 120
while time.time() < deadline and (not epoch or max(epoch) < last):
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    epoch[m.offset()] = m.leader_epoch()
c.close()
marks = [l.split() for l in open(out + "/marks")]
res = []
for t_sig, kind, old in marks:
    t_sig = float(t_sig)
    before = [o for t, o in acks if t < t_sig]
    e0 = epoch.get(before[-1]) if before else None
    first = next(((t, o) for t, o in acks if t > t_sig and e0 is not None and (epoch.get(o) or -1) > e0), None)
    res.append({"kind": kind, "old": int(old), "epoch_before": e0,
                "recovery": None if first is None else first[0] - t_sig,
                "epoch_after": None if first is None else epoch.get(first[1])})
json.dump(res, open(out + "/results.json", "w"))
PYEOF

: >"$work/marks"
"$PY" "$work/probe.py" "$bs" "$topic" "$work" 2>"$work/probe.err" &
probe_pid=$!
acks_now() { { wc -l <"$work/acks"; } 2>/dev/null || echo 0; }
acks_beyond() { (($(acks_now) >= $1)); }
wait_until 30 "first acknowledgements" acks_beyond 100

one_run() { # KIND (KILL or TERM)
    local kind="$1" leader pid n0 t
    wait_until 60 "full ISR" full_isr
    n0="$(acks_now)"
    wait_until 30 "steady acknowledgements" acks_beyond $((n0 + 200))
    leader="$(leader_now)"
    [[ "$leader" =~ ^[0-9]+$ ]] || die "no leader: $(leader_isr)"
    pid="$(cat "$dir/broker-$leader/broker.pid")"
    is_broker "$pid" || die "broker-$leader (pid $pid) is not running"
    t="$EPOCHREALTIME"
    kill "-$kind" "$pid"
    echo "${t/,/.} $kind $leader" >>"$work/marks"
    while alive "$pid"; do sleep 0.01; done
    exit_s="$(awk -v a="${t/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.3f", b - a }')"
    rm -f "$dir/broker-$leader/broker.pid"
    n0="$(acks_now)"
    wait_until 120 "acknowledgements after SIG$kind of broker-$leader" acks_beyond $((n0 + 100))
    wait_until 60 "a new leader" bash -c "[[ \"\$1\" != \"$leader\" ]]" _ "$(leader_now)"
    "$CLUSTER" start "broker-$leader" --dir "$dir" >/dev/null 2>&1 || die "broker-$leader did not start"
    say "run: SIG$kind of leader broker-$leader (controller: $(controller_of)); it exited after ${exit_s}s"
}

for ((i = 1; i <= runs; i++)); do
    one_run KILL
    one_run TERM
done
kill -TERM "$probe_pid"
wait "$probe_pid" || die "probe failed: $(tail -n 5 "$work/probe.err")"
probe_pid=""

"$PY" - "$work/results.json" "$session_ms" "$runs" <<'PYEOF'
import json, os, statistics, sys
res, session_ms, runs = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
print()
print("runnel broker failover, %d cores, load average %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[0]))
print("3 coord members, 3 brokers (zookeeper.session.timeout.ms=%d, replica.lag.time.max.ms default 30000), "
      "1 partition, RF 3, min.insync.replicas=2" % session_ms)
print("producer: confluent-kafka, acks=all, max.in.flight 1, a record every 2 ms, retry.backoff.ms 20")
print("figure: signal to the first acknowledged acks=all record with the new leader's epoch")
print()
print("| signal | runs | median s | min s | max s | target | each run (s) |")
print("|---|---|---|---|---|---|---|")
for kind, target in (("KILL", "<= %.1f (session + 1 s)" % (session_ms / 1000 + 1)), ("TERM", "<= 0.5")):
    xs = [r["recovery"] for r in res if r["kind"] == kind and r["recovery"] is not None]
    missing = sum(1 for r in res if r["kind"] == kind and r["recovery"] is None)
    each = " ".join("%.2f" % x for x in xs) + (" (%d without a new-epoch ack)" % missing if missing else "")
    if xs:
        print("| SIG%s | %d | %.2f | %.2f | %.2f | %s | %s |" % (kind, len(xs), statistics.median(xs), min(xs),
                                                                max(xs), target, each))
    else:
        print("| SIG%s | 0 | - | - | - | %s | %s |" % (kind, target, each))
PYEOF
