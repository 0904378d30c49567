"""scripts/configs.sh (kafka-configs.sh's flags and output) and the
`--command-config` client properties files of the runnel CLI.

SCRAM users are made with configs.sh through a SASL_PLAINTEXT PLAIN admin
login, described in Kafka's words, then used by confluent-kafka over
SASL_SSL and by the console clients' --producer.config/--consumer.config;
deleting a credential ends those logins. Topic configs go round trip on a
plaintext cluster. topics.sh reaches an SSL listener through a client
properties file, and bad files are refused naming the key and the file.

One broker with four listeners is shared by the secure tests: PLAINTEXT
(readiness probe and inter-broker), SSL, SASL_PLAINTEXT and SASL_SSL.
"""

import os
import subprocess
import uuid

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, ConfigResource

import test_security
from brokerproc import REPO, Broker, cluster  # noqa: F401 - fixture
from coordproc import CoordServer, free_port, wait_for
from procutil import built_binary

pytestmark = pytest.mark.timeout(300)

PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" '
              'user_admin="admin-secret";')


def runnel_bin():
    return built_binary("runnel", "RUNNEL_BIN", "runnel CLI not built")


def script(name, *args, input=None, timeout=120):
    """scripts/NAME with RUNNEL_BIN set, so the script runs the binary under
    test instead of building target/release/runnel."""
    env = dict(os.environ, RUNNEL_BIN=runnel_bin())
    return subprocess.run(["bash", os.path.join(REPO, "scripts", name), *args], input=input,
                          capture_output=True, text=True, timeout=timeout, env=env)


def configs(bootstrap, *args, command_config=None):
    extra = ["--command-config", command_config] if command_config else []
    return script("configs.sh", "--bootstrap-server", bootstrap, *extra, *args)


def topic_name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def write_props(path, items):
    with open(path, "w") as f:
        f.write("# written by test_configs_script.py\n")
        for k, v in items.items():
            f.write("%s=%s\n" % (k, v))
    return str(path)


class Secure(test_security.Secure):
    """test_security's broker handle, with client files written under `base`."""

    def __init__(self, broker, ports, certs, base):
        super().__init__(broker, ports, certs)
        self.base = base

    def props(self, name, items):
        return write_props(self.base / name, items)

    def admin_props(self):
        """Kafka's admin client file for the SASL_PLAINTEXT PLAIN listener."""
        return self.props("admin.properties", {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": PLAIN_JAAS.replace(' user_admin="admin-secret"', ''),
        })

    def scram_conf(self, user, password, mechanism="SCRAM-SHA-512"):
        """confluent-kafka settings for SASL_SSL with SCRAM."""
        return {"bootstrap.servers": self.addr("SASL_SSL"), "security.protocol": "SASL_SSL",
                "ssl.ca.location": self.ca, "sasl.mechanism": mechanism,
                "sasl.username": user, "sasl.password": password}


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    base = tmp_path_factory.mktemp("configs-secure")
    certs = str(base / "certs")
    r = subprocess.run([runnel_bin(), "certs", "--dir", certs], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    coord = CoordServer(base / "coord", name="runnel-coord")
    coord.start()
    ports = {name: free_port() for name in ("SSL", "SASL_PLAINTEXT", "SASL_SSL")}
    broker = Broker(base / "broker", coord.hosts + "/configs", broker_id=1)
    ports["PLAINTEXT"] = broker.port
    listeners = ",".join("%s://127.0.0.1:%d" % (n, ports[n])
                         for n in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))
    broker.extra.update({
        "listeners": listeners,
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        "inter.broker.listener.name": "PLAINTEXT",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": os.path.join(certs, "broker.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": os.path.join(certs, "ca.pem"),
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        "listener.name.sasl_ssl.plain.sasl.jaas.config": PLAIN_JAAS,
        "offsets.topic.replication.factor": "1",
    })
    broker.write_config()
    broker.start()
    yield Secure(broker, ports, certs, base)
    broker.close()
    coord.close()


def assert_refused(conf):
    """The client's authentication fails, reported to error_cb."""
    errors = []
    p = Producer(dict(conf, error_cb=errors.append))
    wait_for(lambda: p.poll(0.2) is not None and False or any(
        e.code() == KafkaError._AUTHENTICATION for e in errors), timeout=20,
        desc="authentication error")


def produce(conf, topic, n):
    """Produces n records with confluent-kafka; all must be delivered."""
    failed = []
    p = Producer(dict(conf, **{"acks": "all"}))
    for i in range(n):
        p.produce(topic, value=b"v%d" % i,
                  on_delivery=lambda err, msg: err is not None and failed.append(err))
    assert p.flush(30) == 0
    assert failed == []


# --- users: SCRAM credentials ------------------------------------------------

def test_scram_user_added_described_used_and_deleted(secure):
    admin = secure.admin_props()
    user = topic_name("alice")
    bs = secure.addr("SASL_PLAINTEXT")

    r = configs(bs, "--entity-type", "users", "--entity-name", user, "--alter",
                "--add-config",
                "SCRAM-SHA-512=[password=%s-secret],SCRAM-SHA-256=[iterations=8192,password=x256]"
                % user, command_config=admin)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Completed updating config for user %s.\n" % user

    line = ("SCRAM credential configs for user-principal '%s' are "
            "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096" % user)
    r = configs(bs, "--entity-type", "users", "--entity-name", user, "--describe",
                command_config=admin)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [line]
    # Every user, with the Kafka 3.x shorthand for one.
    r = configs(bs, "--entity-type", "users", "--describe", command_config=admin)
    assert r.returncode == 0, r.stderr
    assert line in r.stdout.splitlines()
    r = configs(bs, "--user", user, "--describe", command_config=admin)
    assert r.stdout.splitlines() == [line], r.stderr

    # The new user logs in over SASL_SSL with SCRAM-SHA-512 and produces.
    topic = topic_name("scram")
    produce(secure.scram_conf(user, "%s-secret" % user), topic, 5)
    # The console clients, with librdkafka-style and Kafka-style files.
    consumer_props = secure.props("consumer-%s.properties" % user, {
        "security.protocol": "SASL_SSL",
        "ssl.truststore.location": secure.ca,
        "ssl.truststore.type": "PEM",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required '
                            'username="%s" password="x256";' % user,
    })
    producer_props = secure.props("producer-%s.properties" % user, {
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": secure.ca,
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": "%s-secret" % user,
    })
    r = script("console-producer.sh", "--bootstrap-server", secure.addr("SASL_SSL"),
               "--topic", topic, "--producer.config", producer_props, input="v5\nv6\n")
    assert r.returncode == 0, r.stderr
    r = script("console-consumer.sh", "--bootstrap-server", secure.addr("SASL_SSL"),
               "--topic", topic, "--from-beginning", "--max-messages", "7",
               "--consumer.config", consumer_props)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["v%d" % i for i in range(7)]

    # Deleting SCRAM-SHA-512 ends that login; SCRAM-SHA-256 stays.
    r = configs(bs, "--entity-type", "users", "--entity-name", user, "--alter",
                "--delete-config", "SCRAM-SHA-512", command_config=admin)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Completed updating config for user %s.\n" % user
    r = configs(bs, "--entity-type", "users", "--entity-name", user, "--describe",
                command_config=admin)
    assert r.stdout.splitlines() == [
        "SCRAM credential configs for user-principal '%s' are SCRAM-SHA-256=iterations=8192"
        % user], r.stderr
    assert_refused(secure.scram_conf(user, "%s-secret" % user))
    r = script("console-producer.sh", "--bootstrap-server", secure.addr("SASL_SSL"),
               "--topic", topic, "--producer.config", producer_props, input="v7\n")
    assert r.returncode != 0

    # Deleting it again: the broker's error, Kafka's first line, no password.
    r = configs(bs, "--entity-type", "users", "--entity-name", user, "--alter",
                "--delete-config", "SCRAM-SHA-512", command_config=admin)
    assert r.returncode == 1
    assert r.stderr.startswith("Error while executing config command with args '"), r.stderr
    assert "does not exist" in r.stderr
    # A refused upsert echoes its arguments with the password hidden.
    r = configs(bs, "--user", user, "--alter", "--add-config",
                "SCRAM-SHA-256=[iterations=100,password=topsecret]", command_config=admin)
    assert r.returncode == 1
    assert "iterations" in r.stderr.lower()
    assert "topsecret" not in r.stderr
    assert "password=[hidden]" in r.stderr


def test_user_quotas_beside_scram_and_bad_scram_settings_are_refused(secure):
    admin = secure.admin_props()
    bs = secure.addr("SASL_PLAINTEXT")
    # A quota and a credential live in the same user znode: each change
    # keeps the other.
    bob = topic_name("bob")
    r = configs(bs, "--user", bob, "--alter", "--add-config",
                "SCRAM-SHA-512=[password=bob-secret],producer_byte_rate=1024",
                command_config=admin)
    assert r.returncode == 0, r.stderr
    r = configs(bs, "--user", bob, "--alter", "--add-config", "consumer_byte_rate=2048",
                command_config=admin)
    assert r.returncode == 0, r.stderr
    r = configs(bs, "--user", bob, "--describe", command_config=admin)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "Quota configs for user-principal '%s' are consumer_byte_rate=2048.0, "
        "producer_byte_rate=1024.0" % bob,
        "SCRAM credential configs for user-principal '%s' are SCRAM-SHA-512=iterations=4096" % bob,
    ]
    r = configs(bs, "--user", bob, "--alter", "--delete-config", "SCRAM-SHA-512",
                command_config=admin)
    assert r.returncode == 0, r.stderr
    r = configs(bs, "--user", bob, "--describe", command_config=admin)
    assert r.stdout.splitlines() == [
        "Quota configs for user-principal '%s' are consumer_byte_rate=2048.0, "
        "producer_byte_rate=1024.0" % bob]
    r = configs(bs, "--user", "bob", "--alter", "--add-config", "SCRAM-SHA-512=[iterations=4096]",
                command_config=admin)
    assert r.returncode == 1
    assert "password" in r.stderr
    r = configs(bs, "--user", "bob", "--alter", "--add-config", "SCRAM-SHA-1=[password=x]",
                command_config=admin)
    assert r.returncode == 1
    assert "Invalid config(s): SCRAM-SHA-1" in r.stderr
    # A user without credentials describes as nothing, as in Kafka.
    r = configs(bs, "--user", topic_name("nobody"), "--describe", command_config=admin)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""


# --- topics and brokers --------------------------------------------------------

def test_topic_config_alter_describe_delete_round_trip(cluster):
    _, b = cluster()
    bs = b.bootstrap
    topic = topic_name("cfg")
    r = script("topics.sh", "--bootstrap-server", bs, "--create", "--topic", topic,
               "--partitions", "1", "--replication-factor", "1")
    assert r.returncode == 0, r.stderr

    r = configs(bs, "--entity-type", "topics", "--entity-name", topic, "--alter",
                "--add-config", "retention.ms=1000,cleanup.policy=[compact,delete]")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Completed updating config for topic %s.\n" % topic

    r = configs(bs, "--entity-type", "topics", "--entity-name", topic, "--describe")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Dynamic configs for topic %s are:" % topic
    assert len(lines) == 3, lines
    assert lines[1].startswith("  cleanup.policy=compact,delete sensitive=false synonyms="
                               "{DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete"), lines
    assert lines[2].startswith("  retention.ms=1000 sensitive=false synonyms="
                               "{DYNAMIC_TOPIC_CONFIG:retention.ms=1000"), lines
    # What another client sees.
    admin = AdminClient({"bootstrap.servers": bs})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    got = admin.describe_configs([res])[res].result(timeout=30)
    assert got["retention.ms"].value == "1000"
    assert got["cleanup.policy"].value == "compact,delete"

    r = configs(bs, "--topic", topic, "--alter", "--delete-config", "retention.ms")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Completed updating config for topic %s.\n" % topic
    r = configs(bs, "--topic", topic, "--describe")
    lines = r.stdout.splitlines()
    assert lines[0] == "Dynamic configs for topic %s are:" % topic
    assert [l.split("=")[0] for l in lines[1:]] == ["  cleanup.policy"], lines
    got = admin.describe_configs([res])[res].result(timeout=30)
    assert got["retention.ms"].value == "604800000"

    # --all lists defaults too.
    r = configs(bs, "--topic", topic, "--describe", "--all")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "All configs for topic %s are:" % topic
    assert any(l.startswith("  retention.ms=604800000 sensitive=false synonyms={") and
               "DEFAULT_CONFIG:retention.ms=604800000" in l for l in lines), lines

    # Kafka's refusals: a key that is not set, an unknown key, no topic.
    r = configs(bs, "--topic", topic, "--alter", "--delete-config", "retention.ms")
    assert r.returncode == 1
    assert r.stderr.startswith("Error while executing config command with args '")
    assert "Invalid config(s): retention.ms" in r.stderr
    r = configs(bs, "--topic", topic, "--alter", "--add-config", "no.such.key=1")
    assert r.returncode == 1
    assert "no.such.key" in r.stderr
    r = configs(bs, "--topic", topic_name("missing"), "--describe")
    assert r.returncode == 1
    assert "UNKNOWN_TOPIC_OR_PARTITION" in r.stderr
    r = configs(bs, "--topic", topic, "--alter")
    assert r.returncode == 1
    assert "--add-config or --delete-config" in r.stderr


def test_broker_configs_describe(cluster):
    _, b = cluster()
    bs = b.bootstrap
    r = configs(bs, "--entity-type", "brokers", "--entity-name", "1", "--describe")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Dynamic configs for broker 1 are:"]
    r = configs(bs, "--broker", "1", "--describe", "--all")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "All configs for broker 1 are:"
    assert len(lines) > 5
    assert all(l.startswith("  ") and " sensitive=" in l and " synonyms={" in l
               for l in lines[1:]), lines
    r = configs(bs, "--entity-type", "brokers", "--entity-default", "--describe")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Default configs for brokers in the cluster are:"]
    r = configs(bs, "--entity-type", "brokers", "--describe")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Dynamic configs for broker 1 are:",
                                     "Default configs for brokers in the cluster are:"]
    r = configs(bs, "--entity-type", "brokers", "--entity-name", "x", "--describe")
    assert r.returncode == 1
    assert "valid integer broker id" in r.stderr


# --- --command-config ----------------------------------------------------------

def test_topics_sh_lists_topics_over_ssl_with_command_config(secure):
    topic = topic_name("ssl-list")
    ssl_props = secure.props("ssl.properties", {
        "security.protocol": "SSL",
        "ssl.truststore.location": secure.ca,
    })
    r = script("topics.sh", "--bootstrap-server", secure.addr("SSL"), "--command-config",
               ssl_props, "--create", "--topic", topic, "--partitions", "2")
    assert r.returncode == 0, r.stderr
    r = script("topics.sh", "--bootstrap-server", secure.addr("SSL"), "--command-config",
               ssl_props, "--list")
    assert r.returncode == 0, r.stderr
    assert topic in r.stdout.splitlines()
    assert r.stderr == ""
    # configs.sh over SSL too.
    r = configs(secure.addr("SSL"), "--topic", topic, "--describe", command_config=ssl_props)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Dynamic configs for topic %s are:" % topic]
    # Without the file the SSL port is not spoken to in plaintext.
    r = script("topics.sh", "--bootstrap-server", secure.addr("SSL"), "--list")
    assert r.returncode == 1
    # Keys runnel does not use are named, the command still runs.
    extra = secure.props("ssl-extra.properties", {
        "security.protocol": "SSL",
        "ssl.truststore.location": secure.ca,
        "linger.ms": "5",
    })
    r = script("topics.sh", "--bootstrap-server", secure.addr("SSL"), "--command-config",
               extra, "--list")
    assert r.returncode == 0, r.stderr
    assert "WARNING" in r.stderr and "'linger.ms'" in r.stderr


def test_bad_command_config_names_the_key_and_file(secure):
    no_mechanism = secure.props("no-mechanism.properties", {
        "security.protocol": "SASL_SSL",
        "ssl.truststore.location": secure.ca,
        "sasl.jaas.config": PLAIN_JAAS,
    })
    r = script("topics.sh", "--bootstrap-server", secure.addr("SASL_SSL"), "--command-config",
               no_mechanism, "--list")
    assert r.returncode == 1
    assert no_mechanism in r.stderr and "sasl.mechanism" in r.stderr, r.stderr

    missing_ca = str(secure.base / "nowhere" / "ca.pem")
    no_truststore = secure.props("no-truststore.properties", {
        "security.protocol": "SSL",
        "ssl.truststore.location": missing_ca,
    })
    r = configs(secure.addr("SSL"), "--entity-type", "topics", "--describe",
                command_config=no_truststore)
    assert r.returncode == 1
    assert r.stderr.startswith("Error while executing config command with args '")
    assert "ssl.truststore.location" in r.stderr and missing_ca in r.stderr, r.stderr
    assert no_truststore in r.stderr

    r = script("topics.sh", "--bootstrap-server", secure.addr("SSL"), "--command-config",
               str(secure.base / "absent.properties"), "--list")
    assert r.returncode == 1
    assert "absent.properties" in r.stderr

    jks = secure.props("jks.properties", {
        "security.protocol": "SSL",
        "ssl.truststore.location": secure.ca,
        "ssl.truststore.type": "JKS",
    })
    r = script("console-consumer.sh", "--bootstrap-server", secure.addr("SSL"), "--topic", "t",
               "--consumer.config", jks)
    assert r.returncode != 0
    assert "ssl.truststore.type" in r.stderr and "JKS" in r.stderr, r.stderr


def test_configs_sh_help():
    r = script("configs.sh", "--help")
    assert r.returncode == 0, r.stderr
    for flag in ("--bootstrap-server", "--command-config", "--entity-type", "--entity-name",
                 "--entity-default", "--describe", "--alter", "--add-config", "--delete-config"):
        assert flag in r.stdout, flag
