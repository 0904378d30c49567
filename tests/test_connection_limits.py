"""Connection counts per listener and per broker, issue 11 (Kafka's
ConnectionQuotas): `listener.name.<l>.max.connections` holds one listener at
its limit while the others accept; `max.connections` holds the client
listeners, but not the inter-broker one, and a connection the inter-broker
listener takes over the limit makes the broker close the least recently used
client connection; `listener.name.<l>.max.connection.creation.rate` slows
one listener's accepts. A listener that is full does not refuse: it stops
accepting, so a new client waits in the kernel's backlog and is served as
soon as a slot frees, as with Kafka.

One broker, two PLAINTEXT listeners: CLIENT (where the clients are) and
INTERNAL (`inter.broker.listener.name`).
"""

import socket
import struct
import subprocess
import time

import pytest
from confluent_kafka.admin import AdminClient

from brokerproc import Broker, broker_bin, closed_by_peer, frame
from coordproc import CoordServer
from procutil import free_port
from test_ip_quotas import served

pytestmark = pytest.mark.timeout(120)


def two_listeners(client_port, internal_port, **more):
    conf = {
        "listeners": "CLIENT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d" % (client_port, internal_port),
        "listener.security.protocol.map": "CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT",
        "inter.broker.listener.name": "INTERNAL",
    }
    conf.update(more)
    return conf


@pytest.fixture(scope="module")
def coord(tmp_path_factory):
    c = CoordServer(tmp_path_factory.mktemp("limits") / "coord", name="runnel-coord")
    c.start()
    yield c
    c.close()


@pytest.fixture
def start(coord, tmp_path):
    """start(**config) -> (broker, CLIENT port, INTERNAL port), a broker of
    its own on the shared coord; stopped at teardown."""
    made = []

    def make(**more):
        client, internal = free_port(), free_port()
        b = Broker(tmp_path / ("broker%d" % len(made)), coord.hosts + "/limits%d" % len(made),
                   port=client, extra=two_listeners(client, internal, **more))
        made.append(b)
        b.start()
        return b, client, internal
    yield make
    for b in made:
        b.close()


def pending(port, timeout=1.0):
    """A connection that the kernel took but the broker does not serve
    within `timeout`: (True, the socket) — or (False, None) when served."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(frame(struct.pack(">hhih", 18, 0, 7, 3) + b"lim"))
    try:
        data = s.recv(4)
    except socket.timeout:
        return True, s
    s.close()
    return len(data) != 4, None


def answers(sock, timeout=5.0):
    """Whether an open connection still answers an ApiVersions."""
    sock.settimeout(timeout)
    try:
        sock.sendall(frame(struct.pack(">hhih", 18, 0, 8, 3) + b"lim"))
        size = sock.recv(4)
        if len(size) != 4:
            return False
        n = struct.unpack(">i", size)[0]
        got = 0
        while got < n:
            chunk = sock.recv(n - got)
            if not chunk:
                return False
            got += len(chunk)
        return True
    except OSError:
        return False


def test_a_listener_at_its_max_connections_waits_while_the_others_accept(start):
    b, client, internal = start(**{"listener.name.client.max.connections": "2"})
    held = []
    try:
        for _ in range(2):
            ok, _, s = served("127.0.0.1", client)
            assert ok, "the first two connections on CLIENT are served"
            held.append(s)
        waiting, third = pending(client)
        assert waiting, "a third connection on CLIENT was served over its max.connections of 2"
        # The other listener has no limit of its own.
        others = [served("127.0.0.1", internal) for _ in range(4)]
        assert all(ok for ok, _, _ in others)
        for _, _, s in others:
            s.close()
        # One closes: the waiting one is taken and served.
        held.pop(0).close()
        third.settimeout(5)
        assert len(third.recv(4)) == 4, "the waiting connection was served once a slot freed"
        held.append(third)
    finally:
        for s in held:
            s.close()


def test_the_inter_broker_listener_passes_max_connections_closing_the_lru_client(start):
    b, client, internal = start(**{"max.connections": "6"})
    held = []
    try:
        # Fill the broker (its own connections, if any, count too). Every
        # connection made is kept: a probe closed again could still be
        # counted by the broker (and be the one it closes) until it notices.
        while True:
            s = socket.create_connection(("127.0.0.1", client), timeout=5)
            if not answers(s, timeout=3.0):
                extra = s
                break
            held.append(s)
            assert len(held) <= 6, "more than max.connections=6 served on CLIENT"
        assert held, "no client connection was served at all"
        # The oldest is the least recently used once the others are used again.
        time.sleep(0.05)
        for s in held[1:]:
            assert answers(s)
        ok, _, peer = served("127.0.0.1", internal)
        assert ok, "the inter-broker listener is not held by max.connections"
        assert closed_by_peer(held[0], timeout=5), "the least recently used client connection was not closed"
        for s in held[1:]:
            assert answers(s), "a recently used client connection was closed"
        peer.close()
        extra.close()
    finally:
        for s in held:
            s.close()


def test_a_listeners_creation_rate_slows_its_accepts_only(start):
    b, client, internal = start(**{"quota.window.num": "2",
                                   "listener.name.client.max.connection.creation.rate": "5"})

    def burst(port, n=30):
        start = time.monotonic()
        for _ in range(n):
            ok, _, s = served("127.0.0.1", port, timeout=10)
            assert ok
            s.close()
        return time.monotonic() - start

    fast = burst(internal)
    slow = burst(client)
    # 30 connections at 5/s with two 1 s windows: well over a second on
    # CLIENT; INTERNAL has no rate of its own.
    assert slow > 2.0, "30 connections at 5/s took %.2f s" % slow
    assert fast < slow / 2, (fast, slow)
    # Clients still work on the slowed listener.
    admin = AdminClient({"bootstrap.servers": "127.0.0.1:%d" % client})
    assert admin.list_topics(timeout=10).brokers


def test_bad_listener_limits_stop_the_broker_naming_the_key(tmp_path):
    for i, key in enumerate(["listener.name.client.max.connections",
                             "listener.name.client.max.connection.creation.rate"]):
        for value in ("-1", "many"):
            extra = two_listeners(free_port(), free_port(), **{key: value})
            b = Broker(tmp_path / ("bad%d%s" % (i, value)), "127.0.0.1:%d/none" % free_port(),
                       broker_id=9, extra=extra)
            out = subprocess.run([broker_bin(), "--config", b.props_path], capture_output=True,
                                 text=True, timeout=30)
            assert out.returncode != 0, (key, value)
            assert key in out.stderr, out.stderr
