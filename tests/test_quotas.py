"""Client quotas (KIP-13/55/219): configs.sh sets and describes them in
kafka-configs.sh's words, and a producer or consumer over its byte rate is
throttled: the answers carry throttle_time_ms (the clients' own throttle
metrics show it), the connection is muted meanwhile, so its rate stays near
the quota; other clients are not slowed, and nothing is lost.

The broker samples usage over 3 windows of 1 s (quota.window.num=3), so a
client's first burst allowance (two windows of its quota) is small and the
throttled phase comes within a second.
"""

import json
import struct
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from kafka import KafkaProducer

from brokerproc import cluster  # noqa: F401 - fixture
from coordproc import free_port
from eosutil import Conn
from test_fetch_sessions import fetch_v7
from test_configs_script import configs, script

pytestmark = pytest.mark.timeout(240)

QUOTA = 200_000  # bytes per second
PAYLOAD = b"q" * 10_000
COUNT = 160  # 1.6 MB: about 8 s at the quota


def name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def describe(bs, *entity):
    r = configs(bs, *entity, "--describe")
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def alter(bs, *args):
    r = configs(bs, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def create_topic(bs, topic):
    r = script("topics.sh", "--bootstrap-server", bs, "--create", "--topic", topic,
               "--partitions", "1", "--replication-factor", "1")
    assert r.returncode == 0, r.stderr


def throttle_max(metrics):
    """The largest throttle-time-max of a kafka-python client's metrics."""
    values = [v for group in metrics.values() for k, v in group.items()
              if k == "throttle-time-max" and isinstance(v, (int, float))]
    return max(values, default=0.0)


def produce_all(bs, topic, client_id):
    """kafka-python's producer with its defaults (idempotence on): the time
    to send COUNT records and get every answer, and its throttle metric."""
    p = KafkaProducer(bootstrap_servers=bs, client_id=client_id)
    try:
        start = time.monotonic()
        futures = [p.send(topic, PAYLOAD) for _ in range(COUNT)]
        p.flush(timeout=120)
        elapsed = time.monotonic() - start
        for f in futures:
            f.get(timeout=1)
        return elapsed, throttle_max(p.metrics())
    finally:
        p.close(timeout=10)


def test_configs_sh_sets_describes_and_deletes_quotas(cluster):
    _, b = cluster()
    bs = b.bootstrap
    assert alter(bs, "--entity-type", "users", "--entity-name", "alice", "--alter",
                 "--add-config", "producer_byte_rate=1024,consumer_byte_rate=2048") \
        == "Completed updating config for user alice.\n"
    assert alter(bs, "--entity-type", "clients", "--entity-name", "app", "--alter",
                 "--add-config", "request_percentage=12.5") \
        == "Completed updating config for client app.\n"
    alter(bs, "--entity-type", "users", "--entity-name", "alice", "--entity-type", "clients",
          "--entity-name", "app", "--alter", "--add-config", "producer_byte_rate=4096")
    assert alter(bs, "--user-defaults", "--alter", "--add-config", "consumer_byte_rate=8192") \
        == "Completed updating default config for users in the cluster.\n"
    alter(bs, "--user", "alice", "--client-defaults", "--alter",
          "--add-config", "producer_byte_rate=512")

    assert describe(bs, "--entity-type", "users", "--entity-name", "alice") == [
        "Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0, "
        "producer_byte_rate=1024.0"]
    assert describe(bs, "--entity-type", "clients", "--entity-name", "app") == [
        "Quota configs for client-id 'app' are request_percentage=12.5"]
    assert describe(bs, "--entity-type", "users", "--entity-name", "alice",
                    "--entity-type", "clients", "--entity-name", "app") == [
        "Quota configs for user-principal 'alice', client-id 'app' are producer_byte_rate=4096.0"]
    assert describe(bs, "--entity-type", "users", "--entity-default") == [
        "Quota configs for the default user-principal are consumer_byte_rate=8192.0"]
    # Every user, the default one included (as Kafka's MATCH_TYPE_SPECIFIED).
    assert describe(bs, "--entity-type", "users") == [
        "Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0, "
        "producer_byte_rate=1024.0",
        "Quota configs for the default user-principal are consumer_byte_rate=8192.0"]
    assert describe(bs, "--user", "alice", "--client-defaults") == [
        "Quota configs for user-principal 'alice', the default client-id are "
        "producer_byte_rate=512.0"]

    # Removing one key keeps the others; removing the last leaves nothing.
    alter(bs, "--user", "alice", "--alter", "--delete-config", "consumer_byte_rate")
    assert describe(bs, "--user", "alice") == [
        "Quota configs for user-principal 'alice' are producer_byte_rate=1024.0"]
    alter(bs, "--client", "app", "--alter", "--delete-config", "request_percentage")
    assert describe(bs, "--client", "app") == []

    # Refused with the reason, nothing written.
    for args, reason in [
        (["--client", "app", "--add-config", "retention.ms=1"], "Invalid config(s): retention.ms"),
        (["--client", "app", "--add-config", "producer_byte_rate=1.5"], "must be a Long value"),
        (["--client", "app", "--add-config", "producer_byte_rate=-5"], "positive"),
        (["--client", "app", "--add-config", "producer_byte_rate=fast"], "must be a number"),
    ]:
        r = configs(bs, "--alter", *args)
        assert r.returncode == 1, (args, r.stdout)
        assert "Error while executing config command" in r.stderr
        assert reason in r.stderr, (args, r.stderr)
    assert describe(bs, "--client", "app") == []


def scrape(url):
    """{(name, client_id): value} of the quota families on /metrics."""
    out = {}
    for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
        if line.startswith("kafka_server_") and 'client_id="' in line:
            name = line.split("{", 1)[0]
            client = line.split('client_id="', 1)[1].split('"', 1)[0]
            out[(name, client)] = float(line.rsplit(" ", 1)[1])
    return out


def test_producer_over_its_quota_is_throttled_and_others_are_not(cluster):
    port = free_port()
    _, b = cluster(quota_window_num=3, metrics_listener="127.0.0.1:%d" % port)
    bs = b.bootstrap
    topic = name("quota-produce")
    create_topic(bs, topic)
    alter(bs, "--client", "slow-writer", "--alter",
          "--add-config", "producer_byte_rate=%d" % QUOTA)

    fast_elapsed, fast_throttle = produce_all(bs, topic, "fast-writer")
    assert fast_throttle == 0, "a client without quota was throttled"

    elapsed, throttled = produce_all(bs, topic, "slow-writer")
    assert throttled > 0, "the producer's answers carried no throttle time"
    # 1.6 MB with a burst allowance of two windows (400 KB): ~6 s at the quota.
    rate = COUNT * len(PAYLOAD) / elapsed
    assert rate < 2 * QUOTA, "%.0f B/s against a quota of %d B/s" % (rate, QUOTA)
    # The budget's figures on the metrics endpoint, as Kafka's sensors.
    figures = scrape("http://127.0.0.1:%d/metrics" % port)
    assert figures[("kafka_server_produce_byte_rate", "slow-writer")] > 0, figures
    assert figures[("kafka_server_produce_throttle_time", "slow-writer")] > 0, figures
    assert ("kafka_server_produce_byte_rate", "fast-writer") not in figures

    # Everything sent is there, in order.
    c = Consumer({"bootstrap.servers": bs, "group.id": name("g"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 60
    while got < 2 * COUNT and time.monotonic() < deadline:
        for m in c.consume(500, timeout=1.0):
            assert m.error() is None, m.error()
            got += 1
    c.close()
    assert got == 2 * COUNT


def test_consumer_over_its_quota_is_throttled_and_gets_everything(cluster):
    _, b = cluster(quota_window_num=3)
    bs = b.bootstrap
    topic = name("quota-fetch")
    create_topic(bs, topic)
    produce_all(bs, topic, "loader")
    alter(bs, "--client", "slow-reader", "--alter",
          "--add-config", "consumer_byte_rate=%d" % QUOTA)

    stats = []
    c = Consumer({"bootstrap.servers": bs, "group.id": name("g"), "client.id": "slow-reader",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "statistics.interval.ms": 500,
                  "stats_cb": lambda s: stats.append(json.loads(s))})
    c.subscribe([topic])
    got = 0
    start = time.monotonic()
    while got < COUNT and time.monotonic() - start < 90:
        for m in c.consume(100, timeout=1.0):
            assert m.error() is None, m.error()
            got += 1
    elapsed = time.monotonic() - start
    c.poll(1.0)  # one more statistics callback
    c.close()
    assert got == COUNT
    throttle = librdkafka_throttle(stats)
    assert throttle > 0, "librdkafka saw no throttle time in the fetch answers"
    rate = COUNT * len(PAYLOAD) / elapsed
    assert rate < 2 * QUOTA, "%.0f B/s against a quota of %d B/s" % (rate, QUOTA)


def batches(records):
    """(base offset, last offset) of each record batch in a Fetch answer's bytes."""
    out, i = [], 0
    while i + 27 <= len(records):
        base, length = struct.unpack_from(">qi", records, i)
        (last_delta,) = struct.unpack_from(">i", records, i + 23)
        out.append((base, base + last_delta))
        i += 12 + length
    return out


def test_a_fetch_over_the_quota_is_answered_empty_and_loses_nothing(cluster):
    """Kafka's getThrottledResponse (KIP-219): a consumer's answer that
    would take it over its consumer_byte_rate is not sent. The fetch is
    answered empty with the throttle and its bytes are not counted; a
    throttled full fetch gets no session (the client starts over, as
    Kafka's clients do); an incremental session keeps its news, so the
    next answer after the wait carries the records from where the client
    stood. Read to the end this way, every offset comes exactly once."""
    _, b = cluster(quota_window_num=3)
    bs = b.bootstrap
    topic = name("quota-empty")
    create_topic(bs, topic)
    produce_all(bs, topic, "loader")
    # The raw connection's client id is "eos".
    alter(bs, "--client", "eos", "--alter", "--add-config", "consumer_byte_rate=%d" % QUOTA)
    part = 60_000  # six 10 KB batches per answer: well within what the quota allows per span

    with Conn(b.port) as conn:
        err, sid, parts, throttle = fetch_v7(conn, topic, 0, 0, {0: 0}, max_bytes=part,
                                             with_throttle=True)
        assert err == 0 and sid != 0 and throttle == 0
        seen = [o for (lo, hi) in batches(parts[0][2]) for o in range(lo, hi + 1)]
        offset, epoch = seen[-1] + 1, 1
        empty_answers = 0
        full_throttled = False
        deadline = time.monotonic() + 90
        while offset < COUNT and time.monotonic() < deadline:
            err, got_sid, parts, throttle = fetch_v7(conn, topic, sid, epoch, {0: offset},
                                                     max_bytes=part, with_throttle=True)
            epoch += 1
            assert err == 0 and got_sid == sid
            if throttle > 0 and not parts:
                empty_answers += 1
                if not full_throttled:
                    # Still over: a new full fetch (on another connection,
                    # this one is muted for the throttle) is throttled too,
                    # and gets no session.
                    with Conn(b.port) as other:
                        ferr, fsid, fparts, fthrottle = fetch_v7(
                            other, topic, 0, 0, {0: offset}, max_bytes=part, with_throttle=True)
                    assert (ferr, fsid, fparts) == (0, 0, {}) and fthrottle > 0
                    full_throttled = True
                time.sleep(throttle / 1000.0)
                # The session still owes the client partition 0 from `offset`.
                err, got_sid, parts, throttle = fetch_v7(conn, topic, sid, epoch, {},
                                                         max_bytes=part, with_throttle=True)
                epoch += 1
                assert err == 0 and got_sid == sid
                if throttle > 0 and not parts:
                    time.sleep(throttle / 1000.0)
                    continue
            assert 0 in parts, parts
            perr, _hw, records = parts[0]
            assert perr == 0 and records, parts
            got = [o for (lo, hi) in batches(records) for o in range(lo, hi + 1)]
            assert got[0] == offset, "answer starts at %d, expected %d" % (got[0], offset)
            seen.extend(got)
            offset = got[-1] + 1
    assert seen == list(range(COUNT)), "offsets read: %s" % seen
    assert empty_answers > 0, "no answer was withheld"
    assert full_throttled


def librdkafka_throttle(stats):
    return max((br.get("throttle", {}).get("max", 0)
                for s in stats for br in s.get("brokers", {}).values()), default=0)


def test_request_time_over_request_percentage_is_throttled(cluster):
    _, b = cluster(quota_window_num=3)
    bs = b.bootstrap
    topic = name("quota-requests")
    create_topic(bs, topic)
    # 0.01 % of a thread: 0.1 ms of handling per second.
    alter(bs, "--client", "busy", "--alter", "--add-config", "request_percentage=0.01")
    stats = []
    delivered = []
    p = Producer({"bootstrap.servers": bs, "client.id": "busy", "linger.ms": 0,
                  "statistics.interval.ms": 500,
                  "stats_cb": lambda s: stats.append(json.loads(s))})
    sent = 0
    deadline = time.monotonic() + 60
    # One request at a time, each timed, until the answers carry a throttle.
    while librdkafka_throttle(stats) == 0 and time.monotonic() < deadline:
        p.produce(topic, b"r%d" % sent, on_delivery=lambda e, m: delivered.append(e))
        sent += 1
        p.flush(10)
        p.poll(0.1)
    assert p.flush(30) == 0
    assert librdkafka_throttle(stats) > 0, "no throttle time in %d answers" % sent
    assert delivered == [None] * sent
