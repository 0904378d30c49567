"""The Schema Registry's topic under operations, on a cluster of its own
(a coord and 3 brokers with a fast log cleaner):

* re-registering one schema a thousand times writes nothing to `_schemas`
  (the answer is the id it has), and a thousand compatibility changes of
  one subject, once the topic is cleaned, leave about one record for that
  key -- a registry started afterwards rebuilds the same state from the
  compacted topic;
* a permanently deleted schema with the highest id, its records and
  tombstones compacted away: a restarted registry never hands its id out
  again;
* the broker leading the `_schemas` partition is killed (kill -9): the
  registry keeps serving reads throughout and takes writes again once the
  brokers' coord session (4 s) has expired and a new leader is elected,
  every id registered before still there."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from procutil import wait_for
from registryproc import RegistryCluster, Registry

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = RegistryCluster(tmp_path_factory, brokers=3, broker_props={"log.cleaner.backoff.ms": "200"})
    yield c
    c.close()


@pytest.fixture
def make(cluster, tmp_path_factory):
    made = []

    def start(topic, **props):
        r = Registry(tmp_path_factory.mktemp("registry"), cluster.bootstrap, coord_url=cluster.coord_url,
                     topic=topic, props=dict({"schema.registry.zk.namespace": topic}, **props),
                     name="runnel-registry-%d" % (len(made) + 1))
        made.append(r)
        r.start()
        return r

    yield start
    for r in made:
        r.close()


def ok(r):
    assert r.status_code == 200, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json()


def schema(name):
    return '{"type":"record","name":"%s","fields":[{"name":"a","type":"long"}]}' % name


def records(bootstrap, topic):
    """(offset, key) of every record in the topic's partition 0, read to
    its end, and the end offset."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, 0)])
        out = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    break
                continue
            out.append((m.offset(), m.key()))
        else:
            raise AssertionError("%s not read to its end (%d) within 30 s" % (topic, high))
        return out, high
    finally:
        c.close()


def test_re_registrations_write_nothing_and_config_changes_compact(cluster, make):
    topic = "_schemas_compact_" + uuid.uuid4().hex[:6]
    reg = make(topic)
    sid = ok(reg.call("POST", "/subjects/s/versions", {"schema": schema("R")}))["id"]
    _, end = records(cluster.bootstrap, topic)
    for _ in range(1000):
        assert ok(reg.call("POST", "/subjects/s/versions", {"schema": schema("R")}))["id"] == sid
    assert records(cluster.bootstrap, topic)[1] == end, "a re-registration wrote to the topic"

    # Small segments so the cleaner has something to clean.
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("segment.bytes", "4096", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("min.cleanable.dirty.ratio", "0.01", incremental_operation=AlterConfigOpType.SET),
    ])
    admin.incremental_alter_configs([res])[res].result(10)
    levels = ["FULL", "NONE", "FORWARD", "BACKWARD_TRANSITIVE"]
    for i in range(1000):
        assert ok(reg.call("PUT", "/config/s", {"compatibility": levels[i % 4]}))
    final = levels[999 % 4]
    assert ok(reg.call("GET", "/config/s")) == {"compatibilityLevel": final}

    def cleaned():
        recs, high = records(cluster.bootstrap, topic)
        assert high >= 1001
        config_records = [k for _, k in recs if k and b'"CONFIG"' in k]
        # The active segment is never cleaned: a few of the last changes may remain.
        assert len(config_records) < 100, "%d config records of 1000 left" % len(config_records)
        return recs
    recs = wait_for(cleaned, timeout=60, interval=0.5, desc="the cleaner compacting %s" % topic)
    assert any(b'"SCHEMA"' in (k or b"") for _, k in recs), "the schema's record was cleaned away"

    # A new instance rebuilds the same state from the compacted topic.
    reg.close()
    again = make(topic)
    assert ok(again.call("GET", "/config/s")) == {"compatibilityLevel": final}
    assert ok(again.call("GET", "/subjects/s/versions/1"))["id"] == sid
    assert ok(again.call("GET", "/schemas/ids/%d" % sid))["schema"] == schema("R")


def test_the_topic_leaders_broker_killed(cluster, make):
    topic = "_schemas_failover_" + uuid.uuid4().hex[:6]
    reg = make(topic)
    ids = {ok(reg.call("POST", "/subjects/f%d/versions" % i, {"schema": schema("F%d" % i)}))["id"]
           for i in range(5)}
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    leader = admin.list_topics(topic, timeout=10).topics[topic].partitions[0].leader
    victim = next(b for b in cluster.brokers if b.broker_id == leader)
    victim.kill()
    killed = time.monotonic()
    # Reads never stop: the state is in memory.
    for i in range(5):
        assert ok(reg.call("GET", "/subjects/f%d/versions/latest" % i))["id"] in ids

    def register():
        r = reg.call("POST", "/subjects/after/versions", {"schema": schema("After")}, timeout=10)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["id"]
    new_id = wait_for(register, timeout=30, interval=0.2, desc="a registration after the leader's broker died")
    print("writes again %.1f s after the kill -9 of broker %d" % (time.monotonic() - killed, leader))
    assert new_id not in ids and new_id > max(ids)
    for i in range(5):
        assert ok(reg.call("GET", "/subjects/f%d/versions/latest" % i))["id"] in ids


def test_an_id_compacted_away_is_never_handed_out_again(cluster, make):
    """A permanently deleted schema with the highest id: once the cleaner
    has removed its records and their tombstones, a restarted registry
    still allocates above it (the high water the delete wrote)."""
    topic = "_schemas_ids_" + uuid.uuid4().hex[:6]
    reg = make(topic)
    ok(reg.call("POST", "/subjects/keep/versions", {"schema": schema("Keep")}))
    gone = ok(reg.call("POST", "/subjects/gone/versions", {"schema": schema("Gone")}))["id"]
    ok(reg.call("DELETE", "/subjects/gone"))
    ok(reg.call("DELETE", "/subjects/gone", params={"permanent": "true"}))
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("segment.bytes", "2048", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("min.cleanable.dirty.ratio", "0.01", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("delete.retention.ms", "100", incremental_operation=AlterConfigOpType.SET),
    ])
    admin.incremental_alter_configs([res])[res].result(10)

    levels = iter(["FULL", "NONE"] * 1000)

    def gone_from_the_topic():
        # Config changes of another subject keep segments rolling, so the
        # cleaner reaches the tombstones, then (past delete.retention.ms) drops them.
        for _ in range(10):
            ok(reg.call("PUT", "/config/keep", {"compatibility": next(levels)}))
        recs, _ = records(cluster.bootstrap, topic)
        left = [(o, k) for o, k in recs if k and b'"SCHEMA"' in k and b'"gone"' in k]
        assert not left, "gone's schema records still in %s: %s" % (topic, left)
        return True
    wait_for(gone_from_the_topic, timeout=90, interval=0.5, desc="gone's schema record and its tombstone cleaned away")

    reg.close()
    again = make(topic)
    new = ok(again.call("POST", "/subjects/new/versions", {"schema": schema("New")}))["id"]
    assert new > gone, "id %d handed out again (the deleted schema had %d)" % (new, gone)
