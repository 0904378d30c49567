"""Compacted topics (issue 12): cleanup.policy=compact on a 3-broker
cluster with RF 3, written by confluent-kafka's and kafka-python's default
producers — 200 000 updates over 1 000 keys compact to 1 000 records; the
latest value per key survives at its original offset on every replica (a new leader after a kill -9 serves the same), tombstones
stay for delete.retention.ms after the clean that reached them and then go,
a record without a key is refused with INVALID_RECORD, and a broker
restarted after cleaning serves its cleaned log; scripts/log-dirs.sh and
kafka-python's describe_log_dirs show every replica's partition shrink."""

import json
import os
import subprocess
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from brokerproc import cluster  # noqa: F401 - fixture
from eosutil import create_topic
from procutil import REPO, built_binary, free_port, wait_for
from replication_util import kill_leader, metadata

pytestmark = pytest.mark.timeout(240)

COMPACT = {
    "cleanup.policy": "compact",
    "segment.bytes": "2048",
    "min.cleanable.dirty.ratio": "0.01",
    "min.insync.replicas": "2",
}


@pytest.fixture
def three(cluster):  # noqa: F811 - fixture
    _, brokers = cluster(brokers=3, zookeeper_session_timeout_ms=3000, log_cleaner_backoff_ms=200)
    return brokers


def read_all(bootstrap, topic, partition=0, end=0):
    """Every record from the log start to the high watermark, once that is
    at least `end` (a new leader's high watermark catches up with its log
    after one round of follower fetches), as a consumer sees it:
    [(offset, key, value)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "cmp-" + uuid.uuid4().hex,
                  "enable.auto.commit": False})
    try:
        def high():
            hw = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
            return hw if hw >= max(end, 1) else None
        hw = wait_for(high, timeout=30, interval=0.1, desc="the high watermark at %d" % end)
        c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        out = []
        deadline = time.time() + 30
        while (not out or out[-1][0] < hw - 1) and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            out.append((m.offset(), m.key() and m.key().decode(), m.value() and m.value().decode()))
        assert out and out[-1][0] == hw - 1, "read %d records, last %s, high watermark %d" % (
            len(out), out[-1:] or None, hw)
        return out
    finally:
        c.close()


def produce_rounds(bootstrap, topic, keys, rounds):
    """confluent-kafka with default settings, one flush per round (so a
    round is one batch): {offset: (key, value)} from the delivery reports."""
    written = {}

    def report(err, msg):
        assert err is None, err
        written[msg.offset()] = (msg.key().decode(), msg.value() and msg.value().decode())

    p = Producer({"bootstrap.servers": bootstrap})
    for r in range(rounds):
        for k in range(keys):
            p.produce(topic, key="k%d" % k, value="k%d:%d:%s" % (k, r, "x" * 40), on_delivery=report)
        assert p.flush(30) == 0
    return written


def assert_compacted(records, written):
    """Offsets unchanged (each record is what was written at its offset),
    increasing, and the latest value of every key present."""
    offsets = [o for o, _, _ in records]
    assert offsets == sorted(set(offsets))
    for o, k, v in records:
        assert written[o] == (k, v), (o, k, v)
    latest = {}
    for o in sorted(written):
        latest[written[o][0]] = (o, written[o][1])
    seen = {k: (o, v) for o, k, v in records}
    assert seen == latest


def test_latest_value_per_key_on_every_replica(three):
    bootstrap = three[0].bootstrap
    topic = create_topic(bootstrap, "cmp-" + uuid.uuid4().hex[:6], 1, 3, config=COMPACT)
    written = produce_rounds(bootstrap, topic, keys=20, rounds=15)
    assert len(written) == 300

    def compacted():
        records = read_all(bootstrap, topic)
        return records if len(records) < 150 else None
    records = wait_for(compacted, timeout=60, interval=0.3, desc="the log cleaner to compact %s" % topic)
    assert_compacted(records, written)

    # kafka-python 3.x's default producer is idempotent: its batches append
    # to the cleaned log and read back.
    from kafka import KafkaProducer
    kp = KafkaProducer(bootstrap_servers=bootstrap, key_serializer=str.encode, value_serializer=str.encode)
    try:
        for r in range(3):
            md = kp.send(topic, key="k0", value="k0:kp%d" % r).get(timeout=30)
            written[md.offset] = ("k0", "k0:kp%d" % r)
    finally:
        kp.close()
    assert_compacted(read_all(bootstrap, topic, end=max(written) + 1), written)

    # Each replica cleaned its own log: the next leader, after a kill -9
    # of this one, serves the same latest values at the same offsets.
    victim, other = kill_leader(three, topic)
    records = read_all(other.bootstrap, topic, end=max(written) + 1)
    assert_compacted(records, written)
    assert len(records) < 150

    # The killed broker comes back on its cleaned log and catches up.
    victim.start()
    wait_for(lambda: len(metadata(other, [topic])[topic][0]["isr"]) == 3, timeout=60, interval=0.2,
             desc="the restarted broker back in the ISR")


def test_200_000_updates_over_1_000_keys_compact_to_about_1_000_records(three):
    """The issue's figure: a changelog of 200 000 updates over 1 000 keys,
    from confluent-kafka's default producer, is about 1 000 records once
    cleaned -- the latest value of every key at its original offset. The
    last segment is closed by segment.ms and one more record (the active
    segment is never cleaned)."""
    bootstrap = three[0].bootstrap
    config = dict(COMPACT, **{"segment.bytes": str(1 << 20), "segment.ms": "500"})
    topic = create_topic(bootstrap, "cm200k-" + uuid.uuid4().hex[:6], 1, 3, config=config)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(200_000):
        while True:
            try:
                p.produce(topic, key="k%04d" % (i % 1000), value="v%06d" % i)
                break
            except BufferError:
                p.poll(0.1)
    assert p.flush(60) == 0
    time.sleep(0.6)  # segment.ms passes, so the next append rolls the segment
    p.produce(topic, key="k0000", value="last")
    assert p.flush(30) == 0

    def compacted():
        records = read_all(bootstrap, topic, end=200_001)
        return records if len(records) <= 1_001 else None
    records = wait_for(compacted, timeout=90, interval=1, desc="200 000 updates compacted")
    latest = {}
    for offset, key, value in records:
        latest[key] = (offset, value)
    assert len(latest) == 1_000
    for k in range(1, 1_000):
        # Key k was last written as update 199 000 + k, at that offset.
        assert latest["k%04d" % k] == (199_000 + k, "v%06d" % (199_000 + k))
    assert latest["k0000"] == (200_000, "last")


def test_tombstones_go_after_delete_retention(three):
    bootstrap = three[0].bootstrap
    config = dict(COMPACT, **{"delete.retention.ms": "3000"})
    topic = create_topic(bootstrap, "cmt-" + uuid.uuid4().hex[:6], 1, 3, config=config)
    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(topic, key="gone", value="old")
    p.produce(topic, key="kept", value="v")
    assert p.flush(30) == 0
    p.produce(topic, key="gone", value=None)
    assert p.flush(30) == 0
    # Enough later writes that the tombstone's segment is no longer active.
    for r in range(10):
        for k in range(5):
            p.produce(topic, key="f%d" % k, value="%d%s" % (r, "y" * 100))
        assert p.flush(30) == 0

    def state():
        return {(k, v) for _, k, v in read_all(bootstrap, topic) if k in ("gone", "kept")}
    wait_for(lambda: state() == {("gone", None), ("kept", "v")}, timeout=60, interval=0.3,
             desc="the old value of 'gone' cleaned away, its tombstone kept")
    started = time.time()
    wait_for(lambda: state() == {("kept", "v")}, timeout=60, interval=0.3,
             desc="the tombstone removed after delete.retention.ms")
    # Not before its horizon (3 s after the first clean that kept it).
    assert time.time() - started > 1.5


def test_a_record_without_a_key_is_refused(three):
    bootstrap = three[0].bootstrap
    topic = create_topic(bootstrap, "cmk-" + uuid.uuid4().hex[:6], 1, 3, config=COMPACT)
    errors = []
    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(topic, value="no key", on_delivery=lambda err, msg: errors.append(err))
    p.flush(30)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError.INVALID_RECORD, errors[0]
    # Keyed records still go in, and nothing of the refused one is there.
    p.produce(topic, key="k", value="with key")
    assert p.flush(30) == 0
    assert [(k, v) for _, k, v in read_all(bootstrap, topic)] == [("k", "with key")]


def log_dirs(bootstrap, *args):
    """scripts/log-dirs.sh --describe: Kafka's JSON document."""
    r = subprocess.run([os.path.join(REPO, "scripts", "log-dirs.sh"), "--bootstrap-server", bootstrap,
                        "--describe", *args], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, RUNNEL_BIN=built_binary("runnel", "RUNNEL_BIN", "runnel CLI not built")))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Querying brokers for log directories information"
    assert lines[1].startswith("Received log directory information from brokers ")
    return json.loads(lines[2])


def sizes(doc, partition):
    """{broker: size of `partition`} from a log-dirs document."""
    return {b["broker"]: p["size"] for b in doc["brokers"] for d in b["logDirs"]
            for p in d["partitions"] if p["partition"] == partition}


def test_log_dirs_show_each_replica_shrink(three):
    bootstrap = three[0].bootstrap
    # Written while the policy is delete, then made compacted: the sizes
    # before and after the cleaner's first pass.
    topic = create_topic(bootstrap, "cml-" + uuid.uuid4().hex[:6], 1, 3,
                         config={"segment.bytes": "2048", "min.insync.replicas": "2"})
    other = create_topic(bootstrap, "cmo-" + uuid.uuid4().hex[:6], 1, 3)
    written = produce_rounds(bootstrap, topic, keys=10, rounds=20)

    def full_sizes():
        doc = log_dirs(bootstrap, "--topic-list", topic)
        s = sizes(doc, topic + "-0")
        return (doc, s) if len(s) == 3 and len(set(s.values())) == 1 else None
    doc, full = wait_for(full_sizes, timeout=30, interval=0.3, desc="three equal replica sizes")
    assert doc["version"] == 1
    assert sorted(b["broker"] for b in doc["brokers"]) == [1, 2, 3]
    for b in doc["brokers"]:
        assert len(b["logDirs"]) == 1 and b["logDirs"][0]["error"] is None
        assert os.path.isdir(b["logDirs"][0]["logDir"])
        assert [p["partition"] for p in b["logDirs"][0]["partitions"]] == [topic + "-0"]
        assert b["logDirs"][0]["partitions"][0]["isFuture"] is False

    from confluent_kafka.admin import AdminClient, ConfigResource
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource("topic", topic, set_config=COMPACT)
    admin.alter_configs([res])[res].result(30)

    def shrunk():
        now = sizes(log_dirs(bootstrap), topic + "-0")
        return now if len(now) == 3 and all(now[b] < full[b] / 2 for b in now) else None
    after = wait_for(shrunk, timeout=60, interval=0.5, desc="every replica of %s smaller after cleaning" % topic)
    assert_compacted(read_all(bootstrap, topic, end=max(written) + 1), written)

    # kafka-python's AdminClient reads the same sizes, for every topic.
    from kafka.admin import KafkaAdminClient
    kadmin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        got, names = {}, set()
        for entry in kadmin.describe_log_dirs():
            for d in entry["log_dirs"]:
                for t in d["topics"]:
                    names.add(t["name"])
                    if t["name"] == topic:
                        got[entry["broker"]] = t["partitions"][0]["partition_size"]
        assert {topic, other} <= names
        assert got == after
    finally:
        kadmin.close()


def read_through(bootstrap, topic, last, isolation):
    """Records of partition 0 from the start up to offset `last` (a record
    known to be visible), with the given isolation.level: [(offset, key, value)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "cmx-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "isolation.level": isolation})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        out = []
        deadline = time.time() + 30
        while (not out or out[-1][0] < last) and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                out.append((m.offset(), m.key().decode(), m.value() and m.value().decode()))
        assert out and out[-1][0] >= last, "read %d records, last %s, wanted %d" % (len(out), out[-1:], last)
        return out
    finally:
        c.close()


def test_transactions_on_a_compacted_topic(three):
    """A changelog written by a transactional producer (as Kafka Streams
    with exactly-once does): aborted records are cleaned away, committed
    ones compacted, and read_committed consumers see the latest committed
    value per key."""
    bootstrap = three[0].bootstrap
    topic = create_topic(bootstrap, "cmx-" + uuid.uuid4().hex[:6], 1, 3, config=COMPACT)
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "cmx-" + uuid.uuid4().hex})
    p.init_transactions(30)
    committed = {}

    def txn(value, commit, key="k%d"):
        delivered = {}
        p.begin_transaction()
        for k in range(5):
            p.produce(topic, key=key % k, value=value + "y" * 60,
                      on_delivery=lambda err, msg: delivered.__setitem__(msg.offset(), msg))
        p.flush(30)
        if commit:
            p.commit_transaction(30)
            for o, m in delivered.items():
                committed[o] = (m.key().decode(), m.value().decode())
        else:
            p.abort_transaction(30)
    for r in range(12):
        txn("c%d-" % r, commit=True)
        # Keys no later record has: only the cleaner's removal of aborted
        # transactions takes these away, not compaction by key.
        txn("a%d-" % r, commit=False, key="ab%d-%%d" % r)
    txn("last-", commit=True)
    last = max(committed)

    def cleaned():
        records = read_through(bootstrap, topic, last, "read_uncommitted")
        aborted = [r for r in records if r[2].startswith("a")]
        # What is left of the aborted transactions sits in the uncleanable
        # tail (the active segment) only.
        return records if len(records) < 60 and aborted == [r for r in aborted if r[0] > last - 30] else None
    wait_for(cleaned, timeout=60, interval=0.5, desc="aborted records cleaned away")
    records = read_through(bootstrap, topic, last, "read_committed")
    for o, k, v in records:
        assert committed[o] == (k, v), (o, k, v)
    latest = {}
    for o in sorted(committed):
        latest[committed[o][0]] = committed[o]
    assert {k: (k, v) for _, k, v in records} == latest
    assert all(v.startswith("last-") for _, _, v in records[-5:])


def test_kill_9_in_the_middle_of_a_clean_leaves_a_valid_log(cluster):  # noqa: F811 - fixture
    """The cleaner slowed down (log.cleaner.io.max.bytes.per.second) so a
    kill -9 lands while it writes its new segment: the restarted broker
    drops the half-written one, serves every latest value at its offset,
    and the clean completes."""
    from replication_util import partition_dir
    metrics = "127.0.0.1:%d" % free_port()
    _, b = cluster(brokers=1, log_cleaner_backoff_ms=200, log_cleaner_io_max_bytes_per_second=30000,
                   metrics_listener=metrics)
    topic = create_topic(b.bootstrap, "cm9-" + uuid.uuid4().hex[:6], 1, 1,
                         config=dict(COMPACT, **{"min.insync.replicas": "1"}))
    written = produce_rounds(b.bootstrap, topic, keys=20, rounds=25)
    staging = os.path.join(partition_dir(b, topic, 0), "cleaner-tmp")
    wait_for(lambda: os.path.isdir(staging), timeout=60, interval=0.05, desc="a clean under way")
    b.kill()
    b.start()
    assert_compacted(read_all(b.bootstrap, topic, end=max(written) + 1), written)
    records = wait_for(lambda: (lambda r: r if len(r) < 200 else None)(read_all(b.bootstrap, topic)),
                       timeout=120, interval=0.5, desc="the clean done after the restart")
    assert_compacted(records, written)

    # The cleaner's figures, under Kafka's MBean names.
    def scraped():
        text = urllib.request.urlopen("http://%s/metrics" % metrics, timeout=5).read().decode()
        return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                if line.startswith("kafka_log_logcleaner")}
    m = wait_for(lambda: (lambda m: m if m.get("kafka_log_logcleaner_records_removed_total", 0) > 0 else None)(
        scraped()), timeout=30, interval=0.5, desc="cleaner metrics")
    assert m["kafka_log_logcleanermanager_uncleanable_partitions_count"] == 0
    assert 0 < m["kafka_log_logcleaner_cleaner_recopy_percent"] < 100
    assert m["kafka_log_logcleaner_max_clean_time_secs"] >= 0
    assert 0 <= m["kafka_log_logcleanermanager_max_dirty_percent"] <= 100
    assert m["kafka_log_logcleanermanager_time_since_last_run_ms"] < 30000


def test_a_topic_deleted_and_created_again_is_cleaned_again(three):
    """The cleaner's progress belongs to a log, not to a name: the same
    writes to a topic created again under a deleted one's name are
    compacted as the first time."""
    bootstrap = three[0].bootstrap
    name = "cmr-" + uuid.uuid4().hex[:6]
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for incarnation in range(2):
        topic = create_topic(bootstrap, name, 1, 3, config=COMPACT)
        written = produce_rounds(bootstrap, topic, keys=20, rounds=15)
        records = wait_for(lambda: (lambda r: r if len(r) < 150 else None)(read_all(bootstrap, topic)),
                           timeout=60, interval=0.3, desc="incarnation %d compacted" % incarnation)
        assert_compacted(records, written)
        if incarnation == 0:
            admin.delete_topics([topic])[topic].result(30)
            wait_for(lambda: name not in admin.list_topics(timeout=5).topics, timeout=30, interval=0.2,
                     desc="%s deleted" % name)
            # Every broker has dropped its replica before the name is reused.
            wait_for(lambda: all(not os.path.isdir(os.path.join(b.log_dir, name + "-0")) for b in three),
                     timeout=30, interval=0.2, desc="replicas of %s gone" % name)
