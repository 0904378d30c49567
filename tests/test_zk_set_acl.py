"""`zookeeper.set.acl` (Kafka's ZooKeeper mode): the broker creates its
znodes with Kafka's secure default ACLs, `ZkData.defaultAcls(isSecure, path)`:
ALL for the creating session's identity (CREATOR_ALL_ACL, which coord turns
into `x509:<certificate subject>` for a broker connected over TLS with a
client certificate) plus `world:anyone` READ, without the world READ on the
sensitive paths (`/config/users`, `/config/brokers`, `/delegation_token/tokens`).

Real processes: runnel-coord with a secure client port and the x509
provider, runnel-broker over TLS with `runnel certs` certificates, kazoo as
an unauthenticated outsider on the plain port, confluent-kafka clients.
"""

import json
import uuid

import pytest
from kazoo.exceptions import NoAuthError

import coordproc
from brokerproc import Broker, BrokerExited
from coordproc import CoordServer, free_port, poll_until
from test_coord_tls import make_certs, tls_cfg, tls_kazoo

pytestmark = pytest.mark.skipif(coordproc.IMPL == "zookeeper",
                                reason="runs runnel-coord's TLS port (RUNNEL_COORD_IMPL=zookeeper)")

CHROOT = "/secure"
BROKER_DN = "CN=kafka-broker"
ALL, READ = 31, 1


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    c = make_certs(str(tmp_path_factory.mktemp("zk-set-acl") / "certs"), ["kafka-broker", "other"])
    c["client"] = c["kafka-broker"]
    return c


@pytest.fixture
def coord(tmp_path, certs):
    secure = free_port()
    cfg = tls_cfg(certs, secure, client_auth="want")
    cfg["authProvider.x509"] = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"
    srv = CoordServer(tmp_path / "coord", kind="runnel", extra_cfg=cfg)
    srv.secure_port = secure
    srv.start()
    yield srv
    srv.close()


def tls_props(certs, key_store, set_acl=True):
    return {
        "zookeeper.set.acl": "true" if set_acl else "false",
        "zookeeper.ssl.client.enable": "true",
        "zookeeper.clientCnxnSocket": "org.apache.zookeeper.ClientCnxnSocketNetty",
        "zookeeper.ssl.keystore.location": key_store,
        "zookeeper.ssl.keystore.type": "PEM",
        "zookeeper.ssl.truststore.location": certs["ca"],
        "zookeeper.ssl.truststore.type": "PEM",
        "offsets.topic.replication.factor": "1",
    }


@pytest.fixture
def brokers(tmp_path):
    made = []

    def start(broker_id, zk_connect, extra, wait=True, env=None):
        b = Broker(tmp_path / ("broker-%d" % broker_id), zk_connect, broker_id=broker_id,
                   extra=extra)
        if env:
            b.env_defaults = dict(Broker.env_defaults, **env)
        made.append(b)
        if wait:
            b.start()
        return b

    yield start
    for b in reversed(made):
        b.close()


def acl_ids(client, path):
    return sorted((a.id.scheme, a.id.id, a.perms) for a in client.get_acls(path)[0])


SECURE = sorted([("x509", BROKER_DN, ALL), ("world", "anyone", READ)])
SENSITIVE = [("x509", BROKER_DN, ALL)]


def produce_consume(bootstrap, topic, n=5):
    from confluent_kafka import Consumer, Producer
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        p.produce(topic, b"v%d" % i)
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-" + topic,
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    try:
        deadline_polls = 60
        while len(got) < n and deadline_polls > 0:
            deadline_polls -= 1
            m = c.poll(1.0)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        c.close()
    assert sorted(got) == sorted(b"v%d" % i for i in range(n))


def create_topic(bootstrap, topic, partitions=1, rf=1):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, rf)])[topic].result(timeout=30)
    return admin


def test_secure_acls_on_broker_znodes(coord, certs, brokers, kazoo):
    zk_connect = "127.0.0.1:%d%s" % (coord.secure_port, CHROOT)
    b1 = brokers(1, zk_connect, tls_props(certs, certs["client"]))
    topic = "acl-%s" % uuid.uuid4().hex[:8]
    admin = create_topic(b1.bootstrap, topic)
    produce_consume(b1.bootstrap, topic)

    outsider = kazoo(coord)  # plain port, no identity
    tpath = CHROOT + "/brokers/topics/" + topic
    assert acl_ids(outsider, tpath) == SECURE
    assert b'"partitions"' in outsider.get(tpath)[0]
    with pytest.raises(NoAuthError):
        outsider.set(tpath, b"{}")
    with pytest.raises(NoAuthError):
        outsider.delete(tpath + "/partitions/0/state")
    with pytest.raises(NoAuthError):
        outsider.create(tpath + "/partitions/9", b"")
    # Every level the broker made, the chroot and ephemerals included.
    for p in ["", "/brokers", "/brokers/ids", "/brokers/ids/1", "/brokers/topics",
              "/config", "/config/topics", "/config/topics/" + topic, "/cluster/id",
              "/controller", "/controller_epoch", "/admin/delete_topics",
              tpath[len(CHROOT):] + "/partitions/0/state"]:
        assert acl_ids(outsider, CHROOT + p) == SECURE, p
    # Kafka keeps the old-consumer root open.
    assert acl_ids(outsider, CHROOT + "/consumers") == [("world", "anyone", ALL)]

    # Sensitive paths: no world READ. getACL itself needs READ (or ADMIN),
    # so the ACL is read as the broker's identity.
    insider = tls_kazoo(coord.secure_port, certs, with_cert=True)
    insider.start(timeout=15)
    try:
        check_sensitive(admin, outsider, insider)
    finally:
        insider.stop()
        insider.close()


def check_sensitive(admin, outsider, insider):
    for p in ["/config/users", "/config/brokers"]:
        assert acl_ids(insider, CHROOT + p) == SENSITIVE, p
        with pytest.raises(NoAuthError):
            outsider.get_children(CHROOT + p)
        with pytest.raises(NoAuthError):
            outsider.get_acls(CHROOT + p)
    # A SCRAM user's credentials (written by AlterUserScramCredentials).
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion
    futures = admin.alter_user_scram_credentials([
        UserScramCredentialUpsertion("alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096),
                                     b"alice-secret")])
    for f in futures.values():
        f.result(timeout=30)
    upath = CHROOT + "/config/users/alice"
    assert acl_ids(insider, upath) == SENSITIVE
    assert b"SCRAM-SHA-256" in insider.get(upath)[0]
    with pytest.raises(NoAuthError):
        outsider.get(upath)
    # The change notification is not sensitive (it only names the entity).
    changes = outsider.get_children(CHROOT + "/config/changes")
    assert changes
    assert acl_ids(outsider, CHROOT + "/config/changes/" + sorted(changes)[-1]) == SECURE


def test_second_broker_with_the_same_subject_leads_partitions(coord, certs, brokers, kazoo):
    zk_connect = "127.0.0.1:%d%s" % (coord.secure_port, CHROOT)
    b1 = brokers(1, zk_connect, tls_props(certs, certs["client"]))
    b2 = brokers(2, zk_connect, tls_props(certs, certs["client"]))
    topic = "rf2-%s" % uuid.uuid4().hex[:8]
    admin = create_topic(b1.bootstrap, topic, partitions=4, rf=2)

    def full_isr():
        md = admin.list_topics(topic, timeout=5).topics[topic]
        parts = md.partitions.values()
        return (len(md.partitions) == 4 and all(len(p.isrs) == 2 for p in parts)
                and {p.leader for p in parts} == {1, 2})
    assert poll_until(full_isr, timeout=40), admin.list_topics(topic, timeout=5).topics[topic].partitions
    produce_consume(b2.bootstrap, topic)
    # Broker 2 registered itself and can write what broker 1 created.
    outsider = kazoo(coord)
    assert acl_ids(outsider, CHROOT + "/brokers/ids/2") == SECURE
    # Killing the controller hands the role to the other broker, which
    # must rewrite the znodes the first one made.
    controller = int(json.loads(outsider.get(CHROOT + "/controller")[0])["brokerid"])
    (b1 if controller == 1 else b2).close()
    survivor = b2 if controller == 1 else b1

    def leads_all():
        md = admin.list_topics(topic, timeout=5).topics[topic]
        return all(p.leader == survivor.broker_id for p in md.partitions.values())
    admin = create_topic(survivor.bootstrap, topic + "-after")
    assert poll_until(leads_all, timeout=40)


def test_set_acl_without_identity_refuses_to_start(coord, certs, brokers):
    # Plain port, no TLS at all.
    b = brokers(1, coord.hosts, {"zookeeper.set.acl": "true"}, wait=False)
    with pytest.raises(BrokerExited):
        b.start(timeout=20)
    with open(b.log_path) as f:
        log = f.read()
    assert "zookeeper.set.acl" in log and "zookeeper.ssl.keystore.location" in log, log[-2000:]
    # TLS without a client certificate is no identity either.
    props = tls_props(certs, certs["client"])
    del props["zookeeper.ssl.keystore.location"]
    b = brokers(2, "127.0.0.1:%d" % coord.secure_port, props, wait=False)
    with pytest.raises(BrokerExited):
        b.start(timeout=20)
    with open(b.log_path) as f:
        assert "zookeeper.set.acl" in f.read()


def test_default_keeps_znodes_open(coord, certs, brokers, kazoo):
    zk_connect = "127.0.0.1:%d/open" % coord.secure_port
    b = brokers(1, zk_connect, tls_props(certs, certs["client"], set_acl=False))
    topic = "open-%s" % uuid.uuid4().hex[:8]
    create_topic(b.bootstrap, topic)
    outsider = kazoo(coord)
    for p in ["/open", "/open/brokers/topics/" + topic, "/open/config/users", "/open/brokers/ids/1"]:
        assert acl_ids(outsider, p) == [("world", "anyone", ALL)], p
