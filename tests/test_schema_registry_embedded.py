"""The Schema Registry served by the brokers themselves
(`schema.registry.listeners=http://host:port` in server.properties,
Redpanda's way: nothing more to deploy). Three brokers, each serving one:
they share `_schemas` (created once with RF 3, although the first broker's
registry starts before the other brokers are up) and elect one leader in
coord; a schema registered through any broker is served by every one with
one id, confluent-kafka's AvroSerializer works against a broker's URL, and
when the broker whose registry leads is killed the others take writes
again after its coord session expires.

A secure broker's registry: the broker's only listener is SASL_SSL, coord
takes SASL logins and the broker sets `zookeeper.set.acl=true`; the registry
reaches Kafka over the inter-broker listener with the broker's credentials
and coord with the broker's login, so it registers schemas and its leader
node is `sasl:<user>` ALL + world READ, as the broker's znodes are."""

import json
import os
import subprocess
import time
import uuid

import pytest
import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError

import coordproc
from brokerproc import Broker
from coordproc import CoordServer
from eosutil import create_topic
from procutil import free_port, wait_for
from registryproc import RegistryCluster, consume_values

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ports = {i: free_port() for i in (1, 2, 3)}
    c = RegistryCluster(tmp_path_factory, brokers=3,
                        props_of=lambda i: {"schema.registry.listeners": "http://127.0.0.1:%d" % ports[i]})
    c.urls = {i: "http://127.0.0.1:%d" % ports[i] for i in ports}
    # Each broker's registry starts in the background once its broker serves.
    for url in c.urls.values():
        wait_for(lambda u=url: requests.get(u + "/subjects", timeout=2).status_code == 200,
                 timeout=60, interval=0.2, desc="the registry at " + url)
    yield c
    c.close()


def schema(name):
    return json.dumps({"type": "record", "name": name, "fields": [{"name": "a", "type": "long"}]})


def register(url, subject, text, timeout=10):
    return requests.post("%s/subjects/%s/versions" % (url, subject), json={"schema": text}, timeout=timeout)


def test_one_schemas_topic_with_three_replicas(cluster):
    md = AdminClient({"bootstrap.servers": cluster.bootstrap}).list_topics("_schemas", timeout=10)
    t = md.topics["_schemas"]
    assert t.error is None and list(t.partitions) == [0]
    assert len(t.partitions[0].replicas) == 3


def test_every_broker_serves_what_any_registered(cluster):
    ids = {}
    for i, url in cluster.urls.items():
        r = register(url, "emb-%d-%s" % (i, uuid.uuid4().hex[:6]), schema("E%d" % i))
        assert r.status_code == 200, r.text
        ids[r.json()["id"]] = i
    assert len(ids) == 3
    for url in cluster.urls.values():
        for sid in ids:
            wait_for(lambda u=url, s=sid: requests.get("%s/schemas/ids/%d" % (u, s), timeout=2).status_code == 200,
                     timeout=10, interval=0.1, desc="id %d at %s" % (sid, url))


def test_avro_serde_against_a_broker(cluster):
    topic = create_topic(cluster.bootstrap, "emb-avro-" + uuid.uuid4().hex[:6], 1, 3)
    url = cluster.urls[2]
    ser = AvroSerializer(SchemaRegistryClient({"url": url}), schema("Emb"))
    p = Producer({"bootstrap.servers": cluster.bootstrap})
    for a in range(3):
        p.produce(topic, value=ser({"a": a}, SerializationContext(topic, MessageField.VALUE)))
    assert p.flush(30) == 0
    sid = requests.get("%s/subjects/%s-value/versions/latest" % (url, topic), timeout=5).json()["id"]
    de = AvroDeserializer(SchemaRegistryClient({"url": cluster.urls[3]}))
    assert consume_values(cluster.bootstrap, topic, 3, de, sid) == [{"a": 0}, {"a": 1}, {"a": 2}]


def leader_url(cluster):
    """The URL in the registries' leader node in coord."""
    zk = KazooClient(hosts=cluster.coord_url, timeout=5)
    zk.start(timeout=10)
    try:
        data, _ = zk.get("/schema_registry/schema_registry_master")
    finally:
        zk.stop()
        zk.close()
    node = json.loads(data)
    return "http://%s:%d" % (node["host"], node["port"])


def test_the_leading_brokers_death(cluster):
    leader_url_before = leader_url(cluster)
    victim = next(i for i, u in cluster.urls.items() if u == leader_url_before)
    cluster.brokers[victim - 1].kill()
    killed = time.monotonic()
    other = cluster.urls[1 if victim != 1 else 2]

    def write():
        r = register(other, "after-" + uuid.uuid4().hex[:6], schema("After"), timeout=5)
        assert r.status_code == 200, r.text
        return r.json()["id"]
    wait_for(write, timeout=60, interval=0.3, desc="a registration after the leading broker died")
    print("writes again %.1f s after the kill -9" % (time.monotonic() - killed))
    assert leader_url(cluster) != leader_url_before


PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" user_admin="admin-secret";')


class SaslSslBroker(Broker):
    """A broker whose one listener is SASL_SSL: ready once it accepts TCP
    (the plaintext ApiVersions probe cannot speak to it)."""

    def ready(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False


@pytest.mark.skipif(coordproc.IMPL == "zookeeper",
                    reason="runs runnel-coord's jaasLoginConfig key (RUNNEL_COORD_IMPL=zookeeper)")
def test_secure_brokers_registry_uses_the_brokers_own_credentials(tmp_path):
    from test_broker_coord_sasl import client_jaas
    from test_coord_sasl import sasl_cfg, write_jaas
    from test_security import runnel_bin

    certs = str(tmp_path / "certs")
    r = subprocess.run([runnel_bin(), "certs", "--dir", certs], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    jaas = write_jaas(tmp_path / "server-jaas.conf", {"kafka": "kafka-secret"})
    coord = CoordServer(tmp_path / "coord", kind="runnel", extra_cfg=sasl_cfg(jaas))
    coord.start()
    rport = free_port()
    broker = None
    try:
        broker = SaslSslBroker(tmp_path / "broker", coord.hosts + "/secure", broker_id=1)
        broker.extra.update({
            "listeners": "SASL_SSL://127.0.0.1:%d" % broker.port,
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL",
            "inter.broker.listener.name": "SASL_SSL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": os.path.join(certs, "broker.pem"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": os.path.join(certs, "ca.pem"),
            "sasl.enabled.mechanisms": "PLAIN",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": PLAIN_JAAS,
            "java.security.auth.login.config": client_jaas(tmp_path / "client-jaas.conf"),
            "zookeeper.set.acl": "true",
            "offsets.topic.replication.factor": "1",
            "schema.registry.listeners": "http://127.0.0.1:%d" % rport,
        })
        broker.write_config()
        broker.start()
        url = "http://127.0.0.1:%d" % rport
        wait_for(lambda: requests.get(url + "/subjects", timeout=2).status_code == 200,
                 timeout=60, interval=0.3, desc="the secure broker's registry")
        r = register(url, "secure-emb-value", schema("SecureEmb"), timeout=30)
        assert r.status_code == 200, r.text
        sid = r.json()["id"]
        assert requests.get("%s/schemas/ids/%d" % (url, sid), timeout=5).status_code == 200

        zk = KazooClient(hosts=coord.hosts, timeout=5)  # anonymous
        zk.start(timeout=10)
        try:
            node = "/secure/schema_registry/schema_registry_master"
            wait_for(lambda: zk.exists(node), timeout=30, interval=0.3, desc=node)
            for path in ("/secure/schema_registry", node):
                acl, _ = zk.get_acls(path)
                assert sorted((a.id.scheme, a.id.id, a.perms) for a in acl) == [
                    ("sasl", "kafka", 31), ("world", "anyone", 1)], path
            with pytest.raises(NoAuthError):
                zk.delete(node)
        finally:
            zk.stop()
            zk.close()
        with open(broker.log_path) as f:
            log = f.read()
        assert "schema registry stopped" not in log and "schema.registry.listeners:" not in log, log
    finally:
        if broker is not None:
            broker.close()
        coord.close()
