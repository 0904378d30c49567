"""Crash tests: SIGKILL the broker while an acks=1 producer runs, restart it
several times; every acknowledged record is then read back exactly once, in
order, at the offset it was acknowledged with, and offsets are dense. A
segment tail that is truncated garbage or bit-flipped is cut on restart and
never served.

Seed: RUNNEL_CRASH_SEED (printed on failure).
"""

import glob
import os
import random
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brokerproc import cluster  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(300)

KILLS = 4


def read_all(bootstrap, topic, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "r-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                break
            raise AssertionError(m.error())
        out.append((m.offset(), m.value()))
    c.close()
    return out


class AckProducer(threading.Thread):
    """Sends unique values one at a time (no retries: each send appends at
    most once) and records (value, offset) of every acknowledged one."""

    def __init__(self, bootstrap, topic, stop):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.stop = bootstrap, topic, stop
        self.acked = []
        self.sent = 0

    def run(self):
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "1", "retries": 0,
                      "max.in.flight.requests.per.connection": 1, "linger.ms": 0,
                      "message.timeout.ms": 2000, "enable.idempotence": False,
                      "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200})
        n = 0
        while not self.stop.is_set():
            value = b"v%08d" % n
            n += 1

            def done(err, msg, value=value):
                if err is None:
                    self.acked.append((value, msg.offset()))

            try:
                p.produce(self.topic, value=value, partition=0, on_delivery=done)
            except BufferError:
                p.poll(0.1)
                continue
            self.sent += 1
            p.flush(3)
        p.flush(5)


def test_kill9_during_acks1_produce_loses_nothing_acknowledged(cluster):
    seed = int(os.environ.get("RUNNEL_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    _, b = cluster(log_segment_bytes=20000)
    topic = "crash-" + uuid.uuid4().hex[:6]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    stop = threading.Event()
    prod = AckProducer(b.bootstrap, topic, stop)
    prod.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.2))
            b.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            b.start()
        time.sleep(0.5)
    finally:
        stop.set()
        prod.join(30)
    acked = prod.acked
    assert len(acked) > 20, "seed %d: too few acknowledged records (%d)" % (seed, len(acked))
    records = read_all(b.bootstrap, topic)
    offsets = [o for o, _ in records]
    assert offsets == list(range(len(records))), "seed %d: offsets not dense" % seed
    by_value = {}
    for o, v in records:
        by_value.setdefault(v, []).append(o)
    for value, offset in acked:
        assert by_value.get(value) == [offset], \
            "seed %d: acknowledged %r at %d, found at %r" % (seed, value, offset, by_value.get(value))
    # Acknowledged records are in send order.
    acked_offsets = [o for _, o in acked]
    assert acked_offsets == sorted(acked_offsets), "seed %d" % seed


@pytest.mark.parametrize("damage", ["garbage_tail", "bit_flip"])
def test_damaged_segment_tail_is_cut_on_restart(cluster, damage):
    _, b = cluster()
    topic = "tail-" + uuid.uuid4().hex[:6]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "1", "linger.ms": 0,
                  "max.in.flight.requests.per.connection": 1})
    for i in range(20):
        p.produce(topic, value=b"rec-%d" % i, partition=0)
        p.flush(10)
    b.kill()
    segs = sorted(glob.glob(os.path.join(b.log_dir, "%s-0" % topic, "*.log")))
    assert segs
    path = segs[-1]
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        if damage == "garbage_tail":
            f.seek(size)
            f.write(os.urandom(300))
        else:
            f.seek(size - 3)  # inside the last batch's records
            byte = f.read(1)
            f.seek(size - 3)
            f.write(bytes([byte[0] ^ 0x40]))
    b.start()
    records = read_all(b.bootstrap, topic)
    values = [v for _, v in records]
    expected = [b"rec-%d" % i for i in range(20 if damage == "garbage_tail" else 19)]
    assert values == expected
    assert [o for o, _ in records] == list(range(len(expected)))
    # The log continues right after the cut.
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "1"})
    got = []
    p.produce(topic, value=b"after", partition=0, on_delivery=lambda e, m: got.append((e, m.offset())))
    p.flush(10)
    assert got == [(None, len(expected))]


def test_session_expiry_reregisters_broker(cluster, kazoo):
    """A broker paused past its coord session timeout comes back: new session,
    /brokers/ids/<id> re-created, still serving."""
    import signal
    coord, b = cluster()
    zk = kazoo(coord)
    path = "/runnel/brokers/ids/1"
    first_owner = zk.exists(path).ephemeralOwner
    os.kill(b.proc.pid, signal.SIGSTOP)
    try:
        from coordproc import wait_for
        wait_for(lambda: zk.exists(path) is None, timeout=20, desc="registration expired")
    finally:
        os.kill(b.proc.pid, signal.SIGCONT)
    from coordproc import wait_for
    stat = wait_for(lambda: zk.exists(path), timeout=30, desc="re-registration")
    assert stat.ephemeralOwner != first_owner
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    topic = "exp-" + uuid.uuid4().hex[:6]
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    p = Producer({"bootstrap.servers": b.bootstrap})
    p.produce(topic, value=b"after-expiry")
    assert p.flush(15) == 0
    assert [v for _, v in read_all(b.bootstrap, topic)] == [b"after-expiry"]
