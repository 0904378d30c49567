"""The `runnel` CLI and the Kafka-named scripts around it (topics.sh,
console-producer.sh, console-consumer.sh), against a real runnel-coord and
runnel-broker; perf produce/consume in small runs (counts only, never
timings)."""

import os
import re
import subprocess
import uuid

import pytest

from brokerproc import REPO, cluster  # noqa: F401 - fixture
from procutil import built_binary

pytestmark = pytest.mark.timeout(180)


def runnel_bin():
    return built_binary("runnel", "RUNNEL_BIN",
                        "runnel not built (cargo build -p runnel-broker --bin runnel) "
                        "and RUNNEL_BIN not set")


def run(*args, input=None, timeout=60):
    return subprocess.run([runnel_bin(), *args], input=input, capture_output=True, text=True,
                          timeout=timeout)


def script(name, *args, input=None, timeout=60):
    env = dict(os.environ, RUNNEL_BIN=runnel_bin())
    return subprocess.run([os.path.join(REPO, "scripts", name), *args], input=input,
                          capture_output=True, text=True, timeout=timeout, env=env)


def topic_name(prefix="cli"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def test_topics_create_list_describe_alter_delete(cluster):
    _, b = cluster()
    bs = ["--bootstrap-server", b.bootstrap]
    t = topic_name()
    r = run("topics", *bs, "--create", "--topic", t, "--partitions", "3",
            "--replication-factor", "1", "--config", "retention.ms=60000")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Created topic %s.\n" % t

    r = run("topics", *bs, "--create", "--topic", t, "--partitions", "3")
    assert r.returncode == 1
    assert r.stderr.startswith("Error while executing topic command : ")
    assert "TOPIC_ALREADY_EXISTS" in r.stderr
    r = run("topics", *bs, "--create", "--topic", t, "--if-not-exists")
    assert r.returncode == 0, r.stderr

    r = run("topics", *bs, "--list")
    assert r.returncode == 0, r.stderr
    assert t in r.stdout.splitlines()

    r = run("topics", *bs, "--describe", "--topic", t)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "Topic: %s\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=60000" % t,
    ] + ["\tTopic: %s\tPartition: %d\tLeader: 1\tReplicas: 1\tIsr: 1" % (t, p) for p in range(3)]

    r = run("topics", *bs, "--alter", "--topic", t, "--partitions", "5",
            "--config", "retention.ms=1000")
    assert r.returncode == 0, r.stderr
    r = run("topics", *bs, "--describe", "--topic", t)
    first = r.stdout.splitlines()[0]
    assert "PartitionCount: 5" in first and "Configs: retention.ms=1000" in first

    r = run("topics", *bs, "--delete", "--topic", t)
    assert r.returncode == 0, r.stderr
    from coordproc import wait_for
    wait_for(lambda: t not in run("topics", *bs, "--list").stdout.splitlines(), timeout=15,
             desc="topic deleted")
    r = run("topics", *bs, "--describe", "--topic", t)
    assert r.returncode == 1
    assert "Topic '%s' does not exist as expected" % t in r.stderr
    assert run("topics", *bs, "--delete", "--topic", t, "--if-exists").returncode == 0
    r = run("topics", *bs, "--delete", "--topic", t)
    assert r.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in r.stderr


def test_topics_sh_uses_the_cli(cluster):
    _, b = cluster()
    t = topic_name("sh")
    r = script("topics.sh", "--bootstrap-server", b.bootstrap, "--create", "--topic", t,
               "--partitions", "2", "--config", "cleanup.policy=delete")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Created topic %s.\n" % t
    r = script("topics.sh", "--bootstrap-server", b.bootstrap, "--describe", "--topic", t)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Topic: %s\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: cleanup.policy=delete" % t
    assert len(lines) == 3
    r = script("topics.sh", "--bootstrap-server", b.bootstrap, "--list", "--create")
    assert r.returncode != 0


def test_produce_consume_round_trip_with_keys(cluster):
    _, b = cluster()
    bs = ["--bootstrap-server", b.bootstrap]
    t = topic_name()
    assert run("topics", *bs, "--create", "--topic", t, "--partitions", "3").returncode == 0
    lines = ["k%d:v%d" % (i, i) for i in range(50)]
    r = run("produce", *bs, "--topic", t, "--property", "parse.key=true",
            "--property", "key.separator=:", input="\n".join(lines) + "\n")
    assert r.returncode == 0, r.stderr
    r = run("consume", *bs, "--topic", t, "--from-beginning", "--property", "print.key=true",
            "--property", "key.separator=:", "--max-messages", "50", timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(lines)
    assert "Processed a total of 50 messages" in r.stderr

    # A key always lands in the same partition, and each partition keeps order.
    r = run("consume", *bs, "--topic", t, "--from-beginning", "--max-messages", "50",
            "--property", "print.key=true", "--property", "print.partition=true",
            "--property", "print.offset=true")
    seen = {}
    for line in r.stdout.splitlines():
        part, off, key, value = line.split("\t")
        seen.setdefault(part, []).append((int(off.split(":")[1]), int(key[1:])))
    assert sum(len(v) for v in seen.values()) == 50
    for recs in seen.values():
        assert [o for o, _ in recs] == list(range(len(recs)))
        assert [k for _, k in recs] == sorted(k for _, k in recs)

    # A line without the separator is an error, as in Kafka's console producer.
    r = run("produce", *bs, "--topic", t, "--property", "parse.key=true", input="nosep\n")
    assert r.returncode != 0
    assert "No key separator found on line number 1" in r.stderr


def test_consume_partition_offset_and_timeout(cluster):
    _, b = cluster()
    bs = ["--bootstrap-server", b.bootstrap]
    t = topic_name()
    assert run("topics", *bs, "--create", "--topic", t, "--partitions", "1").returncode == 0
    r = run("produce", *bs, "--topic", t, "--request-required-acks", "1",
            "--compression-codec", "lz4", input="".join("m%d\n" % i for i in range(10)))
    assert r.returncode == 0, r.stderr
    r = run("consume", *bs, "--topic", t, "--partition", "0", "--offset", "7",
            "--property", "print.offset=true", "--max-messages", "3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Offset:7\tm7", "Offset:8\tm8", "Offset:9\tm9"]
    # From the end (the default) nothing old shows; the timeout ends it.
    r = run("consume", *bs, "--topic", t, "--timeout-ms", "1000")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "Processed a total of 0 messages" in r.stderr
    r = run("consume", *bs, "--topic", t, "--offset", "3")
    assert r.returncode != 0 and "--partition" in r.stderr


def test_consume_reads_other_clients_codecs_and_headers(cluster):
    from confluent_kafka import Producer
    _, b = cluster()
    t = topic_name("codec")
    assert run("topics", "--bootstrap-server", b.bootstrap, "--create", "--topic", t,
               "--partitions", "1").returncode == 0
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        p = Producer({"bootstrap.servers": b.bootstrap, "compression.type": codec,
                      "linger.ms": 5})
        for i in range(3):
            p.produce(t, key=("%s-%d" % (codec, i)).encode(), value=b"x" * 200,
                      headers=[("codec", codec.encode())])
        assert p.flush(15) == 0
    r = run("consume", "--bootstrap-server", b.bootstrap, "--topic", t, "--from-beginning",
            "--max-messages", "15", "--property", "print.key=true",
            "--property", "print.headers=true")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 15
    for line in lines:
        headers, key, value = line.split("\t")
        codec = key.rsplit("-", 1)[0]
        assert headers == "codec:%s" % codec
        assert value == "x" * 200


def test_console_scripts(cluster):
    _, b = cluster()
    t = topic_name("console")
    r = script("console-producer.sh", "--bootstrap-server", b.bootstrap, "--topic", t,
               "--property", "parse.key=true", "--property", "key.separator=:",
               input="a:1\nb:2\nc:3\n")
    assert r.returncode == 0, r.stderr  # the broker auto-creates the topic
    r = script("console-consumer.sh", "--bootstrap-server", b.bootstrap, "--topic", t,
               "--from-beginning", "--property", "print.key=true", "--max-messages", "3")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == ["a\t1", "b\t2", "c\t3"]


@pytest.mark.parametrize("acks", ["1", "all", "0"])
def test_perf_produce_and_consume(cluster, acks):
    _, b = cluster()
    t = topic_name("perf")
    n = 20000
    r = run("perf", "produce", "--bootstrap-server", b.bootstrap, "--topic", t,
            "--num-records", str(n), "--record-size", "100", "--throughput", "-1",
            "--acks", acks, "--partitions", "3", "--reporting-interval", "500", timeout=120)
    assert r.returncode == 0, r.stderr
    final = r.stdout.strip().splitlines()[-1]
    m = re.match(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
                 r"([\d.]+) ms max latency, ([\d.]+) ms 50th, ([\d.]+) ms 95th, ([\d.]+) ms 99th, "
                 r"([\d.]+) ms 99.9th\.$", final)
    assert m, final
    assert int(m.group(1)) == n
    p50, p99, p999, mx = (float(m.group(i)) for i in (6, 8, 9, 5))
    assert p50 <= p99 <= p999 <= mx + 0.01
    r = run("topics", "--bootstrap-server", b.bootstrap, "--describe", "--topic", t)
    assert "PartitionCount: 3" in r.stdout

    r = run("perf", "consume", "--bootstrap-server", b.bootstrap, "--topic", t,
            "--messages", str(n), "--timeout", "10000", timeout=120)
    assert r.returncode == 0, r.stderr
    final = r.stdout.strip().splitlines()[-1]
    m = re.match(r"(\d+) records consumed, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) MB", final)
    assert m, final
    assert int(m.group(1)) == n
    assert abs(float(m.group(4)) - n * 100 / 2**20) < 0.01  # payload bytes, as Kafka counts them


def test_perf_produce_throttled_reports_progress(cluster):
    _, b = cluster()
    t = topic_name("throttle")
    r = run("perf", "produce", "--bootstrap-server", b.bootstrap, "--topic", t,
            "--num-records", "3000", "--record-size", "1024", "--throughput", "1000",
            "--producer-props", "acks=1", "batch.size=65536", "--partitions", "1",
            "--reporting-interval", "1000", timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) >= 2, lines  # at least one progress line, then the final one
    assert re.match(r"\d+ records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, "
                    r"[\d.]+ ms max latency\.$", lines[0]), lines[0]
    assert lines[-1].startswith("3000 records sent, ")


def test_unreachable_broker_is_a_clear_error():
    r = run("topics", "--bootstrap-server", "127.0.0.1:1", "--list")
    assert r.returncode == 1
    assert "cannot reach the cluster at 127.0.0.1:1" in r.stderr
