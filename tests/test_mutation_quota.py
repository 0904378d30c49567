"""Controller mutation quotas (KIP-599): `controller_mutation_rate` limits
the partitions a user or client id creates or deletes per second
(CreateTopics, CreatePartitions, DeleteTopics). Each budget is a token
bucket of (controller.quota.window.num - 1) windows of the quota: one
request may take it below zero, the next then waits. Clients that speak
the versions with THROTTLING_QUOTA_EXCEEDED (kafka-python 3.x, CreateTopics
v7) get that error with the time to wait; older versions (librdkafka,
CreateTopics v4) are served and throttled instead. Others are not slowed.

The broker runs with controller.quota.window.num=3: a budget of two
seconds' worth of the quota.
"""

import time
import urllib.request
import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
from kafka import KafkaAdminClient
from kafka.errors import ThrottlingQuotaExceededError

from brokerproc import cluster  # noqa: F401 - fixture
from coordproc import free_port, wait_for
from test_configs_script import configs

pytestmark = pytest.mark.timeout(180)

RATE = 2  # partitions per second; a budget of 4 with 3 windows of 1 s


def name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def set_rate(bs, client_id):
    r = configs(bs, "--client", client_id, "--alter",
                "--add-config", "controller_mutation_rate=%d" % RATE)
    assert r.returncode == 0, r.stderr
    r = configs(bs, "--client", client_id, "--describe")
    assert r.stdout.splitlines() == [
        "Quota configs for client-id '%s' are controller_mutation_rate=%.1f" % (client_id, RATE)]


def create(admin, topic, partitions):
    return admin.create_topics({topic: {"num_partitions": partitions, "replication_factor": 1}})


def topic_error(result):
    return result["topics"][0]["error_code"]


@pytest.fixture
def broker(cluster):
    port = free_port()
    _, b = cluster(controller_quota_window_num=3, metrics_listener="127.0.0.1:%d" % port)
    b.metrics_port = port
    return b


def test_kafka_python_admin_is_refused_while_over_its_budget(broker):
    bs = broker.bootstrap
    set_rate(bs, "slow-admin")
    slow = KafkaAdminClient(bootstrap_servers=bs, client_id="slow-admin")
    fast = KafkaAdminClient(bootstrap_servers=bs, client_id="fast-admin")
    try:
        # 10 partitions on a budget of 4: done (never refused for its
        # size), leaving a deficit of 6, i.e. 3 s at 2/s.
        assert topic_error(create(slow, name("big"), 10)) == 0
        second = name("second")
        with pytest.raises(ThrottlingQuotaExceededError) as refused:
            create(slow, second, 1)
        text = str(refused.value)
        assert "The throttling quota has been exceeded." in text, text
        throttle_ms = int(text.split("throttle_time_ms=", 1)[1].split(",", 1)[0])
        assert 2000 < throttle_ms <= 3000, text
        # Another client is not held back.
        assert topic_error(create(fast, name("other"), 10)) == 0
        # Nothing was created for the refused request; once the deficit is
        # paid back the same request goes through.
        assert second not in fast.list_topics()
        started = time.monotonic()

        def created():
            try:
                return topic_error(create(slow, second, 1)) == 0
            except Exception:  # throttled, or the client's node still paused
                time.sleep(0.2)
                return False
        wait_for(created, timeout=10, desc="the create after the throttle")
        assert time.monotonic() - started > 1.5
        assert second in fast.list_topics()
    finally:
        slow.close()
        fast.close()


def test_deletes_and_new_partitions_are_charged_too(broker):
    bs = broker.bootstrap
    set_rate(bs, "cleaner")
    unlimited = KafkaAdminClient(bootstrap_servers=bs, client_id="setup")
    cleaner = KafkaAdminClient(bootstrap_servers=bs, client_id="cleaner")
    try:
        doomed, kept = name("doomed"), name("kept")
        create(unlimited, doomed, 8)
        create(unlimited, kept, 1)
        # Deleting 8 partitions overdraws the budget...
        cleaner.delete_topics([doomed])
        wait_for(lambda: doomed not in cleaner.list_topics(), timeout=10, desc="deleted")
        # ...so adding partitions is refused until it is paid back.
        with pytest.raises(ThrottlingQuotaExceededError):
            cleaner.create_partitions({kept: 3})
    finally:
        unlimited.close()
        cleaner.close()
    # librdkafka's CreatePartitions is an old version: served, and throttled.
    events = []
    admin = AdminClient({"bootstrap.servers": bs, "client.id": "cleaner",
                         "throttle_cb": events.append})
    admin.create_partitions([NewPartitions(kept, 3)])[kept].result(timeout=30)
    wait_for(lambda: admin.poll(0.2) is not None and False or events, timeout=10,
             desc="a throttle event")
    assert events[0].throttle_time > 0.5


def test_librdkafka_admin_is_served_and_throttled(broker):
    """librdkafka sends CreateTopics v4, before THROTTLING_QUOTA_EXCEEDED:
    the topic is created and the answer carries the throttle, which the
    client reports to throttle_cb and respects."""
    bs = broker.bootstrap
    set_rate(bs, "rdkafka-admin")
    events = []
    admin = AdminClient({"bootstrap.servers": bs, "client.id": "rdkafka-admin",
                         "throttle_cb": events.append})
    first, second = name("rd-first"), name("rd-second")
    admin.create_topics([NewTopic(first, 10, 1)])[first].result(timeout=30)
    admin.create_topics([NewTopic(second, 1, 1)])[second].result(timeout=30)
    wait_for(lambda: admin.poll(0.2) is not None and False or events, timeout=10,
             desc="a throttle event")
    assert max(e.throttle_time for e in events) > 2.0
    topics = admin.list_topics(timeout=10).topics
    assert first in topics and second in topics
    # The budget's figures on the metrics endpoint.
    url = "http://127.0.0.1:%d/metrics" % broker.metrics_port
    lines = [l for l in urllib.request.urlopen(url, timeout=10).read().decode().splitlines()
             if l.startswith("kafka_server_controller_mutation_rate{")
             and 'client_id="rdkafka-admin"' in l]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) > 0, lines
