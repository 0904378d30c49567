"""runnel-broker with real Kafka clients: kcat (librdkafka 2.0.2),
confluent-kafka (librdkafka 2.x) and kafka-python 3.x, against a real
runnel-coord."""

import subprocess
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

from brokerproc import cluster, wait_topic  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(180)


def topic_name(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def kcat(*args, input=None, timeout=30):
    return subprocess.run(["kcat", *args], input=input, capture_output=True, text=True, timeout=timeout)


def consume_all(bootstrap, topic, expected, partitions=None, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    parts = partitions or [0]
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out = []
    import time
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise AssertionError("consume error: %s" % m.error())
        out.append(m)
    c.close()
    return out


def test_kcat_metadata_produce_consume(cluster):
    _, b = cluster()
    r = kcat("-b", b.bootstrap, "-L")
    assert r.returncode == 0, r.stderr
    assert "broker 1 at 127.0.0.1:%d" % b.port in r.stdout
    topic = topic_name("kcat")
    r = kcat("-b", b.bootstrap, "-P", "-t", topic, "-K:", input="k1:v1\nk2:v2\nk3:v3\n")
    assert r.returncode == 0, r.stderr
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        r = kcat("-b", b.bootstrap, "-P", "-t", topic, "-z", codec, "-K:", input="%s:%s-v\n" % (codec, codec))
        assert r.returncode == 0, (codec, r.stderr)
    r = kcat("-b", b.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o %k=%s\\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["0 k1=v1", "1 k2=v2", "2 k3=v3", "3 gzip=gzip-v",
                                     "4 snappy=snappy-v", "5 lz4=lz4-v", "6 zstd=zstd-v"]
    r = kcat("-b", b.bootstrap, "-L", "-t", topic)
    assert "partition 0, leader 1, replicas: 1, isrs: 1" in r.stdout


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_confluent_produce_acks_codecs_headers_nulls(cluster, acks):
    _, b = cluster()
    topic = topic_name("ck")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(15)
    sent = []
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": acks, "compression.type": codec,
                      "linger.ms": 5})
        errors = []
        for i in range(20):
            key = None if i % 5 == 0 else ("k%d" % i).encode()
            value = None if i % 7 == 0 else ("%s-%d" % (codec, i)).encode() * 10
            headers = [("h", ("%d" % i).encode()), ("codec", codec.encode())]
            p.produce(topic, key=key, value=value, headers=headers,
                      on_delivery=lambda err, msg: err and errors.append(err))
            sent.append((key, value, headers))
        assert p.flush(30) == 0
        assert errors == []
    got = consume_all(b.bootstrap, topic, len(sent))
    assert [(m.key(), m.value(), m.headers()) for m in got] == sent
    assert [m.offset() for m in got] == list(range(len(sent)))


def test_kafka_python_produce_consume(cluster):
    from kafka import KafkaConsumer, KafkaProducer
    _, b = cluster()
    topic = topic_name("kp")
    p = KafkaProducer(bootstrap_servers=b.bootstrap, acks=1, compression_type="gzip")
    futures = [p.send(topic, key=b"k%d" % i, value=b"v%d" % i, headers=[("x", b"y")]) for i in range(50)]
    offsets = [f.get(timeout=30).offset for f in futures]
    p.close()
    assert offsets == list(range(50))
    c = KafkaConsumer(topic, bootstrap_servers=b.bootstrap, auto_offset_reset="earliest",
                      enable_auto_commit=False, group_id=None, consumer_timeout_ms=5000)
    got = [(m.key, m.value, m.offset) for m in c]
    c.close()
    assert got == [(b"k%d" % i, b"v%d" % i, i) for i in range(50)]


def test_admin_create_describe_alter_delete(cluster):
    _, b = cluster()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    topic = topic_name("adm")
    fs = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                       config={"retention.ms": "3600000"})])
    fs[topic].result(15)
    # Creating it again: TOPIC_ALREADY_EXISTS.
    with pytest.raises(Exception) as e:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(15)
    assert e.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    # Replication factor above the broker count: INVALID_REPLICATION_FACTOR.
    with pytest.raises(Exception) as e:
        admin.create_topics([NewTopic(topic + "x", 1, 3)])[topic + "x"].result(15)
    assert e.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR
    # Unknown config: INVALID_CONFIG.
    with pytest.raises(Exception) as e:
        admin.create_topics([NewTopic(topic + "y", 1, 1, config={"no.such": "1"})])[topic + "y"].result(15)
    assert e.value.args[0].code() == KafkaError.INVALID_CONFIG

    md = admin.list_topics(topic, timeout=10)
    assert sorted(md.topics[topic].partitions) == [0, 1, 2]

    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([res])[res].result(15)
    assert configs["retention.ms"].value == "3600000"
    assert configs["segment.bytes"].value == "1073741824"
    assert configs["max.message.bytes"].value == "1048588"

    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry
    res2 = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)])
    admin.incremental_alter_configs([res2])[res2].result(15)
    configs = admin.describe_configs([res])[res].result(15)
    assert configs["retention.ms"].value == "7200000"
    assert configs["cleanup.policy"].value == "delete,compact"

    broker_res = ConfigResource(ConfigResource.Type.BROKER, "1")
    bconf = admin.describe_configs([broker_res])[broker_res].result(15)
    assert bconf["message.max.bytes"].value == "1048588"

    admin.create_partitions([NewPartitions(topic, 5)])[topic].result(15)
    wait_for_partitions = lambda: len(admin.list_topics(topic, timeout=5).topics[topic].partitions) == 5
    from coordproc import wait_for
    wait_for(wait_for_partitions, timeout=10, desc="5 partitions")

    cl = admin.describe_cluster().result(15)
    assert [n.id for n in cl.nodes] == [1]
    assert cl.controller.id == 1

    admin.delete_topics([topic])[topic].result(15)
    wait_for(lambda: topic not in admin.list_topics(timeout=5).topics, timeout=10, desc="topic gone")
    with pytest.raises(Exception) as e:
        admin.delete_topics([topic])[topic].result(15)
    assert e.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_restart_keeps_id_and_topics(cluster):
    coord, b = cluster()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    topic = topic_name("rs")
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(15)
    p = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(10):
        p.produce(topic, value=b"%d" % i, partition=i % 2)
    assert p.flush(15) == 0
    b.stop()
    b.start()
    got = consume_all(b.bootstrap, topic, 10, partitions=[0, 1])
    assert sorted(m.value() for m in got) == sorted(b"%d" % i for i in range(10))
    r = kcat("-b", b.bootstrap, "-L", "-t", topic)
    assert "leader 1" in r.stdout


def test_topic_visible_through_coord_to_second_broker(cluster):
    _, brokers = cluster(brokers=2)
    b1, b2 = brokers
    admin1 = AdminClient({"bootstrap.servers": b1.bootstrap})
    topic = topic_name("two")
    admin1.create_topics([NewTopic(topic, 4, 1)])[topic].result(15)
    admin2 = AdminClient({"bootstrap.servers": b2.bootstrap})
    wait_topic(admin2, topic)
    md = admin2.list_topics(topic, timeout=10)
    leaders = {p.leader for p in md.topics[topic].partitions.values()}
    assert leaders <= {1, 2} and len(md.brokers) == 2
    # Produce to every partition through whichever broker leads it.
    p = Producer({"bootstrap.servers": b2.bootstrap})
    for i in range(40):
        p.produce(topic, value=b"%d" % i, partition=i % 4)
    assert p.flush(30) == 0
    got = consume_all(b1.bootstrap, topic, 40, partitions=[0, 1, 2, 3])
    assert len(got) == 40


@pytest.mark.parametrize("coord_kind", ["runnel", "zookeeper"])
def test_kafka_zookeeper_layout(cluster, kazoo, coord_kind):
    """The broker writes Kafka's ZooKeeper layout, on runnel-coord and on Apache ZooKeeper."""
    import json
    coord, b = cluster(coord_kind=coord_kind, chroot="/kafka")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    topic = topic_name("zk")
    admin.create_topics([NewTopic(topic, 2, 1, config={"retention.ms": "123456"})])[topic].result(15)
    zk = kazoo(coord)
    cluster_id = json.loads(zk.get("/kafka/cluster/id")[0])
    assert cluster_id["version"] == "1" and len(cluster_id["id"]) == 22
    reg, stat = zk.get("/kafka/brokers/ids/1")
    reg = json.loads(reg)
    assert stat.ephemeralOwner != 0
    assert reg["version"] == 5 and reg["endpoints"] == ["PLAINTEXT://127.0.0.1:%d" % b.port]
    assert reg["port"] == b.port and reg["host"] == "127.0.0.1"
    assert reg["listener_security_protocol_map"] == {"PLAINTEXT": "PLAINTEXT"}
    assignment = json.loads(zk.get("/kafka/brokers/topics/%s" % topic)[0])
    assert assignment["partitions"] == {"0": [1], "1": [1]}
    state = json.loads(zk.get("/kafka/brokers/topics/%s/partitions/0/state" % topic)[0])
    assert state == {"controller_epoch": 1, "leader": 1, "version": 1, "leader_epoch": 0, "isr": [1]}
    config = json.loads(zk.get("/kafka/config/topics/%s" % topic)[0])
    assert config == {"version": 1, "config": {"retention.ms": "123456"}}
    controller = json.loads(zk.get("/kafka/controller")[0])
    assert controller["brokerid"] == 1
    # Produce and consume work on either coordination service.
    r = kcat("-b", b.bootstrap, "-P", "-t", topic, "-p", "0", input="a\nb\n")
    assert r.returncode == 0, r.stderr
    r = kcat("-b", b.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%s\\n")
    assert r.stdout.splitlines() == ["a", "b"]
    # A topic created in coord by another process appears in the broker.
    other = topic_name("ext")
    zk.create("/kafka/brokers/topics/%s/partitions/0/state" % other,
              json.dumps({"controller_epoch": 1, "leader": 1, "version": 1,
                          "leader_epoch": 0, "isr": [1]}).encode(), makepath=True)
    zk.set("/kafka/brokers/topics/%s" % other,
           json.dumps({"version": 2, "partitions": {"0": [1]}}).encode())
    from coordproc import wait_for
    wait_for(lambda: other in admin.list_topics(timeout=5).topics, timeout=10, desc="external topic")
    r = kcat("-b", b.bootstrap, "-P", "-t", other, "-p", "0", input="x\n")
    assert r.returncode == 0, r.stderr
    # Deleting removes the topic's znodes.
    admin.delete_topics([topic])[topic].result(15)
    assert not zk.exists("/kafka/brokers/topics/%s" % topic)
    assert not zk.exists("/kafka/config/topics/%s" % topic)


def test_kafka_python_admin(cluster):
    from kafka.admin import ConfigResource as KConfigResource, ConfigResourceType, KafkaAdminClient
    from kafka.admin import NewTopic as KNewTopic
    _, b = cluster()
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
    topic = topic_name("kpa")
    admin.create_topics([KNewTopic(topic, num_partitions=2, replication_factor=1,
                                   topic_configs={"retention.ms": "99999"})])
    assert topic in admin.list_topics()
    desc = admin.describe_configs([KConfigResource(ConfigResourceType.TOPIC, topic)])
    assert "99999" in repr(desc)
    admin.delete_topics([topic])
    from coordproc import wait_for
    wait_for(lambda: topic not in admin.list_topics(), timeout=10, desc="topic deleted")
    admin.close()


def test_long_poll_fetch_is_woken_by_append(cluster):
    """A consumer waiting in a long fetch (fetch.wait.max.ms=10 s) gets a new
    record as soon as it is appended, not when the wait expires."""
    import threading
    import time
    _, b = cluster()
    topic = topic_name("lp")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "lp", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 10000, "fetch.min.bytes": 1})
    c.assign([TopicPartition(topic, 0, 0)])
    c.poll(1.0)  # the consumer is now parked in a long-poll fetch
    sent_at = []

    def produce():
        time.sleep(1.0)
        p = Producer({"bootstrap.servers": b.bootstrap})
        sent_at.append(time.monotonic())
        p.produce(topic, value=b"wake")
        p.flush(10)

    t = threading.Thread(target=produce)
    t.start()
    got = None
    deadline = time.monotonic() + 20
    while got is None and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got = time.monotonic()
    t.join()
    c.close()
    assert got is not None
    assert got - sent_at[0] < 5.0, "record arrived %.1fs after it was sent" % (got - sent_at[0])
