"""`scripts/cluster.sh up --secure`: 3 coord members and 3 brokers with one
SASL_SSL listener each, replicating to each other over it, and a client
configuration that kcat, confluent-kafka and kafka-python use as printed.

With acks=all and min.insync.replicas=2 on RF=3, a SIGKILLed partition
leader loses no acknowledged record and reorders none; the killed broker,
started again, catches up over SASL_SSL and rejoins every ISR.
"""

import os
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from procutil import wait_for
from test_replication_cluster_script import free_block, run

pytestmark = pytest.mark.timeout(300)


def read_properties(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                out[k] = v
    return out


@pytest.fixture(scope="module")
def secure_up(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("secure-cluster") / "cluster")
    base = free_block()
    r = run("up", "--secure", "--dir", d, "--base-port", str(base), "--peer-base-port",
            str(base + 10), "--broker-base-port", str(base + 20))
    try:
        assert r.returncode == 0, "up failed:\n%s\n%s" % (r.stdout, r.stderr)
        yield d, base, r
    finally:
        run("down", "--dir", d, "--wipe")


def test_up_prints_a_client_configuration_that_clients_use_as_printed(secure_up):
    d, base, r = secure_up
    props = os.path.join(d, "client.properties")
    assert "client configuration: %s" % props in r.stdout
    assert "security.protocol=SASL_SSL" in r.stdout
    assert "brokers: %s (SASL_SSL)" % ",".join(
        "127.0.0.1:%d" % (base + 20 + k) for k in range(3)) in r.stdout
    # The broker files hold the CA-signed key store and no plaintext listener.
    server = read_properties(os.path.join(d, "broker-1", "server.properties"))
    assert server["listeners"] == "SASL_SSL://127.0.0.1:%d" % (base + 20)
    assert server["inter.broker.listener.name"] == "SASL_SSL"
    # kcat, as printed.
    k = subprocess.run(["kcat", "-F", props, "-L"], capture_output=True, text=True, timeout=30)
    assert k.returncode == 0, k.stderr
    assert "3 brokers:" in k.stdout
    # confluent-kafka, the file as a dict.
    conf = read_properties(props)
    md = AdminClient(conf).list_topics(timeout=15)
    assert sorted(b.port for b in md.brokers.values()) == [base + 20 + k for k in range(3)]
    # kafka-python, the same settings in its own names.
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=conf["bootstrap.servers"],
                             security_protocol=conf["security.protocol"],
                             ssl_cafile=conf["ssl.ca.location"],
                             sasl_mechanism=conf["sasl.mechanisms"],
                             sasl_plain_username=conf["sasl.username"],
                             sasl_plain_password=conf["sasl.password"])
    try:
        assert len(admin.describe_cluster()["brokers"]) == 3
    finally:
        admin.close()
    # Without credentials: nothing.
    bare = {"bootstrap.servers": conf["bootstrap.servers"], "security.protocol": "SSL",
            "ssl.ca.location": conf["ssl.ca.location"]}
    with pytest.raises(KafkaException):
        AdminClient(bare).list_topics(timeout=5)


def leader_of(admin, topic, partition):
    return admin.list_topics(topic, timeout=10).topics[topic].partitions[partition].leader


def test_leader_kill_loses_no_acknowledged_record(secure_up):
    d, base, _ = secure_up
    conf = read_properties(os.path.join(d, "client.properties"))
    admin = AdminClient(conf)
    topic = "secure-failover"
    admin.create_topics([NewTopic(topic, 1, 3, config={"min.insync.replicas": "2"})])[topic] \
        .result(timeout=30)

    def full_isr():
        p = admin.list_topics(topic, timeout=10).topics[topic].partitions[0]
        return p.leader >= 0 and len(p.isrs) == 3

    wait_for(full_isr, timeout=30, desc="full ISR over SASL_SSL")
    victim = leader_of(admin, topic, 0)

    acked = []
    stop = threading.Event()
    producer = Producer(dict(conf, **{"acks": "all", "enable.idempotence": True,
                                      "linger.ms": 5}))

    def on_delivery(err, msg):
        if err is None:
            acked.append(int(msg.value()))

    def produce():
        i = 0
        while not stop.is_set():
            try:
                producer.produce(topic, value=b"%d" % i, on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            producer.poll(0.001)
        producer.flush(60)

    t = threading.Thread(target=produce)
    t.start()
    wait_for(lambda: len(acked) > 500, timeout=30, desc="records before the kill")
    r = run("kill", "broker-%d" % victim, "--dir", d)
    assert r.returncode == 0, r.stderr
    before = len(acked)
    wait_for(lambda: leader_of(admin, topic, 0) not in (-1, victim), timeout=30,
             desc="a new leader")
    wait_for(lambda: len(acked) > before + 500, timeout=60, desc="records after the failover")
    stop.set()
    t.join(90)
    assert not t.is_alive()

    # The killed broker comes back and catches up over SASL_SSL.
    r = run("start", "broker-%d" % victim, "--dir", d)
    assert r.returncode == 0, r.stderr
    wait_for(full_isr, timeout=60, desc="the restarted broker back in the ISR")

    c = Consumer(dict(conf, **{"group.id": "secure-check", "auto.offset.reset": "earliest",
                               "enable.auto.commit": False}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + 60
    while len(got) < len(acked) and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(int(m.value()))
    c.close()
    # Every acknowledged record is there, in production order, none twice.
    assert acked == sorted(acked)
    assert got == sorted(set(got))
    assert set(acked) <= set(got)
