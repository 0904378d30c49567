"""Bad input: framing errors close that connection only; well-framed bad
content gets the right per-partition error code. After each case the broker
still serves (a fresh ApiVersions and a produce/consume round trip)."""

import socket
import struct
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brokerproc import (api_versions_request, closed_by_peer, cluster, frame,  # noqa: F401
                        read_response, request_header, zigzag_varint)

pytestmark = pytest.mark.timeout(120)

UNSUPPORTED_VERSION = 35
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
INVALID_REQUIRED_ACKS = 21
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_OUT_OF_RANGE = 1


def connect(b):
    s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
    s.settimeout(5)
    return s


def still_serves(b):
    """ApiVersions on a new connection, then a produce and read-back."""
    with connect(b) as s:
        s.sendall(api_versions_request(3, correlation_id=99))
        body = read_response(s)
        assert struct.unpack(">i", body[:4])[0] == 99
    topic = "alive-" + uuid.uuid4().hex[:6]
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    p.produce(topic, value=b"ok")
    assert p.flush(20) == 0
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "x", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            assert m.value() == b"ok"
            c.close()
            return
    c.close()
    raise AssertionError("could not read back a record")


# -- minimal hand-built requests (non-flexible versions)

def string(s):
    s = s.encode()
    return struct.pack(">h", len(s)) + s


def record_batch(values, crc_ok=True):
    """A v2 record batch with the given values (no keys, no headers)."""
    import binascii  # noqa: F401 - crc32c computed below
    records = b""
    for i, v in enumerate(values):
        body = b"\x00" + zigzag_varint(0) + zigzag_varint(i) + zigzag_varint(-1) + zigzag_varint(len(v)) + v + zigzag_varint(0)
        records += zigzag_varint(len(body)) + body
    after_crc = (struct.pack(">hiqqqhii", 0, len(values) - 1, 0, 0, -1, -1, -1, len(values)) + records)
    crc = crc32c(after_crc)
    if not crc_ok:
        crc ^= 0xDEADBEEF
    batch_length = 4 + 1 + 4 + len(after_crc)  # leader epoch + magic + crc + rest
    return struct.pack(">qii", 0, batch_length, 0) + b"\x02" + struct.pack(">I", crc) + after_crc


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def produce_request(topic, records, acks=1, version=3, correlation_id=5):
    body = struct.pack(">h", -1)  # transactional_id null (v3+)
    body += struct.pack(">hi", acks, 10000)
    body += struct.pack(">i", 1) + string(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(records)) + records
    return frame(request_header(0, version, correlation_id) + body)


def parse_produce_v3(body):
    """-> (partition error code, base offset) of the single partition."""
    pos = 4  # correlation id
    n_topics = struct.unpack(">i", body[pos:pos + 4])[0]; pos += 4
    assert n_topics == 1
    tlen = struct.unpack(">h", body[pos:pos + 2])[0]; pos += 2 + tlen
    n_parts = struct.unpack(">i", body[pos:pos + 4])[0]; pos += 4
    assert n_parts == 1
    _, err, base = struct.unpack(">ihq", body[pos:pos + 14])
    return err, base


def create_topic(b, topic, **config):
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config=config)])[topic].result(15)


@pytest.fixture
def broker(cluster):
    _, b = cluster()
    return b


@pytest.mark.parametrize("case", ["oversized", "negative", "garbage_header", "unknown_key",
                                  "unsupported_version"])
def test_framing_errors_close_only_that_connection(broker, case):
    bystander = connect(broker)
    with connect(broker) as s:
        if case == "oversized":
            s.sendall(struct.pack(">i", 104857600 + 1))
        elif case == "negative":
            s.sendall(struct.pack(">i", -5))
        elif case == "garbage_header":
            # Metadata v1 with a client id claiming more bytes than the frame has.
            s.sendall(frame(struct.pack(">hhih", 3, 1, 1, 300) + b"xy"))
        elif case == "unknown_key":
            s.sendall(frame(request_header(999, 0, 1)))
        elif case == "unsupported_version":
            s.sendall(frame(request_header(3, 99, 1)))  # Metadata v99
        assert closed_by_peer(s), "connection stayed open after %s" % case
    bystander.sendall(api_versions_request(0, correlation_id=3))
    assert struct.unpack(">i", read_response(bystander)[:4])[0] == 3
    bystander.close()
    still_serves(broker)


def test_api_versions_unsupported_version_answers_v0(broker):
    with connect(broker) as s:
        s.sendall(frame(request_header(18, 99, 77)))
        body = read_response(s)
        corr, err, n = struct.unpack(">ihi", body[:10])
        assert (corr, err) == (77, UNSUPPORTED_VERSION)
        key, lo, hi = struct.unpack(">hhh", body[10:16])
        assert (key, lo, hi) == (18, 0, 4)
        # The connection stays usable.
        s.sendall(api_versions_request(0, correlation_id=78))
        assert struct.unpack(">i", read_response(s)[:4])[0] == 78


def test_pipelined_requests_answered_in_order(broker):
    with connect(broker) as s:
        s.sendall(b"".join(api_versions_request(v, correlation_id=100 + i)
                           for i, v in enumerate([0, 1, 2, 3, 0, 3, 1])))
        got = [struct.unpack(">i", read_response(s)[:4])[0] for _ in range(7)]
        assert got == list(range(100, 107))


def test_bad_crc_is_corrupt_message(broker):
    topic = "crc-" + uuid.uuid4().hex[:6]
    create_topic(broker, topic)
    with connect(broker) as s:
        s.sendall(produce_request(topic, record_batch([b"a", b"b"], crc_ok=False)))
        err, _ = parse_produce_v3(read_response(s))
        assert err == CORRUPT_MESSAGE
        # Same connection, a good batch now works.
        s.sendall(produce_request(topic, record_batch([b"a", b"b"]), correlation_id=6))
        err, base = parse_produce_v3(read_response(s))
        assert (err, base) == (0, 0)
    still_serves(broker)


def test_too_large_is_message_too_large(broker):
    topic = "big-" + uuid.uuid4().hex[:6]
    create_topic(broker, topic, **{"max.message.bytes": "1000"})
    with connect(broker) as s:
        s.sendall(produce_request(topic, record_batch([b"x" * 2000])))
        err, _ = parse_produce_v3(read_response(s))
        assert err == MESSAGE_TOO_LARGE
    still_serves(broker)


def test_bad_acks_is_invalid_required_acks(broker):
    topic = "acks-" + uuid.uuid4().hex[:6]
    create_topic(broker, topic)
    with connect(broker) as s:
        s.sendall(produce_request(topic, record_batch([b"a"]), acks=2))
        err, _ = parse_produce_v3(read_response(s))
        assert err == INVALID_REQUIRED_ACKS
    still_serves(broker)


def test_unknown_topic_is_unknown_topic_or_partition(cluster):
    _, b = cluster(auto_create_topics_enable="false")
    with connect(b) as s:
        s.sendall(produce_request("nope-" + uuid.uuid4().hex[:6], record_batch([b"a"])))
        err, _ = parse_produce_v3(read_response(s))
        assert err == UNKNOWN_TOPIC_OR_PARTITION
    p = Producer({"bootstrap.servers": b.bootstrap, "message.timeout.ms": 3000})
    errors = []
    p.produce("also-missing", value=b"x", on_delivery=lambda e, m: errors.append(e))
    p.flush(10)
    assert errors and errors[0] is not None and errors[0].code() in (
        KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._MSG_TIMED_OUT, KafkaError._UNKNOWN_TOPIC)


def test_out_of_range_fetch(broker):
    topic = "oor-" + uuid.uuid4().hex[:6]
    create_topic(broker, topic)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    p.produce(topic, value=b"one")
    assert p.flush(10) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "oor",
                  "auto.offset.reset": "error", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 1000)])
    deadline = time.monotonic() + 20
    seen = None
    while time.monotonic() < deadline and seen is None:
        m = c.poll(0.5)
        if m is not None and m.error():
            seen = m.error()
    c.close()
    assert seen is not None and seen.code() == KafkaError._AUTO_OFFSET_RESET, seen
    assert "out of range" in seen.str().lower() or "offset" in seen.str().lower()
    still_serves(broker)


def test_min_insync_above_isr_is_not_enough_replicas(broker):
    topic = "isr-" + uuid.uuid4().hex[:6]
    create_topic(broker, topic, **{"min.insync.replicas": "2"})
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "message.timeout.ms": 5000,
                  "retries": 0})
    errors = []
    p.produce(topic, value=b"x", on_delivery=lambda e, m: errors.append(e))
    p.flush(15)
    assert errors and errors[0] is not None
    assert errors[0].code() in (KafkaError.NOT_ENOUGH_REPLICAS, KafkaError._MSG_TIMED_OUT), errors[0]
    # acks=1 is not subject to min.insync.replicas.
    p1 = Producer({"bootstrap.servers": broker.bootstrap, "acks": "1"})
    p1.produce(topic, value=b"y")
    assert p1.flush(10) == 0


def test_produce_v0_to_v2_get_unsupported_version(broker):
    topic = "legacy-" + uuid.uuid4().hex[:6]
    create_topic(broker, topic)
    for version in (0, 1, 2):
        body = struct.pack(">hi", 1, 1000) + struct.pack(">i", 1) + string(topic)
        body += struct.pack(">i", 1) + struct.pack(">ii", 0, 0)
        with connect(broker) as s:
            s.sendall(frame(request_header(0, version, 40 + version) + body))
            resp = read_response(s)
            corr, n_topics = struct.unpack(">ii", resp[:8])
            assert (corr, n_topics) == (40 + version, 1)
            pos = 8 + 2 + len(topic)
            n_parts, partition, err = struct.unpack(">iih", resp[pos:pos + 10])
            assert (n_parts, partition, err) == (1, 0, UNSUPPORTED_VERSION)
    still_serves(broker)


def test_acks0_gets_no_response_and_errors_close(broker):
    topic = "acks0-" + uuid.uuid4().hex[:6]
    create_topic(broker, topic)
    with connect(broker) as s:
        # A good acks=0 produce is not answered: the next response is the ApiVersions one.
        s.sendall(produce_request(topic, record_batch([b"a"]), acks=0, correlation_id=1)
                  + api_versions_request(0, correlation_id=2))
        assert struct.unpack(">i", read_response(s)[:4])[0] == 2
        # A failing acks=0 produce closes the connection (Kafka's way to tell the client).
        s.sendall(produce_request(topic, record_batch([b"a"], crc_ok=False), acks=0))
        assert closed_by_peer(s)
    still_serves(broker)


@pytest.mark.parametrize("count", [0x7fffffff, 0x10000000])
def test_hostile_array_count_closes_connection_not_broker(broker, count):
    """A request claiming billions of elements must not take the broker down
    (the decoder sizes its vector from the claim before reading anything)."""
    with connect(broker) as s:
        # Metadata v1: the topics array claims `count` entries and has none.
        s.sendall(frame(request_header(3, 1, 7) + struct.pack(">i", count)))
        assert closed_by_peer(s)
    assert broker.alive()
    still_serves(broker)


def offset_for_leader_epoch_v0_1(topic, partitions, version, correlation_id=11):
    """OffsetForLeaderEpoch v0/v1: [topic [partition leader_epoch]]."""
    body = struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(partitions))
    for partition, epoch in partitions:
        body += struct.pack(">ii", partition, epoch)
    return frame(request_header(23, version, correlation_id) + body)


@pytest.mark.parametrize("version", [0, 1])
def test_offset_for_leader_epoch_old_versions(broker, version):
    """v0-1 sit below the protocol crate's range and are coded by hand: the
    end of epoch 0 is the log end; an unknown partition gets its error; a
    truncated body closes the connection only."""
    topic = "ofle-" + uuid.uuid4().hex[:6]
    create_topic(broker, topic)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    for v in (b"a", b"b", b"c"):
        p.produce(topic, value=v, partition=0)
    assert p.flush(20) == 0
    with connect(broker) as s:
        s.sendall(offset_for_leader_epoch_v0_1(topic, [(0, 0), (7, 0)], version))
        resp = read_response(s)
        assert struct.unpack(">i", resp[:4])[0] == 11
        pos = 4 + 4 + 2 + len(topic)
        assert struct.unpack(">i", resp[pos:pos + 4])[0] == 2
        pos += 4
        answers = []
        for _ in range(2):
            err, partition = struct.unpack(">hi", resp[pos:pos + 6]); pos += 6
            epoch = None
            if version >= 1:
                epoch = struct.unpack(">i", resp[pos:pos + 4])[0]; pos += 4
            end = struct.unpack(">q", resp[pos:pos + 8])[0]; pos += 8
            answers.append((err, partition, epoch, end))
        assert pos == len(resp)
        assert answers[0] == (0, 0, 0 if version else None, 3)
        assert answers[1][:2] == (UNKNOWN_TOPIC_OR_PARTITION, 7)
        assert answers[1][3] == -1
    with connect(broker) as s:
        # A well-framed body cut short.
        good = offset_for_leader_epoch_v0_1(topic, [(0, 0)], version)[4:]
        s.sendall(frame(good[:-2]))
        assert closed_by_peer(s)
    still_serves(broker)
