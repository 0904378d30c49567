"""scripts/acls.sh (kafka-acls.sh for Runnel) against a broker with Kafka's
ACL authorizer: bindings added, listed and removed with the script, as an
admin connecting with a --command-config file, and their effect checked as
the users see it, with confluent-kafka clients logging in over
SASL_PLAINTEXT with PLAIN (alice, bob): produce and consume allowed or
refused with TOPIC_/GROUP_AUTHORIZATION_FAILED, prefixed bindings and a
DENY that overrides them, topics hidden from metadata, a removal taking
effect at once, and a clear error from a broker without an authorizer.

One broker is shared by the module: PLAINTEXT (the readiness probe and
inter-broker, User:ANONYMOUS, a super user) and SASL_PLAINTEXT (PLAIN users
admin, alice, bob; admin is a super user). Every test works on topics of
its own.
"""

import os
import subprocess
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from brokerproc import REPO, Broker, cluster  # noqa: F401 - cluster is a fixture
from coordproc import CoordServer, free_port, wait_for

ACLS_SH = os.path.join(REPO, "scripts", "acls.sh")

PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" '
              'user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";')

PASSWORDS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}


class Secured:
    """The shared broker: its listeners' addresses and the admin's client
    properties files."""

    def __init__(self, broker, sasl_port, admin_config, admin_config_rdkafka):
        self.broker = broker
        self.sasl = "127.0.0.1:%d" % sasl_port
        self.admin_config = admin_config
        self.admin_config_rdkafka = admin_config_rdkafka

    def conf(self, user, **extra):
        """confluent-kafka settings for `user` over SASL_PLAINTEXT PLAIN."""
        c = {"bootstrap.servers": self.sasl, "security.protocol": "SASL_PLAINTEXT",
             "sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": PASSWORDS[user]}
        c.update(extra)
        return c

    def acls(self, *args, config=None, input=None):
        """scripts/acls.sh as the admin; the CompletedProcess."""
        return run_acls(self.sasl, "--command-config", config or self.admin_config, *args,
                        input=input)

    def acls_ok(self, *args, **kw):
        r = self.acls(*args, **kw)
        assert r.returncode == 0, "acls.sh %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr)
        return r.stdout

    def create_topics(self, *names, partitions=1):
        admin = AdminClient(self.conf("admin"))
        futures = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1)
                                       for n in names])
        for f in futures.values():
            f.result(timeout=30)
        for n in names:
            wait_for(lambda: n in admin.list_topics(timeout=10).topics, timeout=15,
                     desc="topic %s" % n)


def run_acls(bootstrap, *args, input=None):
    return subprocess.run(["bash", ACLS_SH, "--bootstrap-server", bootstrap, *args],
                          capture_output=True, text=True, timeout=90,
                          input=input if input is not None else "")


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    base = tmp_path_factory.mktemp("acls")
    coord = CoordServer(base / "coord", name="runnel-coord")
    coord.start()
    sasl_port = free_port()
    broker = Broker(base / "broker", coord.hosts + "/acls", broker_id=1)
    broker.extra.update({
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (broker.port,
                                                                                   sasl_port),
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:admin;User:ANONYMOUS",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
    })
    broker.write_config()
    broker.start()
    # The admin's client configuration as a Kafka user writes it (Java keys)...
    admin_config = base / "admin.properties"
    admin_config.write_text(
        "# the admin, as for kafka-acls.sh\n"
        "security.protocol=SASL_PLAINTEXT\n"
        "sasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\\n"
        "    username=\"admin\" \\\n"
        "    password=\"admin-secret\";\n")
    # ...and as kcat/confluent-kafka users (cluster.sh up --secure) write it.
    admin_config_rdkafka = base / "admin-rdkafka.properties"
    admin_config_rdkafka.write_text(
        "security.protocol=SASL_PLAINTEXT\n"
        "sasl.mechanisms=PLAIN\n"
        "sasl.username=admin\n"
        "sasl.password=admin-secret\n")
    yield Secured(broker, sasl_port, str(admin_config), str(admin_config_rdkafka))
    broker.close()
    coord.close()


def name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def acl_line(principal, operation, permission="ALLOW", host="*"):
    return "\t(principal=%s, host=%s, operation=%s, permissionType=%s)" % (principal, host, operation,
                                                                          permission)


def listing(output):
    """{resource pattern text: set of ACL lines} of acls.sh's "Current ACLs
    for resource `...`:" blocks."""
    out, current = {}, None
    for line in output.splitlines():
        if line.startswith("Current ACLs for resource `"):
            current = line[len("Current ACLs for resource `"):line.rindex("`")]
            out[current] = set()
        elif line.strip().startswith("(principal=") and current is not None:
            out[current].add("\t" + line.strip())
        elif not line.strip():
            current = None
    return out


def topic_pattern(topic, pattern="LITERAL"):
    return "ResourcePattern(resourceType=TOPIC, name=%s, patternType=%s)" % (topic, pattern)


def produce_error(conf, topic, value=b"x", timeout=20):
    """Produces one record; None when it is acknowledged, else the delivery
    error's code."""
    errors = []
    p = Producer(dict(conf, **{"message.timeout.ms": str(int(timeout * 1000)), "acks": "all"}))
    p.produce(topic, value=value, on_delivery=lambda err, msg: errors.append(err))
    p.flush(timeout + 5)
    assert len(errors) == 1, "no delivery report for %s" % topic
    return errors[0].code() if errors[0] is not None else None


def consume(conf, topic, group, want, timeout=30):
    """Subscribes with group.id `group` and polls until `want` records or a
    consumer error came: (values, error codes)."""
    c = Consumer(dict(conf, **{"group.id": group, "auto.offset.reset": "earliest",
                               "enable.auto.commit": "false"}))
    c.subscribe([topic])
    got, errors = [], []

    def step():
        m = c.poll(0.5)
        if m is None:
            return False
        if m.error() is not None:
            if m.error().code() != KafkaError._PARTITION_EOF:
                errors.append(m.error().code())
                return True
            return False
        got.append(m.value())
        return len(got) >= want

    try:
        wait_for(step, timeout=timeout, interval=0, desc="%d records or an error from %s" % (want, topic))
    finally:
        c.close()
    return got, errors


# --- tests -------------------------------------------------------------------

def test_write_acl_lets_alice_produce_but_not_consume_and_is_listed(secured):
    orders = name("orders")
    group = name("alice-g")
    secured.create_topics(orders)
    # Before any binding alice may do nothing with the topic.
    assert produce_error(secured.conf("alice"), orders, timeout=5) == \
        KafkaError.TOPIC_AUTHORIZATION_FAILED

    out = secured.acls_ok("--add", "--allow-principal", "User:alice", "--operation", "Write",
                          "--topic", orders)
    # Kafka's words, byte for byte: the binding added, then the resource's ACLs.
    block = ("`%s`: \n \t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW) \n"
             % topic_pattern(orders))
    assert out == "Adding ACLs for resource " + block + "\n" + "Current ACLs for resource " + block + "\n"

    assert produce_error(secured.conf("alice"), orders) is None
    # Reading needs Read on the topic (the group is hers, so the topic is what refuses).
    secured.acls_ok("--add", "--allow-principal", "User:alice", "--operation", "Read", "--group", group)
    got, errors = consume(secured.conf("alice"), orders, group, want=1)
    assert got == [] and errors[:1] == [KafkaError.TOPIC_AUTHORIZATION_FAILED], errors

    # --list --topic shows the binding; so does the librdkafka-keyed config file.
    for config in (secured.admin_config, secured.admin_config_rdkafka):
        out = secured.acls_ok("--list", "--topic", orders, config=config)
        assert listing(out) == {topic_pattern(orders): {acl_line("User:alice", "WRITE")}}
        assert out.splitlines()[:2] == ["Current ACLs for resource `%s`: " % topic_pattern(orders),
                                        " " + acl_line("User:alice", "WRITE") + " "]
    # --list without a resource shows every binding, the group's too.
    everything = listing(secured.acls_ok("--list"))
    assert everything[topic_pattern(orders)] == {acl_line("User:alice", "WRITE")}
    assert everything["ResourcePattern(resourceType=GROUP, name=%s, patternType=LITERAL)" % group] == \
        {acl_line("User:alice", "READ")}


def test_consumer_convenience_lets_bob_read_with_his_group_only(secured):
    orders = name("orders")
    secured.create_topics(orders)
    secured.acls_ok("--add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", orders)
    for i in range(3):
        assert produce_error(secured.conf("alice"), orders, value=b"r%d" % i) is None

    out = secured.acls_ok("--add", "--consumer", "--allow-principal", "User:bob", "--topic", orders,
                          "--group", "billing")
    found = listing(out)
    assert found[topic_pattern(orders)] == {acl_line("User:alice", "WRITE"), acl_line("User:bob", "READ"),
                                            acl_line("User:bob", "DESCRIBE")}
    assert found["ResourcePattern(resourceType=GROUP, name=billing, patternType=LITERAL)"] == \
        {acl_line("User:bob", "READ")}

    got, errors = consume(secured.conf("bob"), orders, "billing", want=3)
    assert errors == [] and got == [b"r0", b"r1", b"r2"]
    got, errors = consume(secured.conf("bob"), orders, "other", want=1)
    assert got == [] and errors[:1] == [KafkaError.GROUP_AUTHORIZATION_FAILED], errors


def test_prefixed_allow_and_literal_deny(secured):
    prefix = name("pay") + "-"
    eu, secret = prefix + "eu", prefix + "secret"
    secured.create_topics(eu, secret)
    out = secured.acls_ok("--add", "--resource-pattern-type", "prefixed", "--topic", prefix,
                          "--allow-principal", "User:alice", "--operation", "Write")
    assert "Adding ACLs for resource `%s`: " % topic_pattern(prefix, "PREFIXED") in out
    assert produce_error(secured.conf("alice"), eu) is None
    assert produce_error(secured.conf("alice"), secret) is None

    secured.acls_ok("--add", "--deny-principal", "User:alice", "--operation", "Write", "--topic", secret)
    wait_for(lambda: produce_error(secured.conf("alice"), secret, timeout=5) ==
             KafkaError.TOPIC_AUTHORIZATION_FAILED, timeout=20, interval=0.2,
             desc="the DENY on %s refusing alice" % secret)
    assert produce_error(secured.conf("alice"), eu) is None

    # match lists every binding that applies to the topic: the prefix and the deny.
    found = listing(secured.acls_ok("--list", "--topic", secret, "--resource-pattern-type", "match"))
    assert found == {topic_pattern(prefix, "PREFIXED"): {acl_line("User:alice", "WRITE")},
                     topic_pattern(secret): {acl_line("User:alice", "WRITE", "DENY")}}
    # any (the --list default) lists only bindings named exactly so.
    assert listing(secured.acls_ok("--list", "--topic", secret)) == \
        {topic_pattern(secret): {acl_line("User:alice", "WRITE", "DENY")}}


def test_topics_without_acls_are_not_in_alices_metadata(secured):
    hidden, visible = name("hidden"), name("visible")
    secured.create_topics(hidden, visible)
    secured.acls_ok("--add", "--allow-principal", "User:alice", "--operation", "Describe", "--topic", visible)
    alice = AdminClient(secured.conf("alice"))
    admin = AdminClient(secured.conf("admin"))
    wait_for(lambda: visible in alice.list_topics(timeout=10).topics, timeout=15,
             desc="%s in alice's metadata" % visible)
    assert hidden not in alice.list_topics(timeout=10).topics
    topics = admin.list_topics(timeout=10).topics
    assert hidden in topics and visible in topics


def test_remove_asks_first_and_then_takes_effect(secured):
    orders = name("orders")
    secured.create_topics(orders)
    secured.acls_ok("--add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", orders)
    assert produce_error(secured.conf("alice"), orders) is None

    remove = ("--remove", "--allow-principal", "User:alice", "--operation", "Write", "--topic", orders)
    # Without --force the script asks; "n" keeps the binding.
    r = secured.acls(*remove, input="n\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Are you sure you want to remove ACLs: \n \t(principal=User:alice, "
                               "host=*, operation=WRITE, permissionType=ALLOW) \n from resource filter "
                               "`ResourcePatternFilter(resourceType=TOPIC, name=%s, patternType=LITERAL)`"
                               "? (y/n)" % orders), r.stdout
    assert listing(secured.acls_ok("--list", "--topic", orders)) == \
        {topic_pattern(orders): {acl_line("User:alice", "WRITE")}}
    assert produce_error(secured.conf("alice"), orders) is None

    out = secured.acls_ok(*remove, "--force")
    assert "Are you sure" not in out
    assert listing(out) == {}
    assert listing(secured.acls_ok("--list", "--topic", orders)) == {}
    wait_for(lambda: produce_error(secured.conf("alice"), orders, timeout=5) ==
             KafkaError.TOPIC_AUTHORIZATION_FAILED, timeout=15, interval=0.2,
             desc="alice's produce refused after the removal")


def test_list_by_principal_and_remove_everything_on_a_resource(secured):
    orders = name("orders")
    secured.acls_ok("--add", "--allow-principal", "User:alice", "--allow-principal", "User:bob",
                    "--operation", "Read", "--operation", "Describe", "--topic", orders)
    secured.acls_ok("--add", "--deny-principal", "User:bob", "--deny-host", "10.0.0.7",
                    "--operation", "Read", "--topic", orders)
    out = secured.acls_ok("--list", "--topic", orders, "--principal", "User:bob")
    assert out.splitlines()[0] == "ACLs for principal `User:bob`"
    assert listing(out) == {topic_pattern(orders): {
        acl_line("User:bob", "READ"), acl_line("User:bob", "DESCRIBE"),
        acl_line("User:bob", "READ", "DENY", host="10.0.0.7")}}

    # No principal: every binding of the resource goes, after a (y/n).
    r = secured.acls("--remove", "--topic", orders, input="y\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(
        "Are you sure you want to delete all ACLs for resource filter `ResourcePatternFilter("
        "resourceType=TOPIC, name=%s, patternType=LITERAL)`? (y/n)\n" % orders), r.stdout
    assert listing(secured.acls_ok("--list", "--topic", orders)) == {}


def test_producer_convenience_and_usage_errors(secured):
    orders, txn = name("orders"), name("tx")
    out = secured.acls_ok("--add", "--producer", "--idempotent", "--allow-principal", "User:alice",
                          "--topic", orders, "--transactional-id", txn)
    found = listing(out)
    assert found[topic_pattern(orders)] == {acl_line("User:alice", op)
                                            for op in ("WRITE", "DESCRIBE", "CREATE")}
    assert found["ResourcePattern(resourceType=TRANSACTIONAL_ID, name=%s, patternType=LITERAL)" % txn] == \
        {acl_line("User:alice", op) for op in ("WRITE", "DESCRIBE")}
    cluster_acls = listing(secured.acls_ok("--list", "--cluster"))
    assert acl_line("User:alice", "IDEMPOTENT_WRITE") in \
        cluster_acls["ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)"]
    # Create on the topic: alice's produce creates it (auto-creation is on).
    wait_for(lambda: produce_error(secured.conf("alice"), orders, timeout=5) is None, timeout=20,
             interval=0.2, desc="alice creating %s by producing" % orders)

    for args, words in [
        (("--add", "--allow-principal", "User:alice", "--topic", orders, "--operation", "Fly"),
         "unknown --operation"),
        (("--add", "--allow-principal", "User:alice", "--group", "g", "--operation", "Write"),
         "ResourceType GROUP only supports operations"),
        (("--add", "--operation", "Write", "--topic", orders), "--allow-principal, --deny-principal"),
        (("--add", "--allow-principal", "User:alice", "--operation", "Write"), "at least one resource"),
        (("--add", "--allow-principal", "alice", "--operation", "Write", "--topic", orders), "User:alice"),
        (("--add", "--resource-pattern-type", "match", "--allow-principal", "User:alice", "--topic", orders),
         "not valid when adding"),
        (("--add", "--consumer", "--allow-principal", "User:bob", "--topic", orders),
         "--topic and a --group"),
    ]:
        r = secured.acls(*args)
        assert r.returncode == 1 and words in r.stderr, (args, r.stderr)

    # Alice may not manage ACLs herself.
    alice_config = os.path.join(os.path.dirname(secured.admin_config), "alice.properties")
    with open(alice_config, "w") as f:
        f.write("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                "sasl.username=alice\nsasl.password=alice-secret\n")
    r = secured.acls("--list", config=alice_config)
    assert r.returncode == 1 and "CLUSTER_AUTHORIZATION_FAILED" in r.stderr, r.stderr


def test_list_without_an_authorizer_says_so(cluster):  # noqa: F811 - the fixture
    _, broker = cluster()
    for args in (("--list",), ("--add", "--allow-principal", "User:alice", "--topic", "orders"),
                 ("--remove", "--force", "--topic", "orders")):
        r = run_acls(broker.bootstrap, *args)
        assert r.returncode == 1, (args, r.stdout)
        assert "no authorizer is configured" in r.stderr.lower(), (args, r.stderr)
        assert "Traceback" not in r.stderr
