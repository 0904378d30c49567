"""Start and stop real runnel-broker processes (with their own coord) for the
end-to-end tests.

Environment:
  RUNNEL_BROKER_BIN  path of the runnel-broker binary
                     (default: <repo>/target/release/runnel-broker, else target/debug)
"""

import os
import socket
import struct
import subprocess

import pytest

from coordproc import CoordServer, free_port, wait_for
from procutil import REPO, ManagedProcess, built_binary, write_properties  # noqa: F401 - REPO re-exported


def broker_bin():
    return built_binary("runnel-broker", "RUNNEL_BROKER_BIN",
                        "runnel-broker not built (cargo build -p runnel-broker) "
                        "and RUNNEL_BROKER_BIN not set")


class BrokerExited(RuntimeError):
    pass


class Broker(ManagedProcess):
    """One runnel-broker process with its own directory, properties and log."""

    exited_error = BrokerExited
    not_ready = "did not answer"
    already_running = "broker already running"
    env_defaults = {"RUST_BACKTRACE": "1", "RUST_LOG": "info"}
    stop_timeout = 30.0

    def __init__(self, workdir, zk_connect, broker_id=1, port=None, extra=None, name=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.log_dir = os.path.join(self.workdir, "logs")
        self.props_path = os.path.join(self.workdir, "server.properties")
        self.log_path = os.path.join(self.workdir, "broker.log")
        self.port = port or free_port()
        self.broker_id = broker_id
        self.zk_connect = zk_connect
        self.extra = dict(extra or {})
        self.name = name or "runnel-broker-%d" % broker_id
        self.kind = "runnel-broker"
        self.proc = None
        self.starts = 0
        self.write_config()

    def config_items(self):
        items = {
            "broker.id": str(self.broker_id),
            "listeners": "PLAINTEXT://127.0.0.1:%d" % self.port,
            "log.dirs": self.log_dir,
            "zookeeper.connect": self.zk_connect,
            "zookeeper.session.timeout.ms": "4000",
        }
        items.update(self.extra)
        return items

    def write_config(self):
        write_properties(self.props_path, self.config_items())

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.settimeout(2)
                s.sendall(api_versions_request(0, correlation_id=7))
                size = struct.unpack(">i", recv_exact(s, 4))[0]
                body = recv_exact(s, size)
                return struct.unpack(">i", body[:4])[0] == 7
        except OSError:
            return False

    def ready(self):
        return self.answers()

    def start(self, timeout=60.0, args=()):
        self.launch([broker_bin(), "--config", self.props_path] + list(args))
        return self.wait_ready(timeout)

    def __repr__(self):
        return "<%s port=%d pid=%s>" % (self.name, self.port, self.proc.pid if self.proc else None)


# -- raw protocol helpers (for bad-input tests and readiness probes)

def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def request_header(api_key, version, correlation_id, client_id=b"test"):
    """Request header v1 (non-flexible)."""
    return struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id


def api_versions_request(version, correlation_id=1):
    if version >= 3:
        # header v2 (tagged fields), body: compact strings + tags
        hdr = request_header(18, version, correlation_id) + b"\x00"
        body = b"\x05test" + b"\x041.0" + b"\x00"
        return frame(hdr + body)
    return frame(request_header(18, version, correlation_id))


def zigzag_varint(n):
    """n as a zigzag varint (Kafka's record fields, postcard's signed integers)."""
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = b""
    while True:
        if n & ~0x7F:
            out += bytes([(n & 0x7F) | 0x80])
            n >>= 7
        else:
            return out + bytes([n])


def read_response(sock):
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    return recv_exact(sock, size)


def closed_by_peer(sock, timeout=5.0):
    """True if the peer closes the connection (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
        while data:
            data = sock.recv(65536)
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


@pytest.fixture
def cluster(tmp_path):
    """Factory: cluster(**broker_config) -> (coord, broker), both started; stopped at teardown."""
    made = []

    def make(brokers=1, chroot="/runnel", coord_kind=None, **extra):
        coord = CoordServer(tmp_path / "coord", kind=coord_kind,
                            name="apache-zk" if coord_kind == "zookeeper" else "runnel-coord")
        coord.start()
        made.append(coord)
        out = []
        for i in range(brokers):
            b = Broker(tmp_path / ("broker-%d" % (i + 1)), coord.hosts + chroot, broker_id=i + 1,
                       extra={k.replace("_", "."): str(v) for k, v in extra.items()})
            b.start()
            made.append(b)
            out.append(b)
        return (coord, out[0]) if brokers == 1 else (coord, out)

    yield make
    for p in reversed(made):
        p.close()


def wait_topic(admin, topic, timeout=10.0):
    return wait_for(lambda: topic in admin.list_topics(timeout=5).topics, timeout=timeout,
                    desc="topic %s" % topic)


def groups_sh(bootstrap, *args):
    """scripts/consumer-groups.sh against `bootstrap`; the CompletedProcess."""
    return subprocess.run(["bash", os.path.join(REPO, "scripts", "consumer-groups.sh"),
                           "--bootstrap-server", bootstrap, *args],
                          capture_output=True, text=True, timeout=60)


def describe_rows(bootstrap, group):
    """consumer-groups.sh --describe: its rows by partition, after checking
    the header is kafka-consumer-groups.sh's."""
    r = groups_sh(bootstrap, "--describe", "--group", group)
    assert r.returncode == 0, r.stderr
    lines = [l.split() for l in r.stdout.splitlines() if l.strip()]
    header = next(l for l in lines if l[0] == "GROUP")
    assert header == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                      "CONSUMER-ID", "HOST", "CLIENT-ID"]
    return {int(l[2]): l for l in lines if l[0] == group}


def committed_offsets(bootstrap, group, topic, partitions):
    """A group's committed offsets {partition: offset, or None when none is
    committed}, read with kafka-python's admin client (OffsetFetch).

    Tests call this in polling loops, also while brokers are being killed.
    confluent-kafka's AdminClient.list_consumer_group_offsets was used here
    before and crashed the whole pytest process (SIGSEGV inside the C binding,
    its error path: confluent-kafka-python issue 1982) in such a loop on CI,
    so the polling helper is pure Python."""
    from kafka import TopicPartition as KTopicPartition
    from kafka.admin import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        offsets = admin.list_group_offsets({group: [KTopicPartition(topic, p) for p in partitions]})[group]
    finally:
        admin.close()
    found = {tp.partition: om.offset for tp, om in offsets.items()}
    return {p: (found[p] if found.get(p, -1) >= 0 else None) for p in partitions}
