"""SASL re-authentication (KIP-368): with `connections.max.reauth.ms` set,
a SASL session lasts that long; the broker announces it in
SaslAuthenticate (session_lifetime_ms), a client re-authenticates on the
same connection (librdkafka does) or opens a new one (kafka-python), and a
connection whose session expired is closed at its next request without an
answer. A re-authentication may not change the principal or the mechanism.

One broker is shared by the module: PLAINTEXT (readiness, inter-broker) and
SASL_PLAINTEXT with PLAIN and SCRAM-SHA-256, sessions of LIFETIME_MS.
"""

import socket
import struct
import subprocess
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from kafka import KafkaConsumer, KafkaProducer

from brokerproc import Broker, broker_bin, frame, read_response, request_header
from coordproc import CoordServer, free_port, wait_for

LIFETIME_MS = 2500
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_admin="admin-secret" '
        'user_alice="alice-secret" user_bob="bob-secret";')


class Reauth:
    def __init__(self, broker, sasl_port, metrics_port):
        self.broker = broker
        self.sasl_port = sasl_port
        self.metrics_port = metrics_port

    @property
    def sasl(self):
        return "127.0.0.1:%d" % self.sasl_port

    def metric(self, name):
        """A counter's value on the broker's /metrics (0 when absent)."""
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "_total "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@pytest.fixture(scope="module")
def reauth(tmp_path_factory):
    base = tmp_path_factory.mktemp("reauth")
    coord = CoordServer(base / "coord", name="runnel-coord")
    coord.start()
    sasl_port, metrics_port = free_port(), free_port()
    broker = Broker(base / "broker", coord.hosts + "/reauth", broker_id=1)
    broker.extra.update({
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d"
                     % (broker.port, sasl_port),
        "inter.broker.listener.name": "PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "connections.max.reauth.ms": str(LIFETIME_MS),
        "metrics.listener": "127.0.0.1:%d" % metrics_port,
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
    })
    broker.write_config()
    broker.start()
    yield Reauth(broker, sasl_port, metrics_port)
    broker.close()
    coord.close()


def topic_name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


SUCCEEDED = "kafka_server_socket_server_metrics_successful_reauthentication"
FAILED = "kafka_server_socket_server_metrics_failed_reauthentication"
KILLED = "kafka_server_socket_server_metrics_expired_connections_killed_count"


# --- real clients --------------------------------------------------------------

def test_librdkafka_reauthenticates_on_its_connections(reauth):
    """confluent-kafka (librdkafka 2.x implements KIP-368) produces and
    consumes over three session lifetimes: no error reaches the
    application, every record arrives once and in order, and the broker
    counts re-authentications, not killed sessions."""
    before_ok, before_killed = reauth.metric(SUCCEEDED), reauth.metric(KILLED)
    conf = {"bootstrap.servers": reauth.sasl, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN", "sasl.username": "alice",
            "sasl.password": "alice-secret"}
    errors = []
    topic = topic_name("reauth-rdkafka")
    producer = Producer(dict(conf, error_cb=errors.append))
    consumer = Consumer(dict(conf, error_cb=errors.append, **{
        "group.id": topic_name("g"), "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    sent, got = [], []
    deadline = time.monotonic() + 3 * LIFETIME_MS / 1000
    try:
        i = 0
        while time.monotonic() < deadline:
            value = b"v%d" % i
            producer.produce(topic, value=value)
            sent.append(value)
            i += 1
            producer.poll(0)
            m = consumer.poll(0.1)
            if m is not None and m.error() is None:
                got.append(m.value())
        assert producer.flush(30) == 0

        def drained():
            m = consumer.poll(0.2)
            if m is not None and m.error() is None:
                got.append(m.value())
            return len(got) >= len(sent)
        wait_for(drained, timeout=30, desc="all records consumed")
    finally:
        consumer.close()
    assert got == sent
    # Topic auto-creation may report UNKNOWN_TOPIC_OR_PART once; nothing else.
    assert [e for e in errors if "Unknown topic" not in e.str()] == [], [e.str() for e in errors]
    assert reauth.metric(SUCCEEDED) >= before_ok + 2
    assert reauth.metric(KILLED) == before_killed


def test_kafka_python_default_clients_keep_working(reauth):
    """kafka-python does not re-authenticate: the broker closes its
    connection once the session is over and it connects again. With its
    default (idempotent) producer every send still succeeds, and the
    consumer reads each record once, in order."""
    conf = dict(bootstrap_servers=reauth.sasl, security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="PLAIN", sasl_plain_username="bob",
                sasl_plain_password="bob-secret")
    topic = topic_name("reauth-kp")
    producer = KafkaProducer(**conf)
    sent = []
    deadline = time.monotonic() + 2.5 * LIFETIME_MS / 1000
    try:
        while time.monotonic() < deadline:
            value = b"v%d" % len(sent)
            producer.send(topic, value).get(timeout=30)
            sent.append(value)
            time.sleep(0.2)
    finally:
        producer.close(timeout=10)
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=10000,
                             **conf)
    try:
        got = []
        for m in consumer:
            got.append(m.value)
            if len(got) == len(sent):
                break
    finally:
        consumer.close()
    assert got == sent


# --- the protocol, byte by byte ------------------------------------------------

def handshake(sock, mechanism, correlation_id):
    mech = mechanism.encode()
    sock.sendall(frame(request_header(17, 1, correlation_id) + struct.pack(">h", len(mech)) + mech))
    correlation, error = struct.unpack(">ih", read_response(sock)[:6])
    assert correlation == correlation_id
    return error


def authenticate(sock, token, correlation_id):
    """SaslAuthenticate v1: (error_code, error_message, session_lifetime_ms)."""
    sock.sendall(frame(request_header(36, 1, correlation_id) + struct.pack(">i", len(token))
                       + token))
    body = read_response(sock)
    correlation, error, n = struct.unpack(">ihh", body[:8])
    assert correlation == correlation_id
    at = 8
    message = None
    if n >= 0:
        message = body[at:at + n].decode()
        at += n
    size = struct.unpack(">i", body[at:at + 4])[0]
    at += 4 + max(size, 0)
    lifetime = struct.unpack(">q", body[at:at + 8])[0]
    return error, message, lifetime


def plain(user, password):
    return b"\x00" + user.encode() + b"\x00" + password.encode()


def metadata(sock, correlation_id):
    """Metadata v1 for all topics; its correlation id."""
    sock.sendall(frame(request_header(3, 1, correlation_id) + struct.pack(">i", -1)))
    return struct.unpack(">i", read_response(sock)[:4])[0]


def closed(sock, timeout=10):
    """The broker closed the connection without sending anything."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def login(reauth, user="alice", password="alice-secret"):
    sock = socket.create_connection(("127.0.0.1", reauth.sasl_port), timeout=10)
    assert handshake(sock, "PLAIN", 1) == 0
    error, message, lifetime = authenticate(sock, plain(user, password), 2)
    assert error == 0 and not message, message
    return sock, lifetime


def test_the_session_lifetime_is_announced_and_enforced(reauth):
    killed = reauth.metric(KILLED)
    sock, lifetime = login(reauth)
    with sock:
        assert 0 < lifetime <= LIFETIME_MS
        assert metadata(sock, 3) == 3
        time.sleep(lifetime / 1000 + 0.3)  # the session's end is the point here
        sock.sendall(frame(request_header(3, 1, 4) + struct.pack(">i", -1)))
        assert closed(sock)
    assert reauth.metric(KILLED) == killed + 1


def test_reauthentication_renews_the_session_on_the_same_connection(reauth):
    ok = reauth.metric(SUCCEEDED)
    sock, first = login(reauth)
    with sock:
        for round_ in range(2):
            time.sleep(first / 1600)
            assert handshake(sock, "PLAIN", 10 + round_) == 0
            error, message, lifetime = authenticate(sock, plain("alice", "alice-secret"),
                                                    20 + round_)
            assert error == 0 and not message, message
            assert 0 < lifetime <= LIFETIME_MS
        # Past the first session's end, the renewed one still serves.
        assert metadata(sock, 30) == 30
    assert reauth.metric(SUCCEEDED) == ok + 2


@pytest.mark.parametrize("mechanism,token,reason", [
    # Kafka's wording: "from <type>.<name>: <type>.<name>".
    ("PLAIN", plain("bob", "bob-secret"),
     "Cannot change principals during re-authentication from User.alice: User.bob"),
    ("SCRAM-SHA-256", b"n,,n=alice,r=abcdefgh",
     "SASL mechanism 'SCRAM-SHA-256' requested by client is not supported for "
     "re-authentication of mechanism 'PLAIN'"),
], ids=["principal", "mechanism"])
def test_reauthentication_may_not_change_who_or_how(reauth, mechanism, token, reason):
    failed = reauth.metric(FAILED)
    sock, _ = login(reauth)
    with sock:
        assert handshake(sock, mechanism, 5) == 0
        error, message, _ = authenticate(sock, token, 6)
        assert error == 58  # SASL_AUTHENTICATION_FAILED
        assert message == reason
        assert closed(sock)
    assert reauth.metric(FAILED) == failed + 1


def test_a_wrong_password_on_reauthentication_closes_the_connection(reauth):
    sock, _ = login(reauth)
    with sock:
        assert handshake(sock, "PLAIN", 5) == 0
        error, _, _ = authenticate(sock, plain("alice", "wrong"), 6)
        assert error == 58
        assert closed(sock)
    # Others are still served.
    other, _ = login(reauth, "bob", "bob-secret")
    with other:
        assert metadata(other, 3) == 3


def test_a_bad_setting_stops_the_broker_naming_the_key(tmp_path, reauth):
    b = Broker(tmp_path / "bad", "127.0.0.1:%d/none" % free_port(), broker_id=9, extra={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d"
                     % (free_port(), free_port()),
        "inter.broker.listener.name": "PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "listener.name.sasl_plaintext.plain.connections.max.reauth.ms": "-5",
    })
    out = subprocess.run([broker_bin(), "--config", b.props_path], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode != 0
    assert "listener.name.sasl_plaintext.plain.connections.max.reauth.ms" in out.stderr, \
        out.stderr


def test_brokers_replicating_over_sasl_renew_their_sessions(tmp_path):
    """Two brokers replicating to each other over SASL_PLAINTEXT with
    sessions of LIFETIME_MS: over three lifetimes every acks=all send is
    acknowledged and both replicas stay in sync (the follower's fetcher and
    the controller's links open new connections before their sessions end;
    a killed session would show as a shrunk ISR or a failed send)."""
    coord = CoordServer(tmp_path / "coord", name="runnel-coord")
    coord.start()
    brokers = []
    try:
        for i in (1, 2):
            b = Broker(tmp_path / ("b%d" % i), coord.hosts + "/reauth-ib", broker_id=i)
            sasl_port = free_port()
            b.sasl_port = sasl_port
            b.extra.update({
                "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d"
                             % (b.port, sasl_port),
                "inter.broker.listener.name": "SASL_PLAINTEXT",
                "sasl.enabled.mechanisms": "PLAIN",
                "sasl.mechanism.inter.broker.protocol": "PLAIN",
                "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
                "connections.max.reauth.ms": str(LIFETIME_MS),
                "offsets.topic.replication.factor": "2",
                "replica.lag.time.max.ms": "2000",
            })
            b.write_config()
            b.start()
            brokers.append(b)
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
        topic = topic_name("reauth-rf2")
        admin.create_topics([NewTopic(topic, 1, 2, config={"min.insync.replicas": "2"})])[
            topic].result(timeout=30)
        producer = Producer({"bootstrap.servers": brokers[0].bootstrap, "acks": "all",
                             "linger.ms": 0})
        failures = []

        def delivered(err, _msg):
            if err is not None:
                failures.append(err)
        sent = 0
        deadline = time.monotonic() + 3 * LIFETIME_MS / 1000
        while time.monotonic() < deadline:
            producer.produce(topic, value=b"v%d" % sent, on_delivery=delivered)
            sent += 1
            producer.flush(10)
            time.sleep(0.1)
        assert producer.flush(30) == 0
        assert failures == []
        isr = admin.list_topics(topic, timeout=10).topics[topic].partitions[0].isrs
        assert sorted(isr) == [1, 2]
        for b in brokers:
            with open(b.log_path) as f:
                assert "its SASL session expired" not in f.read(), b
    finally:
        for b in brokers:
            b.close()
        coord.close()
