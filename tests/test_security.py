"""TLS and SASL on broker listeners, with real clients as their own
documentation configures them: kcat (librdkafka), confluent-kafka,
kafka-python and aiokafka over SSL (with and without client certificates),
SASL_PLAINTEXT with PLAIN, SASL_SSL with SCRAM-SHA-256/512; SCRAM users
managed with AdminClient (AlterUserScramCredentials) and stored in coord in
Kafka's layout; refusals (wrong password, unknown user, unknown mechanism,
requests before authentication, plaintext on a TLS port, another CA,
garbage) that leave the broker serving everyone else.

One broker with five listeners is shared by the module: PLAINTEXT (the
readiness probe and inter-broker), SSL, SASL_PLAINTEXT, SASL_SSL and MTLS
(SSL with ssl.client.auth=required).
"""

import asyncio
import json
import os
import socket
import ssl
import struct
import subprocess
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import (AdminClient, NewTopic, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialDeletion, UserScramCredentialUpsertion)

from brokerproc import Broker, broker_bin, frame, read_response, recv_exact, request_header
from coordproc import CoordServer, free_port, wait_for
from procutil import built_binary

PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" '
              'user_admin="admin-secret" user_alice="alice-plain";')


def runnel_bin():
    return built_binary("runnel", "RUNNEL_BIN", "runnel CLI not built")


class Secure:
    """The shared broker: its ports by listener, and the certificate files."""

    def __init__(self, broker, ports, certs):
        self.broker = broker
        self.ports = ports
        self.certs = certs

    def addr(self, listener):
        return "127.0.0.1:%d" % self.ports[listener]

    @property
    def ca(self):
        return os.path.join(self.certs, "ca.pem")

    @property
    def alice_pem(self):
        return os.path.join(self.certs, "client-alice.pem")

    def confluent(self, listener, **extra):
        conf = {"bootstrap.servers": self.addr(listener)}
        protocol = {"SSL": "SSL", "MTLS": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT",
                    "SASL_SSL": "SASL_SSL", "PLAINTEXT": "PLAINTEXT"}[listener]
        conf["security.protocol"] = protocol
        if "SSL" in protocol:
            conf["ssl.ca.location"] = self.ca
        conf.update(extra)
        return conf


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    base = tmp_path_factory.mktemp("secure")
    certs = str(base / "certs")
    r = subprocess.run([runnel_bin(), "certs", "--dir", certs, "--client", "alice"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    coord = CoordServer(base / "coord", name="runnel-coord")
    coord.start()
    ports = {name: free_port() for name in ("SSL", "SASL_PLAINTEXT", "SASL_SSL", "MTLS")}
    broker = Broker(base / "broker", coord.hosts + "/secure", broker_id=1)
    ports["PLAINTEXT"] = broker.port
    listeners = ",".join("%s://127.0.0.1:%d" % (n, p) for n, p in
                         [("PLAINTEXT", broker.port)] + [(n, ports[n]) for n in
                                                        ("SSL", "SASL_PLAINTEXT", "SASL_SSL", "MTLS")])
    broker.extra.update({
        "listeners": listeners,
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL",
        "inter.broker.listener.name": "PLAINTEXT",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": os.path.join(certs, "broker.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": os.path.join(certs, "ca.pem"),
        "listener.name.mtls.ssl.client.auth": "required",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        "listener.name.sasl_ssl.plain.sasl.jaas.config": PLAIN_JAAS,
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
    })
    broker.write_config()
    broker.start()
    s = Secure(broker, ports, certs)
    # SCRAM users, made as an operator would: AdminClient over SASL PLAIN.
    admin = AdminClient(s.confluent("SASL_PLAINTEXT", **{
        "sasl.mechanism": "PLAIN", "sasl.username": "admin", "sasl.password": "admin-secret"}))
    futures = admin.alter_user_scram_credentials([
        UserScramCredentialUpsertion("alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192),
                                     b"alice-secret"),
        UserScramCredentialUpsertion("bob", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096),
                                     b"bob-secret"),
    ])
    for f in futures.values():
        f.result(timeout=30)
    s.coord = coord
    yield s
    broker.close()
    coord.close()


def topic_name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def kcat(*args, input=None, timeout=30):
    return subprocess.run(["kcat", *args], input=input, capture_output=True, text=True,
                          timeout=timeout)


def kcat_roundtrip(bootstrap, settings, topic, lines=3):
    x = []
    for k, v in settings.items():
        x += ["-X", "%s=%s" % (k, v)]
    payload = "".join("k%d:v%d\n" % (i, i) for i in range(lines))
    r = kcat("-b", bootstrap, *x, "-P", "-t", topic, "-K:", input=payload)
    assert r.returncode == 0, r.stderr
    r = kcat("-b", bootstrap, *x, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k=%s\\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["k%d=v%d" % (i, i) for i in range(lines)]


def confluent_roundtrip(conf, topic, n=20, group=None):
    p = Producer(conf)
    for i in range(n):
        p.produce(topic, key=b"k%d" % i, value=b"v%d" % i)
    assert p.flush(30) == 0
    c = Consumer(dict(conf, **{"group.id": group or topic_name("g"),
                               "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got = []
    try:
        wait_for(lambda: _poll_into(c, got) or len(got) >= n, timeout=30, desc="records")
        c.commit(asynchronous=False)
    finally:
        c.close()
    assert got == [b"v%d" % i for i in range(n)]


def _poll_into(consumer, out):
    m = consumer.poll(0.5)
    if m is not None and m.error() is None:
        out.append(m.value())
    return False


# --- TLS ---------------------------------------------------------------------

def test_kcat_over_ssl(secure):
    kcat_roundtrip(secure.addr("SSL"), {"security.protocol": "ssl", "ssl.ca.location": secure.ca},
                   topic_name("kcat-ssl"))


def test_confluent_over_ssl(secure):
    confluent_roundtrip(secure.confluent("SSL"), topic_name("ck-ssl"))


def test_metadata_answers_with_the_listener_asked(secure):
    """A client on the SSL port must be sent to SSL ports only."""
    admin = AdminClient(secure.confluent("SSL"))
    md = admin.list_topics(timeout=15)
    assert [(b.host, b.port) for b in md.brokers.values()] == [("127.0.0.1", secure.ports["SSL"])]


def test_kafka_python_default_producer_over_ssl(secure):
    """kafka-python 3.x's defaults (idempotence on) with only the SSL settings added."""
    from kafka import KafkaConsumer, KafkaProducer
    topic = topic_name("kp-ssl")
    p = KafkaProducer(bootstrap_servers=secure.addr("SSL"), security_protocol="SSL",
                      ssl_cafile=secure.ca)
    for i in range(10):
        p.send(topic, b"v%d" % i)
    p.flush(30)
    p.close()
    c = KafkaConsumer(topic, bootstrap_servers=secure.addr("SSL"), security_protocol="SSL",
                      ssl_cafile=secure.ca, auto_offset_reset="earliest",
                      consumer_timeout_ms=15000)
    got = [m.value for m in c]
    c.close()
    assert got == [b"v%d" % i for i in range(10)]


def test_aiokafka_over_ssl(secure):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.helpers import create_ssl_context
    topic = topic_name("aio-ssl")

    async def run():
        ctx = create_ssl_context(cafile=secure.ca)
        p = AIOKafkaProducer(bootstrap_servers=secure.addr("SSL"), security_protocol="SSL",
                             ssl_context=ctx)
        await p.start()
        try:
            for i in range(5):
                await p.send_and_wait(topic, b"a%d" % i)
        finally:
            await p.stop()
        c = AIOKafkaConsumer(topic, bootstrap_servers=secure.addr("SSL"), security_protocol="SSL",
                             ssl_context=ctx, auto_offset_reset="earliest")
        await c.start()
        got = []
        try:
            while len(got) < 5:
                batch = await asyncio.wait_for(c.getmany(timeout_ms=1000), 30)
                for msgs in batch.values():
                    got += [m.value for m in msgs]
        finally:
            await c.stop()
        return got

    assert asyncio.run(run()) == [b"a%d" % i for i in range(5)]


def test_mutual_tls_with_and_without_a_client_certificate(secure):
    topic = topic_name("mtls")
    with_cert = {"security.protocol": "ssl", "ssl.ca.location": secure.ca,
                 "ssl.certificate.location": secure.alice_pem, "ssl.key.location": secure.alice_pem}
    kcat_roundtrip(secure.addr("MTLS"), with_cert, topic)
    confluent_roundtrip(secure.confluent("MTLS", **{"ssl.certificate.location": secure.alice_pem,
                                                    "ssl.key.location": secure.alice_pem}),
                        topic_name("ck-mtls"))
    # Without a certificate the handshake is refused: no metadata at all.
    r = kcat("-b", secure.addr("MTLS"), "-X", "security.protocol=ssl",
             "-X", "ssl.ca.location=" + secure.ca, "-L", "-m", "5", timeout=30)
    assert r.returncode != 0
    assert "127.0.0.1:%d" % secure.ports["MTLS"] not in r.stdout


# --- SASL --------------------------------------------------------------------

def test_sasl_plain_clients(secure):
    plain = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
             "sasl.username": "alice", "sasl.password": "alice-plain"}
    kcat_roundtrip(secure.addr("SASL_PLAINTEXT"), {k.replace("sasl.mechanism", "sasl.mechanisms"): v
                                                   for k, v in plain.items()},
                   topic_name("kcat-plain"))
    confluent_roundtrip(secure.confluent("SASL_PLAINTEXT", **plain), topic_name("ck-plain"))
    from kafka import KafkaConsumer, KafkaProducer
    topic = topic_name("kp-plain")
    common = dict(bootstrap_servers=secure.addr("SASL_PLAINTEXT"), security_protocol="SASL_PLAINTEXT",
                  sasl_mechanism="PLAIN", sasl_plain_username="alice",
                  sasl_plain_password="alice-plain")
    p = KafkaProducer(**common)
    p.send(topic, b"x").get(timeout=30)
    p.close()
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=15000, **common)
    assert [m.value for m in c] == [b"x"]
    c.close()


def test_scram_users_are_described_and_stored_salted(secure):
    admin = AdminClient(secure.confluent("SASL_SSL", **{
        "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "alice",
        "sasl.password": "alice-secret"}))
    futures = admin.describe_user_scram_credentials(["alice", "bob"])
    described = {u: f.result(timeout=30) for u, f in futures.items()}
    alice = described["alice"].scram_credential_infos
    assert [(i.mechanism, i.iterations) for i in alice] == [(ScramMechanism.SCRAM_SHA_256, 8192)]
    bob = described["bob"].scram_credential_infos
    assert [(i.mechanism, i.iterations) for i in bob] == [(ScramMechanism.SCRAM_SHA_512, 4096)]
    # Kafka's layout in coord: salted keys, never the password.
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=secure.coord.hosts)
    zk.start(timeout=15)
    try:
        data, _ = zk.get("/secure/config/users/alice")
    finally:
        zk.stop()
        zk.close()
    stored = json.loads(data)
    assert stored["version"] == 1
    fields = dict(kv.split("=", 1) for kv in stored["config"]["SCRAM-SHA-256"].split(","))
    assert set(fields) == {"salt", "stored_key", "server_key", "iterations"}
    assert fields["iterations"] == "8192"
    assert b"alice-secret" not in data


def test_scram_clients_over_sasl_ssl(secure):
    sha256 = {"sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "alice",
              "sasl.password": "alice-secret"}
    sha512 = {"sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "bob",
              "sasl.password": "bob-secret"}
    confluent_roundtrip(secure.confluent("SASL_SSL", **sha512), topic_name("ck-scram"),
                        group=topic_name("billing"))
    kcat_roundtrip(secure.addr("SASL_SSL"),
                   {"security.protocol": "SASL_SSL", "ssl.ca.location": secure.ca,
                    "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": "alice",
                    "sasl.password": "alice-secret"},
                   topic_name("kcat-scram"))
    from kafka import KafkaConsumer, KafkaProducer
    topic = topic_name("kp-scram")
    common = dict(bootstrap_servers=secure.addr("SASL_SSL"), security_protocol="SASL_SSL",
                  ssl_cafile=secure.ca, sasl_mechanism="SCRAM-SHA-256",
                  sasl_plain_username="alice", sasl_plain_password="alice-secret")
    p = KafkaProducer(**common)
    for i in range(5):
        p.send(topic, b"s%d" % i)
    p.flush(30)
    p.close()
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=15000,
                      group_id=topic_name("kp-g"), **common)
    assert [m.value for m in c] == [b"s%d" % i for i in range(5)]
    c.close()
    del sha256

    from aiokafka import AIOKafkaProducer
    from aiokafka.helpers import create_ssl_context

    async def aio():
        p = AIOKafkaProducer(bootstrap_servers=secure.addr("SASL_SSL"), security_protocol="SASL_SSL",
                             ssl_context=create_ssl_context(cafile=secure.ca),
                             sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="bob",
                             sasl_plain_password="bob-secret")
        await p.start()
        try:
            md = await p.send_and_wait(topic, b"aio")
        finally:
            await p.stop()
        return md.offset

    assert asyncio.run(aio()) == 5


def test_changed_and_deleted_credentials_take_effect(secure):
    conf = {"bootstrap.servers": secure.addr("SASL_PLAINTEXT"),
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
            "sasl.username": "admin", "sasl.password": "admin-secret"}
    admin = AdminClient(conf)
    user = topic_name("carol")
    for f in admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
            user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), b"one")]).values():
        f.result(timeout=30)
    login = secure.confluent("SASL_SSL", **{"sasl.mechanism": "SCRAM-SHA-512",
                                            "sasl.username": user, "sasl.password": "one"})
    assert AdminClient(login).list_topics(timeout=15).brokers
    for f in admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
            user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), b"two")]).values():
        f.result(timeout=30)
    assert_refused(dict(login))
    assert AdminClient(dict(login, **{"sasl.password": "two"})).list_topics(timeout=15).brokers
    for f in admin.alter_user_scram_credentials([UserScramCredentialDeletion(
            user, ScramMechanism.SCRAM_SHA_512)]).values():
        f.result(timeout=30)
    assert_refused(dict(login, **{"sasl.password": "two"}))
    # Kafka's checks on a credential.
    bad = admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
        "dave", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 100), b"x")])
    with pytest.raises(KafkaException) as e:
        bad["dave"].result(timeout=30)
    assert "iterations" in str(e.value).lower()
    missing = admin.alter_user_scram_credentials([UserScramCredentialDeletion(
        "nobody", ScramMechanism.SCRAM_SHA_256)])
    with pytest.raises(KafkaException) as e:
        missing["nobody"].result(timeout=30)
    assert "does not exist" in str(e.value)


# --- refusals ----------------------------------------------------------------

def assert_refused(conf):
    """The client's authentication fails with the broker's message, fast:
    librdkafka reports it to error_cb as _AUTHENTICATION."""
    from confluent_kafka import KafkaError
    errors = []
    p = Producer(dict(conf, error_cb=errors.append))
    wait_for(lambda: p.poll(0.2) is not None and False or any(
        e.code() == KafkaError._AUTHENTICATION for e in errors), timeout=20,
        desc="authentication error")
    assert any("Authentication failed" in e.str() for e in errors), [e.str() for e in errors]


def test_wrong_password_and_unknown_user_are_refused(secure):
    assert_refused(secure.confluent("SASL_SSL", **{"sasl.mechanism": "SCRAM-SHA-256",
                                                   "sasl.username": "alice", "sasl.password": "nope"}))
    assert_refused(secure.confluent("SASL_SSL", **{"sasl.mechanism": "SCRAM-SHA-512",
                                                   "sasl.username": "mallory", "sasl.password": "x"}))
    assert_refused(secure.confluent("SASL_PLAINTEXT", **{"sasl.mechanism": "PLAIN",
                                                         "sasl.username": "alice",
                                                         "sasl.password": "wrong"}))
    # Everyone else is still served.
    confluent_roundtrip(secure.confluent("SSL"), topic_name("after-refusals"), n=3)


def sasl_handshake(version, mechanism, correlation_id=3):
    mech = mechanism.encode()
    body = struct.pack(">h", len(mech)) + mech
    return frame(request_header(17, version, correlation_id) + body)


def test_unknown_mechanism_gets_the_enabled_list(secure):
    with socket.create_connection(("127.0.0.1", secure.ports["SASL_PLAINTEXT"]), timeout=10) as s:
        s.sendall(sasl_handshake(1, "GSSAPI"))
        body = read_response(s)
    correlation, error = struct.unpack(">ih", body[:6])
    assert correlation == 3
    assert error == 33  # UNSUPPORTED_SASL_MECHANISM
    count = struct.unpack(">i", body[6:10])[0]
    names, at = [], 10
    for _ in range(count):
        n = struct.unpack(">h", body[at:at + 2])[0]
        names.append(body[at + 2:at + 2 + n].decode())
        at += 2 + n
    assert names == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def test_requests_sent_right_behind_the_last_sasl_token_are_served(secure):
    """A client that pipelines its first request behind its SaslAuthenticate
    (no wait for the answer) gets both answers: the bytes read past the
    authentication phase carry over to the serving loop."""
    with socket.create_connection(("127.0.0.1", secure.ports["SASL_PLAINTEXT"]), timeout=10) as s:
        s.sendall(sasl_handshake(1, "PLAIN"))
        assert struct.unpack(">ih", read_response(s)[:6]) == (3, 0)
        token = b"\x00admin\x00admin-secret"
        authenticate = frame(request_header(36, 1, 4) + struct.pack(">i", len(token)) + token)
        s.sendall(authenticate + metadata_v1_request(correlation_id=5))
        correlation, error = struct.unpack(">ih", read_response(s)[:6])
        assert (correlation, error) == (4, 0)
        assert struct.unpack(">i", read_response(s)[:4])[0] == 5


def metadata_v1_request(correlation_id=9):
    return frame(request_header(3, 1, correlation_id) + struct.pack(">i", -1))


def closed_without_answer(sock, timeout=10):
    """The peer closes the connection having sent no Kafka answer: nothing,
    or only a TLS alert record (content type 21) on a TLS port."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    return data == b"" or data[0] == 21


def test_requests_before_authentication_are_not_served(secure):
    with socket.create_connection(("127.0.0.1", secure.ports["SASL_PLAINTEXT"]), timeout=10) as s:
        s.sendall(metadata_v1_request())
        assert closed_without_answer(s)


def test_plaintext_on_a_tls_port_and_garbage_are_refused(secure):
    for port in (secure.ports["SSL"], secure.ports["SASL_SSL"]):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(metadata_v1_request())
            assert closed_without_answer(s)
    for port in (secure.ports["SSL"], secure.ports["SASL_PLAINTEXT"], secure.ports["MTLS"]):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(os.urandom(64) + b"\x00" * 64)
            assert closed_without_answer(s)
    # A SASL token that is not PLAIN's format.
    with socket.create_connection(("127.0.0.1", secure.ports["SASL_PLAINTEXT"]), timeout=10) as s:
        s.sendall(sasl_handshake(1, "PLAIN"))
        assert struct.unpack(">ih", read_response(s)[:6]) == (3, 0)
        token = b"\xff\xfe garbage"
        body = struct.pack(">i", len(token)) + token
        s.sendall(frame(request_header(36, 1, 4) + body))
        answer = read_response(s)
        assert struct.unpack(">ih", answer[:6]) == (4, 58)  # SASL_AUTHENTICATION_FAILED
        assert closed_without_answer(s)
    assert secure.broker.proc.poll() is None
    confluent_roundtrip(secure.confluent("SSL"), topic_name("after-garbage"), n=3)


def test_a_certificate_from_another_ca_is_refused(secure, tmp_path):
    other = str(tmp_path / "other")
    r = subprocess.run([runnel_bin(), "certs", "--dir", other, "--client", "eve"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # The client does not trust the broker...
    ctx = ssl.create_default_context(cafile=os.path.join(other, "ca.pem"))
    with socket.create_connection(("127.0.0.1", secure.ports["SSL"]), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    # ...and the broker does not trust the client's certificate.
    ctx = ssl.create_default_context(cafile=secure.ca)
    eve = os.path.join(other, "client-eve.pem")
    ctx.load_cert_chain(eve, eve)
    with socket.create_connection(("127.0.0.1", secure.ports["MTLS"]), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                # TLS 1.3: the refusal of the certificate arrives with the first read.
                s.sendall(metadata_v1_request())
                if s.recv(1) == b"":
                    raise ConnectionResetError("closed")
    assert secure.broker.proc.poll() is None


def test_bad_security_settings_stop_the_broker_naming_the_key(tmp_path, secure):
    b = Broker(tmp_path / "bad", secure.coord.hosts + "/bad", broker_id=7, extra={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (free_port(), free_port()),
        "inter.broker.listener.name": "PLAINTEXT",
        "ssl.keystore.location": str(tmp_path / "missing.pem"),
    })
    out = subprocess.run([broker_bin(), "--config", b.props_path], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "missing.pem" in out.stderr, out.stderr
