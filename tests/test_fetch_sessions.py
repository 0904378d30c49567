"""Fetch sessions (KIP-227), issue 15: kafka-python 3.x's consumer with its
default settings (incremental fetch sessions on), and the protocol itself
byte for byte — a full fetch opens a session, incremental fetches name only
changed partitions and hear only partitions with news, wrong epochs and
unknown sessions get Kafka's errors, forgotten partitions leave, a final
epoch closes. Followers' sessions are checked in tests/test_metrics.py
(the session cache gauges of a 3-broker cluster under load)."""

import urllib.request
import uuid

import pytest

from brokerproc import cluster  # noqa: F401 - fixture
from eosutil import Conn, Writer, produce, record_batch
from procutil import free_port, wait_for

pytestmark = pytest.mark.timeout(180)

FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71


def create_topic(bootstrap, topic, partitions):
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def fetch_v7(conn, topic, session_id, epoch, offsets, forget=(), max_wait_ms=0,
             max_bytes=1 << 20, with_throttle=False):
    """Fetch v7 of {partition: offset} in session (id, epoch), forgetting
    partitions `forget`, at most `max_bytes` per partition and in all:
    (error, session_id, {p: (error, hw, record bytes)}), and the answer's
    throttle_time_ms last when `with_throttle`."""
    w = Writer(False)
    w.put(">iiiib", -1, max_wait_ms, 1, max_bytes, 0).put(">ii", session_id, epoch)

    def part(p):
        w.put(">iqqi", p, offsets[p], -1, max_bytes)

    def top(_):
        w.string(topic).array(sorted(offsets), part)
    w.array([0] if offsets else [], top)

    def forgotten(_):
        w.string(topic).array(list(forget), lambda p: w.put(">i", p))
    w.array([0] if forget else [], forgotten)
    r = conn.call(1, 7, w.build())
    throttle = r.take(">i")
    error, sid = r.take(">hi")
    out = {}

    def rpart():
        p, err, hw, _lso, _start = r.take(">ihqqq")
        r.array(lambda: r.take(">qq"))
        records = r.bytes_()
        out[p] = (err, hw, records or b"")

    def rtop():
        assert r.string() == topic
        r.array(rpart)
    r.array(rtop)
    if with_throttle:
        return error, sid, out, throttle
    return error, sid, out


@pytest.fixture
def broker(cluster):  # noqa: F811 - fixture
    port = free_port()
    _, b = cluster(metrics_listener="127.0.0.1:%d" % port)
    b.metrics_url = "http://127.0.0.1:%d/metrics" % port
    return b


def scrape(url, name):
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_kafka_python_default_consumer_reads_everything_through_a_session(broker):
    from kafka import KafkaConsumer, KafkaProducer
    topic = "fs-%s" % uuid.uuid4().hex[:8]
    create_topic(broker.bootstrap, topic, 4)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)  # defaults: idempotent, acks=all
    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=500)
    try:
        got = {}

        def send(lo, hi):
            for i in range(lo, hi):
                producer.send(topic, key=b"k%d" % i, value=b"%d" % i, partition=i % 4)
            producer.flush(30)

        def read_until(n):
            def more():
                for m in consumer:
                    got.setdefault(m.partition, []).append(int(m.value))
                return sum(len(v) for v in got.values()) >= n
            wait_for(more, timeout=60, interval=0, desc="%d records consumed" % n)

        send(0, 200)
        read_until(200)
        # More records while the session is open: incremental fetches carry them.
        send(200, 400)
        read_until(400)
        assert sum(len(v) for v in got.values()) == 400
        for p, values in got.items():
            assert values == list(range(p, 400, 4)), "partition %d out of order or incomplete" % p
        assert scrape(broker.metrics_url,
                      "kafka_server_fetchsessioncache_numincrementalfetchsessions") >= 1
        assert scrape(broker.metrics_url,
                      "kafka_server_fetchsessioncache_numincrementalfetchpartitionscached") >= 4
    finally:
        consumer.close()
        producer.close()


def test_incremental_fetch_protocol(broker):
    topic = "fsp-%s" % uuid.uuid4().hex[:8]
    create_topic(broker.bootstrap, topic, 2)
    wait_for(lambda: produce(broker, topic, 0, record_batch([b"a"]))["error"] == 0, timeout=30,
             desc="first produce")
    with Conn(broker.port) as c:
        # Full fetch, epoch 0: a new session, both partitions answered.
        err, sid, parts = fetch_v7(c, topic, 0, 0, {0: 0, 1: 0})
        assert err == 0 and sid != 0
        assert set(parts) == {0, 1}
        assert parts[0][1] == 1 and parts[0][2] and parts[1] == (0, 0, b"")

        # Partition 0 moved on, nothing new anywhere: an empty answer.
        err, sid2, parts = fetch_v7(c, topic, sid, 1, {0: 1})
        assert (err, sid2, parts) == (0, sid, {})

        # A record on partition 1: only partition 1 is answered, from the
        # session's offset 0, without naming it.
        assert produce(broker, topic, 1, record_batch([b"b"]))["error"] == 0
        err, _, parts = fetch_v7(c, topic, sid, 2, {})
        assert err == 0 and set(parts) == {1}
        assert parts[1][1] == 1 and parts[1][2]

        # The same epoch again, and a session that does not exist.
        err, sid2, parts = fetch_v7(c, topic, sid, 2, {})
        assert (err, sid2, parts) == (INVALID_FETCH_SESSION_EPOCH, 0, {})
        other = sid ^ 1 or 2
        err, sid2, _ = fetch_v7(c, topic, other, 1, {})
        assert (err, sid2) == (FETCH_SESSION_ID_NOT_FOUND, 0)

        # Forget partition 1: records there are no longer answered.
        err, _, parts = fetch_v7(c, topic, sid, 3, {}, forget=[1])
        assert err == 0
        assert produce(broker, topic, 1, record_batch([b"c"]))["error"] == 0
        err, _, parts = fetch_v7(c, topic, sid, 4, {})
        assert (err, parts) == (0, {})

        # The final epoch closes the session: a sessionless full fetch.
        err, sid2, parts = fetch_v7(c, topic, sid, -1, {0: 1, 1: 1})
        assert (err, sid2, set(parts)) == (0, 0, {0, 1})
        err, _, _ = fetch_v7(c, topic, sid, 5, {})
        assert err == FETCH_SESSION_ID_NOT_FOUND
