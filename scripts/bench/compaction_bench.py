"""Log compaction benchmark client (run by scripts/bench/compaction.sh,
which starts and stops the cluster). Prints figures, asserts nothing.

Writes --mb MiB of keyed records (--keys distinct keys, --value-size bytes
each) to a compacted topic (RF 3, one partition, segment.bytes
--segment-mb MiB, min.cleanable.dirty.ratio 0.5 as Kafka's default) with
confluent-kafka (acks=all, linger.ms=5), then follows every replica's
partition size (runnel log-dirs, i.e. DescribeLogDirs) until it stops
shrinking: the produce rate, the largest size seen, the size after
cleaning, how long after the last write the cleaners took, and the
bytes removed per second of that time.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def sizes(runnel, bootstrap, topic):
    out = subprocess.run([runnel, "log-dirs", "--bootstrap-server", bootstrap, "--describe",
                          "--topic-list", topic], capture_output=True, text=True, timeout=60, check=True)
    doc = json.loads(out.stdout.splitlines()[2])
    return {b["broker"]: p["size"] for b in doc["brokers"] for d in b["logDirs"]
            for p in d["partitions"] if p["partition"] == topic + "-0"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--value-size", type=int, default=512)
    ap.add_argument("--segment-mb", type=int, default=16)
    ap.add_argument("--settle", type=float, default=10.0,
                    help="seconds without shrinking that end the wait")
    args = ap.parse_args()
    runnel = os.environ["RUNNEL_BIN"]
    topic = "compaction-" + uuid.uuid4().hex[:6]
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 3, config={
        "cleanup.policy": "compact", "segment.bytes": str(args.segment_mb << 20),
        "min.insync.replicas": "2"})])[topic].result(60)
    value = b"v" * args.value_size
    n = (args.mb << 20) // (args.value_size + 16)
    p = Producer({"bootstrap.servers": args.bootstrap, "acks": "all", "linger.ms": 5,
                  "delivery.report.only.error": True,
                  "on_delivery": lambda err, msg: err and sys.exit("delivery failed: %s" % err)})
    t0 = time.monotonic()
    for i in range(n):
        while True:
            try:
                p.produce(topic, key=b"key-%08d" % (i % args.keys), value=value)
                break
            except BufferError:
                p.poll(0.05)
    p.flush(300)
    written_s = time.monotonic() - t0
    peak = sizes(runnel, args.bootstrap, topic)
    last = dict(peak)
    last_change = time.monotonic()
    while time.monotonic() - last_change < args.settle:
        time.sleep(0.5)
        now = sizes(runnel, args.bootstrap, topic)
        for b, s in now.items():
            peak[b] = max(peak.get(b, 0), s)
        if any(now.get(b, 0) < last.get(b, 0) for b in now):
            last_change = time.monotonic()
        last = now
    settled_s = last_change - t0 - written_s
    mib = 1 << 20
    print("records %d (%d keys, %d-byte values): %.0f MiB written in %.1f s (%.1f MiB/s, %.0f records/s)"
          % (n, args.keys, args.value_size, n * (args.value_size + 16) / mib, written_s,
             n * (args.value_size + 16) / mib / written_s, n / written_s))
    print("%-8s %14s %14s" % ("broker", "after writes", "after cleaning"))
    for b in sorted(last):
        print("%-8s %10.1f MiB %10.1f MiB" % (b, peak[b] / mib, last[b] / mib))
    print("cleaning went on %.1f s after the last write (no shrink for %.0f s ends the wait)"
          % (max(settled_s, 0.0), args.settle))
    removed = sum(peak[b] - last[b] for b in last) / len(last) / mib if last else 0.0
    cleaning_s = written_s + max(settled_s, 0.0)
    print("removed per replica: %.1f MiB; cleaner throughput %.1f MiB/s of log removed per replica "
          "(over the writes and the cleaning after them)" % (removed, removed / cleaning_s if cleaning_s else 0.0))
    print("RESULT produce_mib_s=%.1f removed_mib=%.1f cleaner_mib_s=%.1f"
          % (n * (args.value_size + 16) / mib / written_s, removed, removed / cleaning_s if cleaning_s else 0.0))


if __name__ == "__main__":
    main()
