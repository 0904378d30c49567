"""Runnel Connect (runnel-connect standalone): a Kafka Connect-compatible
worker run as a real process against a real runnel cluster, driven over
its REST API with `requests` as curl scripts drive Kafka Connect, and
checked with kcat and kafka-python:

* file source -> topic -> file sink round trip: the sink file's lines are
  the source file's, in order; kcat and kafka-python read the same lines
  from the topic; the sink's consumer group `connect-<name>` has committed
  offsets (kafka-python's admin) and GET /offsets shows them;
* the source resumes from its stored position after a clean restart of the
  worker (SIGTERM; connector from a properties file on the command line):
  nothing lost, nothing repeated;
* every REST endpoint with Kafka's status codes and JSON bodies: GET /,
  /connectors (?expand=status|info), POST (201, 409 duplicate, 400 bad
  config), GET/PUT config (201 then 200, name mismatch 400), /status,
  /tasks, /tasks/{id}/status (404 for an unknown one), pause/resume/stop
  (202), restart (204; 202 with RESTARTING for includeTasks), task restart,
  DELETE (204, then 404), /offsets (GET; PATCH/DELETE only when STOPPED),
  /connector-plugins (?connectorsOnly=false), config/validate (ConfigInfos
  with per-field errors), unknown paths 404 and wrong methods 405 as JSON;
* JsonConverter per connector, with and without schemas (Kafka's envelope
  on the wire), and a sink with schemas.enable failing on plain JSON with
  Kafka's message in its trace;
* pause stops the flow and resume restarts it;
* a bad worker config stops the process with a message naming the key;
  `runnel connect` runs runnel-connect from beside it.
"""

import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.partitioner.default import murmur2

from procutil import REPO, ManagedProcess, built_binary, free_port, wait_for, write_properties
from registryproc import Registry, RegistryCluster

SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
STRING = "org.apache.kafka.connect.storage.StringConverter"
JSON = "org.apache.kafka.connect.json.JsonConverter"


def connect_bin():
    return built_binary("runnel-connect", "RUNNEL_CONNECT_BIN",
                        "runnel-connect not built (cargo build --release -p runnel-connect) "
                        "and RUNNEL_CONNECT_BIN not set")


def runnel_bin():
    return built_binary("runnel", "RUNNEL_BIN", "runnel not built and RUNNEL_BIN not set")


class ConnectExited(RuntimeError):
    pass


class Worker(ManagedProcess):
    """One `runnel-connect standalone` process: its worker properties,
    offsets file and log in its own directory, the REST API on 127.0.0.1."""

    exited_error = ConnectExited
    not_ready = "did not accept connections on its REST port"
    already_running = "worker already running"
    env_defaults = {"RUST_BACKTRACE": "1", "RUST_LOG": "info"}
    stop_timeout = 15.0

    def __init__(self, workdir, bootstrap, props=None, connectors=(), name="runnel-connect"):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.props_path = os.path.join(self.workdir, "connect-standalone.properties")
        self.log_path = os.path.join(self.workdir, "connect.log")
        self.offsets_path = os.path.join(self.workdir, "connect.offsets")
        self.port = free_port()
        self.name = name
        self.kind = "runnel-connect"
        self.proc = None
        self.starts = 0
        self.connectors = list(connectors)
        items = {
            "bootstrap.servers": bootstrap,
            "key.converter": STRING,
            "value.converter": STRING,
            "offset.storage.file.filename": self.offsets_path,
            "offset.flush.interval.ms": "500",
            "listeners": "http://127.0.0.1:%d" % self.port,
        }
        items.update(props or {})
        write_properties(self.props_path, items)

    # An HTTP service on 127.0.0.1:port, ready once its port accepts
    # connections: the registry's probe and URL serve as they are.
    url = Registry.url
    ready = Registry.ready

    def start(self, timeout=30.0):
        self.launch([connect_bin(), "standalone", self.props_path, *self.connectors])
        return self.wait_ready(timeout)

    def call(self, method, path, body=None, params=None):
        return requests.request(method, self.url + path, json=body, params=params, timeout=30)

    def get(self, path, **kw):
        r = self.call("GET", path, **kw)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def status(self, name):
        return self.get("/connectors/%s/status" % name)

    def wait_state(self, name, state, tasks=None):
        """Until the connector is `state` with every task `state` (or the
        given task count, all RUNNING/state)."""
        def ok():
            s = self.status(name)
            ts = s["tasks"]
            if s["connector"]["state"] != state:
                return False
            if tasks is not None and len(ts) != tasks:
                return False
            return all(t["state"] == state for t in ts) and s
        return wait_for(ok, timeout=20, interval=0.05, desc="%s %s" % (name, state))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One coord and one broker for the module (no initial rebalance delay,
    so a sink joins its group at once)."""
    c = RegistryCluster(tmp_path_factory, brokers=1,
                        broker_props={"group.initial.rebalance.delay.ms": "0"})
    yield c
    c.close()


@pytest.fixture(scope="module")
def worker(cluster, tmp_path_factory):
    w = Worker(tmp_path_factory.mktemp("connect"), cluster.bootstrap)
    w.start()
    yield w
    w.close()


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def create_topic(bootstrap, topic, partitions=1):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def topic_values(bootstrap, topic, count, timeout=20):
    """The first `count` values of a 1-partition topic, read with kcat."""
    def read():
        r = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning",
                            "-e", "-q", "-f", "%s\\n"], capture_output=True, text=True, timeout=20)
        lines = r.stdout.splitlines()
        return lines if len(lines) >= count else None
    return wait_for(read, timeout=timeout, interval=0.2, desc="%d records in %s" % (count, topic))


def read_records(bootstrap, topic, count, timeout=30):
    """At least `count` records of the topic from the beginning, as
    kafka-python's consumer gives them (key, value, headers)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=500)
    got = []
    try:
        def enough():
            got.extend(consumer)
            return len(got) >= count
        wait_for(enough, timeout=timeout, interval=0.1, desc="%d records in %s" % (count, topic))
    finally:
        consumer.close()
    return got


def consumer_groups(bootstrap, *args):
    r = subprocess.run(["bash", os.path.join(REPO, "scripts", "consumer-groups.sh"), "--bootstrap-server",
                        bootstrap, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def write_lines(path, lines, mode="a"):
    with open(path, mode) as f:
        for line in lines:
            f.write(line + "\n")


def file_lines(path, count, timeout=20):
    def read():
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return None
        return lines if len(lines) >= count else None
    return wait_for(read, timeout=timeout, interval=0.05, desc="%d lines in %s" % (count, path))


def source_config(path, topic, **extra):
    c = {"connector.class": SOURCE, "tasks.max": "1", "file": str(path), "topic": topic}
    c.update(extra)
    return c


def sink_config(path, topic, **extra):
    c = {"connector.class": "FileStreamSink", "tasks.max": "1", "file": str(path), "topics": topic}
    c.update(extra)
    return c


def create(worker, name, config, expect=201):
    r = worker.call("POST", "/connectors", {"name": name, "config": config})
    assert r.status_code == expect, r.text
    return r.json()


def test_file_round_trip_with_committed_offsets(cluster, worker, tmp_path):
    topic = unique("connect-test")
    create_topic(cluster.bootstrap, topic)
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    lines = ["line %d %s" % (i, "x" * (i % 7)) for i in range(200)] + ["", "ünïcode ✓"]
    write_lines(src, lines, "w")
    info = create(worker, "rt-source", source_config(src, topic))
    assert info == {"name": "rt-source", "type": "source", "tasks": [{"connector": "rt-source", "task": 0}],
                    "config": dict(source_config(src, topic), name="rt-source")}
    create(worker, "rt-sink", sink_config(dst, topic))
    assert file_lines(dst, len(lines)) == lines
    assert topic_values(cluster.bootstrap, topic, len(lines)) == lines
    consumer = KafkaConsumer(topic, bootstrap_servers=cluster.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000, group_id=None)
    got = [m.value.decode() for m in consumer]
    consumer.close()
    assert got == lines
    # The sink's group, as Kafka names it, committed the end after flushing
    # (the project's kafka-consumer-groups.sh).
    def committed():
        out = consumer_groups(cluster.bootstrap, "--describe", "--group", "connect-rt-sink")
        rows = [line.split() for line in out.splitlines()]
        return any(r[:4] == ["connect-rt-sink", topic, "0", str(len(lines))] for r in rows)
    wait_for(committed, timeout=20, interval=0.2, desc="connect-rt-sink committed %d" % len(lines))
    assert "connect-rt-sink" in consumer_groups(cluster.bootstrap, "--list").split()
    assert worker.get("/connectors/rt-sink/offsets") == {"offsets": [
        {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": len(lines)}}]}
    size = os.path.getsize(src)
    wait_for(lambda: worker.get("/connectors/rt-source/offsets") == {"offsets": [
        {"partition": {"filename": str(src)}, "offset": {"position": size}}]}, desc="source offsets")
    # More lines flow while both run.
    write_lines(src, ["later 1", "later 2"])
    assert file_lines(dst, len(lines) + 2)[-2:] == ["later 1", "later 2"]
    for name in ("rt-source", "rt-sink"):
        assert worker.call("DELETE", "/connectors/" + name).status_code == 204


def test_file_source_poll_larger_than_a_batch(cluster, worker, tmp_path):
    """One poll of 2 000 lines of 1 000 bytes (2 MB, twice the broker's
    message.max.bytes) goes out as several batches, in order; the task
    does not fail with MESSAGE_TOO_LARGE."""
    topic = unique("long-lines")
    create_topic(cluster.bootstrap, topic)
    src = tmp_path / "long.txt"
    lines = ["%06d %s" % (i, "y" * 993) for i in range(2000)]
    write_lines(src, lines, "w")
    create(worker, "long-source", source_config(src, topic))
    got = [m.value.decode() for m in read_records(cluster.bootstrap, topic, len(lines))]
    assert got == lines
    worker.wait_state("long-source", "RUNNING", tasks=1)
    assert worker.call("DELETE", "/connectors/long-source").status_code == 204


def test_rest_api_shapes_and_errors(worker, tmp_path):
    w = worker
    root = w.get("/")
    assert set(root) == {"version", "commit", "kafka_cluster_id"}
    assert root["version"].startswith("3.") and root["kafka_cluster_id"]
    plugins = w.get("/connector-plugins")
    assert {"class": SINK, "type": "sink", "version": root["version"]} in plugins
    assert {"class": SOURCE, "type": "source", "version": root["version"]} in plugins
    assert all(p["type"] in ("source", "sink") for p in plugins)
    everything = w.get("/connector-plugins", params={"connectorsOnly": "false"})
    assert {p["class"] for p in everything if p["type"] == "converter"} >= {STRING, JSON}

    # Unknown connector: 404 with Kafka's body, on every resource.
    for method, path in [("GET", ""), ("GET", "/config"), ("GET", "/status"), ("GET", "/tasks"),
                         ("PUT", "/pause"), ("PUT", "/resume"), ("PUT", "/stop"), ("POST", "/restart"),
                         ("DELETE", ""), ("GET", "/offsets")]:
        r = w.call(method, "/connectors/nope" + path)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json() == {"error_code": 404, "message": "Connector nope not found"}

    topic = unique("rest")
    src = tmp_path / "rest.txt"
    write_lines(src, ["a", "b"], "w")
    create(w, "rest-src", source_config(src, topic))
    r = w.call("POST", "/connectors", {"name": "rest-src", "config": source_config(src, topic)})
    assert r.status_code == 409
    assert r.json() == {"error_code": 409, "message": "Connector rest-src already exists"}

    # A config missing a required field: 400 listing it.
    r = w.call("POST", "/connectors", {"name": "bad", "config": {"connector.class": "FileStreamSource",
                                                                   "file": str(src)}})
    assert r.status_code == 400
    assert r.json()["error_code"] == 400
    msg = r.json()["message"]
    assert msg.startswith("Connector configuration is invalid and contains the following 1 error(s):")
    assert 'Missing required configuration "topic" which has no default value.' in msg
    r = w.call("POST", "/connectors", {"name": "bad", "config": {"connector.class": "com.example.Nope"}})
    assert r.status_code == 400 and "com.example.Nope" in r.json()["message"]
    r = w.call("POST", "/connectors", {"name": "bad", "config": {"connector.class": SOURCE, "name": "other",
                                                                   "topic": "t"}})
    assert r.status_code == 400 and "doesn't match" in r.json()["message"]
    assert "bad" not in w.get("/connectors")

    # Validation: Kafka's ConfigInfos with the error on its field.
    r = w.call("PUT", "/connector-plugins/FileStreamSourceConnector/config/validate",
               {"connector.class": SOURCE, "name": "v", "tasks.max": "0"})
    assert r.status_code == 200
    v = r.json()
    assert v["name"] == SOURCE and v["error_count"] == 2 and "Common" in v["groups"]
    by_name = {c["value"]["name"]: c for c in v["configs"]}
    assert by_name["topic"]["value"]["errors"] == ['Missing required configuration "topic" which has no default value.']
    assert by_name["topic"]["definition"]["required"] is True
    assert by_name["tasks.max"]["value"]["errors"] == ["Invalid value 0 for configuration tasks.max: Value must be at least 1"]
    assert by_name["file"]["value"]["errors"] == []
    assert set(by_name["name"]["definition"]) >= {"name", "type", "required", "default_value", "importance",
                                                  "documentation", "group", "width", "display_name",
                                                  "dependents", "order"}
    r = w.call("PUT", "/connector-plugins/FileStreamSink/config/validate",
               {"connector.class": SINK, "name": "v", "topics": "a", "topics.regex": "b.*"})
    v = r.json()
    assert v["error_count"] == 2
    r = w.call("PUT", "/connector-plugins/FileStreamSink/config/validate", {"connector.class": SOURCE})
    assert r.status_code == 400
    defs = w.get("/connector-plugins/FileStreamSource/config")
    assert {"topic", "file", "batch.size", "tasks.max"} <= {d["name"] for d in defs}
    assert w.call("GET", "/connector-plugins/MongoSource/config").status_code == 404
    # Kafka 3.5's initial_state.
    r = w.call("POST", "/connectors", {"name": "rest-stopped", "config": source_config(src, topic),
                                       "initial_state": "STOPPED"})
    assert r.status_code == 201 and r.json()["tasks"] == []
    assert w.status("rest-stopped")["connector"]["state"] == "STOPPED"
    assert w.call("DELETE", "/connectors/rest-stopped").status_code == 204

    # Config, info, tasks, statuses.
    cfg = w.get("/connectors/rest-src/config")
    assert cfg == dict(source_config(src, topic), name="rest-src")
    r = w.call("PUT", "/connectors/rest-put/config", source_config(src, topic + "-2"))
    assert r.status_code == 201 and r.json()["name"] == "rest-put"
    r = w.call("PUT", "/connectors/rest-put/config", source_config(src, topic + "-3", **{"batch.size": "10"}))
    assert r.status_code == 200 and r.json()["config"]["topic"] == topic + "-3"
    r = w.call("PUT", "/connectors/rest-put/config", dict(source_config(src, topic), name="x"))
    assert r.status_code == 400
    assert sorted(w.get("/connectors")) == ["rest-put", "rest-src"]
    tasks = w.get("/connectors/rest-src/tasks")
    assert len(tasks) == 1 and tasks[0]["id"] == {"connector": "rest-src", "task": 0}
    assert tasks[0]["config"]["topic"] == topic
    s = w.wait_state("rest-src", "RUNNING", tasks=1)
    assert s == {"name": "rest-src", "type": "source",
                 "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:%d" % w.port},
                 "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:%d" % w.port}]}
    assert w.get("/connectors/rest-src/tasks/0/status") == s["tasks"][0]
    r = w.call("GET", "/connectors/rest-src/tasks/5/status")
    assert r.status_code == 404
    assert r.json() == {"error_code": 404, "message": "No status found for task rest-src-5"}
    exp = w.get("/connectors", params={"expand": "status"})
    assert exp["rest-src"]["status"]["connector"]["state"] == "RUNNING" and "info" not in exp["rest-src"]
    exp = w.get("/connectors?expand=status&expand=info")
    assert exp["rest-put"]["info"]["config"]["batch.size"] == "10"
    assert exp["rest-put"]["status"]["type"] == "source"

    # Restarts.
    r = w.call("POST", "/connectors/rest-src/restart")
    assert r.status_code == 204 and r.content == b""
    r = w.call("POST", "/connectors/rest-src/restart", params={"includeTasks": "true"})
    assert r.status_code == 202
    body = r.json()
    assert body["connector"]["state"] == "RESTARTING" and body["tasks"][0]["state"] == "RESTARTING"
    r = w.call("POST", "/connectors/rest-src/restart", params={"includeTasks": "true", "onlyFailed": "true"})
    assert r.status_code == 202 and r.json()["tasks"][0]["state"] == "RUNNING"
    w.wait_state("rest-src", "RUNNING", tasks=1)
    assert w.call("POST", "/connectors/rest-src/tasks/0/restart").status_code == 204
    r = w.call("POST", "/connectors/rest-src/tasks/3/restart")
    assert r.status_code == 404 and r.json()["message"] == "Task rest-src-3 not found"

    # Offsets may change only when the connector is stopped.
    r = w.call("PATCH", "/connectors/rest-src/offsets",
               {"offsets": [{"partition": {"filename": str(src)}, "offset": {"position": 0}}]})
    assert r.status_code == 400
    assert r.json()["message"].startswith("Connectors must be in the STOPPED state before their offsets can be modified.")
    assert w.call("DELETE", "/connectors/rest-src/offsets").status_code == 400

    # HTTP-level errors are JSON too.
    r = w.call("GET", "/no/such/path")
    assert r.status_code == 404 and r.json() == {"error_code": 404, "message": "HTTP 404 Not Found"}
    r = w.call("DELETE", "/connector-plugins")
    assert r.status_code == 405 and r.json()["error_code"] == 405

    for name in ("rest-src", "rest-put"):
        assert w.call("DELETE", "/connectors/" + name).status_code == 204
    assert w.call("GET", "/connectors/rest-src").status_code == 404
    assert w.get("/connectors") == []


def count_records(bootstrap, topic):
    r = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                        "-f", "%s\\n"], capture_output=True, text=True, timeout=20)
    return len(r.stdout.splitlines())


def test_pause_resume_stop_and_offsets(cluster, worker, tmp_path):
    w = worker
    topic = unique("pause")
    create_topic(cluster.bootstrap, topic)
    src = tmp_path / "pause.txt"
    write_lines(src, ["p1", "p2"], "w")
    create(w, "pauser", source_config(src, topic))
    topic_values(cluster.bootstrap, topic, 2)

    assert w.call("PUT", "/connectors/pauser/pause").status_code == 202
    w.wait_state("pauser", "PAUSED", tasks=1)
    write_lines(src, ["p3", "p4"])
    # While paused, nothing moves (watched for a second).
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert count_records(cluster.bootstrap, topic) == 2
    assert w.call("PUT", "/connectors/pauser/resume").status_code == 202
    w.wait_state("pauser", "RUNNING", tasks=1)
    assert topic_values(cluster.bootstrap, topic, 4) == ["p1", "p2", "p3", "p4"]

    # Stopped: no tasks; offsets can be read, altered and reset.
    assert w.call("PUT", "/connectors/pauser/stop").status_code == 202
    s = w.wait_state("pauser", "STOPPED", tasks=0)
    assert s["tasks"] == [] and w.get("/connectors/pauser/tasks") == []
    assert w.get("/connectors/pauser")["tasks"] == []
    size = os.path.getsize(src)
    assert w.get("/connectors/pauser/offsets") == {"offsets": [
        {"partition": {"filename": str(src)}, "offset": {"position": size}}]}
    r = w.call("PATCH", "/connectors/pauser/offsets", {"offsets": [
        {"partition": {"filename": str(src)}, "offset": {"position": 3}}]})
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "The offsets for this connector have been altered successfully"}
    r = w.call("PATCH", "/connectors/pauser/offsets", {"offsets": [{"partition": {"file": "x"}, "offset": None}]})
    assert r.status_code == 400
    assert w.get("/connectors/pauser/offsets")["offsets"][0]["offset"] == {"position": 3}
    # Resumed from position 3 (after "p1\n"): p2..p4 again.
    assert w.call("PUT", "/connectors/pauser/resume").status_code == 202
    w.wait_state("pauser", "RUNNING", tasks=1)
    assert topic_values(cluster.bootstrap, topic, 7) == ["p1", "p2", "p3", "p4", "p2", "p3", "p4"]
    assert w.call("PUT", "/connectors/pauser/stop").status_code == 202
    w.wait_state("pauser", "STOPPED", tasks=0)
    r = w.call("DELETE", "/connectors/pauser/offsets")
    assert r.status_code == 200
    assert r.json() == {"message": "The offsets for this connector have been reset successfully"}
    assert w.get("/connectors/pauser/offsets") == {"offsets": []}
    assert w.call("DELETE", "/connectors/pauser").status_code == 204


def test_sink_offsets_altered_and_reset_when_stopped(cluster, worker, tmp_path):
    w = worker
    topic = unique("sinkoff")
    create_topic(cluster.bootstrap, topic)
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    write_lines(src, ["s%d" % i for i in range(5)], "w")
    create(w, "so-src", source_config(src, topic))
    create(w, "so-sink", sink_config(dst, topic))
    file_lines(dst, 5)
    wait_for(lambda: w.get("/connectors/so-sink/offsets")["offsets"] ==
             [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 5}}],
             timeout=20, interval=0.1, desc="sink offsets at 5")
    assert w.call("PUT", "/connectors/so-sink/stop").status_code == 202
    w.wait_state("so-sink", "STOPPED", tasks=0)
    r = w.call("PATCH", "/connectors/so-sink/offsets", {"offsets": [
        {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}]})
    assert r.status_code == 200, r.text
    assert w.get("/connectors/so-sink/offsets")["offsets"][0]["offset"] == {"kafka_offset": 3}
    # Resumed from offset 3: s3 and s4 written again.
    assert w.call("PUT", "/connectors/so-sink/resume").status_code == 202
    assert file_lines(dst, 7)[5:] == ["s3", "s4"]
    assert w.call("PUT", "/connectors/so-sink/stop").status_code == 202
    w.wait_state("so-sink", "STOPPED", tasks=0)
    r = w.call("DELETE", "/connectors/so-sink/offsets")
    assert r.status_code == 200, r.text
    assert w.get("/connectors/so-sink/offsets") == {"offsets": []}
    for name in ("so-src", "so-sink"):
        assert w.call("DELETE", "/connectors/" + name).status_code == 204


def test_json_converter_with_and_without_schemas(cluster, worker, tmp_path):
    w = worker
    t_env, t_plain = unique("json-env"), unique("json-plain")
    for t in (t_env, t_plain):
        create_topic(cluster.bootstrap, t)
    src = tmp_path / "json.txt"
    write_lines(src, ["alpha", "beta"], "w")
    create(w, "json-env-src", source_config(src, t_env, **{"value.converter": JSON}))
    create(w, "json-plain-src", source_config(src, t_plain, **{
        "value.converter": "JsonConverter", "value.converter.schemas.enable": "false"}))
    env = topic_values(cluster.bootstrap, t_env, 2)
    assert [json.loads(v) for v in env] == [
        {"schema": {"type": "string", "optional": False}, "payload": "alpha"},
        {"schema": {"type": "string", "optional": False}, "payload": "beta"}]
    assert topic_values(cluster.bootstrap, t_plain, 2) == ['"alpha"', '"beta"']

    # Sinks reading them back with the matching converter.
    out_env, out_plain, out_bad = tmp_path / "env.out", tmp_path / "plain.out", tmp_path / "bad.out"
    create(w, "json-env-sink", sink_config(out_env, t_env, **{"value.converter": JSON}))
    create(w, "json-plain-sink", sink_config(out_plain, t_plain, **{
        "value.converter": JSON, "value.converter.schemas.enable": "false"}))
    assert file_lines(out_env, 2) == ["alpha", "beta"]
    assert file_lines(out_plain, 2) == ["alpha", "beta"]
    # schemas.enable on plain JSON: the task fails with Kafka's message.
    create(w, "json-bad-sink", sink_config(out_bad, t_plain, **{"value.converter": JSON}))

    def failed():
        t = w.status("json-bad-sink")["tasks"][0]
        return t["state"] == "FAILED" and t
    t = wait_for(failed, timeout=20, interval=0.1, desc="json-bad-sink FAILED")
    assert 'JsonConverter with schemas.enable requires "schema" and "payload" fields' in t["trace"]
    r = w.call("POST", "/connectors/json-bad-sink/restart", params={"includeTasks": "true", "onlyFailed": "true"})
    assert r.status_code == 202 and r.json()["tasks"][0]["state"] == "RESTARTING"
    for name in ("json-env-src", "json-plain-src", "json-env-sink", "json-plain-sink", "json-bad-sink"):
        assert w.call("DELETE", "/connectors/" + name).status_code == 204


def test_datagen_source(cluster, worker):
    topic = unique("datagen")
    create_topic(cluster.bootstrap, topic)
    create(worker, "gen", {"connector.class": "DataGen", "kafka.topic": topic, "max.interval": "0",
                           "iterations": "25", "value.converter": JSON,
                           "value.converter.schemas.enable": "false"})
    values = [json.loads(v) for v in topic_values(cluster.bootstrap, topic, 25)]
    assert [v["id"] for v in values] == list(range(25))
    assert values[0]["text"] == "record-0" and values[0]["task"] == 0
    wait_for(lambda: worker.get("/connectors/gen/offsets") == {"offsets": [{"partition": {"task": 0},
                                                                           "offset": {"id": 25}}]},
             desc="datagen offsets")
    assert worker.call("DELETE", "/connectors/gen").status_code == 204


def test_keyed_source_records_go_to_kafkas_partition_for_their_key(cluster, worker):
    """DataGen keys its records by id: each lands in the partition Kafka's
    own producers pick for that key (murmur2, as kafka-python computes it),
    in order within its partition."""
    topic = unique("keyed")
    create_topic(cluster.bootstrap, topic, partitions=4)
    create(worker, "gen-keyed", {"connector.class": "DataGen", "kafka.topic": topic,
                                 "max.interval": "0", "iterations": "40", "key.converter": STRING,
                                 "value.converter": JSON, "value.converter.schemas.enable": "false"})

    def read():
        r = subprocess.run(["kcat", "-b", cluster.bootstrap, "-C", "-t", topic, "-o", "beginning",
                            "-e", "-q", "-f", "%p %k %s\\n"], capture_output=True, text=True,
                           timeout=20)
        lines = r.stdout.splitlines()
        return lines if len(lines) >= 40 else None
    rows = [line.split(" ", 2) for line in wait_for(read, timeout=20, interval=0.2,
                                                     desc="40 records in %s" % topic)]
    by_partition = {}
    for partition, key, value in rows:
        record_id = json.loads(value)["id"]
        assert key == str(record_id)
        assert int(partition) == (murmur2(key.encode()) & 0x7FFFFFFF) % 4, (partition, key)
        by_partition.setdefault(int(partition), []).append(record_id)
    assert sorted(i for ids in by_partition.values() for i in ids) == list(range(40))
    assert len(by_partition) > 1, "all 40 keys in one partition"
    for ids in by_partition.values():
        assert ids == sorted(ids), "a partition's records out of order: %s" % ids
    assert worker.call("DELETE", "/connectors/gen-keyed").status_code == 204


def test_source_resumes_after_restart(cluster, tmp_path):
    topic = unique("resume")
    create_topic(cluster.bootstrap, topic)
    src = tmp_path / "resume.txt"
    write_lines(src, ["r%d" % i for i in range(5)], "w")
    conn = tmp_path / "resume-source.properties"
    write_properties(str(conn), dict(source_config(src, topic), name="resume-src"))
    w = Worker(tmp_path / "worker", cluster.bootstrap, connectors=[str(conn)], name="runnel-connect-resume")
    try:
        w.start()
        topic_values(cluster.bootstrap, topic, 5)
        assert w.stop() == 0
        with open(w.offsets_path) as f:
            stored = json.load(f)
        assert stored == {"offsets": [[["resume-src", {"filename": str(src)}], {"position": os.path.getsize(src)}]]}
        write_lines(src, ["r%d" % i for i in range(5, 10)])
        w.start()
        assert topic_values(cluster.bootstrap, topic, 10) == ["r%d" % i for i in range(10)]
        # Nothing beyond the ten: no line was sent twice.
        w.wait_state("resume-src", "RUNNING", tasks=1)
        assert count_records(cluster.bootstrap, topic) == 10
        assert "Kafka Connect REST API listening" in w.log_tail(200)
    finally:
        w.close()


def test_bad_worker_config_names_the_key(cluster, tmp_path):
    w = Worker(tmp_path, cluster.bootstrap, props={"offset.flush.interval.ms": "soon", "no.such.key": "1"})
    r = subprocess.run([connect_bin(), "standalone", w.props_path], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "offset.flush.interval.ms" in r.stderr and "soon" in r.stderr, r.stderr
    w = Worker(tmp_path / "2", cluster.bootstrap, props={"value.converter": "com.example.AvroConverter"})
    r = subprocess.run([runnel_bin(), "connect", "standalone", w.props_path], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0 and "value.converter" in r.stderr, r.stderr
    r = subprocess.run([runnel_bin(), "connect", "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("runnel-connect"), (r.stdout, r.stderr)


def test_sink_tasks_share_partitions(cluster, worker, tmp_path):
    """tasks.max=2 on a 2-partition topic: two members of connect-<name>,
    one partition each (range), every record written once."""
    w = worker
    topic = unique("shared")
    create_topic(cluster.bootstrap, topic, partitions=2)
    values = ["v%d" % i for i in range(40)]
    r = subprocess.run(["kcat", "-b", cluster.bootstrap, "-P", "-t", topic, "-K:"],
                       input="".join("k%d:%s\n" % (i, v) for i, v in enumerate(values)),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    dst = tmp_path / "shared.out"
    info = create(w, "shared-sink", sink_config(dst, topic, **{"tasks.max": "2"}))
    assert [t["task"] for t in info["tasks"]] == [0, 1]
    w.wait_state("shared-sink", "RUNNING", tasks=2)
    assert sorted(file_lines(dst, len(values))) == sorted(values)

    def both_partitions_committed():
        out = consumer_groups(cluster.bootstrap, "--describe", "--group", "connect-shared-sink")
        rows = [line.split() for line in out.splitlines() if topic in line]
        return len(rows) == 2 and sum(int(r[3]) for r in rows) == len(values)
    wait_for(both_partitions_committed, timeout=30, interval=0.3, desc="both partitions committed")
    assert len(open(dst).read().splitlines()) == len(values)
    assert w.call("DELETE", "/connectors/shared-sink").status_code == 204
