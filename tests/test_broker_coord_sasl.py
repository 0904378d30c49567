"""The broker logs in to coord with SASL DIGEST-MD5, as a Kafka broker logs in
to ZooKeeper: a JAAS file with a `Client` section (Kafka's
`-Djava.security.auth.login.config`, here also a server.properties key), and
with `zookeeper.set.acl=true` its znodes belong to `sasl:<username>` (ALL)
with world READ (none on the sensitive paths), so an anonymous coord client
can read the cluster's layout but change nothing.

Real processes: runnel-coord with a JAAS `Server` section, runnel-broker,
kazoo (anonymous, and logged in with pure-sasl), confluent-kafka clients.
"""

import uuid

import pytest
from kazoo.exceptions import NoAuthError

import coordproc
from brokerproc import BrokerExited
from coordproc import CoordServer
from test_coord_sasl import DIGEST_MODULE, sasl_cfg, sasl_client, write_jaas
from test_zk_set_acl import ALL, READ, acl_ids, brokers, create_topic, produce_consume  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(coordproc.IMPL == "zookeeper",
                                reason="runs runnel-coord's jaasLoginConfig key (RUNNEL_COORD_IMPL=zookeeper)")

USERS = {"kafka": "kafka-secret", "admin": "adminsecret"}
SECURE = sorted([("sasl", "kafka", ALL), ("world", "anyone", READ)])


def client_jaas(path, user="kafka", password="kafka-secret", section="Client"):
    with open(path, "w") as f:
        f.write('%s {\n  %s required\n    username="%s"\n    password="%s";\n};\n'
                % (section, DIGEST_MODULE, user, password))
    return str(path)


@pytest.fixture
def coord(tmp_path):
    jaas = write_jaas(tmp_path / "server-jaas.conf", USERS)
    srv = CoordServer(tmp_path / "coord", kind="runnel", extra_cfg=sasl_cfg(jaas))
    srv.start()
    yield srv
    srv.close()


def props(extra):
    """server.properties keys for a one-broker cluster."""
    return dict({"offsets.topic.replication.factor": "1"}, **extra)


def test_broker_logs_in_and_owns_its_znodes(coord, brokers, kazoo, tmp_path):
    chroot = "/sasl"
    jaas = client_jaas(tmp_path / "client-jaas.conf")
    b = brokers(1, coord.hosts + chroot, props({"java.security.auth.login.config": jaas,
                                                "zookeeper.set.acl": "true"}))
    topic = "sasl-%s" % uuid.uuid4().hex[:8]
    create_topic(b.bootstrap, topic)
    produce_consume(b.bootstrap, topic)

    outsider = kazoo(coord)  # no login
    tpath = chroot + "/brokers/topics/" + topic
    for p in ["", "/brokers/ids/1", "/brokers/topics", "/config/topics/" + topic, "/controller",
              tpath[len(chroot):], tpath[len(chroot):] + "/partitions/0/state"]:
        assert acl_ids(outsider, chroot + p) == SECURE, p
    with pytest.raises(NoAuthError):
        outsider.set(tpath, b"{}")
    with pytest.raises(NoAuthError):
        outsider.create(chroot + "/config/topics/" + topic + "-forged", b"{}")
    with pytest.raises(NoAuthError):
        outsider.get_children(chroot + "/config/users")

    # The broker's own identity (another session logged in as the same
    # user) can read the sensitive path and change what the broker made.
    insider = sasl_client(coord, "kafka", "kafka-secret")
    insider.start(timeout=15)
    try:
        assert acl_ids(insider, chroot + "/config/users") == [("sasl", "kafka", ALL)]
        data, stat = insider.get(tpath)
        insider.set(tpath, data, version=stat.version)
    finally:
        insider.stop()
        insider.close()


def test_login_file_from_kafka_opts_and_a_named_section(coord, brokers, kazoo, tmp_path):
    jaas = client_jaas(tmp_path / "zk-client.conf", section="ZkBroker")
    b = brokers(1, coord.hosts + "/opts",
                props({"zookeeper.sasl.clientconfig": "ZkBroker", "zookeeper.set.acl": "true"}),
                env={"KAFKA_OPTS": "-Xmx1G -Djava.security.auth.login.config=%s" % jaas})
    topic = "opts-%s" % uuid.uuid4().hex[:8]
    create_topic(b.bootstrap, topic)
    assert acl_ids(kazoo(coord), "/opts/brokers/topics/" + topic) == SECURE


def test_refusals_name_the_problem(coord, brokers, tmp_path):
    def refused(broker_id, extra, says):
        b = brokers(broker_id, coord.hosts + "/refused", props(extra), wait=False)
        with pytest.raises(BrokerExited):
            b.start(timeout=30)
        with open(b.log_path) as f:
            log = f.read()
        for s in says:
            assert s in log, (s, log[-2000:])

    wrong = client_jaas(tmp_path / "wrong.conf", password="not-it")
    refused(1, {"java.security.auth.login.config": wrong}, ["authentication failed"])
    refused(2, {"java.security.auth.login.config": str(tmp_path / "missing.conf")},
            ["java.security.auth.login.config", "missing.conf"])
    good = client_jaas(tmp_path / "good.conf")
    refused(3, {"java.security.auth.login.config": good, "zookeeper.sasl.client": "false"},
            ["zookeeper.sasl.client"])
    # A file without the section is no identity: set.acl is refused.
    other = client_jaas(tmp_path / "other.conf", section="Elsewhere")
    refused(4, {"java.security.auth.login.config": other, "zookeeper.set.acl": "true"},
            ["zookeeper.set.acl", "java.security.auth.login.config"])


def test_coord_enforcing_sasl_takes_the_broker(tmp_path, brokers):
    server_jaas = write_jaas(tmp_path / "server-jaas.conf", USERS)
    srv = CoordServer(tmp_path / "enforcing", kind="runnel",
                      extra_cfg=sasl_cfg(server_jaas, **{"enforce.auth.enabled": "true",
                                                         "enforce.auth.schemes": "sasl"}))
    srv.start()
    try:
        jaas = client_jaas(tmp_path / "client-jaas.conf")
        b = brokers(1, srv.hosts, props({"java.security.auth.login.config": jaas}))
        topic = "enforced-%s" % uuid.uuid4().hex[:8]
        create_topic(b.bootstrap, topic)
        produce_consume(b.bootstrap, topic)
        # Without a login the same coord refuses the broker.
        plain = brokers(2, srv.hosts, props({}), wait=False)
        with pytest.raises(BrokerExited):
            plain.start(timeout=40)
    finally:
        srv.close()
