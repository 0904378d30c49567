"""AlterConfigs (API 33, issue 12), as librdkafka's AdminClient.alter_configs
sends it: Kafka's replace-all semantics on a topic's overrides,
validate_only, and INVALID_CONFIG / INVALID_REQUEST as Kafka answers them."""

import uuid

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

from brokerproc import cluster  # noqa: F401 - fixture
from eosutil import create_topic

pytestmark = pytest.mark.timeout(120)


def overrides(admin, topic):
    """The topic's configs set on the topic itself: {name: value}."""
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([res])[res].result(30)
    return {k: e.value for k, e in entries.items()
            if e.source == 1}  # DYNAMIC_TOPIC_CONFIG


def alter(admin, topic, configs, validate_only=False):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config=configs)
    return admin.alter_configs([res], validate_only=validate_only)[res].result(30)


def test_alter_configs_replaces_all_overrides(cluster):  # noqa: F811 - fixture
    _, broker = cluster()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic = create_topic(broker.bootstrap, "ac-" + uuid.uuid4().hex[:6], 1, 1,
                         config={"retention.ms": "3600000", "max.message.bytes": "200000"})
    assert overrides(admin, topic) == {"retention.ms": "3600000", "max.message.bytes": "200000"}

    # validate_only: checked, not written.
    alter(admin, topic, {"segment.bytes": "1048576"}, validate_only=True)
    assert overrides(admin, topic) == {"retention.ms": "3600000", "max.message.bytes": "200000"}

    # Replace-all: what is not named goes back to its default.
    alter(admin, topic, {"segment.bytes": "1048576", "retention.ms": "7200000"})
    assert overrides(admin, topic) == {"segment.bytes": "1048576", "retention.ms": "7200000"}

    # Bad input: nothing changes.
    for bad in ({"no.such.key": "1"}, {"retention.ms": "soon"}):
        with pytest.raises(KafkaException) as e:
            alter(admin, topic, bad)
        assert e.value.args[0].name() == "INVALID_CONFIG", e.value
    assert overrides(admin, topic) == {"segment.bytes": "1048576", "retention.ms": "7200000"}

    with pytest.raises(KafkaException) as e:
        alter(admin, "no-such-topic-" + uuid.uuid4().hex[:6], {"retention.ms": "1"})
    assert e.value.args[0].code() == 3, e.value  # UNKNOWN_TOPIC_OR_PARTITION

    res = ConfigResource(ConfigResource.Type.BROKER, "1", set_config={"log.cleaner.threads": "2"})
    with pytest.raises(KafkaException) as e:
        admin.alter_configs([res])[res].result(30)
    assert e.value.args[0].name() == "INVALID_REQUEST", e.value
