"""DeleteRecords (issue 12): scripts/delete-records.sh with
kafka-delete-records.sh's JSON file and output, confluent-kafka's and
kafka-python's AdminClient.delete_records, on a 3-broker cluster with RF 3 —
the low watermark reported only once every ISR replica moved its log start,
consumers starting below it reset, a new leader after a kill -9 keeps it,
and Kafka's errors for an offset past the high watermark, an unknown
partition and a compacted topic."""

import json
import os
import subprocess
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from brokerproc import cluster  # noqa: F401 - fixture
from eosutil import create_topic
from procutil import REPO, built_binary, wait_for

pytestmark = pytest.mark.timeout(180)


def delete_records(bootstrap, tmp_path, partitions):
    """scripts/delete-records.sh with a file of (topic, partition, offset)
    and RUNNEL_BIN set to the built CLI (so the script does not build its
    own): the CompletedProcess."""
    path = tmp_path / ("delete-%s.json" % uuid.uuid4().hex[:6])
    path.write_text(json.dumps({"partitions": [{"topic": t, "partition": p, "offset": o}
                                               for t, p, o in partitions], "version": 1}))
    return subprocess.run([os.path.join(REPO, "scripts", "delete-records.sh"), "--bootstrap-server", bootstrap,
                           "--offset-json-file", str(path)], capture_output=True, text=True, timeout=90,
                          env=dict(os.environ, RUNNEL_BIN=built_binary("runnel", "RUNNEL_BIN", "runnel CLI not built")))


def produce(bootstrap, topic, partitions, n):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(n):
        for part in range(partitions):
            p.produce(topic, value=b"%d" % i, partition=part)
    assert p.flush(30) == 0


def earliest(bootstrap, topic, partition):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lw-" + uuid.uuid4().hex})
    try:
        lo, _ = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        return lo
    finally:
        c.close()


def first_offset_consumed(bootstrap, topic, partition):
    """The first offset a consumer starting at offset 0 gets (it resets to
    the earliest on OFFSET_OUT_OF_RANGE)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "dr-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, partition, 0)])
    try:
        def first():
            m = c.poll(0.5)
            return m if m is not None and not m.error() else None
        return wait_for(first, timeout=30, interval=0, desc="a record").offset()
    finally:
        c.close()


@pytest.fixture
def three(cluster):  # noqa: F811 - fixture
    _, brokers = cluster(brokers=3, zookeeper_session_timeout_ms=3000)
    return brokers


def test_delete_records_sh_then_a_leader_kill(three, tmp_path):
    bootstrap = three[0].bootstrap
    topic = create_topic(bootstrap, "dr-" + uuid.uuid4().hex[:6], 2, 3, config={"min.insync.replicas": "2"})
    produce(bootstrap, topic, 2, 10)
    r = delete_records(bootstrap, tmp_path, [(topic, 0, 4), (topic, 1, -1)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "Executing records delete operation",
        "Records delete operation completed:",
        "partition: %s-0\tlow_watermark: 4" % topic,
        "partition: %s-1\tlow_watermark: 10" % topic,
    ]
    assert earliest(bootstrap, topic, 0) == 4
    assert first_offset_consumed(bootstrap, topic, 0) == 4

    # Every ISR replica had moved its log start before the answer: the next
    # leader starts there too.
    from replication_util import kill_leader
    _, other = kill_leader(three, topic)
    assert earliest(other.bootstrap, topic, 0) == 4
    assert first_offset_consumed(other.bootstrap, topic, 0) == 4


def test_admin_clients_and_errors(three, tmp_path):
    bootstrap = three[0].bootstrap
    topic = create_topic(bootstrap, "dra-" + uuid.uuid4().hex[:6], 1, 3)
    produce(bootstrap, topic, 1, 10)

    # confluent-kafka's AdminClient.delete_records.
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.delete_records([TopicPartition(topic, 0, 3)])
    result = list(futures.values())[0].result(30)
    assert result.low_watermark == 3

    # kafka-python's.
    from kafka import TopicPartition as KTP
    from kafka.admin import KafkaAdminClient
    kadmin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        out = kadmin.delete_records({KTP(topic, 0): 5})
        assert out[KTP(topic, 0)]["low_watermark"] == 5
    finally:
        kadmin.close()
    assert earliest(bootstrap, topic, 0) == 5

    # Past the high watermark, an unknown partition, a compacted topic.
    compacted = create_topic(bootstrap, "drc-" + uuid.uuid4().hex[:6], 1, 3,
                             config={"cleanup.policy": "compact"})
    r = delete_records(bootstrap, tmp_path, [(topic, 0, 11), (topic, 7, 1), (compacted, 0, 0)])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()[2:]
    assert lines == sorted([
        "partition: %s-0\terror: OFFSET_OUT_OF_RANGE (1)" % topic,
        "partition: %s-7\terror: UNKNOWN_TOPIC_OR_PARTITION (3)" % topic,
        "partition: %s-0\terror: POLICY_VIOLATION (44)" % compacted,
    ], key=lambda l: (l.split("\t")[0].rsplit("-", 1)[0], int(l.split("\t")[0].rsplit("-", 1)[1]))), r.stdout
    # Nothing moved.
    assert earliest(bootstrap, topic, 0) == 5

    r = delete_records(bootstrap, tmp_path, [(topic, 0, 1), (topic, 0, 2)])
    assert r.returncode != 0 and "duplicate topic partitions" in r.stderr
