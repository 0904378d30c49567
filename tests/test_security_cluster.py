"""`scripts/cluster.sh up --secure`: 3 coord members and 3 brokers with one
SASL_SSL listener each, replicating to each other over it, and a client
configuration that kcat, confluent-kafka and kafka-python use as printed.

With acks=all and min.insync.replicas=2 on RF=3, a SIGKILLed partition
leader loses no acknowledged record and reorders none; the killed broker,
started again, catches up over SASL_SSL and rejoins every ISR.

The web console and the Schema Registry run on it too: the console
(`--command-config client.properties`) lists a topic made with
confluent-kafka and shows its records; the registry (Confluent's
`kafkastore.*` security keys) registers an Avro schema, serves it by id,
and its `_schemas` record is there for a SASL_SSL consumer. A registry
with a bad `kafkastore.security.protocol` or a wrong password exits at
start with a message that says so.

Coord takes SASL logins too (`<dir>/coord_jaas.conf`): brokers, registry and
console log in as `kafka` (`<dir>/coord_client_jaas.conf`), and brokers and
registry give their znodes `zookeeper.set.acl`'s ACLs, so an anonymous coord
client can read the layout but change nothing, nor read `/config/users`;
the console, logged in, can.
"""

import json
import os
import stat
import subprocess
import threading
import time
import urllib.request

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from procutil import free_port, wait_for
from registryproc import CONTENT_TYPE, registry_bin
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


def printed_url(r, prefix):
    return next(l[len(prefix):].strip() for l in r.stdout.splitlines() if l.startswith(prefix))


def test_up_prints_the_console_and_registry_urls(secure_up):
    d, base, r = secure_up
    broker_base = base + 20
    assert "console: http://127.0.0.1:%d/" % (broker_base - 1012) in r.stdout, r.stdout
    assert "schema registry: http://127.0.0.1:%d" % (broker_base - 1011) in r.stdout, r.stdout
    # The registry's file: Confluent's kafkastore.* keys, readable by its owner
    # only (it holds the admin password).
    path = os.path.join(d, "registry", "schema-registry.properties")
    props = read_properties(path)
    assert props["kafkastore.security.protocol"] == "SASL_SSL"
    assert props["kafkastore.sasl.mechanism"] == "PLAIN"
    assert props["kafkastore.ssl.truststore.location"] == os.path.join(d, "certs", "ca.pem")
    assert props["kafkastore.bootstrap.servers"] == ",".join(
        "SASL_SSL://127.0.0.1:%d" % (broker_base + k) for k in range(3))
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
    # The console reads the cluster's client configuration.
    with open(os.path.join(d, "console", "console.pid")) as f:
        pid = int(f.read().strip())
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")
    assert os.path.join(d, "client.properties").encode() in argv
    assert b"--command-config" in argv
    # status lists both as running.
    st = run("status", "--dir", d)
    assert st.returncode == 0, st.stderr
    lines = {l.split()[0]: l.split() for l in st.stdout.splitlines() if l.strip()}
    assert lines["console"][1] != "-", st.stdout
    assert lines["registry"][1] != "-", st.stdout


def get(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def test_console_shows_the_secure_clusters_topics(secure_up):
    d, _, r = secure_up
    console = printed_url(r, "console: ").rstrip("/")
    conf = read_properties(os.path.join(d, "client.properties"))
    topic = "secure-console"
    admin = AdminClient(conf)
    admin.create_topics([NewTopic(topic, 2, 3)])[topic].result(timeout=30)
    # The poller's view (Kafka metadata over SASL_SSL) lists it.
    wait_for(lambda: topic in get(console + "/topics"), timeout=30, interval=0.5,
             desc="the topic on the console's topics page")
    # And records fetched over SASL_SSL are shown.
    p = Producer(conf)
    p.produce(topic, value=b"hello-over-sasl-ssl", partition=0)
    assert p.flush(30) == 0
    wait_for(lambda: "hello-over-sasl-ssl" in get(
        console + "/topics/%s/messages?partition=0" % topic), timeout=30, interval=0.5,
        desc="the record in the console's record browser")
    with open(os.path.join(d, "console", "console.log")) as f:
        log = f.read()
    assert "WARNING" not in log, log


def test_registry_registers_over_sasl_ssl(secure_up):
    d, _, r = secure_up
    registry = printed_url(r, "schema registry: ").rstrip("/")
    subject = "secure-orders-value"
    schema = json.dumps({"type": "record", "name": "Order", "namespace": "secure",
                         "fields": [{"name": "id", "type": "long"}]})
    req = urllib.request.Request(
        "%s/subjects/%s/versions" % (registry, subject), method="POST",
        data=json.dumps({"schema": schema}).encode(),
        headers={"Content-Type": CONTENT_TYPE})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
        sid = json.loads(resp.read())["id"]
    got = json.loads(get("%s/schemas/ids/%d" % (registry, sid)))
    assert json.loads(got["schema"]) == json.loads(schema)
    assert json.loads(get("%s/subjects/%s/versions/latest" % (registry, subject)))["id"] == sid

    # The record is in _schemas, read by a SASL_SSL consumer.
    conf = read_properties(os.path.join(d, "client.properties"))
    c = Consumer(dict(conf, **{"group.id": "secure-schemas-check",
                               "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    c.assign([TopicPartition("_schemas", 0, 0)])
    found = None
    deadline = time.time() + 30
    try:
        while found is None and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error() is not None or m.key() is None or m.value() is None:
                continue
            key, value = json.loads(m.key()), json.loads(m.value())
            if key.get("keytype") == "SCHEMA" and key.get("subject") == subject:
                found = value
    finally:
        c.close()
    assert found is not None, "no SCHEMA record for %s in _schemas" % subject
    assert found["id"] == sid and found["version"] == 1
    assert json.loads(found["schema"]) == json.loads(schema)


def start_registry(tmp_path, d, **overrides):
    """runnel-registry on the secure cluster with the cluster's store keys
    changed by `overrides`; the finished process (it is expected to exit)."""
    props = read_properties(os.path.join(d, "registry", "schema-registry.properties"))
    props.pop("kafkastore.connection.url", None)
    props.update({"listeners": "http://127.0.0.1:%d" % free_port(),
                  "kafkastore.topic": "_schemas_bad_login"}, **overrides)
    path = os.path.join(str(tmp_path), "schema-registry.properties")
    with open(path, "w") as f:
        f.writelines("%s=%s\n" % kv for kv in props.items())
    return subprocess.run([registry_bin(), path], capture_output=True, text=True, timeout=60)


def test_registry_with_a_wrong_password_or_bad_setting_exits_with_a_reason(secure_up, tmp_path):
    d, _, _ = secure_up
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
            'username="admin" password="not-the-password";')
    t0 = time.monotonic()
    p = start_registry(tmp_path, d, **{"kafkastore.sasl.jaas.config": jaas,
                                       "kafkastore.init.timeout.ms": "5000"})
    assert p.returncode != 0, p.stderr
    assert time.monotonic() - t0 < 30
    err = p.stderr.lower()
    assert "kafkastore.security.protocol=sasl_ssl" in err, p.stderr
    assert "authentication failed" in err or "invalid credentials" in err, p.stderr

    p = start_registry(tmp_path, d, **{"kafkastore.security.protocol": "TLS"})
    assert p.returncode != 0
    assert "kafkastore.security.protocol: \"TLS\" is not one of" in p.stderr, p.stderr


def coord_hosts(base):
    return ",".join("127.0.0.1:%d" % (base + k) for k in range(3))


def test_coord_logins_are_configured_and_kept_secret(secure_up):
    d, _, _ = secure_up
    for name in ("coord_jaas.conf", "coord_client_jaas.conf"):
        path = os.path.join(d, name)
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, name
    with open(os.path.join(d, "coord_jaas.conf")) as f:
        assert 'user_kafka="' in f.read()
    zoo = read_properties(os.path.join(d, "coord-1", "zoo.cfg"))
    assert zoo["jaasLoginConfig"] == os.path.join(d, "coord_jaas.conf")
    client_jaas = os.path.join(d, "coord_client_jaas.conf")
    server = read_properties(os.path.join(d, "broker-1", "server.properties"))
    assert server["java.security.auth.login.config"] == client_jaas
    assert server["zookeeper.set.acl"] == "true"
    registry = read_properties(os.path.join(d, "registry", "schema-registry.properties"))
    assert registry["java.security.auth.login.config"] == client_jaas
    assert registry["zookeeper.set.acl"] == "true"
    # The console gets the login as Kafka's tools do: KAFKA_OPTS.
    with open(os.path.join(d, "console", "console.pid")) as f:
        pid = int(f.read().strip())
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    assert (b"-Djava.security.auth.login.config=" + client_jaas.encode()) in env[b"KAFKA_OPTS"]


def test_anonymous_coord_client_reads_the_layout_but_changes_nothing(secure_up):
    d, base, _ = secure_up
    zk = KazooClient(hosts=coord_hosts(base), timeout=10)
    zk.start(timeout=15)
    try:
        # World READ: tooling still sees the cluster.
        assert sorted(zk.get_children("/runnel/brokers/ids")) == ["1", "2", "3"]
        for path in ("/runnel/brokers", "/runnel/config"):
            acl, _ = zk.get_acls(path)
            assert sorted((a.id.scheme, a.id.id, a.perms) for a in acl) == [
                ("sasl", "kafka", 31), ("world", "anyone", 1)], path
            with pytest.raises(NoAuthError):
                zk.create(path + "/anonymous", b"x")
            with pytest.raises(NoAuthError):
                zk.set(path, b"x")
        with pytest.raises(NoAuthError):
            zk.delete("/runnel/brokers/ids/1")
        # Credentials are not even readable.
        with pytest.raises(NoAuthError):
            zk.get_children("/runnel/config/users")
        # The registry's election node: its login's, as the brokers' are.
        wait_for(lambda: zk.exists("/runnel/schema_registry/schema_registry_master"),
                 timeout=30, interval=0.5, desc="the registry's leader node")
        acl, _ = zk.get_acls("/runnel/schema_registry/schema_registry_master")
        assert sorted((a.id.scheme, a.id.id, a.perms) for a in acl) == [
            ("sasl", "kafka", 31), ("world", "anyone", 1)]
        with pytest.raises(NoAuthError):
            zk.set("/runnel/schema_registry/schema_registry_master", b"{}")
    finally:
        zk.stop()
        zk.close()


def test_console_reads_coord_logged_in(secure_up):
    d, _, r = secure_up
    console = printed_url(r, "console: ").rstrip("/")
    page = get(console + "/coord?path=/runnel/brokers/ids")
    for k in (1, 2, 3):
        assert "path=%%2Frunnel%%2Fbrokers%%2Fids%%2F%d" % k in page, page
    # /config/users is readable by sasl:kafka only: the console logged in.
    page = get(console + "/coord?path=/runnel/config/users")
    assert "<h2>Children (" in page, page
    assert "NoAuth" not in page and "not authorized" not in page.lower(), page
