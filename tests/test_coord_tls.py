"""TLS for ZooKeeper clients of runnel-coord (ZooKeeper 3.8's
`secureClientPort` and `ssl.*` keys), and the broker reaching coord over
TLS with Kafka's `zookeeper.ssl.*` keys.

Clients: kazoo (use_ssl), zkCli.sh from Debian's zookeeper package with the
Netty client socket and PEM stores, and runnel-broker itself. Certificates
come from `runnel certs` (a development CA, a server key store with SAN
127.0.0.1, and a client key store), as in test_security.py.
"""

import os
import socket
import ssl
import subprocess
import uuid

import pytest
from kazoo.client import KazooClient

import coordproc
from coordproc import ZKCLI, CoordServer, free_port, poll_until, wait_for
from ensemble import Ensemble
from procutil import built_binary

pytestmark = pytest.mark.skipif(coordproc.IMPL == "zookeeper",
                                reason="runs runnel-coord's TLS port (RUNNEL_COORD_IMPL=zookeeper)")


def runnel_bin():
    return built_binary("runnel", "RUNNEL_BIN", "runnel not built (cargo build -p runnel-broker)")


def make_certs(directory, clients, *extra_args, names=()):
    """`runnel certs` into `directory` with a client certificate per name in
    `clients` (and those `extra_args` make, listed in `names`): the paths
    {"dir", "ca", "server", <each client name>}."""
    r = subprocess.run([runnel_bin(), "certs", "--dir", directory, "--client", ",".join(clients),
                        *extra_args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = {"dir": directory, "ca": os.path.join(directory, "ca.pem"),
           "server": os.path.join(directory, "broker.pem")}
    for name in list(clients) + list(names):
        out[name] = os.path.join(directory, "client-%s.pem" % name)
    return out


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    c = make_certs(str(tmp_path_factory.mktemp("coord-tls") / "certs"), ["alice"])
    c["client"] = c["alice"]
    return c


def tls_cfg(certs, port, client_auth="need"):
    return {
        "secureClientPort": str(port),
        "secureClientPortAddress": "127.0.0.1",
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "ssl.keyStore.location": certs["server"],
        "ssl.keyStore.type": "PEM",
        "ssl.trustStore.location": certs["ca"],
        "ssl.trustStore.type": "PEM",
        "ssl.clientAuth": client_auth,
        "ssl.enabledProtocols": "TLSv1.3,TLSv1.2",
    }


def tls_context(certs, with_cert=True):
    ctx = ssl.create_default_context(cafile=certs["ca"])
    if with_cert:
        ctx.load_cert_chain(certs["client"])
    return ctx


def tls_four_letter(port, word, certs, timeout=3.0):
    """A four-letter word over TLS (as ZooKeeper answers them on its secure port)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with tls_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(word.encode())
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return out.decode()
                out += chunk


def tls_kazoo(port, certs, with_cert=True, timeout=2.0):
    kw = dict(use_ssl=True, ca=certs["ca"], verify_certs=True)
    if with_cert:
        kw.update(certfile=certs["client"], keyfile=certs["client"])
    return KazooClient(hosts="127.0.0.1:%d" % port, timeout=timeout, **kw)


@pytest.fixture
def tls_coord(tmp_path, certs):
    secure = free_port()
    srv = CoordServer(tmp_path / "coord", kind="runnel", extra_cfg=tls_cfg(certs, secure))
    srv.secure_port = secure
    srv.start()
    yield srv
    srv.close()


def started(client, timeout=15):
    client.start(timeout=timeout)
    return client


def test_kazoo_over_tls_shares_the_tree_with_the_plain_port(tls_coord, certs, kazoo):
    root = "/tls-%s" % uuid.uuid4().hex[:8]
    c = started(tls_kazoo(tls_coord.secure_port, certs))
    try:
        c.create(root + "/a", b"over tls", makepath=True)
        assert c.get(root + "/a")[0] == b"over tls"
        plain = kazoo(tls_coord)
        assert plain.get(root + "/a")[0] == b"over tls"
        # A watch set over TLS fires for a write made on the plain port.
        fired = []
        c.get(root + "/a", watch=lambda e: fired.append(e.type))
        plain.set(root + "/a", b"changed")
        wait_for(lambda: fired == ["CHANGED"], timeout=10, desc="watch over TLS")
        assert sorted(c.get_children(root)) == ["a"]
    finally:
        c.stop()
        c.close()
    assert tls_four_letter(tls_coord.secure_port, "ruok", certs) == "imok"
    conf = dict(l.split("=", 1) for l in tls_coord.four("conf").splitlines() if "=" in l)
    assert conf["secureClientPort"] == str(tls_coord.secure_port)


def test_need_refuses_a_client_without_certificate(tls_coord, certs, kazoo):
    c = tls_kazoo(tls_coord.secure_port, certs, with_cert=False)
    with pytest.raises(Exception):
        c.start(timeout=5)
    c.stop()
    c.close()
    # A raw TLS client without a certificate gets no four-letter answer.
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection(("127.0.0.1", tls_coord.secure_port), timeout=3) as raw:
            with tls_context(certs, with_cert=False).wrap_socket(
                    raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"ruok")
                if s.recv(16) == b"":
                    raise OSError("closed without an answer")
    assert kazoo(tls_coord).exists("/") is not None


def test_want_serves_a_client_without_certificate(tmp_path, certs):
    secure = free_port()
    srv = CoordServer(tmp_path / "coord", kind="runnel",
                      extra_cfg=tls_cfg(certs, secure, client_auth="want"))
    srv.start()
    try:
        c = started(tls_kazoo(secure, certs, with_cert=False))
        try:
            assert c.exists("/") is not None
        finally:
            c.stop()
            c.close()
    finally:
        srv.close()


def test_plaintext_client_on_the_secure_port_gets_nothing(tls_coord, certs, kazoo):
    from zkproto import connect_request, frame
    with socket.create_connection(("127.0.0.1", tls_coord.secure_port), timeout=3) as s:
        s.sendall(frame(connect_request()))
        try:
            reply = s.recv(4096)
        except OSError:
            reply = b""
        # At most a TLS alert (record type 0x15), never a ConnectResponse.
        assert reply == b"" or reply[0] == 0x15, reply
    with socket.create_connection(("127.0.0.1", tls_coord.secure_port), timeout=3) as s:
        s.sendall(b"ruok")
        try:
            reply = s.recv(4096)
        except OSError:
            reply = b""
        assert b"imok" not in reply
    plain = KazooClient(hosts="127.0.0.1:%d" % tls_coord.secure_port, timeout=1.0)
    with pytest.raises(Exception):
        plain.start(timeout=4)
    plain.stop()
    plain.close()
    # The server is still up on both ports.
    assert tls_coord.alive()
    assert kazoo(tls_coord).exists("/") is not None
    assert tls_four_letter(tls_coord.secure_port, "ruok", certs) == "imok"


def test_silent_peer_does_not_block_others(tls_coord, certs):
    """A connection that never starts its handshake holds up nobody."""
    idle = [socket.create_connection(("127.0.0.1", tls_coord.secure_port)) for _ in range(5)]
    try:
        assert tls_four_letter(tls_coord.secure_port, "ruok", certs) == "imok"
    finally:
        for s in idle:
            s.close()


class SecureOnly(CoordServer):
    """A member with only secureClientPort (no clientPort): readiness over TLS."""

    def __init__(self, workdir, certs, **kw):
        self.certs = certs
        super().__init__(workdir, **kw)

    def config_items(self):
        items = super().config_items()
        del items["clientPort"]
        items.update(tls_cfg(self.certs, self.port))
        return items

    def ready(self):
        try:
            return tls_four_letter(self.port, "ruok", self.certs, timeout=1.0) == "imok"
        except OSError:
            return False


def test_secure_port_only(tmp_path, certs):
    srv = SecureOnly(tmp_path / "coord", certs, kind="runnel")
    srv.start()
    try:
        c = started(tls_kazoo(srv.port, certs))
        try:
            c.create("/only-tls", b"x")
            assert c.get("/only-tls")[0] == b"x"
        finally:
            c.stop()
            c.close()
        assert "Mode: standalone" in tls_four_letter(srv.port, "srvr", certs)
    finally:
        srv.close()


def run_coord(tmp_path, lines):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("\n".join(["tickTime=200", "dataDir=%s" % data] + lines) + "\n")
    try:
        return subprocess.run([coordproc.RUNNEL_BIN, "--config", str(cfg)], capture_output=True,
                              text=True, timeout=20, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail("runnel-coord kept running with a bad TLS config: %r" % (e.stderr,))


@pytest.mark.parametrize("change,expect", [
    ({"ssl.keyStore.location": "/nonexistent/server.pem"}, "ssl.keyStore.location"),
    ({"ssl.trustStore.location": "/nonexistent/ca.pem"}, "ssl.trustStore.location"),
    ({"ssl.keyStore.type": "JKS"}, "ssl.keyStore.type"),
    ({"ssl.clientAuth": "sometimes"}, "ssl.clientAuth"),
    ({"ssl.enabledProtocols": "SSLv3"}, "ssl.enabledProtocols"),
    ({"ssl.ciphersuites": "TLS_NOT_A_SUITE"}, "ssl.ciphersuites"),
    ({"ssl.trustStore.location": None}, "ssl.trustStore.location"),
    ({"ssl.keyStore.location": None}, "ssl.keyStore.location"),
    ({"sslQuorum": "true"}, "ssl.quorum.keyStore.location"),
])
def test_bad_tls_config_refuses_to_start(tmp_path, certs, change, expect):
    items = tls_cfg(certs, free_port())
    items["clientPort"] = str(free_port())
    for k, v in change.items():
        if v is None:
            items.pop(k)
        else:
            items[k] = v
    p = run_coord(tmp_path, ["%s=%s" % kv for kv in items.items()])
    assert p.returncode != 0, p.stderr[-500:]
    assert expect in p.stderr, p.stderr[-800:]


def test_key_store_that_is_not_pem_names_the_file(tmp_path, certs):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key store\n")
    items = tls_cfg(certs, free_port())
    items["ssl.keyStore.location"] = str(junk)
    p = run_coord(tmp_path, ["%s=%s" % kv for kv in items.items()])
    assert p.returncode != 0
    assert "ssl.keyStore.location" in p.stderr and str(junk) in p.stderr, p.stderr[-800:]


# zkCli.sh's class path is zookeeper.jar, whose manifest (Debian's
# packaging) lists netty-handler but not the netty-resolver and netty-codec
# jars the Netty client socket also needs: without them the client fails with
# NoClassDefFoundError io/netty/resolver/AddressResolverGroup. The java
# launcher takes the last -cp, so CLIENT_JVMFLAGS (after zkCli.sh's own -cp)
# supplies the complete one.
ZKCLI_TLS_CLASSPATH = ":".join(["/etc/zookeeper/conf", "/usr/share/java/zookeeper.jar",
                                "/usr/share/java/netty-resolver.jar",
                                "/usr/share/java/netty-codec.jar"])


def zkcli_tls(port, certs, args, timeout=90):
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = " ".join([
        "-cp", ZKCLI_TLS_CLASSPATH,
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
        "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
        "-Dzookeeper.client.secure=true",
        "-Dzookeeper.ssl.trustStore.location=%s" % certs["ca"],
        "-Dzookeeper.ssl.trustStore.type=PEM",
        "-Dzookeeper.ssl.keyStore.location=%s" % certs["client"],
        "-Dzookeeper.ssl.keyStore.type=PEM",
    ])
    env["ZOO_LOG_DIR"] = env.get("TMPDIR", "/tmp")
    cmd = ["bash", ZKCLI, "-server", "127.0.0.1:%d" % port] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


@pytest.mark.skipif(not os.path.exists(ZKCLI), reason="Debian's zookeeper package (zkCli.sh) not installed")
def test_zkcli_over_tls(tls_coord, certs, kazoo):
    path = "/zkcli-tls-%s" % uuid.uuid4().hex[:8]
    r = zkcli_tls(tls_coord.secure_port, certs, ["create", path, "from-zkcli"])
    assert "Created " + path in r.stdout + r.stderr, (r.stdout[-1500:], r.stderr[-1500:])
    assert kazoo(tls_coord).get(path)[0] == b"from-zkcli"
    r = zkcli_tls(tls_coord.secure_port, certs, ["get", path])
    assert "from-zkcli" in r.stdout, (r.stdout[-1500:], r.stderr[-1500:])


def test_broker_over_tls_to_an_ensemble(tmp_path, certs):
    from brokerproc import Broker
    from confluent_kafka import Consumer, Producer

    ens = Ensemble(tmp_path / "ens", n=3, kind="runnel")
    secure = {}
    for m in ens:
        secure[m.myid] = free_port()
        m.extra_cfg = dict(m.extra_cfg, **tls_cfg(certs, secure[m.myid]))
        m.write_config()
    broker = None
    try:
        ens.start()
        connect = ",".join("127.0.0.1:%d" % secure[k] for k in sorted(secure)) + "/tls"
        broker = Broker(tmp_path / "broker", connect, broker_id=1, extra={
            "zookeeper.ssl.client.enable": "true",
            "zookeeper.clientCnxnSocket": "org.apache.zookeeper.ClientCnxnSocketNetty",
            "zookeeper.ssl.keystore.location": certs["client"],
            "zookeeper.ssl.keystore.type": "PEM",
            "zookeeper.ssl.truststore.location": certs["ca"],
            "zookeeper.ssl.truststore.type": "PEM",
            "zookeeper.ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
            "offsets.topic.replication.factor": "1",
        })
        broker.start()
        # Registered, as seen over TLS by another member than it may use.
        c = started(tls_kazoo(secure[2], certs))
        try:
            assert poll_until(lambda: c.exists("/tls/brokers/ids/1"), timeout=20)
        finally:
            c.stop()
            c.close()
        topic = "tls-%s" % uuid.uuid4().hex[:8]
        conf = {"bootstrap.servers": broker.bootstrap}
        p = Producer(conf)
        for i in range(10):
            p.produce(topic, value=b"v%d" % i)
        assert p.flush(30) == 0
        consumer = Consumer(dict(conf, **{"group.id": topic, "auto.offset.reset": "earliest"}))
        consumer.subscribe([topic])
        got = []

        def poll():
            m = consumer.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.value())
            return len(got) >= 10
        try:
            wait_for(poll, timeout=30, desc="records")
        finally:
            consumer.close()
        assert got == [b"v%d" % i for i in range(10)]
    finally:
        if broker is not None:
            broker.close()
        ens.close()


def test_broker_without_a_trust_store_refuses_to_start(tmp_path, certs):
    from brokerproc import Broker, BrokerExited
    broker = Broker(tmp_path / "broker", "127.0.0.1:%d" % free_port(), extra={
        "zookeeper.ssl.client.enable": "true"})
    with pytest.raises(BrokerExited):
        broker.start(timeout=20)
    broker.close()
    with open(broker.log_path) as f:
        assert "zookeeper.ssl.truststore.location" in f.read()
