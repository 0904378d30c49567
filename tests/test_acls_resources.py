"""Per-resource authorization of the admin, group, offset and transaction
APIs, as Kafka's KafkaApis checks them: each topic, group, transactional
id or config resource a request names is allowed or refused on its own,
and a refused one is answered with its own error code
(TOPIC_/GROUP_/TRANSACTIONAL_ID_/CLUSTER_AUTHORIZATION_FAILED) while the
rest of the request goes through; listings leave out what the principal
may not describe.

Checked with real clients as users see it: confluent-kafka's AdminClient
(configs, partitions, records, groups, offsets) and kafka-python (consumer
commits and offset fetches, the transaction admin APIs, and a few raw
requests where a client would stop before asking the broker).

One broker is shared by the module (test_acls_script's `secured`:
SASL_PLAINTEXT with PLAIN users admin, alice and bob; admin a super user),
with one set of bindings made up front for resources of this module:

    alice  topic  mine       READ DELETE ALTER ALTER_CONFIGS
    alice  topic  described  DESCRIBE
    alice  group  g-mine     READ DELETE
    alice  group  g-desc     DESCRIBE
    alice  group  g-del      DELETE
    alice  txnid  tx-mine    DESCRIBE
    bob    cluster           DESCRIBE DESCRIBE_CONFIGS CLUSTER_ACTION

and nothing for the topic `none`, the group `g-none` or the id `tx-other`.
"""

import uuid

import pytest
from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient,
                                   AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions,
                                   OffsetSpec, ResourcePatternType, ResourceType)
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KTopicPartition
from kafka import errors as kerrors
from kafka.protocol.admin.transactions import DescribeTransactionsRequest
from kafka.protocol.consumer.group import OffsetFetchRequest
from kafka.protocol.consumer.offsets import ListOffsetsRequest, OffsetForLeaderEpochRequest
from kafka.structs import OffsetAndMetadata

from coordproc import wait_for
from test_acls_script import PASSWORDS, secured  # noqa: F401 - secured is a fixture

TOPIC_AUTH = KafkaError.TOPIC_AUTHORIZATION_FAILED
GROUP_AUTH = KafkaError.GROUP_AUTHORIZATION_FAILED
CLUSTER_AUTH = KafkaError.CLUSTER_AUTHORIZATION_FAILED
TXN_AUTH = KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
RECORDS = 5


class World:
    """The module's resource names (unique per run) and its clients."""

    def __init__(self, broker):
        suffix = uuid.uuid4().hex[:8]
        self.secured = broker
        self.mine, self.described, self.none = ("%s-%s" % (n, suffix)
                                                for n in ("mine", "described", "none"))
        self.g_mine, self.g_desc, self.g_del, self.g_none = ("%s-%s" % (n, suffix)
                                                             for n in ("g-mine", "g-desc", "g-del",
                                                                       "g-none"))
        self.tx_mine, self.tx_other = "tx-mine-" + suffix, "tx-other-" + suffix
        self.sentinel = "sentinel-" + suffix

    @property
    def topics(self):
        return [self.mine, self.described, self.none]

    def admin(self, user):
        return AdminClient(self.secured.conf(user))

    def kafka_python(self, user):
        """kafka-python settings for `user` over SASL_PLAINTEXT PLAIN."""
        return {"bootstrap_servers": self.secured.sasl, "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "PLAIN", "sasl_plain_username": user,
                "sasl_plain_password": PASSWORDS[user]}


def binding(principal, resource_type, name, operation):
    return AclBinding(resource_type, name, ResourcePatternType.LITERAL, principal, "*", operation,
                      AclPermissionType.ALLOW)


def error_of(future, timeout=30):
    """The error code a confluent-kafka admin future fails with; None when it succeeds."""
    try:
        future.result(timeout=timeout)
    except KafkaException as e:
        return e.args[0].code()
    return None


def commit_as_admin(world, group, offsets):
    """Commits `offsets` ({topic: offset} on partition 0) for `group` without joining it."""
    c = Consumer(world.secured.conf("admin", **{"group.id": group, "enable.auto.commit": "false"}))
    try:
        c.commit(offsets=[TopicPartition(t, 0, o) for t, o in offsets.items()], asynchronous=False)
    finally:
        c.close()


def raw(admin, request, node_id=1):
    """Sends one request with kafka-python's admin connection; the response."""
    async def send():
        return await admin._manager.send(request, node_id=node_id)
    return admin._manager.run(send)


@pytest.fixture(scope="module")
def world(secured):  # noqa: F811 - the fixture
    w = World(secured)
    secured.create_topics(*w.topics, w.sentinel)
    p = Producer(secured.conf("admin"))
    for t in w.topics:
        for i in range(RECORDS):
            p.produce(t, value=b"v%d" % i)
    assert p.flush(30) == 0
    for g in (w.g_mine, w.g_desc, w.g_del, w.g_none):
        commit_as_admin(w, g, {t: 1 for t in w.topics})

    T, G, C, X = (ResourceType.TOPIC, ResourceType.GROUP, ResourceType.BROKER,
                  ResourceType.TRANSACTIONAL_ID)
    O = AclOperation
    alice, bob = "User:alice", "User:bob"
    bindings = [binding(alice, T, w.mine, op) for op in (O.READ, O.DELETE, O.ALTER, O.ALTER_CONFIGS)]
    bindings += [binding(alice, T, w.described, O.DESCRIBE),
                 binding(alice, G, w.g_mine, O.READ), binding(alice, G, w.g_mine, O.DELETE),
                 binding(alice, G, w.g_desc, O.DESCRIBE), binding(alice, G, w.g_del, O.DELETE),
                 binding(alice, X, w.tx_mine, O.DESCRIBE)]
    bindings += [binding(bob, C, "kafka-cluster", op)
                 for op in (O.DESCRIBE, O.DESCRIBE_CONFIGS, O.CLUSTER_ACTION)]
    admin = w.admin("admin")
    for f in admin.create_acls(bindings).values():
        f.result(timeout=30)
    # Made last: once alice sees it, the broker has loaded every binding above.
    for f in admin.create_acls([binding(alice, T, w.sentinel, O.DESCRIBE)]).values():
        f.result(timeout=30)
    alice_admin = w.admin("alice")
    wait_for(lambda: w.sentinel in alice_admin.list_topics(timeout=10).topics, timeout=20,
             interval=0.2, desc="alice's bindings in force")
    return w


# --- configs -----------------------------------------------------------------

def test_describe_configs_is_checked_per_resource(world):
    alice = world.admin("alice")
    mine, described, none = (ConfigResource("topic", t) for t in world.topics)
    broker = ConfigResource("broker", "1")
    futures = alice.describe_configs([mine, described, none, broker])
    # ALTER_CONFIGS implies DESCRIBE_CONFIGS; DESCRIBE does not.
    assert "retention.ms" in futures[mine].result(timeout=30)
    assert error_of(futures[described]) == TOPIC_AUTH
    assert error_of(futures[none]) == TOPIC_AUTH
    assert error_of(futures[broker]) == CLUSTER_AUTH
    # DESCRIBE_CONFIGS on the cluster opens the broker's configs.
    bob = world.admin("bob")
    assert "log.retention.hours" in bob.describe_configs([broker])[broker].result(timeout=30)


def topic_config(world, topic, key):
    r, admin = ConfigResource("topic", topic), world.admin("admin")
    return admin.describe_configs([r])[r].result(timeout=30)[key].value


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated")
def test_alter_configs_needs_alter_configs_on_each_resource(world):
    alice = world.admin("alice")
    mine = ConfigResource("topic", world.mine, set_config={"retention.ms": "3600000"})
    described = ConfigResource("topic", world.described, set_config={"retention.ms": "3600000"})
    broker = ConfigResource("broker", "1", set_config={"log.cleaner.threads": "2"})
    futures = alice.alter_configs([mine, described, broker])
    assert error_of(futures[mine]) is None
    assert error_of(futures[described]) == TOPIC_AUTH
    assert error_of(futures[broker]) == CLUSTER_AUTH
    assert topic_config(world, world.mine, "retention.ms") == "3600000"
    assert topic_config(world, world.described, "retention.ms") != "3600000"


def test_incremental_alter_configs_needs_alter_configs_on_each_resource(world):
    alice = world.admin("alice")

    def setting(kind, name, key, value):
        return ConfigResource(kind, name, incremental_configs=[
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])

    mine = setting("topic", world.mine, "retention.bytes", "7777777")
    none = setting("topic", world.none, "retention.bytes", "7777777")
    broker = setting("broker", "1", "log.cleaner.threads", "2")
    futures = alice.incremental_alter_configs([mine, none, broker])
    assert error_of(futures[mine]) is None
    assert error_of(futures[none]) == TOPIC_AUTH
    assert error_of(futures[broker]) == CLUSTER_AUTH
    assert topic_config(world, world.mine, "retention.bytes") == "7777777"
    assert topic_config(world, world.none, "retention.bytes") != "7777777"


# --- partitions, records, offsets ---------------------------------------------

def test_create_partitions_needs_alter_on_the_topic(world):
    alice, admin = world.admin("alice"), world.admin("admin")
    futures = alice.create_partitions([NewPartitions(world.mine, 2),
                                       NewPartitions(world.described, 2)])
    assert error_of(futures[world.mine]) is None
    assert error_of(futures[world.described]) == TOPIC_AUTH
    wait_for(lambda: len(admin.list_topics(world.mine, timeout=10).topics[world.mine].partitions) == 2,
             timeout=15, desc="%s with 2 partitions" % world.mine)
    assert len(admin.list_topics(world.described, timeout=10)
               .topics[world.described].partitions) == 1


def test_delete_records_needs_delete_on_the_topic(world):
    alice = world.admin("alice")
    mine, described = TopicPartition(world.mine, 0, 1), TopicPartition(world.described, 0, 1)
    futures = alice.delete_records([mine, described])
    assert futures[mine].result(timeout=30).low_watermark == 1
    assert error_of(futures[described]) == TOPIC_AUTH


def test_list_offsets_needs_describe_on_the_topic(world):
    alice = world.admin("alice")
    specs = {TopicPartition(t, 0): OffsetSpec.latest() for t in world.topics}
    futures = alice.list_offsets(specs)
    for t in (world.mine, world.described):
        assert futures[TopicPartition(t, 0)].result(timeout=30).offset == RECORDS
    # librdkafka learns the refusal from metadata already; the broker's own
    # ListOffsets answer, asked directly:
    assert error_of(futures[TopicPartition(world.none, 0)]) == TOPIC_AUTH
    kp = KafkaAdminClient(**world.kafka_python("alice"))
    try:
        Topic = ListOffsetsRequest.ListOffsetsTopic
        Partition = Topic.ListOffsetsPartition
        request = ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=[
            Topic(name=t, partitions=[Partition(partition_index=0, timestamp=-1)])
            for t in (world.mine, world.none)], max_version=7)
        answer = {t.name: t.partitions[0] for t in raw(kp, request).topics}
        assert (answer[world.mine].error_code, answer[world.mine].offset) == (0, RECORDS)
        assert (answer[world.none].error_code, answer[world.none].offset) == (TOPIC_AUTH, -1)
    finally:
        kp.close()


def test_offset_for_leader_epoch_needs_describe_or_cluster_action(world):
    Topic = OffsetForLeaderEpochRequest.OffsetForLeaderTopic
    Partition = Topic.OffsetForLeaderPartition

    def answer(user):
        """Where epoch 0 ends in partition 0 of `mine` and `none`, asked as `user`."""
        request = OffsetForLeaderEpochRequest(replica_id=-1, min_version=3, topics=[
            Topic(topic=t, partitions=[Partition(partition=0, current_leader_epoch=-1,
                                                 leader_epoch=0)])
            for t in (world.mine, world.none)])
        kp = KafkaAdminClient(**world.kafka_python(user))
        try:
            return {t.topic: t.partitions[0] for t in raw(kp, request).topics}
        finally:
            kp.close()

    alice = answer("alice")
    assert (alice[world.mine].error_code, alice[world.mine].end_offset) == (0, RECORDS)
    assert (alice[world.none].error_code, alice[world.none].end_offset) == (TOPIC_AUTH, -1)
    # A broker's principal (CLUSTER_ACTION on the cluster) may ask about any topic.
    bob = answer("bob")
    assert (bob[world.none].error_code, bob[world.none].end_offset) == (0, RECORDS)


# --- groups ------------------------------------------------------------------

def listed_groups(admin):
    return {g.group_id for g in admin.list_consumer_groups().result(timeout=30).valid}


def test_list_groups_shows_only_groups_the_principal_may_describe(world):
    alice = listed_groups(world.admin("alice"))
    assert {world.g_mine, world.g_desc} <= alice
    assert world.g_none not in alice
    # DESCRIBE on the cluster lists them all.
    assert {world.g_mine, world.g_desc, world.g_none} <= listed_groups(world.admin("bob"))


def test_describe_groups_is_checked_per_group(world):
    alice = world.admin("alice")
    futures = alice.describe_consumer_groups(
        [world.g_mine, world.g_desc, world.g_none], include_authorized_operations=True)
    O = AclOperation
    assert set(futures[world.g_mine].result(timeout=30).authorized_operations) == \
        {O.READ, O.DELETE, O.DESCRIBE}
    assert set(futures[world.g_desc].result(timeout=30).authorized_operations) == {O.DESCRIBE}
    assert error_of(futures[world.g_none]) == GROUP_AUTH


def test_delete_groups_needs_delete_on_each_group(world):
    alice = world.admin("alice")
    futures = alice.delete_consumer_groups([world.g_del, world.g_desc])
    assert error_of(futures[world.g_del]) is None
    assert error_of(futures[world.g_desc]) == GROUP_AUTH
    left = listed_groups(world.admin("admin"))
    assert world.g_del not in left and world.g_desc in left


def test_offset_delete_needs_delete_on_the_group_and_read_on_topics(world):
    kp = KafkaAdminClient(**world.kafka_python("alice"))
    try:
        mine, described = KTopicPartition(world.mine, 0), KTopicPartition(world.described, 0)
        result = kp.delete_group_offsets(world.g_mine, [mine, described])
        assert result == {mine: kerrors.NoError, described: kerrors.TopicAuthorizationFailedError}
        # DESCRIBE on a group is not enough to delete its offsets.
        with pytest.raises(kerrors.GroupAuthorizationFailedError):
            kp.delete_group_offsets(world.g_desc, [mine])
    finally:
        kp.close()
    admin = world.admin("admin")
    remaining = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(world.g_mine)])[world.g_mine].result(timeout=30)
    assert {tp.topic for tp in remaining.topic_partitions} == {world.described, world.none}


# --- commits and offset fetches ----------------------------------------------

def test_offset_commit_and_fetch_check_each_topic(world):
    c = KafkaConsumer(group_id=world.g_mine, enable_auto_commit=False, **world.kafka_python("alice"))
    try:
        mine, described, none = (KTopicPartition(t, 0) for t in world.topics)
        c.commit({mine: OffsetAndMetadata(3, "", -1)})
        assert c.committed(mine) == 3
        # READ on the topic is needed to commit (DESCRIBE is not enough)...
        with pytest.raises(kerrors.TopicAuthorizationFailedError):
            c.commit({described: OffsetAndMetadata(3, "", -1)})
        # ...DESCRIBE to fetch: the admin's commit on `none` stays hidden.
        assert c.committed(described) == 1
        with pytest.raises(kerrors.TopicAuthorizationFailedError):
            c.committed(none)
    finally:
        c.close()
    # A group alice may only describe: her commit is refused as a whole.
    c = KafkaConsumer(group_id=world.g_desc, enable_auto_commit=False, **world.kafka_python("alice"))
    try:
        with pytest.raises(kerrors.GroupAuthorizationFailedError):
            c.commit({KTopicPartition(world.mine, 0): OffsetAndMetadata(2, "", -1)})
    finally:
        c.close()


def test_fetching_all_offsets_leaves_out_topics_the_principal_may_not_describe(world):
    alice = world.admin("alice")
    result = alice.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(world.g_desc)])[world.g_desc].result(timeout=30)
    assert {tp.topic for tp in result.topic_partitions} == {world.mine, world.described}


def test_offset_fetch_of_several_groups_answers_each_group(world):
    Group = OffsetFetchRequest.OffsetFetchRequestGroup
    request = OffsetFetchRequest(groups=[Group(group_id=g, topics=None)
                                         for g in (world.g_desc, world.g_none)],
                                 require_stable=False, min_version=8)
    kp = KafkaAdminClient(**world.kafka_python("alice"))
    try:
        groups = {g.group_id: g for g in raw(kp, request).groups}
    finally:
        kp.close()
    assert groups[world.g_desc].error_code == 0
    assert {t.name for t in groups[world.g_desc].topics} == {world.mine, world.described}
    assert groups[world.g_none].error_code == GROUP_AUTH


# --- transactions -------------------------------------------------------------

@pytest.fixture
def open_transactions(world):
    """tx-mine and tx-other, each with an open transaction on `mine` and `none`."""
    producers = []
    for tx in (world.tx_mine, world.tx_other):
        p = Producer(world.secured.conf("admin", **{"transactional.id": tx}))
        p.init_transactions(30)
        p.begin_transaction()
        for t in (world.mine, world.none):
            p.produce(t, value=b"in-txn", partition=0)
        assert p.flush(30) == 0
        producers.append(p)
    yield
    for p in producers:
        p.abort_transaction(30)


def test_transactions_are_listed_and_described_as_the_principal_may(world, open_transactions):
    alice = KafkaAdminClient(**world.kafka_python("alice"))
    admin = KafkaAdminClient(**world.kafka_python("admin"))
    try:
        def ids(kp):
            return {t.transactional_id for ts in kp.list_transactions().values() for t in ts}

        assert {world.tx_mine, world.tx_other} <= ids(admin)
        seen = ids(alice)
        assert world.tx_mine in seen and world.tx_other not in seen

        # Partitions of topics alice may not describe are left out.
        assert admin.describe_transactions([world.tx_mine])[world.tx_mine].topic_partitions == \
            {KTopicPartition(world.mine, 0), KTopicPartition(world.none, 0)}
        assert alice.describe_transactions([world.tx_mine])[world.tx_mine].topic_partitions == \
            {KTopicPartition(world.mine, 0)}
        # Each id is answered on its own.
        states = {s.transactional_id: s for s in raw(alice, DescribeTransactionsRequest(
            transactional_ids=[world.tx_mine, world.tx_other])).transaction_states}
        assert states[world.tx_mine].error_code == 0
        assert states[world.tx_other].error_code == TXN_AUTH
    finally:
        alice.close()
        admin.close()


def test_describe_producers_needs_read_on_the_topic(world, open_transactions):
    alice = KafkaAdminClient(**world.kafka_python("alice"))
    try:
        mine = KTopicPartition(world.mine, 0)
        assert alice.describe_producers([mine])[mine].active_producers
        with pytest.raises(kerrors.TopicAuthorizationFailedError):
            alice.describe_producers([KTopicPartition(world.described, 0)])
    finally:
        alice.close()


# --- client quotas -------------------------------------------------------------

def test_client_quotas_need_describe_configs_and_alter_configs_on_the_cluster(world, tmp_path):
    from test_configs_script import configs

    def props(user):
        path = tmp_path / ("%s.properties" % user)
        path.write_text("security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=PLAIN\n"
                        "sasl.username=%s\nsasl.password=%s\n" % (user, PASSWORDS[user]))
        return str(path)

    client_id = "quota-" + world.sentinel
    bs = world.secured.sasl
    r = configs(bs, "--client", client_id, "--alter", "--add-config", "producer_byte_rate=1024",
                command_config=props("admin"))
    assert r.returncode == 0, r.stderr
    # bob may describe configs on the cluster, not alter them.
    r = configs(bs, "--client", client_id, "--describe", command_config=props("bob"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("Quota configs for client-id '%s' are producer_byte_rate=1024.0\n"
                        % client_id)
    r = configs(bs, "--client", client_id, "--alter", "--add-config", "producer_byte_rate=1",
                command_config=props("bob"))
    assert r.returncode == 1
    assert "CLUSTER_AUTHORIZATION_FAILED" in r.stderr, r.stderr
    r = configs(bs, "--client", client_id, "--describe", command_config=props("alice"))
    assert r.returncode == 1
    assert "CLUSTER_AUTHORIZATION_FAILED" in r.stderr, r.stderr
