"""A full disk: the partition whose log directory is full answers
KAFKA_STORAGE_ERROR, and the broker keeps serving partitions in its other
log directory. Needs a small tmpfs (root, as on CI); skipped with the reason
where mounting is not allowed."""

import os
import subprocess
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brokerproc import cluster, wait_topic  # noqa: F401

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): " + r.stderr.strip())
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def produce(bootstrap, topic, partition, value, count):
    """Sends `count` records to one partition without retries; returns the
    delivery error codes seen (None for success)."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "retries": 0,
                  "message.timeout.ms": 10000, "linger.ms": 5, "batch.size": 65536})
    codes = []

    def done(err, _msg):
        codes.append(None if err is None else err.code())

    for _ in range(count):
        while True:
            try:
                p.produce(topic, value, partition=partition, on_delivery=done)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    p.flush(30)
    return codes


def test_full_log_dir_is_a_storage_error_for_its_partitions_only(cluster, small_disk, tmp_path):
    roomy = tmp_path / "roomy-disk"
    roomy.mkdir()
    _, b = cluster(log_dirs="%s,%s" % (small_disk, roomy), log_segment_bytes=1048576)
    topic = "full-" + uuid.uuid4().hex[:6]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)]).values():
        f.result(15)
    wait_topic(admin, topic)
    # Kafka's placement: the directory with the fewest partitions, first one
    # first — partition 0 lands on the small disk, partition 1 on the roomy one.
    assert any(n.startswith(topic + "-0") for n in os.listdir(small_disk)), os.listdir(small_disk)
    assert any(n.startswith(topic + "-1") for n in os.listdir(roomy)), os.listdir(roomy)

    value = os.urandom(16 * 1024)
    codes = produce(b.bootstrap, topic, 0, value, 400)  # ~6.4 MB into 3 MB
    assert codes[0] is None, "the first records fit"
    assert KafkaError.KAFKA_STORAGE_ERROR in codes, set(codes)

    # The broker lives on and the other directory still takes and serves data.
    assert b.alive()
    assert produce(b.bootstrap, topic, 1, b"still here", 20) == [None] * 20
    # What was acknowledged on the full disk is still there, intact.
    acked = codes.count(None)
    assert read_all(b.bootstrap, topic, 0) == [value] * acked
    assert read_all(b.bootstrap, topic, 1) == [b"still here"] * 20


def read_all(bootstrap, topic, partition):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "disk-" + uuid.uuid4().hex[:6],
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, partition, 0)])
    out = []
    try:
        while True:
            m = c.poll(10)
            assert m is not None, "no end-of-partition within 10 s after %d records" % len(out)
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                return out
            out.append(m.value())
    finally:
        c.close()
