"""Start and stop real runnel-registry processes (Runnel's Confluent-compatible
Schema Registry) for the end-to-end tests, plus a module-scoped cluster for
them to keep their `_schemas` topic in.

runnel-registry reads its topic to the end before it binds its port, so
"the port accepts connections" means "every schema registered before the
start is visible": that is the readiness probe.

Environment:
  RUNNEL_REGISTRY_BIN  path of the runnel-registry binary
                       (default: <repo>/target/release/runnel-registry, else target/debug)
"""

import json
import os
import socket
import struct
import time
import uuid

import pytest
import requests
from confluent_kafka import Consumer
from confluent_kafka.serialization import MessageField, SerializationContext

from brokerproc import Broker, broker_bin
from coordproc import CoordServer
from procutil import ManagedProcess, built_binary, free_port, write_properties

#: Confluent's media type: what the registry answers with, and what its
#: clients send.
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def registry_bin():
    return built_binary("runnel-registry", "RUNNEL_REGISTRY_BIN",
                        "runnel-registry not built (cargo build --release -p runnel-registry) "
                        "and RUNNEL_REGISTRY_BIN not set")


class RegistryExited(RuntimeError):
    pass


class Registry(ManagedProcess):
    """One runnel-registry process: a schema-registry.properties in its own
    directory (Confluent's key names), a log file, a port on 127.0.0.1.

    `props` are written to the file; `overrides` are passed as
    `--override key=value` on every start (they win over the file).

    With `coord_url` (kafkastore.connection.url) the instances elect a
    leader in coord under schema.registry.zk.namespace (schema_registry by
    default): registries on different topics need different namespaces,
    or they elect one leader between them."""

    exited_error = RegistryExited
    not_ready = "did not accept connections on its port"
    already_running = "registry already running"
    env_defaults = {"RUST_BACKTRACE": "1", "RUST_LOG": "info"}
    stop_timeout = 15.0

    def __init__(self, workdir, bootstrap, coord_url=None, topic="_schemas", port=None,
                 host_name="127.0.0.1", props=None, overrides=None, name=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.props_path = os.path.join(self.workdir, "schema-registry.properties")
        self.log_path = os.path.join(self.workdir, "registry.log")
        self.port = port or free_port()
        self.name = name or "runnel-registry"
        self.kind = "runnel-registry"
        self.topic = topic
        self.proc = None
        self.starts = 0
        items = {
            "listeners": "http://127.0.0.1:%d" % self.port,
            "kafkastore.bootstrap.servers": bootstrap,
            "kafkastore.topic": topic,
            "host.name": host_name,
        }
        if coord_url:
            items["kafkastore.connection.url"] = coord_url
        items.update(props or {})
        write_properties(self.props_path, items)
        self.overrides = dict(overrides or {})

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def command(self):
        cmd = [registry_bin(), self.props_path]
        for k, v in self.overrides.items():
            cmd += ["--override", "%s=%s" % (k, v)]
        return cmd

    def ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start(self, timeout=60.0):
        self.launch(self.command())
        return self.wait_ready(timeout)

    def call(self, method, path, body=None, data=None, params=None, timeout=30):
        """One HTTP request (requests): `body` is sent as JSON with
        Confluent's content type, `data` as the bytes given. The
        requests.Response."""
        headers = {"Accept": CONTENT_TYPE}
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = CONTENT_TYPE
        return requests.request(method, self.url + path, data=data, params=params,
                                headers=headers, timeout=timeout)

    def crash(self):
        """kill -9, as a power cut would."""
        self.kill()

    def sigterm(self):
        """SIGTERM and wait; the exit code."""
        return self.stop()

    def __repr__(self):
        return "<%s port=%d pid=%s>" % (self.name, self.port, self.pid)


class RegistryCluster:
    """One runnel-coord and `brokers` runnel-brokers (chroot /runnel), for
    the registries of one test module (brokerproc's `cluster` fixture is
    per test; registries are cheap to share a cluster). `broker_props` go
    into every broker's server.properties, and `props_of(i)` (i from 1)
    into broker i's."""

    chroot = "/runnel"

    def __init__(self, tmp_path_factory, brokers=3, broker_props=None, props_of=None):
        self.procs = []
        self.coord = CoordServer(tmp_path_factory.mktemp("coord"), name="runnel-coord")
        self.coord.start()
        self.procs.append(self.coord)
        self.brokers = []
        for i in range(brokers):
            extra = dict(broker_props or {}, **(props_of(i + 1) if props_of else {}))
            b = Broker(tmp_path_factory.mktemp("broker-%d" % (i + 1)), self.coord.hosts + self.chroot,
                       broker_id=i + 1, extra=extra)
            self.procs.append(b)
            self.brokers.append(b)
            # All at once: each start waits for the coord only.
            b.launch([broker_bin(), "--config", b.props_path])
        for b in self.brokers:
            b.wait_ready(60.0)

    @property
    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.brokers)

    @property
    def coord_url(self):
        """kafkastore.connection.url: the coord address with the chroot."""
        return self.coord.hosts + self.chroot

    def close(self):
        for p in reversed(self.procs):
            p.close()


@pytest.fixture(scope="module")
def registry_cluster(tmp_path_factory):
    """A coord and 3 brokers shared by one test module."""
    c = RegistryCluster(tmp_path_factory, brokers=3)
    yield c
    c.close()


@pytest.fixture(scope="module")
def make_registry(registry_cluster, tmp_path_factory):
    """Factory for registries on the module's cluster:
    make_registry(start=True, topic="_schemas", **Registry kwargs) -> Registry;
    SIGTERM at the module's end (a crashed one is only reaped)."""
    made = []

    def make(start=True, **kw):
        kw.setdefault("coord_url", registry_cluster.coord_url)
        r = Registry(tmp_path_factory.mktemp("registry"), registry_cluster.bootstrap,
                     name="runnel-registry-%d" % (len(made) + 1), **kw)
        made.append(r)
        if start:
            r.start()
        return r

    yield make
    for r in made:
        r.close()



def consume_values(bootstrap, topic, count, deserialize, schema_id, timeout=30):
    """The values of the first `count` records of `topic`, read from the
    beginning by a new consumer group and passed through `deserialize` (a
    confluent-kafka deserializer); each record must carry Confluent's wire
    format header: magic byte 0 and `schema_id` (4 bytes, big endian)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "serde-" + uuid.uuid4().hex[:8],
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got = []
    try:
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            raw = msg.value()
            assert raw[0] == 0 and struct.unpack(">I", raw[1:5])[0] == schema_id, raw[:5]
            got.append(deserialize(raw, SerializationContext(msg.topic(), MessageField.VALUE)))
    finally:
        consumer.close()
    return got
