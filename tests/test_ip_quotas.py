"""Connection quotas per IP address (KIP-612 and max.connections.per.ip),
issue 11: configs.sh sets `connection_creation_rate` on an IP or the
default IP in kafka-configs.sh's words; connections from an address over
its rate are held and closed unanswered, others are served, and removing
the quota lets the address in again; an address at its
`max.connections.per.ip(.overrides)` has further connections closed at once
until one of its own closes.

Linux routes all of 127.0.0.0/8 to the loopback, so the tests connect from
127.0.0.2 and 127.0.0.3 (a socket's source address) to keep their limits
away from the clients and the broker's own connections on 127.0.0.1.
"""

import socket
import struct
import subprocess
import time
import urllib.request

import pytest
from kafka import KafkaProducer

from brokerproc import Broker, broker_bin, cluster, frame  # noqa: F401 - fixture
from procutil import free_port, wait_for
from test_configs_script import configs

pytestmark = pytest.mark.timeout(180)

RATE_IP = "127.0.0.3"
LIMITED_IP = "127.0.0.2"


def served(src, port, timeout=5.0):
    """Connects from address `src` and sends ApiVersions v0: (answered,
    seconds until the answer or the close, the open socket if answered)."""
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(src, 0))
    try:
        s.sendall(frame(struct.pack(">hhih", 18, 0, 1, 3) + b"ipq"))
        data = s.recv(4)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    elapsed = time.monotonic() - start
    if len(data) == 4:
        return True, elapsed, s
    s.close()
    return False, elapsed, None


def refused_once(src, port):
    """Whether one connection from `src` goes unanswered."""
    ok, _, s = served(src, port)
    if s:
        s.close()
    return not ok


def alter(bs, *args):
    r = configs(bs, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def scrape(url, metric):
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(metric + " ") or line.startswith(metric + "_total "):
            return float(line.split()[-1])
    return None


@pytest.fixture
def broker(cluster):  # noqa: F811 - fixture
    port = free_port()
    _, b = cluster(quota_window_num=3, metrics_listener="127.0.0.1:%d" % port,
                   max_connections_per_ip_overrides="%s:3" % LIMITED_IP)
    return b, "http://127.0.0.1:%d/metrics" % port


def test_configs_sh_sets_describes_and_refuses_ip_quotas(broker):
    b, _ = broker
    bs = b.bootstrap
    assert alter(bs, "--entity-type", "ips", "--entity-name", "10.1.2.3", "--alter",
                 "--add-config", "connection_creation_rate=7") \
        == "Completed updating config for ip 10.1.2.3.\n"
    assert alter(bs, "--ip-defaults", "--alter", "--add-config", "connection_creation_rate=50") \
        == "Completed updating default config for ips in the cluster.\n"
    assert alter(bs, "--ip", "10.1.2.3", "--describe").splitlines() == [
        "Quota configs for ip '10.1.2.3' are connection_creation_rate=7.0"]
    assert alter(bs, "--entity-type", "ips", "--describe").splitlines() == [
        "Quota configs for ip '10.1.2.3' are connection_creation_rate=7.0",
        "Quota configs for the default ip are connection_creation_rate=50.0"]
    assert alter(bs, "--entity-type", "ips", "--entity-default", "--describe").splitlines() == [
        "Quota configs for the default ip are connection_creation_rate=50.0"]
    # A user's quotas do not show IPs, and the other way round.
    alter(bs, "--user", "alice", "--alter", "--add-config", "producer_byte_rate=1000")
    assert alter(bs, "--ip", "10.1.2.3", "--describe").count("Quota configs") == 1
    assert alter(bs, "--user", "alice", "--describe").splitlines() == [
        "Quota configs for user-principal 'alice' are producer_byte_rate=1000.0"]

    # Keys an IP does not take, fractions, and names that are not addresses.
    for args, message in [
        (["--ip", "10.1.2.3", "--add-config", "producer_byte_rate=5"],
         "ips take connection_creation_rate"),
        (["--user", "alice", "--add-config", "connection_creation_rate=5"], "Invalid config"),
        (["--ip", "10.1.2.3", "--add-config", "connection_creation_rate=1.5"], "whole number"),
        (["--ip", "not-an-ip", "--add-config", "connection_creation_rate=5"],
         "not-an-ip is not a valid IP or resolvable host."),
    ]:
        r = configs(bs, *args[:2], "--alter", *args[2:])
        assert r.returncode != 0, args
        assert message in r.stdout + r.stderr, (args, r.stdout, r.stderr)

    alter(bs, "--ip", "10.1.2.3", "--alter", "--delete-config", "connection_creation_rate")
    assert alter(bs, "--ip", "10.1.2.3", "--describe") == ""


def test_an_address_over_its_connection_rate_is_closed_unanswered(broker):
    b, metrics = broker
    bs = b.bootstrap
    # 2 connections/s over quota.window.num=3 windows of 1 s: the rate is
    # taken over at least 2 s, so about 4 connections pass at once.
    alter(bs, "--ip", RATE_IP, "--alter", "--add-config", "connection_creation_rate=2")

    wait_for(lambda: refused_once(RATE_IP, b.port), timeout=15,
             desc="connections from %s throttled" % RATE_IP)

    results = [served(RATE_IP, b.port) for _ in range(6)]
    refused = [elapsed for ok, elapsed, _ in results if not ok]
    for _, _, s in results:
        if s:
            s.close()
    assert refused, "every connection from %s was served" % RATE_IP
    # Held before the close (so the client cannot reconnect in a tight
    # loop), at most one window.
    assert all(0.01 < e <= 1.5 for e in refused), refused
    assert scrape(metrics, "kafka_server_socket_server_metrics_ip_connections_throttled") >= 1

    # Other addresses are not slowed: kafka-python's default producer
    # (from 127.0.0.1) connects and writes meanwhile.
    p = KafkaProducer(bootstrap_servers=bs)
    try:
        p.send("ip-quota-other", b"x").get(timeout=30)
    finally:
        p.close(timeout=10)

    # Without the quota, the address is served again.
    alter(bs, "--ip", RATE_IP, "--alter", "--delete-config", "connection_creation_rate")

    def served_again():
        answers = [served(RATE_IP, b.port) for _ in range(8)]
        for _, _, s in answers:
            if s:
                s.close()
        return all(ok for ok, _, _ in answers)
    wait_for(served_again, timeout=15, desc="connections from %s served again" % RATE_IP)


def test_the_default_ip_rate_applies_to_addresses_without_their_own(broker):
    b, _ = broker
    bs = b.bootstrap
    alter(bs, "--ip-defaults", "--alter", "--add-config", "connection_creation_rate=1")
    # 127.0.0.1 (the clients, the broker itself) gets its own generous rate.
    alter(bs, "--ip", "127.0.0.1", "--alter", "--add-config", "connection_creation_rate=1000")

    wait_for(lambda: refused_once(RATE_IP, b.port), timeout=15,
             desc="the default IP rate applied to %s" % RATE_IP)
    for _ in range(5):
        ok, _, s = served("127.0.0.1", b.port)
        assert ok, "127.0.0.1 has its own rate"
        s.close()


def test_an_address_at_max_connections_per_ip_is_refused_at_once(broker):
    b, metrics = broker
    held = []
    try:
        for _ in range(3):
            ok, _, s = served(LIMITED_IP, b.port)
            assert ok, "the first 3 connections of %s are served" % LIMITED_IP
            held.append(s)
        ok, elapsed, _ = served(LIMITED_IP, b.port)
        assert not ok, "a 4th connection from %s was served" % LIMITED_IP
        assert elapsed < 1.0, "closed after %.2f s, not at once" % elapsed
        assert scrape(metrics, "kafka_server_socket_server_metrics_ip_connections_refused") >= 1
        # Other addresses have the default limit (unlimited).
        more = [served("127.0.0.1", b.port) for _ in range(5)]
        assert all(ok for ok, _, _ in more)
        for _, _, s in more:
            s.close()
        # One of its own closes: the address may connect again.
        held.pop().close()

        def one_more():
            ok, _, s = served(LIMITED_IP, b.port)
            if s:
                held.append(s)
            return ok
        wait_for(one_more, timeout=10, desc="a slot freed for %s" % LIMITED_IP)
    finally:
        for s in held:
            s.close()


def test_bad_connection_limits_stop_the_broker_naming_the_key(tmp_path):
    for i, (key, value) in enumerate([("max.connections.per.ip.overrides", "127.0.0.2"),
                                      ("max.connections.per.ip.overrides", "127.0.0.2:x"),
                                      ("max.connection.creation.rate", "-1"),
                                      ("max.connections.per.ip", "0")]):
        b = Broker(tmp_path / ("bad%d" % i), "127.0.0.1:%d/none" % free_port(), broker_id=9,
                   extra={key: value})
        out = subprocess.run([broker_bin(), "--config", b.props_path], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode != 0, (key, value)
        assert key in out.stderr, out.stderr
